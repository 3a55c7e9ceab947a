/*
 * tally.h - minting the pixel and click URLs of one recipient, for programs
 * that link the tracking library (libtracking.a) directly.
 *
 * This header is a stable interface: within TALLY_API_VERSION 1 its
 * functions keep their names, arguments and meaning, and the URLs they
 * mint keep the token format of docs/tokens.md. A caller builds one signer
 * from its keys (struct keyring filled from the keys file, then
 * signer_new) and mints any number of URLs with it from one thread:
 *
 *   struct tally_email e = {.campaign = "spring", .message = "a",
 *                           .issued = (uint32_t)time(NULL)};
 *   long base_len = tally_base_check("https://t.shop.example");
 *   e.base = "https://t.shop.example";
 *   e.base_len = (size_t)base_len;
 *   tally_reader_from_email(signer, addr, strlen(addr), e.reader);
 *   tally_mint_pixel(signer, &e, pixel, sizeof pixel);
 *   tally_mint_click(signer, &e, 1, dest, strlen(dest), click, sizeof click);
 *
 * Nothing here does I/O or keeps the address: only its keyed reader id
 * goes into a token.
 */
#ifndef TALLY_TALLY_H
#define TALLY_TALLY_H

#include <stddef.h>
#include <stdint.h>

#include "signer.h"
#include "token.h"

#define TALLY_API_VERSION 1
#define TALLY_BASE_MAX 512 /* bytes of a base URL */
/* Room for any minted URL and its NUL. */
#define TALLY_URL_MAX (TALLY_BASE_MAX + 3 + TOKEN_TEXT_MAX + 4 + 1)

/* The email a URL belongs to. */
struct tally_email {
    const char *base;   /* tallyd's public base URL, checked by tally_base_check */
    size_t base_len;    /* as tally_base_check returned it */
    const char *campaign; /* NUL-terminated, token_id_valid */
    const char *message;  /* NUL-terminated, token_id_valid */
    uint8_t reader[TOKEN_READER_LEN];
    uint32_t issued;    /* mint time, Unix seconds */
};

/* Checks that base (NUL-terminated) can prefix tally URLs: an http:// or
 * https:// URL with a host, no query or fragment, at most TALLY_BASE_MAX
 * bytes, and only bytes that need no escaping in an HTML attribute.
 * Returns its length without one trailing '/', or -1. */
long tally_base_check(const char *base);

/* Derives the reader id of an email address (normalised and hashed as in
 * ident.h). Returns 0, or -1 when the address is empty after trimming or
 * OpenSSL fails. The address is not kept. */
int tally_reader_from_email(struct signer *s, const char *email, size_t len,
                            uint8_t reader[TOKEN_READER_LEN]);

/* Same, from the 64 hex digits of the email hash. Returns -1 when hex is
 * not 64 hex digits or OpenSSL fails. */
int tally_reader_from_sha256_hex(struct signer *s, const char *hex, size_t len,
                                 uint8_t reader[TOKEN_READER_LEN]);

/* Writes "<base>/o/<open token>.gif" and a NUL to out (outsize bytes;
 * TALLY_URL_MAX always suffice). Returns the URL's length, or -1 when an
 * id is invalid, out is too small or signing fails. */
long tally_mint_pixel(struct signer *s, const struct tally_email *e, char *out,
                      size_t outsize);

/* Writes "<base>/c/<click token>" for link id link and destination
 * dest[0..dest_len) and a NUL to out. Returns the URL's length, or -1
 * when the destination fails url_check_destination (with "tly"), an id is
 * invalid, out is too small or signing fails. */
long tally_mint_click(struct signer *s, const struct tally_email *e,
                      uint32_t link, const char *dest, size_t dest_len,
                      char *out, size_t outsize);

#endif
