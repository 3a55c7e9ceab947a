/*
 * conversion_auth.h - authentication of POST /v1/conversions.
 *
 * A shop's backend signs each request with its shop secret (32 bytes, the
 * keys file line shop_secret.<shop>):
 *
 *   X-Tally-Timestamp: <Unix seconds>
 *   X-Tally-Signature: sha256=<64 hex digits of
 *                       HMAC-SHA256(secret, timestamp "." body)>
 *
 * The timestamp is inside the MAC, so a captured request cannot be given a
 * fresh time, and a request whose timestamp lies more than max_age seconds
 * from tally's clock (either way) is rejected. The MAC is compared in
 * constant time.
 */
#ifndef TALLY_CONVERSION_AUTH_H
#define TALLY_CONVERSION_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define CONVERSION_SECRET_LEN 32
#define CONVERSION_SIGNATURE_PREFIX "sha256="
#define CONVERSION_SIGNATURE_HEX 64

enum conversion_auth_status {
    CONVERSION_AUTH_OK = 0,
    CONVERSION_AUTH_MALFORMED, /* timestamp not decimal, signature not sha256=<hex> */
    CONVERSION_AUTH_STALE,     /* timestamp outside max_age of now */
    CONVERSION_AUTH_BAD_MAC,   /* the signature does not match */
};

/* Returns a short name of a status for logs: "ok", "malformed", "stale",
 * "bad_mac". */
const char *conversion_auth_status_name(enum conversion_auth_status status);

/* Checks the headers' values ts[0..ts_len) and sig[0..sig_len) against
 * body[0..body_len) under secret, at time now. The checks run in order:
 * format, then time, then MAC. Returns CONVERSION_AUTH_OK or the first
 * failure; an OpenSSL failure reads as BAD_MAC. */
enum conversion_auth_status
conversion_auth_check(const uint8_t secret[CONVERSION_SECRET_LEN],
                      const char *ts, size_t ts_len, const char *sig,
                      size_t sig_len, const char *body, size_t body_len,
                      uint32_t now, uint32_t max_age_s);

/* Writes "sha256=<64 hex>" and a NUL for ts and body to out (72 bytes).
 * Returns 0, or -1 when OpenSSL fails. */
int conversion_auth_sign(const uint8_t secret[CONVERSION_SECRET_LEN],
                         const char *ts, size_t ts_len, const char *body,
                         size_t body_len, char out[72]);

#endif
