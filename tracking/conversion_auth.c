/*
 * conversion_auth.c - the HMAC-SHA256 request signatures of
 * conversion_auth.h.
 *
 * A one-shot EVP_Q_mac per request: the server-to-server API carries one
 * request per order, far too few to be worth a cached context per shop.
 */
#include "conversion_auth.h"

#include <stdbool.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "ident.h"

const char *conversion_auth_status_name(enum conversion_auth_status status)
{
    switch (status) {
    case CONVERSION_AUTH_OK:
        return "ok";
    case CONVERSION_AUTH_MALFORMED:
        return "malformed";
    case CONVERSION_AUTH_STALE:
        return "stale";
    case CONVERSION_AUTH_BAD_MAC:
        break;
    }
    return "bad_mac";
}

/* Computes the MAC of ts "." body into mac. Returns 0, or -1. */
static int compute_mac(const uint8_t secret[CONVERSION_SECRET_LEN],
                       const char *ts, size_t ts_len, const char *body,
                       size_t body_len, uint8_t mac[32])
{
    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = NULL;
    OSSL_PARAM params[2];
    size_t mac_len = 0;
    int rc = -1;

    if (hmac == NULL)
        return -1;
    ctx = EVP_MAC_CTX_new(hmac);
    params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (ctx == NULL || !EVP_MAC_init(ctx, secret, CONVERSION_SECRET_LEN, params) ||
        !EVP_MAC_update(ctx, (const unsigned char *)ts, ts_len) ||
        !EVP_MAC_update(ctx, (const unsigned char *)".", 1) ||
        !EVP_MAC_update(ctx, (const unsigned char *)body, body_len) ||
        !EVP_MAC_final(ctx, mac, &mac_len, 32) || mac_len != 32)
        goto done;
    rc = 0;

done:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(hmac);
    return rc;
}

/* Parses 1 to 10 decimal digits into *out. */
static bool parse_timestamp(const char *ts, size_t len, uint64_t *out)
{
    uint64_t v = 0;

    if (len == 0 || len > 10)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (ts[i] < '0' || ts[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(ts[i] - '0');
    }
    *out = v;
    return true;
}

enum conversion_auth_status
conversion_auth_check(const uint8_t secret[CONVERSION_SECRET_LEN],
                      const char *ts, size_t ts_len, const char *sig,
                      size_t sig_len, const char *body, size_t body_len,
                      uint32_t now, uint32_t max_age_s)
{
    static const char prefix[] = CONVERSION_SIGNATURE_PREFIX;
    size_t prefix_len = sizeof(prefix) - 1;
    uint8_t given[IDENT_SHA256_LEN];
    uint8_t expected[32];
    uint64_t when;
    uint64_t age;

    if (!parse_timestamp(ts, ts_len, &when) ||
        sig_len != prefix_len + CONVERSION_SIGNATURE_HEX ||
        memcmp(sig, prefix, prefix_len) != 0 ||
        ident_parse_sha256_hex(sig + prefix_len, CONVERSION_SIGNATURE_HEX, given) != 0)
        return CONVERSION_AUTH_MALFORMED;

    age = when > now ? when - now : now - when;
    if (age > max_age_s)
        return CONVERSION_AUTH_STALE;

    if (compute_mac(secret, ts, ts_len, body, body_len, expected) != 0 ||
        CRYPTO_memcmp(expected, given, sizeof(expected)) != 0)
        return CONVERSION_AUTH_BAD_MAC;
    return CONVERSION_AUTH_OK;
}

int conversion_auth_sign(const uint8_t secret[CONVERSION_SECRET_LEN],
                         const char *ts, size_t ts_len, const char *body,
                         size_t body_len, char out[72])
{
    uint8_t mac[32];

    if (compute_mac(secret, ts, ts_len, body, body_len, mac) != 0)
        return -1;
    memcpy(out, CONVERSION_SIGNATURE_PREFIX, sizeof(CONVERSION_SIGNATURE_PREFIX) - 1);
    ident_hex(mac, sizeof(mac), out + sizeof(CONVERSION_SIGNATURE_PREFIX) - 1);
    return 0;
}
