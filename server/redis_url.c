/*
 * redis_url.c - parses the Redis address given to tallyd and tallyctl.
 *
 * Two forms are accepted:
 *
 *   redis://[user:password@]host[:port][/db]    TCP; host may be [IPv6]
 *   unix://[user:password@]/path/to/sock[?db=N]  unix domain socket
 *
 * The user name and password are percent-decoded, so a password holding
 * '@', ':' or '/' can be written %40, %3A and %2F. Error messages name the
 * part that is wrong but never repeat the password, because the URL may
 * reach a log through them.
 */
#include "redis_url.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errmsg.h"
#include "ident.h"

#define REDIS_DEFAULT_PORT 6379

static const char tcp_prefix[] = "redis://";
static const char unix_prefix[] = "unix://";

/* Percent-decodes in[0..len) into out (outsize bytes, NUL-terminated).
 * Rejects a broken escape, an escaped NUL (it would cut the C string short)
 * and output that does not fit. */
static int percent_decode(const char *in, size_t len, char *out, size_t outsize)
{
    size_t used = 0;

    for (size_t i = 0; i < len; i++) {
        char c = in[i];

        if (c == '%') {
            if (len - i < 3)
                return -1;

            int hi = ident_hex_value(in[i + 1]);
            int lo = ident_hex_value(in[i + 2]);

            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (used + 1 >= outsize)
            return -1;
        out[used++] = c;
    }
    out[used] = '\0';
    return 0;
}

/* Parses a decimal number of 1 to 10 digits in s[0..len) into *out, which
 * must lie in min..max. No sign, no spaces. */
static int parse_number(const char *s, size_t len, long min, long max, long *out)
{
    long value = 0;

    if (len == 0 || len > 10)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        value = value * 10 + (s[i] - '0');
    }
    if (value < min || value > max)
        return -1;
    *out = value;
    return 0;
}

/* Splits "user:password" (already known to sit before the last '@') into the
 * target. Both parts must be present: Redis's AUTH needs a password, and a
 * lone word would be ambiguous between a user name and a password. */
static int parse_userinfo(const char *info, size_t len, struct redis_target *t,
                          char *err, size_t errsize)
{
    const char *colon = memchr(info, ':', len);
    size_t user_len;

    if (colon == NULL)
        return errmsg_set(err, errsize,
                    "Redis URL credentials have no ':': write user:password@ "
                    "or :password@ before the host");

    user_len = (size_t)(colon - info);
    if (percent_decode(info, user_len, t->user, sizeof(t->user)) != 0)
        return errmsg_set(err, errsize,
                    "Redis URL user name is invalid: check its %%XX escapes "
                    "(no %%00) and keep it under %zu bytes",
                    sizeof(t->user));

    if (len - user_len - 1 == 0)
        return errmsg_set(err, errsize,
                    "Redis URL password is empty: remove the '@' part or "
                    "give the password");
    if (percent_decode(colon + 1, len - user_len - 1, t->password,
                       sizeof(t->password)) != 0)
        return errmsg_set(err, errsize,
                    "Redis URL password is invalid: check its %%XX escapes "
                    "(no %%00) and keep it under %zu bytes",
                    sizeof(t->password));
    return 0;
}

