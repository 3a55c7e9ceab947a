/*
 * url.c - checking click destinations and adding the attribution parameter.
 *
 * Both functions treat a URL as bytes: nothing is decoded, so "t%6Cy" is not
 * the parameter "tly", and a byte >= 0x80 is copied as it is. The query is
 * what lies between the first '?' and the first '#', when the '?' comes
 * first. A '?' inside the fragment starts no query.
 */
#include "url.h"

#include <stdbool.h>
#include <string.h>

#include "token.h"

_Static_assert(TOKEN_DEST_MAX == 8192, "update the URL_TOO_LONG message");

const char *url_status_message(enum url_status status)
{
    switch (status) {
    case URL_OK:
        return "valid destination URL";
    case URL_EMPTY:
        return "destination URL is empty";
    case URL_TOO_LONG:
        return "destination URL is longer than 8192 bytes";
    case URL_BAD_SCHEME:
        return "destination URL must start with http:// or https://";
    case URL_NO_HOST:
        return "destination URL has no host after //";
    case URL_BAD_BYTE:
        return "destination URL contains a control byte, space or DEL";
    case URL_HAS_PARAM:
        return "destination URL already contains the attribution parameter";
    }
    return "invalid destination URL";
}

/* Tells whether u[0..len) starts with prefix, ignoring ASCII case. */
static bool has_prefix_nocase(const char *u, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);

    if (len < n)
        return false;

    for (size_t i = 0; i < n; i++) {
        char c = u[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != prefix[i])
            return false;
    }
    return true;
}

/* Returns the offset of the first c in u[from..len), or len. */
static size_t find(const char *u, size_t from, size_t len, char c)
{
    const char *p = memchr(u + from, c, len - from);

    return p == NULL ? len : (size_t)(p - u);
}

/* Finds the query of u[0..len): sets *start to the byte after its '?' and
 * *end to the '#' or len. Returns false when the URL has no query. */
static bool find_query(const char *u, size_t len, size_t *start, size_t *end)
{
    size_t hash = find(u, 0, len, '#');
    size_t question = find(u, 0, hash, '?');

    *end = hash;
    if (question == hash)
        return false;
    *start = question + 1;
    return true;
}

/* Tells whether the query u[start..end) has a parameter named param. */
static bool query_has_param(const char *u, size_t start, size_t end,
                            const char *param)
{
    size_t param_len = strlen(param);

    while (start <= end) {
        size_t amp = find(u, start, end, '&');
        size_t eq = find(u, start, amp, '=');

        if (eq - start == param_len && memcmp(u + start, param, param_len) == 0)
            return true;
        start = amp + 1;
    }
    return false;
}

enum url_status url_check_destination(const char *u, size_t len,
                                      const char *param)
{
    size_t host;
    size_t query_start;
    size_t query_end;

    if (len == 0)
        return URL_EMPTY;
    if (len > TOKEN_DEST_MAX)
        return URL_TOO_LONG;

    if (has_prefix_nocase(u, len, "https://"))
        host = 8;
    else if (has_prefix_nocase(u, len, "http://"))
        host = 7;
    else
        return URL_BAD_SCHEME;

    if (host == len || u[host] == '/' || u[host] == '?' || u[host] == '#')
        return URL_NO_HOST;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)u[i];
        if (c < 0x21 || c == 0x7F)
            return URL_BAD_BYTE;
    }

    if (param != NULL && find_query(u, len, &query_start, &query_end) &&
        query_has_param(u, query_start, query_end, param))
        return URL_HAS_PARAM;
    return URL_OK;
}

/* Reserves n of the *room bytes left. Returns false when they do not fit. */
static bool reserve(size_t *room, size_t n)
{
    if (n > *room)
        return false;
    *room -= n;
    return true;
}

long url_add_param(const char *u, size_t len, const char *name,
                   const char *value, size_t value_len, char *out,
                   size_t outsize)
{
    size_t name_len = strlen(name);
    size_t query_start;
    size_t cut;
    size_t sep_len = 1;
    char sep = '&';
    size_t room = outsize;
    size_t o = 0;

    if (!find_query(u, len, &query_start, &cut))
        sep = '?';
    else if (cut == query_start || u[cut - 1] == '&')
        sep_len = 0; /* a later '?', as in "?a=b?", separates nothing */

    if (!reserve(&room, len) || !reserve(&room, sep_len) ||
        !reserve(&room, name_len) || !reserve(&room, 1) ||
        !reserve(&room, value_len))
        return -1;

    memcpy(out + o, u, cut);
    o += cut;
    if (sep_len == 1)
        out[o++] = sep;
    memcpy(out + o, name, name_len);
    o += name_len;
    out[o++] = '=';
    memcpy(out + o, value, value_len);
    o += value_len;
    memcpy(out + o, u + cut, len - cut);
    o += len - cut;
    return (long)o;
}
