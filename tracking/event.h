/*
 * event.h - the one event model: what the HTTP handlers hand to the store.
 *
 * Opens, clicks, identifies, checkouts and refunds are all a struct event. The store
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
    EVENT_REFUND = 5,
};

/* Where a checkout or refund came from: a browser beacon (unverified) or
 * the signed server-to-server API (verified). */
enum event_source {
    EVENT_SOURCE_BROWSER = 0,
    EVENT_SOURCE_SERVER = 1,
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
    bool has_device;
    uint8_t device[TOKEN_READER_LEN]; /* keyed hash of shop + device id */
    bool token_invalid;               /* a token came but did not verify */
    /* Identifiers that came as placeholders ("guest", "0", ...) and were
     * ignored, so the decision record can say so. */
    bool customer_placeholder;
    bool device_placeholder;
    bool email_placeholder;
    enum event_source source;
};

/* Links a customer id and a device id to a reader. The reader comes from a
 * valid token or an email hash (has_reader); without one, the store looks
 * up the reader linked to the device and links the customer to it. A
 * device is linked only to a reader named by a valid token. */
struct event_identify {
    uint8_t customer[TOKEN_READER_LEN];
    uint8_t reader[TOKEN_READER_LEN];
    char shop[TOKEN_ID_MAX + 1];
    bool has_customer;
    bool has_reader;
    bool reader_from_token;
    bool has_device;
    uint8_t device[TOKEN_READER_LEN];
    unsigned placeholders; /* placeholder identifiers ignored */
};

/* Reverses revenue of an order, in full (no amount) or in part. A refund
 * counts once per refund_key: "full" for a full refund, "id:<refund id>"
 * for a partial one. */
struct event_refund {
    char shop[TOKEN_ID_MAX + 1];
    char order_id[EVENT_ORDER_MAX + 1];
    char currency[4];
    bool has_amount;
    int64_t amount_minor;
    char refund_key[EVENT_ORDER_MAX + 4];
    enum event_source source;
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
        struct event_refund refund;
    } u;
};

#endif