static bool host_char_ok(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

static bool ipv6_char_ok(char c)
{
    return isxdigit((unsigned char)c) || c == ':' || c == '.';
}

/* Parses "host[:port]" or "[ipv6][:port]" from hp[0..len). */
static int parse_host_port(const char *hp, size_t len, struct redis_target *t,
                           char *err, size_t errsize)
{
    const char *host = hp;
    size_t host_len;
    const char *rest;
    long port;

    if (len > 0 && hp[0] == '[') {
        const char *close = memchr(hp, ']', len);

        if (close == NULL)
            return errmsg_set(err, errsize,
                        "Redis URL host '%.*s' has no closing ']'",
                        (int)len, hp);
        host = hp + 1;
        host_len = (size_t)(close - host);
        rest = close + 1;
        for (size_t i = 0; i < host_len; i++) {
            if (!ipv6_char_ok(host[i]))
                return errmsg_set(err, errsize,
                            "Redis URL host '[%.*s]' is not an IPv6 address",
                            (int)host_len, host);
        }
    } else {
        const char *colon = memchr(hp, ':', len);

        host_len = colon != NULL ? (size_t)(colon - hp) : len;
        rest = hp + host_len;
        if (colon != NULL && memchr(colon + 1, ':', len - host_len - 1) != NULL)
            return errmsg_set(err, errsize,
                        "Redis URL host looks like an IPv6 address without "
                        "brackets: write redis://[::1]:6379");
        for (size_t i = 0; i < host_len; i++) {
            if (!host_char_ok(host[i]))
                return errmsg_set(err, errsize,
                            "Redis URL host '%.*s' holds an invalid character "
                            "(IPv6 addresses go in brackets: [::1])",
                            (int)host_len, host);
        }
    }

    if (host_len == 0)
        return errmsg_set(err, errsize,
                    "Redis URL has no host: write redis://host:port, such as "
                    "redis://127.0.0.1:6379");
    if (host_len >= sizeof(t->host))
        return errmsg_set(err, errsize, "Redis URL host is longer than %zu bytes",
                    sizeof(t->host) - 1);
    memcpy(t->host, host, host_len);
    t->host[host_len] = '\0';

    size_t rest_len = len - (size_t)(rest - hp);

    if (rest_len == 0)
        return 0;
    if (rest[0] != ':')
        return errmsg_set(err, errsize,
                    "Redis URL has '%.*s' after the host where ':port' or "
                    "'/db' belongs", (int)rest_len, rest);
    if (parse_number(rest + 1, rest_len - 1, 1, 65535, &port) != 0)
        return errmsg_set(err, errsize,
                    "Redis URL port '%.*s' is invalid: use a number from 1 "
                    "to 65535", (int)(rest_len - 1), rest + 1);
    t->port = (int)port;
    return 0;
}

static int parse_db(const char *s, size_t len, struct redis_target *t,
                    char *err, size_t errsize)
{
    long db;

    if (parse_number(s, len, 0, INT_MAX, &db) != 0)
        return errmsg_set(err, errsize,
                    "Redis URL database '%.*s' is invalid: use a number such "
                    "as 0", (int)len, s);
    t->db = (int)db;
    return 0;
}

/* Splits off "user:password@" when present; *rest and *rest_len receive what
 * follows it. The last '@' ends the credentials, so an unescaped '@' in a
 * password still parses. */
static int take_userinfo(const char *s, size_t len, struct redis_target *t,
                         const char **rest, size_t *rest_len, char *err,
                         size_t errsize)
{
    const char *at = memrchr(s, '@', len);

    *rest = s;
    *rest_len = len;
    if (at == NULL)
        return 0;

    if (parse_userinfo(s, (size_t)(at - s), t, err, errsize) != 0)
        return -1;
    *rest = at + 1;
    *rest_len = len - (size_t)(at + 1 - s);
    return 0;
}

static int parse_tcp(const char *s, struct redis_target *t, char *err,
                     size_t errsize)
{
    const char *rest;
    size_t rest_len;
    const char *slash;
    size_t authority_len;

    if (take_userinfo(s, strlen(s), t, &rest, &rest_len, err, errsize) != 0)
        return -1;

    slash = memchr(rest, '/', rest_len);
    authority_len = slash != NULL ? (size_t)(slash - rest) : rest_len;
    if (parse_host_port(rest, authority_len, t, err, errsize) != 0)
        return -1;

    if (slash == NULL)
        return 0;

    /* "/" alone means database 0, as in other Redis clients. */
    size_t db_len = rest_len - authority_len - 1;

    if (db_len == 0)
        return 0;
    return parse_db(slash + 1, db_len, t, err, errsize);
}

static int parse_unix(const char *s, struct redis_target *t, char *err,
                      size_t errsize)
{
    const char *rest;
    size_t rest_len;
    const char *query;
    size_t path_len;

    /* Credentials end at the first "@/", because the path itself may hold
     * an '@'; a password holding "@/" must escape its '@' as %40. */
    rest = s;
    rest_len = strlen(s);
    if (s[0] != '/') {
        const char *at = strstr(s, "@/");

        if (at != NULL) {
            if (parse_userinfo(s, (size_t)(at - s), t, err, errsize) != 0)
                return -1;
            rest = at + 1;
            rest_len = strlen(rest);
        }
    }

    t->is_unix = true;
    query = memchr(rest, '?', rest_len);
    path_len = query != NULL ? (size_t)(query - rest) : rest_len;

    if (path_len == 0)
        return errmsg_set(err, errsize,
                    "Redis URL has no socket path: write "
                    "unix:///path/to/redis.sock");
    if (rest[0] != '/')
        return errmsg_set(err, errsize,
                    "Redis URL socket path '%.*s' is not absolute: write "
                    "unix:///path/to/redis.sock (three slashes)",
                    (int)path_len, rest);
    if (path_len >= sizeof(t->path))
        return errmsg_set(err, errsize,
                    "Redis URL socket path is longer than %zu bytes",
                    sizeof(t->path) - 1);
    memcpy(t->path, rest, path_len);
    t->path[path_len] = '\0';

    if (query == NULL)
        return 0;

    size_t query_len = rest_len - path_len - 1;

    if (query_len < 3 || strncmp(query + 1, "db=", 3) != 0)
        return errmsg_set(err, errsize,
                    "Redis URL query '%.*s' is not supported: only ?db=N is",
                    (int)query_len, query + 1);
    return parse_db(query + 4, query_len - 3, t, err, errsize);
}

int redis_url_parse(const char *url, struct redis_target *out, char *err,
                    size_t errsize)
{
    const char *sep;

    memset(out, 0, sizeof(*out));
    out->port = REDIS_DEFAULT_PORT;

    if (strncasecmp(url, tcp_prefix, sizeof(tcp_prefix) - 1) == 0)
        return parse_tcp(url + sizeof(tcp_prefix) - 1, out, err, errsize);
    if (strncasecmp(url, unix_prefix, sizeof(unix_prefix) - 1) == 0)
        return parse_unix(url + sizeof(unix_prefix) - 1, out, err, errsize);

    /* Only the scheme is quoted: the rest may hold a password. */
    sep = strstr(url, "://");
    if (sep == NULL)
        return errmsg_set(err, errsize,
                    "Redis URL has no scheme: write redis://host:port[/db] "
                    "or unix:///path/to/redis.sock");
    return errmsg_set(err, errsize,
                "Redis URL scheme '%.*s' is not supported: use redis:// or "
                "unix:// (this hiredis has no TLS, so no rediss://)",
                (int)(sep - url > 16 ? 16 : sep - url), url);
}

void redis_url_describe(const struct redis_target *t, char *out, size_t outsize)
{
    char auth[sizeof(t->user) + 8] = "";

    if (outsize == 0)
        return;
    if (t->password[0] != '\0')
        snprintf(auth, sizeof(auth), "%s:***@", t->user);

    if (t->is_unix) {
        if (t->db != 0)
            snprintf(out, outsize, "unix://%s%s?db=%d", auth, t->path, t->db);
        else
            snprintf(out, outsize, "unix://%s%s", auth, t->path);
        return;
    }

    bool ipv6 = strchr(t->host, ':') != NULL;

    snprintf(out, outsize, "redis://%s%s%s%s:%d/%d", auth, ipv6 ? "[" : "",
             t->host, ipv6 ? "]" : "", t->port, t->db);
}
