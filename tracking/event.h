/*
 * event.h - the one event model: what the HTTP handlers hand to the store.
 *
 * Opens, clicks, identifies and checkouts are all a struct event. The store
 * writes each to Redis (later: to the journal first when Redis cannot take
 * it), and replay goes through the same path. An event holds no email
 * address, raw customer id or IP address: only keyed hashes of them.
 */
#ifndef TALLY_EVENT_H
#define TALLY_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#include "token.h"

#define EVENT_ORDER_MAX 128 /* bytes of a shop's order id */

enum event_kind {
    EVENT_OPEN = 1,
    EVENT_CLICK = 2,
    EVENT_IDENTIFY = 3,
    EVENT_CHECKOUT = 4,
};

/* The email a touchpoint belongs to, as a token names it. */
struct event_touch {
    char campaign[TOKEN_ID_MAX + 1];
    char message[TOKEN_ID_MAX + 1];
    uint32_t link;
    uint8_t reader[TOKEN_READER_LEN];
    uint8_t click_id[TOKEN_CLICK_ID_LEN]; /* clicks only */
    uint32_t time;                        /* of the open or click, Unix s */
    uint8_t verdict; /* enum verdict of classify.h; 0 is human */
};

struct event_checkout {
    char shop[TOKEN_ID_MAX + 1];
    char order_id[EVENT_ORDER_MAX + 1];
    int64_t revenue_minor;
    char currency[4];
    bool has_visit; /* a valid tly token came with the beacon */
    struct event_touch visit;
    bool has_customer;
    uint8_t customer[TOKEN_READER_LEN]; /* keyed hash of shop + customer id */
    bool has_email_reader;
    uint8_t email_reader[TOKEN_READER_LEN]; /* reader id of the email hash */
};

struct event_identify {
    uint8_t customer[TOKEN_READER_LEN];
    uint8_t reader[TOKEN_READER_LEN];
};

struct event {
    enum event_kind kind;
    uint32_t time; /* when tally accepted it, Unix s (UTC) */
    uint8_t device; /* enum device_class of the request's User-Agent */
    uint8_t client; /* enum client_family of the request's User-Agent */
    union {
        struct event_touch touch; /* EVENT_OPEN, EVENT_CLICK */
        struct event_identify identify;
        struct event_checkout checkout;
    } u;
};

#endif
