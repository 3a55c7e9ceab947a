/*
 * auth.c - scope lists, token lines of the keys file, and the constant-time
 * bearer check of auth.h.
 */
#include "auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "ident.h"

static const struct {
    const char *name;
    enum auth_scope scope;
} scope_names[] = {
    {"read", AUTH_SCOPE_READ},
    {"sign", AUTH_SCOPE_SIGN},
    {"admin", AUTH_SCOPE_ADMIN},
};

_Static_assert(AUTH_TOKEN_LEN == IDENT_SHA256_LEN, "token and hash sizes differ");

#define SCOPE_COUNT (sizeof(scope_names) / sizeof(scope_names[0]))

static int scope_of(const char *name, size_t len, unsigned *scope)
{
    for (size_t i = 0; i < SCOPE_COUNT; i++) {
        if (strlen(scope_names[i].name) == len &&
            memcmp(scope_names[i].name, name, len) == 0) {
            *scope = scope_names[i].scope;
            return 0;
        }
    }
    return -1;
}

int auth_parse_scopes(const char *text, unsigned *scopes)
{
    unsigned result = 0;

    while (*text != '\0') {
        size_t len = strcspn(text, ",");
        unsigned scope;

        if (len == 0 || scope_of(text, len, &scope) != 0)
            return -1;
        result |= scope;
        text += len;
        if (*text == ',') {
            text++;
            if (*text == '\0')
                return -1;
        }
    }
    if (result == 0)
        return -1;
    *scopes = result;
    return 0;
}

void auth_format_scopes(unsigned scopes, char *out, size_t outsize)
{
    size_t used = 0;

    if (outsize == 0)
        return;
    out[0] = '\0';
    for (size_t i = 0; i < SCOPE_COUNT; i++) {
        int n;

        if ((scopes & scope_names[i].scope) == 0)
            continue;
        n = snprintf(out + used, outsize - used, "%s%s", used > 0 ? "," : "",
                     scope_names[i].name);
        if (n < 0 || (size_t)n >= outsize - used)
            return;
        used += (size_t)n;
    }
}

/* Decodes exactly 2 * AUTH_TOKEN_LEN hex digits, with the 64-digit parser
 * that email hashes use (AUTH_TOKEN_LEN is the same 32 bytes). */
static int decode_secret(const char *hex, size_t len, uint8_t out[AUTH_TOKEN_LEN])
{
    return ident_parse_sha256_hex(hex, len, out);
}

int auth_parse_token_line(const char *value, struct auth_token *token,
                          char *err, size_t errsize)
{
    char scopes[64];
    size_t scopes_len = strcspn(value, " \t");
    const char *hex = value + scopes_len;

    while (*hex == ' ' || *hex == '\t')
        hex++;
    if (scopes_len == 0 || scopes_len >= sizeof(scopes) || *hex == '\0') {
        snprintf(err, errsize, "expected '<scopes> <%d hex digits>', such as "
                 "'read <hex>'", 2 * AUTH_TOKEN_LEN);
        return -1;
    }
    memcpy(scopes, value, scopes_len);
    scopes[scopes_len] = '\0';

    if (auth_parse_scopes(scopes, &token->scopes) != 0) {
        snprintf(err, errsize, "scope list '%s' is invalid: use read, sign or "
                 "admin, comma-separated", scopes);
        return -1;
    }
    if (decode_secret(hex, strlen(hex), token->secret) != 0) {
        snprintf(err, errsize, "token must be %d hex digits (%d bytes)",
                 2 * AUTH_TOKEN_LEN, AUTH_TOKEN_LEN);
        return -1;
    }
    return 0;
}

enum auth_result auth_check(const struct auth_tokens *tokens, const char *header,
                            size_t header_len, enum auth_scope scope,
                            const struct auth_token **matched)
{
    static const char scheme[] = "Bearer ";
    const size_t scheme_len = sizeof(scheme) - 1;
    uint8_t presented[AUTH_TOKEN_LEN];
    const struct auth_token *found = NULL;
    const char *hex;
    size_t hex_len;

    if (header == NULL || header_len <= scheme_len ||
        strncasecmp(header, scheme, scheme_len) != 0)
        return AUTH_MISSING;
    hex = header + scheme_len;
    hex_len = header_len - scheme_len;
    while (hex_len > 0 && *hex == ' ') {
        hex++;
        hex_len--;
    }
    if (decode_secret(hex, hex_len, presented) != 0)
        return AUTH_INVALID;

    /* Every token is compared, so the time does not tell which one matched
     * or how many are configured before it. */
    for (size_t i = 0; i < tokens->count; i++) {
        if (CRYPTO_memcmp(presented, tokens->tokens[i].secret, AUTH_TOKEN_LEN) == 0)
            found = &tokens->tokens[i];
    }
    OPENSSL_cleanse(presented, sizeof(presented));

    if (found == NULL)
        return AUTH_INVALID;
    if (matched != NULL)
        *matched = found;
    if ((found->scopes & (unsigned)scope) == 0 &&
        (found->scopes & AUTH_SCOPE_ADMIN) == 0)
        return AUTH_FORBIDDEN;
    return AUTH_OK;
}

void auth_tokens_wipe(struct auth_tokens *tokens)
{
    OPENSSL_cleanse(tokens, sizeof(*tokens));
}
