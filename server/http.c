/*
 * http.c - the HTTP/1.1 server of http.h: a listener, one bufferevent per
 * connection and http-parser for requests. http_response.c writes the
 * responses.
 *
 * A connection moves through these states:
 *
 *   IDLE     waiting for the first byte of a request (idle deadline, or the
 *            header deadline on a fresh connection)
 *   HEADERS  request line and headers arriving (header deadline, fixed at the
 *            first byte, so trickled bytes never extend it)
 *   BODY     body arriving (body deadline, fixed at the end of the headers)
 *   HANDLER  the handler owns the request until it calls http_respond; the
 *            parser is paused, so pipelined requests wait in the input buffer
 *   CLOSING  a final response is being written; reading has stopped
 *   LINGER   the response is out and our side is shut down; input is read
 *            and discarded for a short while, so that unread request bytes
 *            do not make the kernel reset the connection before the client
 *            has read the response
 *
 * Ownership: the server owns every connection. A connection owns its
 * bufferevent (which closes the socket) and the request storage. When the
 * socket closes while the handler still owns a request, the connection
 * stays allocated without a bufferevent, and http_respond frees it.
 *
 * The bufferevent writes, but a connection reads its socket itself (see
 * on_readable) into the bufferevent's input buffer.
 */
#include "http.h"

#include "http_fast.h"
#include "http_response.h"
#include "stat_counter.h"
#include "listen_addr.h"
#include "log.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <http_parser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Reading stops while more than this many response bytes wait to be sent,
 * and resumes once they are all sent. */
#define HTTP_OUTPUT_HIGH (256 * 1024)
/* Input buffered while a request is with its handler; beyond this the
 * connection stops reading until the parser drains the input. */
#define HTTP_INPUT_HIGH (64 * 1024)
/* Bytes read from the socket at most per readiness event, the same cap
 * as libevent's own evbuffer_read. */
#define HTTP_READ_MAX 4096
/* Lingering close: how long and how many bytes to discard at most. */
#define HTTP_LINGER_MS 2000
#define HTTP_LINGER_MAX_BYTES (1024 * 1024)
/* First allocation of a connection's request storage; a pixel request with
 * browser headers fits. */
#define HTTP_STORAGE_INITIAL 2048
/* Storage grown beyond this is released after the request, so idle
 * keep-alive connections stay small. */
#define HTTP_STORAGE_KEEP (64 * 1024)
#define HTTP_ACCEPT_RETRY_MS 100

enum conn_state {
    CONN_IDLE,
    CONN_HEADERS,
    CONN_BODY,
    CONN_HANDLER,
    CONN_CLOSING,
    CONN_LINGER,
};

/* Offsets of one header in the request storage. They become pointers only
 * once the request is complete, because the storage may move while it grows. */
struct header_span {
    size_t name_off;
    size_t name_len;
    size_t value_off;
    size_t value_len;
};

struct http_conn {
    struct http_request req; /* passed to the handler; points into storage */
    struct http_server *srv;
    struct bufferevent *bev; /* NULL once the socket is closed */
    struct event readable;   /* EV_READ of the socket, see on_readable */
    struct event deadline;   /* header, body, idle or linger deadline */
    struct event resume;     /* activated to parse input after a response */
    http_parser parser;
    enum conn_state state;

    bool first_request; /* no request completed yet on this connection */
    bool keep_alive;    /* the current request allows another one */
    bool http10;        /* the current request is HTTP/1.0 */
    bool head;          /* the current request is HEAD */
    enum http_method method; /* of the current request */
    bool peer_eof;      /* the client has shut down its side */
    bool in_process;    /* conn_process is on the stack */
    bool output_paused; /* reading stopped because of HTTP_OUTPUT_HIGH */
    bool read_enabled;  /* the state reads input, see conn_set_reading */
    bool read_armed;    /* readable is added to the loop */
    bool last_was_value;

    int error_status;         /* set by a parser callback that failed */
    const char *error_reason; /* short token for the log line */

    /* Request storage: the target, then header names and values, then the
     * body, each appended as the parser delivers it. */
    char *storage;
    size_t storage_len;
    size_t storage_cap;
    size_t url_len;
    size_t header_bytes;
    size_t body_off;
    size_t body_len;
    struct header_span *spans;
    struct http_header *headers;
    size_t n_headers;
    size_t headers_cap;

    size_t linger_bytes;
    struct timespec dispatched; /* when the handler got the request */
    struct sockaddr_storage peer;
    socklen_t peer_len;
    struct http_conn *prev;
    struct http_conn *next;
};

struct http_server {
    struct event_base *base;
    struct http_limits limits;
    http_handler_fn handler;
    void *handler_arg;
    http_observer_fn observer;
    void *observer_arg;

    struct evconnlistener *listeners[HTTP_MAX_LISTENERS];
    size_t n_listeners;
    struct event accept_retry; /* re-enables listeners after EMFILE */
    struct event drain_done;   /* calls the drain callback from the loop */

    struct http_conn *conns;
    size_t n_conns; /* including closed ones still owned by a handler */
    uint64_t next_id;
    bool draining;
    void (*drain_cb)(void *);
    void *drain_arg;

    struct http_server_stats stats;

    /* The buffer on_readable reads into while a connection's input buffer
     * is empty, as it is when requests arrive whole. Parsing there spares
     * the input buffer a 4 KiB chain allocated and freed per request. Only
     * bytes left unparsed are copied into the input buffer. */
    char scratch[HTTP_READ_MAX];
};

static const http_parser_settings parser_settings;

static void conn_process(struct http_conn *conn, const char *fresh, size_t fresh_len);
static void conn_set_reading(struct http_conn *conn, bool enabled);
static void on_event(struct bufferevent *bev, short what, void *arg);
static void conn_send(struct http_conn *conn, bool write_now);
static void conn_close(struct http_conn *conn);
static void conn_arm_deadline(struct http_conn *conn, int timeout_ms);

/* ------------------------------------------------------------------ */
/* Limits, lookups and small helpers                                   */
/* ------------------------------------------------------------------ */

const struct http_server_stats *http_server_stats(const struct http_server *srv)
{
    return &srv->stats;
}

const struct http_header *http_request_header(const struct http_request *req,
                                              const char *name)
{
    size_t len = strlen(name);

    for (size_t i = 0; i < req->n_headers; i++) {
        const struct http_header *h = &req->headers[i];
        if (h->name_len == len && strncasecmp(h->name, name, len) == 0)
            return h;
    }
    return NULL;
}

