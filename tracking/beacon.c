/*
 * beacon.c - JSON beacon bodies, parsed with jansson.
 *
 * jansson rejects what a beacon must never carry: invalid UTF-8, "\u0000"
 * inside strings, duplicate keys (with JSON_REJECT_DUPLICATES), trailing
 * bytes, and nesting deeper than its fixed limit of 2048.
 */
#include "beacon.h"

#include <jansson.h>
#include <string.h>

#include "money.h"
#include "query.h"

/* Bytes of one decoded query piece: the longest field is a token. */
#define QUERY_SCRATCH (2 * (BEACON_TOKEN_MAX + 32))

/* Copies the string field name of obj into out (outsize bytes with the NUL).
 * Returns 1 when copied, 0 when absent or null, -1 when not a string, empty,
 * or too long. */
static int copy_string(json_t *obj, const char *name, char *out,
                       size_t outsize, const char **text, size_t *text_len)
{
    json_t *value = json_object_get(obj, name);
    size_t len;

    if (value == NULL || json_is_null(value))
        return 0;
    if (!json_is_string(value))
        return -1;

    len = json_string_length(value);
    if (len == 0 || len >= outsize)
        return -1;
    memcpy(out, json_string_value(value), len);
    out[len] = '\0';
    if (text != NULL) {
        *text = out;
        *text_len = len;
    }
    return 1;
}

/* Tells whether s[0..len) is free of control bytes, so it can be stored
 * and logged as it is. */
