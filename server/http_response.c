/*
 * http_response.c - writes HTTP/1.1 responses: a status line from a table
 * of reason phrases, the Date line cached per thread, and the header block
 * gathered in a buffer. Either the buffer goes to an evbuffer, in one or
 * two evbuffer_add calls, or it is the caller's and the whole response
 * must fit in it (http_response_render).
 */
#include "http_response.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

const char *http_reason_phrase(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "";
    }
}

/* The Date line of the current second, kept per thread so that formatting
 * happens at most once a second in each event loop thread. */
struct date_cache {
    time_t second;
    size_t len;
    char line[64];
};

static _Thread_local struct date_cache date_cache = {.second = -1};

static const struct date_cache *current_date(struct event_base *base)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed",
                                    "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr",
                                       "May", "Jun", "Jul", "Aug",
                                       "Sep", "Oct", "Nov", "Dec"};
    struct timeval now;
    struct tm utc;
    int n;

    if (event_base_gettimeofday_cached(base, &now) != 0)
        gettimeofday(&now, NULL);
    if (now.tv_sec == date_cache.second)
        return &date_cache;

    /* Names come from tables, not strftime, so that a locale set by the
     * program cannot change them. */
    gmtime_r(&now.tv_sec, &utc);
    n = snprintf(date_cache.line, sizeof(date_cache.line),
                 "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                 days[utc.tm_wday], utc.tm_mday, months[utc.tm_mon],
                 utc.tm_year + 1900, utc.tm_hour, utc.tm_min, utc.tm_sec);
    date_cache.len = n > 0 ? (size_t)n : 0;
    date_cache.second = now.tv_sec;
    return &date_cache;
}

/* Collects the response in buf and, with out set, moves it to out in as
 * few evbuffer_add calls as possible. Without out, a response longer than
 * cap sets overflow and is cut. */
struct head_writer {
    struct evbuffer *out;
    char *buf;
    size_t cap, used;
    bool overflow;
};

static void head_flush(struct head_writer *w)
{
    if (w->out != NULL && w->used > 0) {
        evbuffer_add(w->out, w->buf, w->used);
        w->used = 0;
    }
}

static void head_add(struct head_writer *w, const void *data, size_t len)
{
    if (w->used + len > w->cap)
        head_flush(w);
    if (w->used + len > w->cap) {
        if (w->out != NULL)
            evbuffer_add(w->out, data, len);
        else
            w->overflow = true;
        return;
    }
    memcpy(w->buf + w->used, data, len);
    w->used += len;
}

#define HEAD_ADD_LITERAL(w, s) head_add((w), (s), sizeof(s) - 1)

/* The status line and Content-Length are copied together from parts, not
 * formatted with snprintf, which cost more than the rest of the response
 * (callgrind, loadtest/bench.py). status is 100 to 999. */
static void head_add_status(struct head_writer *w, int status)
{
    const char *reason = http_reason_phrase(status);
    char code[4] = {
        (char)('0' + status / 100 % 10),
        (char)('0' + status / 10 % 10),
        (char)('0' + status % 10),
        ' ',
    };

    HEAD_ADD_LITERAL(w, "HTTP/1.1 ");
    head_add(w, code, sizeof(code));
    head_add(w, reason, strlen(reason));
    HEAD_ADD_LITERAL(w, "\r\n");
}

static void head_add_length(struct head_writer *w, size_t len)
{
    char digits[24];
    size_t n = sizeof(digits);

    do {
        digits[--n] = (char)('0' + len % 10);
        len /= 10;
    } while (len > 0);
    HEAD_ADD_LITERAL(w, "Content-Length: ");
    head_add(w, digits + n, sizeof(digits) - n);
    HEAD_ADD_LITERAL(w, "\r\n");
}

/* Everything after the Date line. */
static void write_rest(struct head_writer *w, const struct http_response *r)
{
    bool bodyless = r->status < 200 || r->status == 204 || r->status == 304;

    if (!bodyless)
        head_add_length(w, r->body_len);
    if (r->connection == HTTP_CONNECTION_CLOSE)
        HEAD_ADD_LITERAL(w, "Connection: close\r\n");
    else if (r->connection == HTTP_CONNECTION_KEEP_ALIVE)
        HEAD_ADD_LITERAL(w, "Connection: keep-alive\r\n");

    if (r->content_type != NULL) {
        HEAD_ADD_LITERAL(w, "Content-Type: ");
        head_add(w, r->content_type, strlen(r->content_type));
        HEAD_ADD_LITERAL(w, "\r\n");
    }

    for (size_t i = 0; i < r->n_extra; i++) {
        head_add(w, r->extra[i].name, r->extra[i].name_len);
        HEAD_ADD_LITERAL(w, ": ");
        head_add(w, r->extra[i].value, r->extra[i].value_len);
        HEAD_ADD_LITERAL(w, "\r\n");
    }
    HEAD_ADD_LITERAL(w, "\r\n");

    if (!bodyless && !r->head && r->body_len > 0)
        head_add(w, r->body, r->body_len);
}

static void write_response(struct head_writer *w, struct event_base *base,
                           const struct http_response *r)
{
    const struct date_cache *date = current_date(base);

    head_add_status(w, r->status);
    head_add(w, date->line, date->len);
    write_rest(w, r);
    head_flush(w);
}

void http_response_write(struct event_base *base, struct evbuffer *out,
                         const struct http_response *r)
{
    char buf[1024];
    struct head_writer w = {.out = out, .buf = buf, .cap = sizeof(buf)};

    write_response(&w, base, r);
}

size_t http_response_render(struct event_base *base, const struct http_response *r,
                            char *buf, size_t cap)
{
    struct head_writer w = {.buf = buf, .cap = cap};

    write_response(&w, base, r);
    return w.overflow ? 0 : w.used;
}

size_t http_response_render_rest(const struct http_response *r, char *buf, size_t cap)
{
    struct head_writer w = {.buf = buf, .cap = cap};

    write_rest(&w, r);
    return w.overflow ? 0 : w.used;
}

size_t http_prepared_render(struct event_base *base, const struct http_prepared *p,
                            bool head, char *buf, size_t cap)
{
    const struct date_cache *date = current_date(base);
    struct head_writer w = {.buf = buf, .cap = cap};

    head_add_status(&w, p->status);
    head_add(&w, date->line, date->len);
    head_add(&w, p->rest, head ? p->head_len : p->len);
    return w.overflow ? 0 : w.used;
}

void http_prepared_parts(const struct http_prepared *p, struct http_response *r)
{
    *r = (struct http_response){
        .status = p->status,
        .content_type = p->content_type,
        .extra = p->extra,
        .n_extra = p->n_extra,
        .body = p->body,
        .body_len = p->body_len,
    };
}

int http_prepare(struct http_prepared *p, int status, const char *content_type,
                 const struct http_header *extra, size_t n_extra, const void *body,
                 size_t body_len)
{
    struct http_response r;

    memset(p, 0, sizeof(*p));
    if (status < 100 || status > 999)
        return -1;
    p->status = status;
    p->content_type = content_type;
    p->extra = extra;
    p->n_extra = n_extra;
    p->body = body;
    p->body_len = body_len;
    http_prepared_parts(p, &r);

    /* Rendered without the body first only to learn where it starts. */
    r.head = true;
    p->head_len = http_response_render_rest(&r, p->rest, sizeof(p->rest));
    r.head = false;
    p->len = http_response_render_rest(&r, p->rest, sizeof(p->rest));
    return p->len > 0 ? 0 : -1;
}