bool http_media_type_is(const struct http_header *h, const char *type)
{
    size_t len = strlen(type);

    if (h->value_len < len || strncasecmp(h->value, type, len) != 0)
        return false;
    return h->value_len == len || h->value[len] == ';' || h->value[len] == ' ' ||
           h->value[len] == '\t';
}

static struct http_conn *conn_of(struct http_request *req)
{
    return (struct http_conn *)((char *)req - offsetof(struct http_conn, req));
}

/* Writes the client's network, never its full address: a /24 for IPv4, a
 * /48 for IPv6. */
static void format_peer(const struct sockaddr_storage *peer, char *out,
                        size_t out_len)
{
    char addr[INET6_ADDRSTRLEN];

    if (peer->ss_family == AF_INET) {
        struct in_addr a = ((const struct sockaddr_in *)peer)->sin_addr;
        a.s_addr &= htonl(0xffffff00u);
        inet_ntop(AF_INET, &a, addr, sizeof(addr));
        snprintf(out, out_len, "%s/24", addr);
    } else if (peer->ss_family == AF_INET6) {
        struct in6_addr a = ((const struct sockaddr_in6 *)peer)->sin6_addr;
        memset(a.s6_addr + 6, 0, 10);
        inet_ntop(AF_INET6, &a, addr, sizeof(addr));
        snprintf(out, out_len, "%s/48", addr);
    } else {
        snprintf(out, out_len, "local");
    }
}

/* ------------------------------------------------------------------ */
/* Request storage                                                     */
/* ------------------------------------------------------------------ */

static int storage_append(struct http_conn *conn, const char *at, size_t len)
{
    if (conn->storage_len + len > conn->storage_cap) {
        size_t cap = conn->storage_cap ? conn->storage_cap : HTTP_STORAGE_INITIAL;
        char *grown = NULL;

        while (cap < conn->storage_len + len)
            cap *= 2;
        grown = realloc(conn->storage, cap);
        if (grown == NULL)
            return -1;
        conn->storage = grown;
        conn->storage_cap = cap;
    }
    memcpy(conn->storage + conn->storage_len, at, len);
    conn->storage_len += len;
    return 0;
}

/* Makes room for at least want headers. */
static int headers_reserve(struct http_conn *conn, size_t want)
{
    size_t cap = conn->headers_cap ? conn->headers_cap : 16;
    struct header_span *spans = NULL;
    struct http_header *headers = NULL;

    if (want <= conn->headers_cap)
        return 0;
    while (cap < want)
        cap *= 2;

    spans = realloc(conn->spans, cap * sizeof(*spans));
    if (spans == NULL)
        return -1;
    conn->spans = spans;

    headers = realloc(conn->headers, cap * sizeof(*headers));
    if (headers == NULL)
        return -1;
    conn->headers = headers;
    conn->headers_cap = cap;
    return 0;
}

/* Forgets the finished request; keeps the storage for the next one unless
 * it grew large. */
static void storage_reset(struct http_conn *conn)
{
    conn->storage_len = 0;
    conn->url_len = 0;
    conn->header_bytes = 0;
    conn->body_off = 0;
    conn->body_len = 0;
    conn->n_headers = 0;
    conn->last_was_value = false;
    conn->error_status = 0;
    conn->error_reason = NULL;

    if (conn->storage_cap > HTTP_STORAGE_KEEP) {
        free(conn->storage);
        conn->storage = NULL;
        conn->storage_cap = 0;
    }
}

