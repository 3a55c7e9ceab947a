/*
 * http_response.h - the response writer behind http_respond: status line,
 * cached Date, Content-Length, Connection, content type, extra headers and
 * body, copied into an evbuffer without a malloc per header. Private to
 * server/http*.c.
 */
#ifndef TALLY_HTTP_RESPONSE_H
#define TALLY_HTTP_RESPONSE_H

#include "http.h"

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct evbuffer;

enum http_connection_header {
    HTTP_CONNECTION_NONE,       /* HTTP/1.1 keep-alive is the default */
    HTTP_CONNECTION_KEEP_ALIVE, /* HTTP/1.0 keep-alive must be confirmed */
    HTTP_CONNECTION_CLOSE,
};

struct http_response {
    int status;
    const char *content_type;
    const struct http_header *extra;
    size_t n_extra;
    const void *body;
    size_t body_len;
    bool head; /* HEAD request: keep Content-Length, omit the body */
    enum http_connection_header connection;
};

/* Returns the reason phrase of the statuses tally sends, "" for others. */
const char *http_reason_phrase(int status);

/* Appends the whole response r to out. The Date line comes from base's
 * cached time and is formatted at most once a second per thread. 1xx, 204
 * and 304 get neither Content-Length nor a body, as RFC 9110 requires. */
void http_response_write(struct event_base *base, struct evbuffer *out,
                         const struct http_response *r);

/* Writes the whole response r to the cap bytes at buf, as
 * http_response_write would append it. Returns its length, or 0 when it
 * does not fit. */
size_t http_response_render(struct event_base *base, const struct http_response *r,
                            char *buf, size_t cap);

/* Writes what follows the Date line of r (Content-Length to the end of the
 * body) to the cap bytes at buf. Returns its length, or 0 when it does not
 * fit. */
size_t http_response_render_rest(const struct http_response *r, char *buf, size_t cap);

/* Sets *r to the parts p was prepared from. */
void http_prepared_parts(const struct http_prepared *p, struct http_response *r);

/* Writes p's status line, the Date line and p's rest (without the body
 * for head) to the cap bytes at buf. Returns the length, or 0 when it does
 * not fit. */
size_t http_prepared_render(struct event_base *base, const struct http_prepared *p,
                            bool head, char *buf, size_t cap);

#endif
