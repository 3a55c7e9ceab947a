/*
 * auth.h - bearer tokens for tally's HTTP APIs, with scopes.
 *
 * Tokens live in the keys file, one per line:
 *
 *   api_token.NAME = SCOPE <64 hex digits>
 *
 * NAME is 1 to 32 of A-Z a-z 0-9 . _ - and only identifies the token in
 * logs; SCOPE is read (stats, dashboard), sign (minting URLs) or admin
 * (forget, key management; also passes read and sign). A request sends
 * "Authorization: Bearer <64 hex digits>". The comparison runs in constant
 * time over every token in the table, so timing tells nothing about which
 * bytes or which token matched.
 */
#ifndef TALLY_AUTH_H
#define TALLY_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

#define AUTH_TOKENS_MAX 64
#define AUTH_SECRET_LEN 32
#define AUTH_NAME_MAX 32

enum auth_scope {
    AUTH_SCOPE_READ = 1,
    AUTH_SCOPE_SIGN = 2,
    AUTH_SCOPE_ADMIN = 4,
};

struct auth_token {
    char name[AUTH_NAME_MAX + 1];
    enum auth_scope scope;
    uint8_t secret[AUTH_SECRET_LEN];
};

struct auth_table {
    struct auth_token tokens[AUTH_TOKENS_MAX];
    size_t n_tokens;
};

enum auth_result {
    AUTH_OK = 0,
    AUTH_MISSING,   /* no Authorization: Bearer header: 401 */
    AUTH_INVALID,   /* a token that matches none: 401 */
    AUTH_FORBIDDEN, /* a valid token without the scope: 403 */
};

/* Reads the api_token lines of the keys file at path into *table (wiped
 * first) and ignores every other line. Returns 0, or -1 with a one-line
 * reason naming path:line, never the secret, in err. */
int auth_load(const char *path, struct auth_table *table, char *err,
              size_t errsize);

/* Checks req's bearer token for scope. When name is not NULL, it receives
 * the matching token's name (AUTH_OK and AUTH_FORBIDDEN), for logs. */
enum auth_result auth_check(const struct auth_table *table,
                            const struct http_request *req,
                            enum auth_scope scope, const char **name);

/* Wipes every secret of the table (OPENSSL_cleanse). */
void auth_wipe(struct auth_table *table);

#endif