static const struct header_span *find_span(const struct http_conn *conn,
                                           const char *name)
{
    size_t len = strlen(name);

    for (size_t i = 0; i < conn->n_headers; i++) {
        const struct header_span *s = &conn->spans[i];
        if (s->name_len == len &&
            strncasecmp(conn->storage + s->name_off, name, len) == 0)
            return s;
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Parser callbacks                                                    */
/* ------------------------------------------------------------------ */

/* Records why the request fails; conn_process sends the error response
 * once the parser has returned. Returns the value that stops http-parser. */
static int fail_request(struct http_conn *conn, int status, const char *reason)
{
    if (conn->error_status == 0) {
        conn->error_status = status;
        conn->error_reason = reason;
    }
    return -1;
}

static int on_message_begin(http_parser *parser)
{
    struct http_conn *conn = parser->data;

    conn->req.id = ++conn->srv->next_id;

    /* A fresh connection already runs the header deadline from accept. */
    if (!conn->first_request)
        conn_arm_deadline(conn, conn->srv->limits.header_timeout_ms);
    conn->state = CONN_HEADERS;
    return 0;
}

static int on_url(http_parser *parser, const char *at, size_t len)
{
    struct http_conn *conn = parser->data;

    if (conn->url_len + len > conn->srv->limits.max_url_bytes)
        return fail_request(conn, 414, "uri_too_long");
    if (storage_append(conn, at, len) != 0)
        return fail_request(conn, 500, "out_of_memory");
    conn->url_len += len;
    return 0;
}

static bool version_supported(const http_parser *parser)
{
    return parser->http_major == 1 &&
           (parser->http_minor == 0 || parser->http_minor == 1);
}

static int on_header_field(http_parser *parser, const char *at, size_t len)
{
    struct http_conn *conn = parser->data;
    const struct http_limits *limits = &conn->srv->limits;

    if (!version_supported(parser))
        return fail_request(conn, 505, "http_version");

    if (conn->n_headers == 0 || conn->last_was_value) {
        if (conn->n_headers == limits->max_headers)
            return fail_request(conn, 431, "too_many_headers");
        if (headers_reserve(conn, conn->n_headers + 1) != 0)
            return fail_request(conn, 500, "out_of_memory");
        conn->spans[conn->n_headers] = (struct header_span){
            .name_off = conn->storage_len,
        };
        conn->n_headers++;
        conn->last_was_value = false;
    }

    /* NOTE: Debian builds http-parser without HTTP_PARSER_STRICT, which
     * lets whitespace into header names ("Content-Length : 5" would be an
     * unknown header); a name with whitespace is rejected here. */
    if (memchr(at, ' ', len) != NULL || memchr(at, '\t', len) != NULL)
        return fail_request(conn, 400, "space_in_header_name");

    conn->header_bytes += len;
    if (conn->header_bytes > limits->max_header_bytes)
        return fail_request(conn, 431, "headers_too_large");
    if (storage_append(conn, at, len) != 0)
        return fail_request(conn, 500, "out_of_memory");
    conn->spans[conn->n_headers - 1].name_len += len;
    return 0;
}

static int on_header_value(http_parser *parser, const char *at, size_t len)
{
    struct http_conn *conn = parser->data;
    struct header_span *span = &conn->spans[conn->n_headers - 1];

    if (!conn->last_was_value) {
        span->value_off = conn->storage_len;
        conn->last_was_value = true;
    }

    conn->header_bytes += len;
    if (conn->header_bytes > conn->srv->limits.max_header_bytes)
        return fail_request(conn, 431, "headers_too_large");
    if (storage_append(conn, at, len) != 0)
        return fail_request(conn, 500, "out_of_memory");
    span->value_len += len;
    return 0;
}

/* Handles "Expect": sends 100 Continue for a body we will read, and
 * rejects any other expectation with 417. Returns 0, or the value that
 * stops the parser. */
static int handle_expect(struct http_conn *conn, bool body_expected)
{
    const struct header_span *expect = find_span(conn, "Expect");
    const char *value = NULL;
    size_t len = 0;

    if (expect == NULL)
        return 0;

    value = conn->storage + expect->value_off;
    len = expect->value_len;
    while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
        len--;
    if (len != 12 || strncasecmp(value, "100-continue", 12) != 0)
        return fail_request(conn, 417, "expectation");

    if (body_expected && !conn->http10) {
        bufferevent_write(conn->bev, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        conn_send(conn, true);
    }
    return 0;
}

static int on_headers_complete(http_parser *parser)
{
    struct http_conn *conn = parser->data;
    bool has_length = (parser->flags & F_CONTENTLENGTH) != 0;
    bool chunked = (parser->flags & F_CHUNKED) != 0;
    bool body_expected = chunked || (has_length && parser->content_length > 0);

    if (!version_supported(parser))
        return fail_request(conn, 505, "http_version");
    conn->http10 = parser->http_minor == 0;
    conn->method = (enum http_method)parser->method;
    conn->head = parser->method == HTTP_HEAD;

    if (has_length && parser->content_length > conn->srv->limits.max_body_bytes)
        return fail_request(conn, 413, "body_too_large");
    if (handle_expect(conn, body_expected) != 0)
        return -1;

    conn->body_off = conn->storage_len;
    if (body_expected) {
        conn->state = CONN_BODY;
        conn_arm_deadline(conn, conn->srv->limits.body_timeout_ms);
    }
    return 0;
}

static int on_body(http_parser *parser, const char *at, size_t len)
{
    struct http_conn *conn = parser->data;

    if (conn->body_len + len > conn->srv->limits.max_body_bytes)
        return fail_request(conn, 413, "body_too_large");
    if (storage_append(conn, at, len) != 0)
        return fail_request(conn, 500, "out_of_memory");
    conn->body_len += len;
    return 0;
}

/* Hands the request over: the parser pauses here, so conn_process calls
 * the handler outside of http-parser and later input stays unparsed until
 * the response is written. The header or body deadline stays armed,
 * because on_deadline ignores a connection in CONN_HANDLER and
 * http_respond re-arms it for the idle time. Removing it here would cost
 * a timer operation per request. */
static int on_message_complete(http_parser *parser)
{
    struct http_conn *conn = parser->data;

    conn->keep_alive = http_should_keep_alive(parser) && !parser->upgrade;
    conn->state = CONN_HANDLER;
    http_parser_pause(parser, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Takes a complete request head of the common form (http_fast.h) from
 * data[0..len) as the parser callbacks would: the same storage, spans,
 * limits and flags. Returns the bytes taken, or 0 to leave the input to
 * http-parser, which also rejects a request over a limit.
 * Unlike on_message_begin it arms no header deadline: the head is
 * complete, and http_respond arms the idle deadline. */
static size_t conn_take_fast(struct http_conn *conn, const char *data, size_t len)
{
    const struct http_limits *limits = &conn->srv->limits;
    struct http_fast_head head;
    size_t scanned = http_fast_scan(data, len, &head);
    size_t header_bytes = 0;

    if (scanned == 0 || head.target.len > limits->max_url_bytes ||
        head.n_headers > limits->max_headers)
        return 0;
    for (size_t i = 0; i < head.n_headers; i++)
        header_bytes += head.names[i].len + head.values[i].len;
    if (header_bytes > limits->max_header_bytes)
        return 0;
    if (headers_reserve(conn, head.n_headers) != 0)
        return 0;

    if (storage_append(conn, data + head.target.off, head.target.len) != 0)
        return 0;
    conn->url_len = head.target.len;
    for (size_t i = 0; i < head.n_headers; i++) {
        struct header_span *span = &conn->spans[i];

        span->name_off = conn->storage_len;
        span->name_len = head.names[i].len;
        span->value_off = conn->storage_len + head.names[i].len;
        span->value_len = head.values[i].len;
        if (storage_append(conn, data + head.names[i].off, head.names[i].len) != 0 ||
            storage_append(conn, data + head.values[i].off, head.values[i].len) != 0) {
            storage_reset(conn);
            return 0;
        }
    }
    conn->n_headers = head.n_headers;
    conn->header_bytes = header_bytes;

    conn->req.id = ++conn->srv->next_id;
    conn->http10 = false;
    conn->method = head.head ? HTTP_HEAD : HTTP_GET;
    conn->head = head.head;
    conn->keep_alive = true;
    conn->body_off = conn->storage_len;
    conn->state = CONN_HANDLER;
    return scanned;
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

/* Sets path and query from the raw target: an absolute-form target
 * ("http://host/p?q") loses its scheme and authority, a fragment is
 * dropped, and the query starts after the first '?'. */
static void split_target(struct http_request *req, const char *target,
                         size_t len)
{
    const char *hash = memchr(target, '#', len);
    const char *question = NULL;

    if (hash != NULL)
        len = (size_t)(hash - target);

    if (len > 7 && (strncasecmp(target, "http://", 7) == 0 ||
                    (len > 8 && strncasecmp(target, "https://", 8) == 0))) {
        size_t scheme_len = target[4] == ':' ? 7 : 8;
        const char *end = target + len;
        const char *path = target + scheme_len;

        while (path < end && *path != '/' && *path != '?')
            path++;
        len = (size_t)(end - path);
        target = path;
    }

    question = memchr(target, '?', len);
    if (question == NULL) {
        req->path = len > 0 ? target : "/";
        req->path_len = len > 0 ? len : 1;
        req->query = NULL;
        req->query_len = 0;
        return;
    }
    req->path = question > target ? target : "/";
    req->path_len = question > target ? (size_t)(question - target) : 1;
    req->query = question + 1;
    req->query_len = len - (size_t)(question - target) - 1;
}

static void build_request(struct http_conn *conn)
{
    struct http_request *req = &conn->req;

    split_target(req, conn->storage, conn->url_len);

    for (size_t i = 0; i < conn->n_headers; i++) {
        const struct header_span *s = &conn->spans[i];
        const char *value = conn->storage + s->value_off;
        size_t value_len = s->value_len;

        /* http-parser drops leading whitespace but keeps trailing. */
        while (value_len > 0 &&
               (value[value_len - 1] == ' ' || value[value_len - 1] == '\t'))
            value_len--;
        conn->headers[i] = (struct http_header){
            .name = conn->storage + s->name_off,
            .name_len = s->name_len,
            .value = value,
            .value_len = value_len,
        };
    }
    req->headers = conn->n_headers > 0 ? conn->headers : NULL;
    req->n_headers = conn->n_headers;

    req->method = conn->method;
    req->body = conn->body_len > 0 ? conn->storage + conn->body_off : NULL;
    req->body_len = conn->body_len;
    req->peer = (const struct sockaddr *)&conn->peer;
    req->peer_len = conn->peer_len;
}

static void dispatch_request(struct http_conn *conn)
{
    struct http_server *srv = conn->srv;

    build_request(conn);
    if (srv->observer != NULL)
        clock_gettime(CLOCK_MONOTONIC, &conn->dispatched);
    STAT_ADD(srv->stats.requests, 1);
    srv->handler(&conn->req, srv->handler_arg);
}

/* ------------------------------------------------------------------ */
/* Errors produced by this layer                                       */
/* ------------------------------------------------------------------ */

static void count_rejection(struct http_server_stats *stats, int status)
{
    switch (status) {
    case 408: STAT_ADD(stats->timed_out, 1); break;
    case 413: STAT_ADD(stats->body_too_large, 1); break;
    case 414: STAT_ADD(stats->uri_too_long, 1); break;
    case 431: STAT_ADD(stats->headers_too_large, 1); break;
    case 500: break;
    default: STAT_ADD(stats->bad_request, 1); break;
    }
}

static void conn_start_close(struct http_conn *conn)
{
    conn->state = CONN_CLOSING;
    event_del(&conn->deadline);
    conn_set_reading(conn, false);
}

/* Rejects the request in progress with status: counts and logs it, sends
 * the error response and closes the connection once it is written. */
static void conn_reject(struct http_conn *conn, int status, const char *reason)
{
    char peer[INET6_ADDRSTRLEN + 8];
    const char *phrase = http_reason_phrase(status);
    char body[64];
    int n = snprintf(body, sizeof(body), "%s\n", phrase);
    struct http_response r = {
        .status = status,
        .content_type = "text/plain",
        .body = body,
        .body_len = (size_t)n,
        .connection = HTTP_CONNECTION_CLOSE,
    };

    count_rejection(&conn->srv->stats, status);
    format_peer(&conn->peer, peer, sizeof(peer));
    if (status >= 500 && status != 505)
        LOG_LIMITED(LOG_LEVEL_ERROR, "http.reject",
                    "id=%llu status=%d reason=%s peer=%s",
                    (unsigned long long)conn->req.id, status, reason, peer);
    else
        LOG_LIMITED(LOG_LEVEL_INFO, "http.reject",
                    "id=%llu status=%d reason=%s peer=%s",
                    (unsigned long long)conn->req.id, status, reason, peer);

    http_response_write(conn->srv->base, bufferevent_get_output(conn->bev), &r);
    conn_start_close(conn);
    conn_send(conn, false);
}

static void conn_parse_failed(struct http_conn *conn)
{
    enum http_errno err = HTTP_PARSER_ERRNO(&conn->parser);

    if (conn->error_status != 0) {
        conn_reject(conn, conn->error_status, conn->error_reason);
        return;
    }
    if (err == HPE_HEADER_OVERFLOW) {
        conn_reject(conn, 431, "header_overflow");
        return;
    }
    conn_reject(conn, 400, http_errno_name(err));
}

/* ------------------------------------------------------------------ */
/* Connection life                                                     */
/* ------------------------------------------------------------------ */

/* Arms the connection's one deadline; a timeout of 0 or less disables it. */
static void conn_arm_deadline(struct http_conn *conn, int timeout_ms)
{
    struct timeval tv = {
        .tv_sec = timeout_ms / 1000,
        .tv_usec = (timeout_ms % 1000) * 1000,
    };

    if (timeout_ms <= 0) {
        event_del(&conn->deadline);
        return;
    }
    event_add(&conn->deadline, &tv);
}

static void server_check_drained(struct http_server *srv)
{
    if (srv->draining && srv->n_conns == 0 && srv->drain_cb != NULL)
        event_active(&srv->drain_done, EV_TIMEOUT, 0);
}

static void conn_free(struct http_conn *conn)
{
    struct http_server *srv = conn->srv;

    if (conn->prev != NULL)
        conn->prev->next = conn->next;
    else
        srv->conns = conn->next;
    if (conn->next != NULL)
        conn->next->prev = conn->prev;
    srv->n_conns--;

    free(conn->storage);
    free(conn->spans);
    free(conn->headers);
    free(conn);
    server_check_drained(srv);
}

/* Closes the socket. The connection is freed now, or by http_respond when
 * its handler still owns a request. Callers must not touch conn after. */
static void conn_close(struct http_conn *conn)
{
    event_del(&conn->deadline);
    event_del(&conn->resume);
    event_del(&conn->readable);
    conn->read_armed = false;
    if (conn->bev != NULL) {
        bufferevent_free(conn->bev);
        conn->bev = NULL;
        STAT_SUB(conn->srv->stats.open_connections, 1);
    }
    if (conn->state == CONN_HANDLER)
        return;
    conn_free(conn);
}

/* Shuts down our side once the final response is out and reads what the
 * client still sends for a moment, then closes. */
static void conn_linger(struct http_conn *conn)
{
    struct evbuffer *input = bufferevent_get_input(conn->bev);

    if (conn->peer_eof) {
        conn_close(conn);
        return;
    }
    shutdown(bufferevent_getfd(conn->bev), SHUT_WR);
    evbuffer_drain(input, evbuffer_get_length(input));
    conn->state = CONN_LINGER;
    conn_set_reading(conn, true);
    conn_arm_deadline(conn, HTTP_LINGER_MS);
}

/*
 * Sends what the output buffer holds. The bufferevent's EV_WRITE stays
 * disabled while the output is empty: enabling it costs an epoll_ctl to
 * add the write event and another to remove it once the buffer is sent,
 * two of five system calls per keep-alive request. With write_now, the
 * output is written at once, and a response that fits in the socket buffer
 * costs one writev (most keep-alive responses skip the buffer altogether,
 * see conn_send_direct). Whatever is left, or an error, goes to the
 * bufferevent, which writes when the socket is writable, reports errors to
 * on_event and calls on_write once everything is sent. Without write_now
 * the write always goes through the bufferevent, so on_write runs for a
 * final response and starts the lingering close.
 */
static void conn_send(struct http_conn *conn, bool write_now)
{
    struct evbuffer *output = bufferevent_get_output(conn->bev);

    if (write_now && evbuffer_get_length(output) > 0) {
        /* A socket bufferevent keeps the start of its output frozen and
         * thaws it only around its own writes; this write does the same. */
        evbuffer_unfreeze(output, 1);
        evbuffer_write(output, bufferevent_getfd(conn->bev));
        evbuffer_freeze(output, 1);
    }
    if (evbuffer_get_length(output) > 0)
        bufferevent_enable(conn->bev, EV_WRITE);
}

/*
 * Sends r, rendered from prepared when that is not NULL, with one send()
 * from a stack buffer when nothing is queued before it and it fits, which
 * spares the output buffer a chain allocated and freed per response. What
 * the socket does not take, or the whole response after an error, goes to
 * the output buffer, which conn_send then hands to the bufferevent (that
 * reports the error). Returns false, having sent nothing, when the
 * response must go through the output buffer.
 */
static bool conn_send_direct(struct http_conn *conn, const struct http_response *r,
                             const struct http_prepared *prepared)
{
    struct evbuffer *output = bufferevent_get_output(conn->bev);
    char buf[1024];
    size_t len;
    ssize_t sent;

    if (evbuffer_get_length(output) > 0)
        return false;
    len = prepared != NULL
              ? http_prepared_render(conn->srv->base, prepared, r->head, buf, sizeof(buf))
              : http_response_render(conn->srv->base, r, buf, sizeof(buf));
    if (len == 0)
        return false;

    sent = send(bufferevent_getfd(conn->bev), buf, len, MSG_NOSIGNAL);
    if (sent < 0)
        sent = 0;
    if ((size_t)sent < len)
        evbuffer_add(output, buf + sent, len - (size_t)sent);
    return true;
}

static bool conn_input_empty(struct http_conn *conn)
{
    return evbuffer_get_length(bufferevent_get_input(conn->bev)) == 0;
}

static bool conn_output_empty(struct http_conn *conn)
{
    return evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0;
}

/* Appends len bytes to the input buffer, which the bufferevent keeps
 * frozen at its end outside its own reads (see on_readable). */
static void conn_buffer_input(struct http_conn *conn, const char *data, size_t len)
{
    struct evbuffer *input = bufferevent_get_input(conn->bev);

    evbuffer_unfreeze(input, 0);
    if (evbuffer_add(input, data, len) != 0)
        LOG_LIMITED(LOG_LEVEL_ERROR, "http.input_dropped",
                    "id=%llu bytes=%zu error=\"out of memory\"",
                    (unsigned long long)conn->req.id, len);
    evbuffer_freeze(input, 0);
}

/*
 * Parses input and calls the handler for each complete request, until
 * input runs out, a request waits for its response, the output is too
 * full, or the connection is closing. The input is the input buffer. When
 * that is empty, it is the fresh_len bytes at fresh that on_readable has
 * just read, and the bytes left unparsed go to the input buffer. May free
 * conn.
 */
static void conn_process(struct http_conn *conn, const char *fresh, size_t fresh_len)
{
    struct evbuffer *input = bufferevent_get_input(conn->bev);
    struct evbuffer *output = bufferevent_get_output(conn->bev);

    conn->in_process = true;
    while (conn->state == CONN_IDLE || conn->state == CONN_HEADERS ||
           conn->state == CONN_BODY) {
        struct evbuffer_iovec chunk;
        size_t parsed;
        enum http_errno err;

        if (evbuffer_get_length(output) > HTTP_OUTPUT_HIGH) {
            conn->output_paused = true;
            conn_set_reading(conn, false);
            break;
        }
        if (fresh_len > 0) {
            chunk.iov_base = (void *)fresh;
            chunk.iov_len = fresh_len;
        } else if (evbuffer_peek(input, -1, NULL, &chunk, 1) < 1 || chunk.iov_len == 0) {
            break;
        }

        parsed = conn->state == CONN_IDLE
                     ? conn_take_fast(conn, chunk.iov_base, chunk.iov_len) : 0;
        if (parsed == 0)
            parsed = http_parser_execute(&conn->parser, &parser_settings,
                                         chunk.iov_base, chunk.iov_len);
        if (fresh_len > 0) {
            fresh += parsed;
            fresh_len -= parsed;
        } else {
            evbuffer_drain(input, parsed);
        }

        err = HTTP_PARSER_ERRNO(&conn->parser);
        if (conn->state == CONN_HANDLER)
            dispatch_request(conn);
        else if (err != HPE_OK)
            conn_parse_failed(conn);
    }
    if (fresh_len > 0 && conn->bev != NULL)
        conn_buffer_input(conn, fresh, fresh_len);
    conn->in_process = false;
    conn_set_reading(conn, conn->read_enabled); /* the input may have room again */

    if (conn->peer_eof && conn->state == CONN_IDLE && conn_input_empty(conn)) {
        if (conn_output_empty(conn))
            conn_close(conn);
        else
            conn_start_close(conn);
    }
}

/* Handles input that has just arrived: in the input buffer, or the
 * fresh_len bytes at fresh (see conn_process). */
static void on_read(struct http_conn *conn, const char *fresh, size_t fresh_len)
{
    if (conn->state == CONN_LINGER) {
        struct evbuffer *input = bufferevent_get_input(conn->bev);
        conn->linger_bytes += evbuffer_get_length(input) + fresh_len;
        evbuffer_drain(input, evbuffer_get_length(input));
        if (conn->linger_bytes > HTTP_LINGER_MAX_BYTES)
            conn_close(conn);
        return;
    }
    conn_process(conn, fresh, fresh_len);
}

/* Adds the read event when reading is enabled and the input buffer is
 * below HTTP_INPUT_HIGH, and removes it otherwise. It runs after every
 * request, so it calls event_add or event_del only when the state
 * changes, because both take the base's lock even when they change
 * nothing. */
static void conn_set_reading(struct http_conn *conn, bool enabled)
{
    struct evbuffer *input = bufferevent_get_input(conn->bev);
    bool arm = enabled && evbuffer_get_length(input) < HTTP_INPUT_HIGH;

    conn->read_enabled = enabled;
    if (arm == conn->read_armed)
        return;
    if (arm)
        event_add(&conn->readable, NULL);
    else
        event_del(&conn->readable);
    conn->read_armed = arm;
}

/* Reads the socket into the bufferevent's input buffer, at most up to
 * HTTP_INPUT_HIGH buffered bytes. This replaces the bufferevent's own
 * reading for two reasons. libevent 2.1's evbuffer_read queries the
 * readable byte count (ioctl FIONREAD) before every read, an extra
 * system call per request. And its read high-watermark kept calling the
 * read callback in a busy loop while a held request left the input full
 * (http_input_limit_resumes in test_http.c). End of file and errors go to
 * on_event as the bufferevent would report them. */
static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct http_conn *conn = arg;
    struct evbuffer *input = bufferevent_get_input(conn->bev);
    size_t buffered = evbuffer_get_length(input);
    size_t room = buffered < HTTP_INPUT_HIGH ? HTTP_INPUT_HIGH - buffered : 0;
    struct evbuffer_iovec space;
    ssize_t n = -1;
    int err = ENOMEM;

    (void)what;
    if (room == 0) {
        /* A read of 0 bytes would look like end of file. */
        conn_set_reading(conn, conn->read_enabled);
        return;
    }
    if (room > HTTP_READ_MAX)
        room = HTTP_READ_MAX;

    if (buffered == 0) {
        n = recv(fd, conn->srv->scratch, room, 0);
        err = errno;
        if (n > 0) {
            on_read(conn, conn->srv->scratch, (size_t)n);
            return;
        }
        goto failed;
    }

    /* A socket bufferevent keeps the end of its input frozen and thaws it
     * only around its own reads, so this read thaws it too. */
    evbuffer_unfreeze(input, 0);
    if (evbuffer_reserve_space(input, (ev_ssize_t)room, &space, 1) == 1) {
        n = recv(fd, space.iov_base, room, 0);
        err = errno;
        if (n > 0) {
            space.iov_len = (size_t)n;
            evbuffer_commit_space(input, &space, 1);
        }
    }
    evbuffer_freeze(input, 0);

    if (n > 0) {
        on_read(conn, NULL, 0);
        return;
    }

failed:
    if (n < 0 && (err == EAGAIN || err == EWOULDBLOCK || err == EINTR))
        return;

    conn_set_reading(conn, false);
    errno = err; /* on_event logs it */
    on_event(conn->bev, BEV_EVENT_READING | (n == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR),
             conn);
}

/* Called when the output buffer has been sent completely. */
static void on_write(struct bufferevent *bev, void *arg)
{
    struct http_conn *conn = arg;

    bufferevent_disable(bev, EV_WRITE); /* see conn_send */
    if (conn->state == CONN_CLOSING) {
        conn_linger(conn);
        return;
    }
    if (conn->output_paused) {
        conn->output_paused = false;
        if (!conn->peer_eof)
            conn_set_reading(conn, true);
        conn_process(conn, NULL, 0);
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct http_conn *conn = arg;

    (void)bev;
    if (what & BEV_EVENT_TIMEOUT) {
        char peer[INET6_ADDRSTRLEN + 8];
        format_peer(&conn->peer, peer, sizeof(peer));
        STAT_ADD(conn->srv->stats.timed_out, 1);
        LOG_LIMITED(LOG_LEVEL_INFO, "http.write_timeout", "id=%llu peer=%s",
                    (unsigned long long)conn->req.id, peer);
        conn_close(conn);
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        char peer[INET6_ADDRSTRLEN + 8];
        format_peer(&conn->peer, peer, sizeof(peer));
        LOG_LIMITED(LOG_LEVEL_INFO, "http.conn_error", "id=%llu peer=%s error=\"%s\"",
                    (unsigned long long)conn->req.id, peer,
                    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        conn_close(conn);
        return;
    }

    /* EOF: a client may shut down its side and still wait for answers to
     * the requests it sent, so only an unfinished request is dropped. */
    conn->peer_eof = true;
    switch (conn->state) {
    case CONN_HANDLER:
        break;
    case CONN_CLOSING:
        break;
    case CONN_IDLE:
        if (!conn_input_empty(conn)) {
            conn_process(conn, NULL, 0);
            return;
        }
        /* fall through */
    default:
        if (conn->state != CONN_LINGER && !conn_output_empty(conn))
            conn_start_close(conn);
        else
            conn_close(conn);
        break;
    }
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct http_conn *conn = arg;

    (void)fd;
    (void)what;
    switch (conn->state) {
    case CONN_IDLE:
        /* A response still being sent is the write timeout's business. */
        if (!conn_output_empty(conn)) {
            conn_arm_deadline(conn, conn->srv->limits.idle_timeout_ms);
            break;
        }
        STAT_ADD(conn->srv->stats.timed_out, 1);
        conn_close(conn);
        break;
    case CONN_HEADERS:
        conn_reject(conn, 408, "header_timeout");
        break;
    case CONN_BODY:
        conn_reject(conn, 408, "body_timeout");
        break;
    case CONN_LINGER:
        conn_close(conn);
        break;
    default:
        break;
    }
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_process(arg, NULL, 0);
}

/* Writes a fixed 503 straight to the socket and closes it; no connection
 * state is allocated for a client over the limit. */
static void reject_over_limit(struct http_server *srv, evutil_socket_t fd)
{
    static const char answer[] =
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Length: 20\r\n"
        "Connection: close\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n"
        "Service Unavailable\n";
    char discard[4096];
    ssize_t sent = send(fd, answer, sizeof(answer) - 1, MSG_NOSIGNAL);

    (void)sent;
    STAT_ADD(srv->stats.rejected_over_limit, 1);
    LOG_LIMITED(LOG_LEVEL_INFO, "http.reject",
                "id=0 status=503 reason=max_connections open=%llu",
                (unsigned long long)srv->stats.open_connections);

    /* NOTE: closing with unread input makes the kernel send a reset, which
     * can destroy the 503 before the client reads it; reading what has
     * already arrived makes that less likely but cannot rule it out. */
    for (int i = 0; i < 4; i++) {
        if (recv(fd, discard, sizeof(discard), MSG_DONTWAIT) <= 0)
            break;
    }
    shutdown(fd, SHUT_WR);
    evutil_closesocket(fd);
}

int http_server_adopt(struct http_server *srv, int fd,
                      const struct sockaddr *peer, socklen_t peer_len)
{
    struct http_conn *conn = NULL;
    struct timeval write_tv = {
        .tv_sec = srv->limits.write_timeout_ms / 1000,
        .tv_usec = (srv->limits.write_timeout_ms % 1000) * 1000,
    };

    STAT_ADD(srv->stats.accepted, 1);
    if (srv->draining ||
        srv->stats.open_connections >= (uint64_t)srv->limits.max_connections) {
        reject_over_limit(srv, fd);
        return 0;
    }

    evutil_make_socket_nonblocking(fd);
    conn = calloc(1, sizeof(*conn));
    if (conn == NULL)
        goto fail;
    conn->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (conn->bev == NULL)
        goto fail;

    conn->srv = srv;
    conn->first_request = true;
    conn->state = CONN_IDLE;
    if (peer_len > 0 && peer_len <= sizeof(conn->peer)) {
        memcpy(&conn->peer, peer, peer_len);
        conn->peer_len = peer_len;
    }
    http_parser_init(&conn->parser, HTTP_REQUEST);
    conn->parser.data = conn;
    evtimer_assign(&conn->deadline, srv->base, on_deadline, conn);
    evtimer_assign(&conn->resume, srv->base, on_resume, conn);
    event_assign(&conn->readable, srv->base, fd, EV_READ | EV_PERSIST, on_readable, conn);

    bufferevent_setcb(conn->bev, NULL, on_write, on_event, conn);
    bufferevent_set_timeouts(conn->bev, NULL,
                             srv->limits.write_timeout_ms > 0 ? &write_tv : NULL);
    bufferevent_disable(conn->bev, EV_READ | EV_WRITE); /* see conn_send */
    conn_set_reading(conn, true);
    conn_arm_deadline(conn, srv->limits.header_timeout_ms);

    conn->next = srv->conns;
    if (srv->conns != NULL)
        srv->conns->prev = conn;
    srv->conns = conn;
    srv->n_conns++;
    STAT_ADD(srv->stats.open_connections, 1);
    return 0;

fail:
    LOG_LIMITED(LOG_LEVEL_ERROR, "http.accept_failed",
                "error=\"out of memory for a connection\"");
    if (conn == NULL || conn->bev == NULL)
        evutil_closesocket(fd);
    free(conn);
    return -1;
}

/* ------------------------------------------------------------------ */
/* Responding                                                          */
/* ------------------------------------------------------------------ */

static void observe_response(struct http_conn *conn, int status)
{
    struct timespec now;
    double seconds;

    clock_gettime(CLOCK_MONOTONIC, &now);
    seconds = (double)(now.tv_sec - conn->dispatched.tv_sec) +
              (double)(now.tv_nsec - conn->dispatched.tv_nsec) / 1e9;
    conn->srv->observer(&conn->req, status, seconds, conn->srv->observer_arg);
}

/* Sends r, or prepared when it is given and no Connection header is
 * needed, and returns the connection to reading (see http_respond). */
static void respond(struct http_request *req, struct http_response *r,
                    const struct http_prepared *prepared)
{
    struct http_conn *conn = conn_of(req);
    bool closing = false;

    r->head = conn->head;
    assert(conn->state == CONN_HANDLER);
    if (conn->srv->observer != NULL)
        observe_response(conn, r->status);
    if (conn->bev == NULL) {
        /* The client left while the handler worked, so the response is discarded. */
        conn->state = CONN_CLOSING;
        conn_free(conn);
        return;
    }
    if (r->status < 100 || r->status > 999) {
        LOG_ERROR("http.bad_status", "id=%llu status=%d",
                  (unsigned long long)req->id, r->status);
        r->status = 500;
        r->content_type = NULL;
        r->n_extra = 0;
        r->body_len = 0;
        prepared = NULL;
    }

    closing = !conn->keep_alive || conn->srv->draining ||
              (conn->peer_eof && conn_input_empty(conn));
    if (closing)
        r->connection = HTTP_CONNECTION_CLOSE;
    else if (conn->http10)
        r->connection = HTTP_CONNECTION_KEEP_ALIVE;
    if (r->connection != HTTP_CONNECTION_NONE)
        prepared = NULL;
    if (closing || !conn_send_direct(conn, r, prepared))
        http_response_write(conn->srv->base, bufferevent_get_output(conn->bev), r);

    conn->first_request = false;
    storage_reset(conn);
    http_parser_pause(&conn->parser, 0);
    if (closing) {
        conn_start_close(conn);
        conn_send(conn, false);
        return;
    }
    conn_send(conn, true);

    conn->state = CONN_IDLE;
    conn_arm_deadline(conn, conn->srv->limits.idle_timeout_ms);
    if (!conn->in_process)
        event_active(&conn->resume, EV_TIMEOUT, 0);
}

void http_respond(struct http_request *req, int status,
                  const char *content_type, const struct http_header *extra,
                  size_t n_extra, const void *body, size_t body_len)
{
    struct http_response r = {
        .status = status,
        .content_type = content_type,
        .extra = extra,
        .n_extra = n_extra,
        .body = body,
        .body_len = body_len,
    };

    respond(req, &r, NULL);
}

void http_respond_prepared(struct http_request *req, const struct http_prepared *p)
{
    struct http_response r;

    http_prepared_parts(p, &r);
    respond(req, &r, p);
}

/* ------------------------------------------------------------------ */
/* Server                                                              */
/* ------------------------------------------------------------------ */

static void on_drain_done(evutil_socket_t fd, short what, void *arg)
{
    struct http_server *srv = arg;
    void (*done)(void *) = srv->drain_cb;

    (void)fd;
    (void)what;
    srv->drain_cb = NULL;
    if (done != NULL)
        done(srv->drain_arg);
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
    struct http_server *srv = arg;

    (void)fd;
    (void)what;
    if (srv->draining)
        return;
    for (size_t i = 0; i < srv->n_listeners; i++)
        evconnlistener_enable(srv->listeners[i]);
}

struct http_server *http_server_new(struct event_base *base,
                                    const struct http_limits *limits,
                                    http_handler_fn handler, void *arg)
{
    struct http_server *srv = calloc(1, sizeof(*srv));

    if (srv == NULL)
        return NULL;
    srv->base = base;
    srv->limits = *limits;
    srv->handler = handler;
    srv->handler_arg = arg;
    evtimer_assign(&srv->accept_retry, base, on_accept_retry, srv);
    evtimer_assign(&srv->drain_done, base, on_drain_done, srv);
    return srv;
}

void http_server_set_observer(struct http_server *srv, http_observer_fn fn,
                              void *arg)
{
    srv->observer = fn;
    srv->observer_arg = arg;
}

static void on_accept(struct evconnlistener *listener, evutil_socket_t fd,
                      struct sockaddr *peer, int peer_len, void *arg)
{
    int one = 1;

    (void)listener;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    http_server_adopt(arg, fd, peer, (socklen_t)peer_len);
}

/* accept() failed, most likely for lack of file descriptors: pause all
 * listeners briefly instead of spinning on a listener that stays ready. */
static void on_accept_error(struct evconnlistener *listener, void *arg)
{
    struct http_server *srv = arg;
    int err = EVUTIL_SOCKET_ERROR();
    struct timeval retry = {0, HTTP_ACCEPT_RETRY_MS * 1000};

    (void)listener;
    LOG_LIMITED(LOG_LEVEL_WARN, "http.accept_failed", "error=\"%s\"",
                evutil_socket_error_to_string(err));
    for (size_t i = 0; i < srv->n_listeners; i++)
        evconnlistener_disable(srv->listeners[i]);
    event_add(&srv->accept_retry, &retry);
}

int http_server_listen(struct http_server *srv, const char *addr,
                       bool reuseport)
{
    struct addrinfo *res = NULL;
    struct evconnlistener *listener = NULL;
    unsigned flags = LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE |
                     LEV_OPT_CLOSE_ON_EXEC;

    if (srv->n_listeners == HTTP_MAX_LISTENERS) {
        LOG_ERROR("http.listen_failed", "addr=%s error=\"too many listeners\"",
                  addr);
        errno = EMFILE;
        return -1;
    }
    if (listen_addr_resolve(addr, &res) != 0)
        return -1;

    if (reuseport)
        flags |= LEV_OPT_REUSEABLE_PORT;
    listener = evconnlistener_new_bind(srv->base, on_accept, srv, flags, 1024,
                                       res->ai_addr, (int)res->ai_addrlen);
    freeaddrinfo(res);
    if (listener == NULL) {
        int err = errno;
        LOG_ERROR("http.listen_failed", "addr=%s error=\"%s\"", addr,
                  strerror(err));
        errno = err;
        return -1;
    }
    evconnlistener_set_error_cb(listener, on_accept_error);
    srv->listeners[srv->n_listeners++] = listener;
    return 0;
}

int http_server_port(const struct http_server *srv)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    evutil_socket_t fd;

    if (srv->n_listeners == 0)
        return -1;
    fd = evconnlistener_get_fd(srv->listeners[0]);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

/* Writes fd's local address to out as "HOST:PORT" or "[HOST]:PORT", the
 * form http_server_listen takes. Returns its length, or -1. */
static int format_local_address(evutil_socket_t fd, char *out, size_t outsize)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[NI_MAXHOST], port[NI_MAXSERV];
    int n;

    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
        getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port,
                    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        return -1;
    n = snprintf(out, outsize, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
                 host, port);
    return n < 0 || (size_t)n >= outsize ? -1 : n;
}

int http_server_addresses(const struct http_server *srv, char *out, size_t outsize)
{
    size_t used = 0;

    if (srv->n_listeners == 0 || outsize == 0)
        return -1;
    for (size_t i = 0; i < srv->n_listeners; i++) {
        evutil_socket_t fd = evconnlistener_get_fd(srv->listeners[i]);
        int n;

        if (i > 0) {
            if (used + 1 >= outsize)
                return -1;
            out[used++] = ',';
        }
        n = format_local_address(fd, out + used, outsize - used);
        if (n < 0)
            return -1;
        used += (size_t)n;
    }
    return 0;
}

void http_server_drain(struct http_server *srv, void (*done)(void *),
                       void *arg)
{
    struct http_conn *conn = srv->conns;

    srv->draining = true;
    srv->drain_cb = done;
    srv->drain_arg = arg;
    event_del(&srv->accept_retry);
    /* Closed rather than disabled: a connection that waited in a disabled
     * listener's queue would only be reset when the process exits. */
    for (size_t i = 0; i < srv->n_listeners; i++)
        evconnlistener_free(srv->listeners[i]);
    srv->n_listeners = 0;

    /* Connections between requests close now; the others close after the
     * response to the request they are in. */
    while (conn != NULL) {
        struct http_conn *next = conn->next;

        if (conn->bev != NULL && conn->state == CONN_IDLE &&
            conn_input_empty(conn)) {
            if (conn_output_empty(conn))
                conn_close(conn);
            else
                conn_start_close(conn);
        }
        conn = next;
    }
    server_check_drained(srv);
}

void http_server_free(struct http_server *srv)
{
    if (srv == NULL)
        return;

    srv->drain_cb = NULL;
    while (srv->conns != NULL) {
        struct http_conn *conn = srv->conns;
        conn->state = CONN_CLOSING;
        conn_close(conn);
    }
    for (size_t i = 0; i < srv->n_listeners; i++)
        evconnlistener_free(srv->listeners[i]);
    event_del(&srv->accept_retry);
    event_del(&srv->drain_done);
    free(srv);
}
