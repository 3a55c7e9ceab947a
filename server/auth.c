/*
 * auth.c - loading API tokens from the keys file and checking bearer
 * tokens. The keys file parser (keys_file.c) skips api_token lines; this
 * file reads only those, with the same strictness: a malformed token line
 * fails the whole load, because a typo there would lock a client out
 * without a clue.
 */
#include "auth.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "ident.h"
#include "token.h"

#define AUTH_LINE_MAX 512

static const char prefix[] = "api_token.";

static int fail(char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errsize, const char *fmt, ...)
{
    va_list ap;

    if (errsize == 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
    return -1;
}

static int parse_scope(const char *s, size_t len, enum auth_scope *out)
{
    if (len == 4 && strncmp(s, "read", 4) == 0)
        *out = AUTH_SCOPE_READ;
    else if (len == 4 && strncmp(s, "sign", 4) == 0)
        *out = AUTH_SCOPE_SIGN;
    else if (len == 5 && strncmp(s, "admin", 5) == 0)
        *out = AUTH_SCOPE_ADMIN;
    else
        return -1;
    return 0;
}

/* Parses "api_token.NAME = SCOPE HEX" (name and value already split and
 * trimmed) into tok. */
static int parse_token(const char *path, int line, const char *name,
                       const char *value, struct auth_token *tok, char *err,
                       size_t errsize)
{
    const char *id = name + sizeof(prefix) - 1;
    const char *space = strchr(value, ' ');
    const char *hex;

    if (!token_id_valid(id, strlen(id)))
        return fail(err, errsize,
                    "%s:%d: api_token name '%.40s' is invalid: use 1 to 32 of "
                    "A-Z a-z 0-9 . _ -", path, line, id);
    if (space == NULL || parse_scope(value, (size_t)(space - value), &tok->scope) != 0)
        return fail(err, errsize,
                    "%s:%d: %s must be 'read', 'sign' or 'admin' followed by "
                    "64 hex digits", path, line, name);
    hex = space;
    while (*hex == ' ' || *hex == '\t')
        hex++;
    if (ident_parse_sha256_hex(hex, strlen(hex), tok->secret) != 0)
        return fail(err, errsize, "%s:%d: %s: the token must be 64 hex digits",
                    path, line, name);
    strcpy(tok->name, id);
    return 0;
}

static char *trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' ||
                       end[-1] == '\r'))
        end--;
    *end = '\0';
    return s;
}

/* Handles one line; lines other than api_token ones are left to
 * keys_file.c, which has already checked them. */
static int parse_line(const char *path, int line, char *text,
                      struct auth_table *table, char *err, size_t errsize)
{
    char *s = trim(text);
    char *eq;
    char *name;

    if (strncmp(s, prefix, sizeof(prefix) - 1) != 0)
        return 0;
    eq = strchr(s, '=');
    if (eq == NULL)
        return fail(err, errsize, "%s:%d: expected 'name = value'", path, line);
    *eq = '\0';
    name = trim(s);

    for (size_t i = 0; i < table->n_tokens; i++) {
        if (strcmp(table->tokens[i].name, name + sizeof(prefix) - 1) == 0)
            return fail(err, errsize, "%s:%d: %s is set twice; keep one", path,
                        line, name);
    }
    if (table->n_tokens == AUTH_TOKENS_MAX)
        return fail(err, errsize, "%s:%d: more than %d api_token lines", path,
                    line, AUTH_TOKENS_MAX);
    if (parse_token(path, line, name, trim(eq + 1),
                    &table->tokens[table->n_tokens], err, errsize) != 0)
        return -1;
    table->n_tokens++;
    return 0;
}

int auth_load(const char *path, struct auth_table *table, char *err,
              size_t errsize)
{
    char line[AUTH_LINE_MAX];
    char iobuf[BUFSIZ];
    FILE *f;
    int number = 0;
    int rc = 0;

    auth_wipe(table);
    f = fopen(path, "r");
    if (f == NULL)
        return fail(err, errsize, "cannot open keys file %s: %s", path,
                    strerror(errno));
    setvbuf(f, iobuf, _IOFBF, sizeof(iobuf));

    while (rc == 0 && fgets(line, sizeof(line), f) != NULL)
        rc = parse_line(path, ++number, line, table, err, errsize);
    if (rc == 0 && ferror(f))
        rc = fail(err, errsize, "%s: read failed: %s", path, strerror(errno));

    fclose(f);
    OPENSSL_cleanse(line, sizeof(line));
    OPENSSL_cleanse(iobuf, sizeof(iobuf));
    if (rc != 0)
        auth_wipe(table);
    return rc;
}

enum auth_result auth_check(const struct auth_table *table,
                            const struct http_request *req,
                            enum auth_scope scope, const char **name)
{
    const struct http_header *h = http_request_header(req, "Authorization");
    uint8_t presented[AUTH_SECRET_LEN];
    const struct auth_token *match = NULL;
    const char *v;
    size_t len;

    if (h == NULL || h->value_len < 7 || strncasecmp(h->value, "Bearer ", 7) != 0)
        return AUTH_MISSING;
    v = h->value + 7;
    len = h->value_len - 7;
    while (len > 0 && *v == ' ') {
        v++;
        len--;
    }
    if (ident_parse_sha256_hex(v, len, presented) != 0)
        return AUTH_INVALID;

    /* Every token is compared, whatever matched before, so the time taken
     * does not depend on which one matches. */
    for (size_t i = 0; i < table->n_tokens; i++) {
        if (CRYPTO_memcmp(presented, table->tokens[i].secret, AUTH_SECRET_LEN) == 0)
            match = &table->tokens[i];
    }
    OPENSSL_cleanse(presented, sizeof(presented));

    if (match == NULL)
        return AUTH_INVALID;
    if (name != NULL)
        *name = match->name;
    if (match->scope != scope && match->scope != AUTH_SCOPE_ADMIN)
        return AUTH_FORBIDDEN;
    return AUTH_OK;
}

void auth_wipe(struct auth_table *table)
{
    OPENSSL_cleanse(table, sizeof(*table));
}
