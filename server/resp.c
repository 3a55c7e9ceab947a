/*
 * resp.c - RESP2 command encoding of resp.h.
 */
#include "resp.h"

#include <stdlib.h>
#include <string.h>

void resp_reset(struct resp_buf *b)
{
    b->len = 0;
    b->failed = false;
}

void resp_free(struct resp_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* Makes room for extra more bytes. Returns false when memory runs out. */
static bool reserve(struct resp_buf *b, size_t extra)
{
    size_t cap;
    char *data;

    if (b->failed)
        return false;
    if (b->len + extra <= b->cap)
        return true;
    cap = b->cap > 0 ? b->cap : 1024;
    while (cap < b->len + extra)
        cap *= 2;
    data = realloc(b->data, cap);
    if (data == NULL) {
        b->failed = true;
        return false;
    }
    b->data = data;
    b->cap = cap;
    return true;
}

size_t resp_u64_text(uint64_t v, char out[RESP_U64_MAX])
{
    char tmp[RESP_U64_MAX];
    size_t start = sizeof(tmp);
    size_t n;

    do {
        tmp[--start] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    n = sizeof(tmp) - start;
    memcpy(out, tmp + start, n);
    out[n] = '\0';
    return n;
}

/* Appends "<prefix><n>\r\n". Most lengths and counts have one or two
 * digits, so those skip the general conversion. */
static void put_header(struct resp_buf *b, char prefix, size_t n)
{
    char digits[RESP_U64_MAX];
    size_t len;

    if (n < 10) {
        digits[0] = (char)('0' + n);
        len = 1;
    } else if (n < 100) {
        digits[0] = (char)('0' + n / 10);
        digits[1] = (char)('0' + n % 10);
        len = 2;
    } else {
        len = resp_u64_text(n, digits);
    }
    if (!reserve(b, len + 3))
        return;
    b->data[b->len++] = prefix;
    memcpy(b->data + b->len, digits, len);
    b->len += len;
    b->data[b->len++] = '\r';
    b->data[b->len++] = '\n';
}

void resp_array(struct resp_buf *b, size_t n)
{
    put_header(b, '*', n);
}

void resp_bulk(struct resp_buf *b, const void *s, size_t len)
{
    put_header(b, '$', len);
    if (!reserve(b, len + 2))
        return;
    memcpy(b->data + b->len, s, len);
    b->len += len;
    b->data[b->len++] = '\r';
    b->data[b->len++] = '\n';
}

void resp_bulk_str(struct resp_buf *b, const char *s)
{
    resp_bulk(b, s, strlen(s));
}

void resp_bulk_u64(struct resp_buf *b, uint64_t v)
{
    char digits[RESP_U64_MAX];
    size_t len = resp_u64_text(v, digits);

    resp_bulk(b, digits, len);
}
