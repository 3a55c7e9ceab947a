/*
 * auth.h - bearer tokens with scopes for tallyd's API.
 *
 * Tokens are lines of the keys file, next to the signing keys:
 *
 *   api_token.NAME = SCOPES HEX
 *
 * NAME is 1 to 32 of A-Z a-z 0-9 . _ -, SCOPES a comma-separated list of
 * read, sign and admin (admin grants every scope), HEX 64 hex digits (32
 * random bytes), which a client sends as "Authorization: Bearer HEX".
 * Every configured token is compared with CRYPTO_memcmp, and all of them
 * are compared on each request, so the time taken does not reveal which
 * token or how much of one matched.
 */
#ifndef TALLY_AUTH_H
#define TALLY_AUTH_H

#include <stddef.h>

#include "http.h"

#define AUTH_TOKENS_MAX 64

/* Reads the api_token lines of the keys file at path into the process-wide
 * table, replacing it; call before the workers start. Returns 0, or -1
 * with a reason naming path:line (never a token) in err. */
int auth_load(const char *path, char *err, size_t errsize);

/* Checks req's bearer token for scope ("read", "sign" or "admin").
 * Returns 0 when allowed, 401 when the token is missing or unknown, 403
 * when it lacks the scope. */
int auth_check(const struct http_request *req, const char *scope);

/* Parses the value of one api_token line ("admin 0123...") for the keys
 * file parser. Returns 0, or -1 when it is malformed. */
int auth_parse_line(const char *value, unsigned *scopes, unsigned char secret[32]);

/* Wipes the table (OPENSSL_cleanse). */
void auth_clear(void);

#endif