static bool printable(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

static int parse_type(json_t *root, struct beacon *out, const char **reason)
{
    static const char bad_type[] =
        "type must be \"identify\", \"checkout\" or \"refund\"";
    char type[16];

    if (copy_string(root, "type", type, sizeof(type), NULL, NULL) != 1) {
        *reason = bad_type;
        return -1;
    }
    if (strcmp(type, "identify") == 0)
        out->type = BEACON_IDENTIFY;
    else if (strcmp(type, "checkout") == 0)
        out->type = BEACON_CHECKOUT;
    else if (strcmp(type, "refund") == 0)
        out->type = BEACON_REFUND;
    else {
        *reason = bad_type;
        return -1;
    }
    return 0;
}

/* Reads device_id: a placeholder is kept for the caller to count, anything
 * else must be a well-formed device id. */
static int parse_device(json_t *root, struct beacon *out, const char **reason)
{
    const char *text;
    size_t len;
    int got = copy_string(root, "device_id", out->device_id,
                          sizeof(out->device_id), &text, &len);

    if (got == 0)
        return 0;
    if (got < 0 || (!ident_device_valid(text, len) && !ident_is_placeholder(text, len))) {
        *reason = "device_id must be 16 to 64 of A-Z a-z 0-9 - _";
        return -1;
    }
    out->has_device = true;
    return 0;
}

static int parse_identity(json_t *root, struct beacon *out, const char **reason)
{
    char hex[IDENT_SHA256_LEN * 2 + 1];
    const char *text;
    size_t len;
    int got;

    got = copy_string(root, "token", out->token, sizeof(out->token), &text, &len);
    if (got < 0) {
        *reason = "token must be a non-empty string of at most 256 bytes";
        return -1;
    }
    out->has_token = got == 1;

    got = copy_string(root, "customer_id", out->customer_id,
                      sizeof(out->customer_id), &text, &len);
    if (got < 0 || (got == 1 && !printable(text, len))) {
        *reason = "customer_id must be a string of 1 to 128 printable bytes";
        return -1;
    }
    out->has_customer = got == 1;

    got = copy_string(root, "email_sha256", hex, sizeof(hex), &text, &len);
    if (got < 0 ||
        (got == 1 && ident_parse_sha256_hex(text, len, out->email_sha256) != 0)) {
        *reason = "email_sha256 must be 64 hex digits";
        return -1;
    }
    out->has_email = got == 1;
    return parse_device(root, out, reason);
}

/* Reads order_id and currency, which checkouts and refunds share. */
static int parse_order_id(json_t *root, struct beacon *out, const char **reason)
{
    const char *text;
    size_t len;

    if (copy_string(root, "order_id", out->order_id, sizeof(out->order_id),
                    &text, &len) != 1 ||
        !printable(text, len)) {
        *reason = "order_id must be a string of 1 to 128 printable bytes";
        return -1;
    }

    if (copy_string(root, "currency", out->currency, sizeof(out->currency),
                    &text, &len) != 1 ||
        (out->currency_exponent = money_currency_exponent(text, len)) < 0) {
        *reason = "currency must be an ISO 4217 code such as \"EUR\"";
        return -1;
    }
    return 0;
}

static int parse_order(json_t *root, struct beacon *out, const char **reason)
{
    char revenue[32];
    const char *text;
    size_t len;

    if (parse_order_id(root, out, reason) != 0)
        return -1;

    if (copy_string(root, "revenue", revenue, sizeof(revenue), &text, &len) != 1) {
        *reason = "revenue must be a decimal string such as \"89.95\"";
        return -1;
    }
    if (money_parse(text, len, out->currency_exponent, &out->revenue_minor) != 0) {
        *reason = "revenue must be a non-negative decimal with at most the "
                  "currency's minor digits";
        return -1;
    }
    return 0;
}

static int parse_refund(json_t *root, struct beacon *out, const char **reason)
{
    char amount[32];
    const char *text;
    size_t len;
    int got;

    if (parse_order_id(root, out, reason) != 0)
        return -1;

    got = copy_string(root, "refund_id", out->refund_id, sizeof(out->refund_id),
                      &text, &len);
    if (got < 0 || (got == 1 && !printable(text, len))) {
        *reason = "refund_id must be a string of 1 to 128 printable bytes";
        return -1;
    }
    out->has_refund_id = got == 1;

    got = copy_string(root, "amount", amount, sizeof(amount), &text, &len);
    if (got < 0 || (got == 1 && money_parse(text, len, out->currency_exponent,
                                            &out->amount_minor) != 0)) {
        *reason = "amount must be a non-negative decimal string with at most "
                  "the currency's minor digits";
        return -1;
    }
    out->has_amount = got == 1;
    if (out->has_amount && !out->has_refund_id) {
        *reason = "a partial refund (with amount) needs refund_id";
        return -1;
    }
    return 0;
}

/* Tells whether an identify beacon names something tally can link. */
static bool identify_complete(const struct beacon *b)
{
    if (b->has_customer && (b->has_token || b->has_email || b->has_device))
        return true;
    return b->has_device && b->has_token;
}

/* Checks and copies the fields of the parsed object root into *out. */
static int from_object(json_t *root, struct beacon *out, const char **reason)
{
    const char *text;
    size_t text_len;
    int got;

    if (parse_type(root, out, reason) != 0 ||
        parse_identity(root, out, reason) != 0)
        return -1;

    got = copy_string(root, "shop", out->shop, sizeof(out->shop), &text, &text_len);
    if (got < 0 || (got == 1 && !token_id_valid(text, text_len))) {
        *reason = "shop must be 1 to 32 of A-Z a-z 0-9 . _ -";
        return -1;
    }
    if (got == 0)
        strcpy(out->shop, BEACON_SHOP_DEFAULT);

    switch (out->type) {
    case BEACON_CHECKOUT:
        return parse_order(root, out, reason);
    case BEACON_REFUND:
        return parse_refund(root, out, reason);
    case BEACON_IDENTIFY:
        break;
    }
    if (!identify_complete(out)) {
        *reason = "identify needs customer_id with a token, email_sha256 or "
                  "device_id, or device_id with a token";
        return -1;
    }
    return 0;
}

int beacon_parse(const char *body, size_t len, struct beacon *out,
                 const char **reason)
{
    json_error_t error;
    json_t *root = NULL;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &error);
    if (root == NULL) {
        *reason = "body is not valid JSON";
        goto cleanup;
    }
    if (!json_is_object(root)) {
        *reason = "body must be a JSON object";
        goto cleanup;
    }
    rc = from_object(root, out, reason);

cleanup:
    json_decref(root);
    return rc;
}

/* Adds one decoded query piece to the object arg, first value winning.
 * Values that are not valid UTF-8 are dropped like malformed pieces. */
static int add_pair(const char *key, size_t key_len, const char *value,
                    size_t value_len, void *arg)
{
    json_t *obj = arg;
    json_t *text;

    (void)key_len;
    if (json_object_get(obj, key) != NULL)
        return 0;
    text = json_stringn(value, value_len);
    if (text != NULL)
        json_object_set_new(obj, key, text);
    return 0;
}

int beacon_parse_query(const char *q, size_t len, struct beacon *out,
                       const char **reason, long *skipped)
{
    char scratch[QUERY_SCRATCH];
    json_t *root = json_object();
    int rc = -1;

    memset(out, 0, sizeof(*out));
    *skipped = 0;
    if (root == NULL) {
        *reason = "out of memory";
        return -1;
    }
    *skipped = query_parse(q, len, scratch, sizeof(scratch), add_pair, root);
    rc = from_object(root, out, reason);
    json_decref(root);
    return rc;
}
