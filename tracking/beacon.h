/*
 * beacon.h - the JSON body of POST /b and POST /v1/conversions, or the
 * query of GET /b.gif, parsed and checked.
 *
 *   {"type": "checkout", "order_id": "1001", "revenue": "89.95",
 *    "currency": "EUR", "token": "<tly>", "customer_id": "c-42",
 *    "email_sha256": "<64 hex>", "device_id": "<16 to 64 of A-Za-z0-9_->",
 *    "shop": "default"}
 *   {"type": "refund", "order_id": "1001", "currency": "EUR",
 *    "amount": "10.00", "refund_id": "r-1"}
 *
 * docs/webshop.md is the contract for shop snippets and backends.
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
    BEACON_REFUND = 3,
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
    bool has_device;
    char device_id[IDENT_DEVICE_MAX + 1]; /* well-formed or a placeholder */
    bool has_amount;                      /* refund: absent means in full */
    int64_t amount_minor;
    bool has_refund_id;
    char refund_id[EVENT_ORDER_MAX + 1];
};

/*
 * Parses body[0..len) into *out. Returns 0, or -1 with a one-line reason
 * (a static string naming the field and the problem) in *reason.
 * A checkout needs order_id, revenue (a decimal string) and currency. An
 * identify needs customer_id with a token, an email_sha256 or a device_id,
 * or a device_id with a token. A refund needs order_id and currency; a
 * partial one (with amount) also needs refund_id. A customer_id or
 * device_id that ident_is_placeholder calls a placeholder is accepted, so
 * the caller can count and ignore it.
 */
int beacon_parse(const char *body, size_t len, struct beacon *out,
                 const char **reason);

/*
 * Parses the query string q[0..len) of GET /b.gif into *out, with the same
 * fields and checks as beacon_parse (every value is text, so revenue=89.95
 * is read like "89.95"). Malformed pieces are skipped (query.h); a repeated
 * field keeps its first value. Returns 0, or -1 with a reason in *reason.
 * *skipped receives the number of pieces skipped.
 */
int beacon_parse_query(const char *q, size_t len, struct beacon *out,
                       const char **reason, long *skipped);

#endif
