/*
 * auth.h - API bearer tokens and their scopes.
 *
 * The keys file lists each token on a line of its own:
 *
 *   api_token.dashboard = read <64 hex digits>
 *   api_token.mailer    = sign <64 hex digits>
 *   api_token.ops       = read,admin <64 hex digits>
 *
 * A client sends the 64 hex digits in "Authorization: Bearer <hex>". A token
 * grants exactly the scopes its line lists, except that admin grants every
 * scope. Tokens are compared in constant time (CRYPTO_memcmp) against every
 * configured token, so the time taken does not depend on which one matched.
 *
 * This file does no I/O and uses no event loop, so tallyctl links it too;
 * auth_request.c is the HTTP side that answers 401 and 403.
 */
#ifndef TALLY_AUTH_H
#define TALLY_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_TOKEN_LEN 32   /* bytes; 64 hex digits in the file and header */
#define AUTH_TOKENS_MAX 64  /* tokens in one keys file */
#define AUTH_NAME_MAX 32    /* bytes of a token's name */

enum auth_scope {
    AUTH_SCOPE_READ = 1,  /* stats API, dashboard data */
    AUTH_SCOPE_SIGN = 2,  /* minting URLs */
    AUTH_SCOPE_ADMIN = 4, /* forgetting readers, key management; grants all */
};

struct auth_token {
    char name[AUTH_NAME_MAX + 1];
    unsigned scopes; /* bit set of enum auth_scope */
    uint8_t secret[AUTH_TOKEN_LEN];
};

struct auth_tokens {
    struct auth_token tokens[AUTH_TOKENS_MAX];
    size_t count;
};

enum auth_result {
    AUTH_OK = 0,
    AUTH_MISSING,   /* no Authorization header, or not a Bearer one: 401 */
    AUTH_INVALID,   /* a bearer token that matches no configured one: 401 */
    AUTH_FORBIDDEN, /* a valid token without the scope: 403 */
};

/* Parses a comma-separated scope list such as "read" or "read,admin" into
 * *scopes. Returns 0, or -1 for an empty list or an unknown scope name. */
int auth_parse_scopes(const char *text, unsigned *scopes);

/* Writes the scope list of scopes ("read,sign") to out. */
void auth_format_scopes(unsigned scopes, char *out, size_t outsize);

/* Parses the value of a keys-file line, "<scopes> <64 hex digits>", into
 * *token (name left alone). Returns 0, or -1 with a reason in err that never
 * contains the secret. */
int auth_parse_token_line(const char *value, struct auth_token *token,
                          char *err, size_t errsize);

/*
 * Checks an Authorization header value (header, header_len; NULL when the
 * request has none) against tokens for scope. On AUTH_OK, *matched (when
 * not NULL) points at the token that matched. The scheme "Bearer" is
 * matched without regard to case, as RFC 9110 says for auth schemes.
 */
enum auth_result auth_check(const struct auth_tokens *tokens, const char *header,
                            size_t header_len, enum auth_scope scope,
                            const struct auth_token **matched);

/* Wipes every secret in tokens (OPENSSL_cleanse). */
void auth_tokens_wipe(struct auth_tokens *tokens);

#endif
