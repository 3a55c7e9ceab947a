/*
 * b64url.h - base64url (RFC 4648, section 5) without padding.
 *
 * Written here rather than taken from OpenSSL because EVP_DecodeBlock decodes
 * the standard alphabet only, skips whitespace and accepts padding, while a
 * token must have exactly one spelling: decoding rejects padding, whitespace,
 * the standard alphabet's '+' and '/', a length of 1 mod 4 and non-zero
 * unused bits in the last character.
 */
#ifndef TALLY_B64URL_H
#define TALLY_B64URL_H

#include <stddef.h>
#include <stdint.h>

/* Length of the encoding of n bytes. */
#define B64URL_ENCODED_LEN(n) (((n) * 4 + 2) / 3)
/* Upper bound on the bytes that n characters decode to. */
#define B64URL_DECODED_MAX(n) (((n) * 3) / 4)

/* Writes the encoding of in[0..n) to out, which has room for
 * B64URL_ENCODED_LEN(n) characters; no terminating NUL. Returns the length. */
size_t b64url_encode(const uint8_t *in, size_t n, char *out);

/* Decodes text[0..len) into out, which has room for outsize bytes. Returns the
 * decoded length, or -1 when the text is not canonical base64url or does not
 * fit. */
long b64url_decode(const char *text, size_t len, uint8_t *out, size_t outsize);

#endif
