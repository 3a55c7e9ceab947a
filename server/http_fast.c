/*
 * http_fast.c - the request head scanner of http_fast.h.
 *
 * Written here rather than taken from a package: Debian 12 packages
 * neither picohttpparser nor llhttp as a C library (apt-cache search), and
 * its other HTTP/1 parsers come inside whole servers or libevhtp. Each
 * byte is checked once against a table of byte classes.
 */
#include "http_fast.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

enum {
    C_TARGET = 1, /* request target: visible ASCII except '#' */
    C_TOKEN = 2,  /* header name: RFC 9110 tchar */
    C_VALUE = 4,  /* header value: visible ASCII, space, tab */
    C_VISIBLE = 8 /* visible ASCII, which a value starts with */
};

static uint8_t byte_class[256];

static void fill_classes(void)
{
    static const char token_marks[] = "!#$%&'*+-.^_`|~";

    for (int c = 0x21; c <= 0x7e; c++) {
        byte_class[c] = C_VALUE | C_VISIBLE;
        if (c != '#')
            byte_class[c] |= C_TARGET;
        if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
            strchr(token_marks, c) != NULL)
            byte_class[c] |= C_TOKEN;
    }
    byte_class[' '] = C_VALUE;
    byte_class['\t'] = C_VALUE;
}

/* Fills the table once, on first use, whichever event loop thread that is. */
static const uint8_t *classes(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    pthread_once(&once, fill_classes);
    return byte_class;
}

/* Tells whether a header name starts with one that http-parser or tally's
 * HTTP layer acts on; only the full parser handles those. A prefix is
 * enough, because http-parser 2.9.4 also reads "Transfer-Encoding-" as
 * Transfer-Encoding (fuzz_http_fast found it). */
static bool name_is_special(const char *name, size_t len)
{
    static const struct {
        const char *name;
        size_t len;
    } special[] = {
        {"expect", 6},          {"upgrade", 7},
        {"connection", 10},     {"content-length", 14},
        {"proxy-connection", 16}, {"transfer-encoding", 17},
    };

    /* Most names differ in the first letter, which is cheaper to test
     * than a call to strncasecmp. */
    char first = (char)(name[0] | 0x20);

    for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
        if (len >= special[i].len && first == special[i].name[0] &&
            strncasecmp(name, special[i].name, special[i].len) == 0)
            return true;
    }
    return false;
}

/* Scans "METHOD target HTTP/1.1\r\n". Returns the offset after it, or 0. */
static size_t scan_request_line(const unsigned char *p, size_t limit, const uint8_t *cls,
                                struct http_fast_head *out)
{
    static const char version[] = " HTTP/1.1\r\n";
    size_t version_len = sizeof(version) - 1;
    size_t pos, start;

    if (limit >= 4 && memcmp(p, "GET ", 4) == 0) {
        out->head = false;
        pos = 4;
    } else if (limit >= 5 && memcmp(p, "HEAD ", 5) == 0) {
        out->head = true;
        pos = 5;
    } else {
        return 0;
    }

    start = pos;
    if (pos >= limit || p[pos] != '/')
        return 0;
    while (pos < limit && (cls[p[pos]] & C_TARGET))
        pos++;
    if (limit - pos < version_len || memcmp(p + pos, version, version_len) != 0)
        return 0;
    out->target = (struct http_fast_span){start, pos - start};
    return pos + version_len;
}

size_t http_fast_scan(const char *data, size_t len, struct http_fast_head *out)
{
    const unsigned char *p = (const unsigned char *)data;
    const uint8_t *cls = classes();
    size_t limit = len < HTTP_FAST_MAX_HEAD ? len : HTTP_FAST_MAX_HEAD;
    size_t pos = scan_request_line(p, limit, cls, out);

    if (pos == 0)
        return 0;

    out->n_headers = 0;
    for (;;) {
        size_t name_start, name_len, value_start;

        if (limit - pos < 2)
            return 0;
        if (p[pos] == '\r')
            return p[pos + 1] == '\n' ? pos + 2 : 0;

        name_start = pos;
        while (pos < limit && (cls[p[pos]] & C_TOKEN))
            pos++;
        name_len = pos - name_start;
        if (name_len == 0 || pos == limit || p[pos] != ':')
            return 0;
        if (name_is_special(data + name_start, name_len))
            return 0;
        pos++;

        while (pos < limit && (p[pos] == ' ' || p[pos] == '\t'))
            pos++;
        value_start = pos;
        if (pos == limit || !(cls[p[pos]] & C_VISIBLE))
            return 0;
        while (pos < limit && (cls[p[pos]] & C_VALUE))
            pos++;
        if (limit - pos < 2 || p[pos] != '\r' || p[pos + 1] != '\n')
            return 0;

        if (out->n_headers == HTTP_FAST_MAX_HEADERS)
            return 0;
        out->names[out->n_headers] = (struct http_fast_span){name_start, name_len};
        out->values[out->n_headers] = (struct http_fast_span){value_start,
                                                              pos - value_start};
        out->n_headers++;
        pos += 2;
    }
}
