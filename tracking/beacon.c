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
    char type[16];

    if (copy_string(root, "type", type, sizeof(type), NULL, NULL) != 1) {
        *reason = "type must be \"identify\" or \"checkout\"";
        return -1;
    }
    if (strcmp(type, "identify") == 0)
        out->type = BEACON_IDENTIFY;
    else if (strcmp(type, "checkout") == 0)
        out->type = BEACON_CHECKOUT;
    else {
        *reason = "type must be \"identify\" or \"checkout\"";
        return -1;
    }
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
    return 0;
}

static int parse_order(json_t *root, struct beacon *out, const char **reason)
{
    char revenue[32];
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

int beacon_parse(const char *body, size_t len, struct beacon *out,
                 const char **reason)
{
    json_error_t error;
    json_t *root = NULL;
    const char *text;
    size_t text_len;
    int got;
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

    if (parse_type(root, out, reason) != 0 ||
        parse_identity(root, out, reason) != 0)
        goto cleanup;

    got = copy_string(root, "shop", out->shop, sizeof(out->shop), &text, &text_len);
    if (got < 0 || (got == 1 && !token_id_valid(text, text_len))) {
        *reason = "shop must be 1 to 32 of A-Z a-z 0-9 . _ -";
        goto cleanup;
    }
    if (got == 0)
        strcpy(out->shop, BEACON_SHOP_DEFAULT);

    if (out->type == BEACON_CHECKOUT) {
        if (parse_order(root, out, reason) != 0)
            goto cleanup;
    } else if (!out->has_customer || (!out->has_token && !out->has_email)) {
        *reason = "identify needs customer_id and a token or email_sha256";
        goto cleanup;
    }
    rc = 0;

cleanup:
    json_decref(root);
    return rc;
}
