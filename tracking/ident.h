/*
 * ident.h - anonymous identifiers: email hashes, reader ids, customer ids.
 *
 * The one normalisation rule that tally, the webshop snippet and a shop's
 * backend share: strip leading and trailing whitespace (space, tab, CR, LF,
 * VT, FF), lower-case the ASCII letters A-Z, leave every other byte as it is,
 * then SHA-256. Its lower-case hex form is the email_sha256 a shop sends.
 *
 * A reader id is HMAC-SHA256 under the reader secret of a domain label and the
 * 32-byte email hash, cut to TOKEN_READER_LEN bytes; a customer id is hashed
 * the same way with its own label and the shop id. Without the reader secret
 * neither can be linked back to an address or a shop's customer number.
 */
#ifndef TALLY_IDENT_H
#define TALLY_IDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "signer.h"
#include "token.h"

#define IDENT_SHA256_LEN 32
#define IDENT_CUSTOMER_MAX 128 /* bytes of a shop's customer id */
#define IDENT_DEVICE_MIN 16    /* characters of a device id */
#define IDENT_DEVICE_MAX 64

/* Normalises the address addr[0..len) and writes its SHA-256 to out. Returns
 * 0, or -1 when nothing is left after trimming or OpenSSL fails. The address
 * is not checked for an '@' or anything else: every string has a hash. */
int ident_email_sha256(const char *addr, size_t len,
                       uint8_t out[IDENT_SHA256_LEN]);

/* Parses 64 hex digits (either case) into out. Returns 0, or -1 when hex is
 * not exactly 64 hex digits. */
int ident_parse_sha256_hex(const char *hex, size_t len,
                           uint8_t out[IDENT_SHA256_LEN]);

/* Returns the value of a hex digit of either case, or -1. */
int ident_hex_value(char c);

/* Writes the lower-case hex of bytes[0..n) and a NUL to out (2n+1 bytes). */
void ident_hex(const uint8_t *bytes, size_t n, char *out);

/* Derives the reader id of an email hash. Returns 0, or -1 when OpenSSL fails. */
int ident_reader_id(struct signer *s, const uint8_t email_sha256[IDENT_SHA256_LEN],
                    uint8_t out[TOKEN_READER_LEN]);

/* Derives the anonymous id of customer id cust[0..len) of shop, a
 * NUL-terminated id that token_id_valid accepts. Returns 0, or -1 when shop
 * is invalid, the customer id is empty, longer than IDENT_CUSTOMER_MAX or
 * contains a control byte (below 0x20, or 0x7F), or OpenSSL fails. */
int ident_customer_id(struct signer *s, const char *shop, const char *cust,
                      size_t len, uint8_t out[TOKEN_READER_LEN]);

/* Tells whether device[0..len) is a well-formed device id: IDENT_DEVICE_MIN
 * to IDENT_DEVICE_MAX characters of A-Z a-z 0-9 '-' '_' (a UUID or 16
 * random bytes in base64url both fit). */
bool ident_device_valid(const char *device, size_t len);

/* Derives the anonymous id of device id device[0..len) of shop, like
 * ident_customer_id but under its own label, so a device id and a customer
 * id with the same text never share a hash. Returns 0, or -1 when shop or
 * the device id is invalid (ident_device_valid), or OpenSSL fails. */
int ident_device_id(struct signer *s, const char *shop, const char *device,
                    size_t len, uint8_t out[TOKEN_READER_LEN]);

/* Tells whether id[0..len) is a placeholder that shops send when they have
 * no real identifier: empty or blank, "0", "-1", "null", "undefined",
 * "anonymous" or "guest", compared after trimming whitespace and ignoring
 * ASCII case. Placeholders are never linked to a reader. */
bool ident_is_placeholder(const char *id, size_t len);

/* Tells whether an email hash is the SHA-256 of the empty string, what a
 * page sends when it hashes an empty address field. */
bool ident_email_is_placeholder(const uint8_t email_sha256[IDENT_SHA256_LEN]);

#endif
