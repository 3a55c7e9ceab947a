/*
 * beacon.h - the JSON body of POST /b, parsed and checked.
 *
 *   {"type": "checkout", "order_id": "1001", "revenue": "89.95",
 *    "currency": "EUR", "token": "<tly>", "customer_id": "c-42",
 *    "email_sha256": "<64 hex>", "shop": "default"}
 *
 * Parsing is strict about the fields tally reads (their types, sizes and
 * values) and ignores fields it does not know, so newer shop snippets keep
 * working with an older server. Nothing here verifies the token: that takes
 * the keys, and the handler does it.
 */
#ifndef TALLY_BEACON_H
#define TALLY_BEACON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "ident.h"
#include "token.h"

#define BEACON_TOKEN_MAX 256 /* a tly token is about 90 characters */
#define BEACON_SHOP_DEFAULT "default"

enum beacon_type {
    BEACON_IDENTIFY = 1,
    BEACON_CHECKOUT = 2,
};

struct beacon {
    enum beacon_type type;
    char shop[TOKEN_ID_MAX + 1];
    char order_id[EVENT_ORDER_MAX + 1]; /* checkout */
    int64_t revenue_minor;              /* checkout */
    char currency[4];                   /* checkout */
    int currency_exponent;
    bool has_token;
    char token[BEACON_TOKEN_MAX + 1];
    bool has_customer;
    char customer_id[IDENT_CUSTOMER_MAX + 1];
    bool has_email;
    uint8_t email_sha256[IDENT_SHA256_LEN];
};

/*
 * Parses body[0..len) into *out. Returns 0, or -1 with a one-line reason
 * (a static string naming the field and the problem) in *reason.
 * A checkout needs order_id, revenue (a decimal string) and currency; an
 * identify needs customer_id and a token or an email_sha256.
 */
int beacon_parse(const char *body, size_t len, struct beacon *out,
                 const char **reason);

#endif
