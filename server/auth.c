/*
 * auth.c - the token table and checks of auth.h.
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
#include "log.h"
#include "token.h"

#define SCOPE_READ 1u
#define SCOPE_SIGN 2u
#define SCOPE_ADMIN 4u
#define SECRET_LEN 32
#define LINE_MAX_BYTES 512

static const char prefix[] = "api_token.";

struct api_token {
    unsigned scopes;
    unsigned char secret[SECRET_LEN];
};

/* Written once by auth_load before any worker thread starts, then only
 * read. */
static struct api_token tokens[AUTH_TOKENS_MAX];
static size_t n_tokens;

static int fail(char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errsize, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
    return -1;
}

static unsigned scope_bit(const char *name, size_t len)
{
    if (len == 4 && strncmp(name, "read", 4) == 0)
        return SCOPE_READ;
    if (len == 4 && strncmp(name, "sign", 4) == 0)
        return SCOPE_SIGN;
    if (len == 5 && strncmp(name, "admin", 5) == 0)
        return SCOPE_ADMIN;
    return 0;
}

/* Decodes exactly 64 hex digits; ident_parse_sha256_hex has that shape. */
static int parse_secret(const char *hex, size_t len, unsigned char out[SECRET_LEN])
{
    return ident_parse_sha256_hex(hex, len, out);
}

int auth_parse_line(const char *value, unsigned *scopes, unsigned char secret[SECRET_LEN])
{
    const char *space = strchr(value, ' ');
    const char *p = value;

    *scopes = 0;
    if (space == NULL)
        return -1;
    while (p < space) {
        const char *comma = memchr(p, ',', (size_t)(space - p));
        const char *end = comma != NULL ? comma : space;
        unsigned bit = scope_bit(p, (size_t)(end - p));

        if (bit == 0)
            return -1;
        *scopes |= bit;
        p = end + 1;
    }
    while (*space == ' ')
        space++;
    return parse_secret(space, strlen(space), secret);
}

static char *trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t')
        s++;
    end = s + strlen(s);
    while (end > s && strchr(" \t\r\n", end[-1]) != NULL)
        end--;
    *end = '\0';
    return s;
}

/* Takes one line; lines that are not api_token lines are skipped, because
 * keys_file.c checks them. */
static int take_line(const char *path, int number, char *line, char *err,
                     size_t errsize)
{
    char *s = trim(line);
    char *eq = strchr(s, '=');
    char *name;

    if (strncmp(s, prefix, sizeof(prefix) - 1) != 0 || eq == NULL)
        return 0;
    *eq = '\0';
    name = trim(s) + sizeof(prefix) - 1;
    if (!token_id_valid(name, strlen(name)))
        return fail(err, errsize, "%s:%d: api_token name '%.40s' is invalid: use 1 "
                    "to 32 of A-Z a-z 0-9 . _ -", path, number, name);
    if (n_tokens == AUTH_TOKENS_MAX)
        return fail(err, errsize, "%s:%d: more than %d api_token lines", path,
                    number, AUTH_TOKENS_MAX);
    if (auth_parse_line(trim(eq + 1), &tokens[n_tokens].scopes,
                        tokens[n_tokens].secret) != 0)
        return fail(err, errsize, "%s:%d: api_token.%s must be 'SCOPES HEX': scopes "
                    "from read, sign, admin separated by commas, then 64 hex "
                    "digits", path, number, name);
    n_tokens++;
    return 0;
}

int auth_load(const char *path, char *err, size_t errsize)
{
    char line[LINE_MAX_BYTES];
    FILE *f;
    int number = 0;
    int rc = 0;

    auth_clear();
    f = fopen(path, "r");
    if (f == NULL)
        return fail(err, errsize, "cannot open keys file %s: %s", path, strerror(errno));
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        number++;
        rc = take_line(path, number, line, err, errsize);
    }
    fclose(f);
    OPENSSL_cleanse(line, sizeof(line));
    if (rc != 0)
        auth_clear();
    return rc;
}

void auth_clear(void)
{
    OPENSSL_cleanse(tokens, sizeof(tokens));
    n_tokens = 0;
}

int auth_check(const struct http_request *req, const char *scope)
{
    static const char bearer[] = "Bearer ";
    const struct http_header *h = http_request_header(req, "Authorization");
    unsigned char presented[SECRET_LEN];
    unsigned want = scope_bit(scope, strlen(scope));
    unsigned granted = 0;
    bool matched = false;

    if (h == NULL || h->value_len <= sizeof(bearer) - 1 ||
        strncasecmp(h->value, bearer, sizeof(bearer) - 1) != 0 ||
        parse_secret(h->value + sizeof(bearer) - 1,
                     h->value_len - (sizeof(bearer) - 1), presented) != 0)
        return 401;

    for (size_t i = 0; i < n_tokens; i++) {
        if (CRYPTO_memcmp(tokens[i].secret, presented, SECRET_LEN) == 0) {
            matched = true;
            granted = tokens[i].scopes;
        }
    }
    OPENSSL_cleanse(presented, sizeof(presented));
    if (!matched)
        return 401;
    if ((granted & (want | SCOPE_ADMIN)) == 0)
        return 403;
    return 0;
}
