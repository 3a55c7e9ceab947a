/*
 * token.h - tally's signed anonymous tokens, format version 1.
 *
 * Three kinds share one binary layout, written out byte by byte in
 * docs/tokens.md, which is the permanent reference: once an email is sent, its
 * tokens must verify for as long as their key is kept.
 *
 *   TOKEN_OPEN   in the pixel URL  /o/<token>.gif
 *   TOKEN_CLICK  in the click URL  /c/<token>; carries the destination
 *   TOKEN_VISIT  the tly=<token> the click redirect adds to the destination;
 *                carries the click time and a random click id, and comes back
 *                in beacons as evidence of that click
 *
 * A token is base64url text of: version, kind, key id, issue time, campaign,
 * message, reader id, link id, the kind's extra field, and a 96-bit truncated
 * HMAC-SHA256 over everything before it. Verification is constant-time.
 */
#ifndef TALLY_TOKEN_H
#define TALLY_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "signer.h"

#define TOKEN_VERSION 1

enum token_kind {
    TOKEN_OPEN = 1,
    TOKEN_CLICK = 2,
    TOKEN_VISIT = 3,
};

#define TOKEN_ID_MAX 32      /* campaign and message ids, bytes */
#define TOKEN_READER_LEN 12  /* reader id, bytes */
#define TOKEN_CLICK_ID_LEN 8 /* random id of one click, bytes */
#define TOKEN_MAC_LEN 12     /* truncated HMAC-SHA256, bytes */
#define TOKEN_DEST_MAX 8192  /* destination URL of a click token, bytes */

/* Upper bounds on a token's binary and text size, for sizing buffers. */
#define TOKEN_BINARY_MAX (3 + 4 + 2 * (1 + TOKEN_ID_MAX) + TOKEN_READER_LEN + 5 \
                          + 2 + TOKEN_DEST_MAX + TOKEN_MAC_LEN)
#define TOKEN_TEXT_MAX ((TOKEN_BINARY_MAX * 4 + 2) / 3)

struct token {
    enum token_kind kind;
    uint8_t key_id;
    uint32_t issued; /* seconds since the Unix epoch: mint time, or click
                        time for TOKEN_VISIT */
    char campaign[TOKEN_ID_MAX + 1]; /* NUL-terminated, see token_id_valid */
    char message[TOKEN_ID_MAX + 1];
    uint8_t reader[TOKEN_READER_LEN];
    uint32_t link;
    uint8_t click_id[TOKEN_CLICK_ID_LEN]; /* TOKEN_VISIT only */
    const char *dest;                     /* TOKEN_CLICK only, not NUL-terminated */
    size_t dest_len;
};

enum token_status {
    TOKEN_OK = 0,
    TOKEN_MALFORMED,   /* not base64url, truncated, trailing bytes, bad field */
    TOKEN_BAD_VERSION, /* a version this build does not read */
    TOKEN_UNKNOWN_KEY, /* signed under a key id not in the keyring */
    TOKEN_BAD_MAC,     /* forged or altered */
    TOKEN_WRONG_KIND,  /* valid, but not the kind the caller expects */
};

/* Returns a short lower-case name of a status, for logs and metrics. */
const char *token_status_name(enum token_status status);

/* Tells whether id[0..len) is a valid campaign, message or shop id: 1 to
 * TOKEN_ID_MAX bytes of A-Z a-z 0-9 '.' '_' '-'. These ids become parts of
 * Redis keys, so the set excludes ':' and the hash-tag braces. */
bool token_id_valid(const char *id, size_t len);

/* Signs t under the signer's active key (t->key_id is ignored and set) and
 * writes the base64url text and a NUL to out, which has room for outsize
 * bytes (TOKEN_TEXT_MAX + 1 always suffice). Returns the text length, or -1
 * when a field is invalid, the active key is missing, OpenSSL fails or out
 * is too small. Invalid fields are an unknown kind, an id that fails
 * token_id_valid, and a click destination that is NULL, empty or longer
 * than TOKEN_DEST_MAX. The destination is not checked as a URL, because
 * that is url_check_destination's job. dest is ignored for other kinds than
 * TOKEN_CLICK, and click_id for other kinds than TOKEN_VISIT. */
long token_encode(struct signer *s, struct token *t, char *out, size_t outsize);

/* Decodes and verifies text[0..len) as a token of kind expected. scratch
 * (TOKEN_BINARY_MAX bytes) receives the decoded bytes and must outlive *out,
 * whose dest points into it. Returns TOKEN_OK or why the token is rejected;
 * on any failure *out is unspecified and must not be used. The checks run
 * in this order, and the first that fails decides the status:
 *
 *   1. len <= TOKEN_TEXT_MAX and the text is canonical base64url of at
 *      least one byte                                     else MALFORMED
 *   2. byte 0 is TOKEN_VERSION                            else BAD_VERSION
 *   3. the bytes parse as the version 1 layout: a known kind, valid ids,
 *      minimal varints in range, a destination of 1..TOKEN_DEST_MAX bytes
 *      for a click, then exactly TOKEN_MAC_LEN bytes      else MALFORMED
 *   4. the key id is in the keyring                       else UNKNOWN_KEY
 *   5. the MAC matches, compared in constant time         else BAD_MAC
 *   6. the kind is expected                               else WRONG_KIND
 *
 * So WRONG_KIND only ever describes a genuine token, and no field is used
 * for anything but parsing before step 5. An OpenSSL failure in step 5 is
 * reported as BAD_MAC. */
enum token_status token_decode(struct signer *s, const char *text, size_t len,
                               enum token_kind expected, uint8_t *scratch,
                               struct token *out);

#endif
