/*
 * fuzz_beacon.c - libFuzzer target for beacon_parse, the JSON body of
 * POST /b.
 *
 * The input is the body. Checked: no crash or sanitizer report, and a
 * rejected body comes with a non-empty reason. An accepted body contains
 * only values the handler may store: a known type, a valid shop id,
 * printable ids, an ISO 4217 currency, revenue within 0..MONEY_MINOR_MAX
 * and a token of at most BEACON_TOKEN_MAX bytes. It is also written back as
 * JSON from its parsed fields and parsed again, which must give the same
 * fields.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "beacon.h"
#include "money.h"
#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool printable(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    }
    return true;
}

static void check_order(const struct beacon *b)
{
    if (b->order_id[0] == '\0' || !printable(b->order_id))
        abort();
    if (money_currency_exponent(b->currency, strlen(b->currency)) != b->currency_exponent)
        abort();
}

static void check_fields(const struct beacon *b)
{
    if (b->type != BEACON_IDENTIFY && b->type != BEACON_CHECKOUT &&
        b->type != BEACON_REFUND)
        abort();
    if (!token_id_valid(b->shop, strlen(b->shop)))
        abort();
    if (b->has_token && (b->token[0] == '\0' || strlen(b->token) > BEACON_TOKEN_MAX))
        abort();
    if (b->has_customer && (b->customer_id[0] == '\0' || !printable(b->customer_id)))
        abort();
    if (b->has_device && (b->device_id[0] == '\0' || !printable(b->device_id)))
        abort();
    switch (b->type) {
    case BEACON_IDENTIFY:
        /* A customer with something to link it to, or a device with a token. */
        if (!(b->has_customer && (b->has_token || b->has_email || b->has_device)) &&
            !(b->has_device && b->has_token))
            abort();
        return;
    case BEACON_CHECKOUT:
        check_order(b);
        if (b->revenue_minor < 0 || b->revenue_minor > MONEY_MINOR_MAX)
            abort();
        return;
    case BEACON_REFUND:
        check_order(b);
        if (b->has_amount && (!b->has_refund_id || b->amount_minor < 0 ||
                              b->amount_minor > MONEY_MINOR_MAX))
            abort();
        if (b->has_refund_id && (b->refund_id[0] == '\0' || !printable(b->refund_id)))
            abort();
        return;
    }
}

static const char *const type_names[] = {
    [BEACON_IDENTIFY] = "identify",
    [BEACON_CHECKOUT] = "checkout",
    [BEACON_REFUND] = "refund",
};

/* Formats an amount at the beacon's currency exponent into out (32 bytes). */
static const char *amount_text(const struct beacon *b, int64_t minor, char *out)
{
    if (money_format(minor, b->currency_exponent, out, 32) < 0)
        abort();
    return out;
}

/* Writes the parsed fields back as a JSON body; the caller frees it. */
static char *rebuild(const struct beacon *b)
{
    static const char hex[] = "0123456789abcdef";
    char email[IDENT_SHA256_LEN * 2 + 1];
    char revenue[32];
    json_t *obj = json_object();
    char *text;

    if (obj == NULL)
        abort();
    json_object_set_new(obj, "type", json_string(type_names[b->type]));
    json_object_set_new(obj, "shop", json_string(b->shop));
    if (b->has_token)
        json_object_set_new(obj, "token", json_string(b->token));
    if (b->has_customer)
        json_object_set_new(obj, "customer_id", json_string(b->customer_id));
    if (b->has_device)
        json_object_set_new(obj, "device_id", json_string(b->device_id));
    if (b->has_email) {
        for (size_t i = 0; i < IDENT_SHA256_LEN; i++) {
            email[2 * i] = hex[b->email_sha256[i] >> 4];
            email[2 * i + 1] = hex[b->email_sha256[i] & 15];
        }
        email[sizeof(email) - 1] = '\0';
        json_object_set_new(obj, "email_sha256", json_string(email));
    }
    if (b->type != BEACON_IDENTIFY) {
        json_object_set_new(obj, "order_id", json_string(b->order_id));
        json_object_set_new(obj, "currency", json_string(b->currency));
    }
    if (b->type == BEACON_CHECKOUT)
        json_object_set_new(obj, "revenue", json_string(amount_text(b, b->revenue_minor, revenue)));
    if (b->type == BEACON_REFUND && b->has_amount)
        json_object_set_new(obj, "amount", json_string(amount_text(b, b->amount_minor, revenue)));
    if (b->type == BEACON_REFUND && b->has_refund_id)
        json_object_set_new(obj, "refund_id", json_string(b->refund_id));
    text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (text == NULL)
        abort();
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct beacon first, second;
    const char *reason = NULL;
    char *text;

    if (beacon_parse((const char *)data, size, &first, &reason) != 0) {
        if (reason == NULL || reason[0] == '\0')
            abort();
        return 0;
    }
    check_fields(&first);

    text = rebuild(&first);
    if (beacon_parse(text, strlen(text), &second, &reason) != 0)
        abort();
    if (memcmp(&first, &second, sizeof(first)) != 0)
        abort();
    free(text);
    return 0;
}
