/*
 * fuzz_http_fast.c - libFuzzer target that checks server/http_fast.c
 * against http-parser.
 *
 * Whenever http_fast_scan accepts a head, http-parser must read the same
 * bytes as one complete request without error and end it exactly there,
 * with the same method, version 1.1, target, header names and values, no
 * body and a connection kept open. Inputs the scanner rejects are not
 * checked, since the server then uses http-parser alone.
 */
#include "http_fast.h"

#include <http_parser.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FIELDS 64
#define FIELD_MAX 8192

/* What http-parser delivered: each piece is concatenated, since the
 * parser may call back several times for one piece. */
struct piece {
    char text[FIELD_MAX];
    size_t len;
};

struct parsed {
    struct piece url;
    struct piece names[MAX_FIELDS];
    struct piece values[MAX_FIELDS];
    size_t n_fields;
    bool last_was_value;
    bool complete;
    bool body;
};

static void append(struct piece *p, const char *at, size_t len)
{
    if (p->len + len > FIELD_MAX)
        abort(); /* a scanned head is shorter than HTTP_FAST_MAX_HEAD */
    memcpy(p->text + p->len, at, len);
    p->len += len;
}

static int on_url(http_parser *hp, const char *at, size_t len)
{
    append(&((struct parsed *)hp->data)->url, at, len);
    return 0;
}

static int on_header_field(http_parser *hp, const char *at, size_t len)
{
    struct parsed *r = hp->data;

    if (r->n_fields == 0 || r->last_was_value) {
        if (r->n_fields == MAX_FIELDS)
            abort();
        r->n_fields++;
        r->last_was_value = false;
    }
    append(&r->names[r->n_fields - 1], at, len);
    return 0;
}

static int on_header_value(http_parser *hp, const char *at, size_t len)
{
    struct parsed *r = hp->data;

    r->last_was_value = true;
    append(&r->values[r->n_fields - 1], at, len);
    return 0;
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
    (void)at;
    (void)len;
    ((struct parsed *)hp->data)->body = true;
    return 0;
}

static int on_message_complete(http_parser *hp)
{
    ((struct parsed *)hp->data)->complete = true;
    http_parser_pause(hp, 1); /* as server/http.c does */
    return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static bool same(const struct piece *p, const char *data, struct http_fast_span s)
{
    return p->len == s.len && memcmp(p->text, data + s.off, s.len) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct parsed r;
    struct http_fast_head head;
    const char *text = (const char *)data;
    size_t scanned = http_fast_scan(text, size, &head);
    http_parser hp;
    size_t parsed;

    if (scanned == 0)
        return 0;

    memset(&r, 0, sizeof(r));
    http_parser_init(&hp, HTTP_REQUEST);
    hp.data = &r;
    parsed = http_parser_execute(&hp, &settings, text, size);

    if (!r.complete || HTTP_PARSER_ERRNO(&hp) != HPE_PAUSED || parsed != scanned)
        abort();
    if (hp.method != (head.head ? HTTP_HEAD : HTTP_GET))
        abort();
    if (hp.http_major != 1 || hp.http_minor != 1 || r.body || hp.upgrade)
        abort();
    if ((hp.flags & (F_CHUNKED | F_CONTENTLENGTH)) != 0 || !http_should_keep_alive(&hp))
        abort();
    if (!same(&r.url, text, head.target) || r.n_fields != head.n_headers)
        abort();
    for (size_t i = 0; i < head.n_headers; i++) {
        if (!same(&r.names[i], text, head.names[i]) ||
            !same(&r.values[i], text, head.values[i]))
            abort();
    }
    return 0;
}
