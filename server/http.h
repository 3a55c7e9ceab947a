/*
 * http.h - tally's HTTP/1.1 server: connections on libevent bufferevents,
 * requests parsed by http-parser.
 *
 * Written on http-parser rather than evhttp because an edge server needs
 * what evhttp 2.1 lacks: 414 and 431 for oversized request lines and headers,
 * separate header, body and idle timeouts that a trickling client cannot
 * reset, a connection limit, and a response path without per-header
 * allocations. docs/http.md gives the measurements behind the choice.
 *
 * One http_server belongs to one event loop thread. Requests on a connection
 * are answered in order (pipelining is supported); the handler is called once
 * per complete request and must answer it with exactly one http_respond.
 */
#ifndef TALLY_HTTP_H
#define TALLY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;
struct http_server;

struct http_limits {
    size_t max_url_bytes;    /* request target; longer: 414 */
    size_t max_header_bytes; /* all header names and values; more: 431 */
    size_t max_headers;      /* header fields; more: 431 */
    size_t max_body_bytes;   /* body; longer: 413 */
    int header_timeout_ms;   /* first byte of a request to end of headers: 408 */
    int body_timeout_ms;     /* end of headers to end of body: 408 */
    int idle_timeout_ms;     /* keep-alive wait for the next request: close */
    int write_timeout_ms;    /* a response that cannot be written: close */
    int max_connections;     /* open connections per server; more: 503, close */
};

/* Fills limits with tally's defaults (documented in docs/http.md). */
void http_limits_default(struct http_limits *limits);

struct http_header {
    const char *name; /* as sent, not NUL-terminated */
    size_t name_len;
    const char *value; /* surrounding whitespace removed, not NUL-terminated */
    size_t value_len;
};

struct http_request {
    int method;        /* enum http_method of http_parser.h: HTTP_GET, ... */
    const char *path;  /* request target before any '?', raw (not decoded) */
    size_t path_len;
    const char *query; /* after the first '?', raw; NULL when there is none */
    size_t query_len;
    const struct http_header *headers;
    size_t n_headers;
    const char *body; /* NULL when there is none */
    size_t body_len;
    const struct sockaddr *peer; /* the TCP peer; proxies are not considered */
    socklen_t peer_len;
    uint64_t id; /* unique per server, for log lines */
};

/*
 * Handler of complete requests. It answers with http_respond, either before
 * it returns or later from the same thread; until then req and every buffer
 * it points to stay valid, even when the client has gone away.
 */
typedef void (*http_handler_fn)(struct http_request *req, void *arg);

/* Counters of one server; read them from the server's own thread or
 * accept a torn read. accepted counts every accepted socket, the ones
 * answered with 503 included. bad_request also counts 417 (an Expect other
 * than 100-continue) and 505. timed_out also counts write timeouts. */
struct http_server_stats {
    uint64_t accepted;
    uint64_t rejected_over_limit; /* 503 on max_connections */
    uint64_t requests;
    uint64_t bad_request;      /* 400 from the parser */
    uint64_t uri_too_long;     /* 414 */
    uint64_t headers_too_large;/* 431 */
    uint64_t body_too_large;   /* 413 */
    uint64_t timed_out;        /* 408 or idle close */
    uint64_t open_connections;
};

/* Creates a server on base. limits is copied. Returns NULL on allocation
 * failure. */
struct http_server *http_server_new(struct event_base *base,
                                    const struct http_limits *limits,
                                    http_handler_fn handler, void *arg);

/*
 * Observer of the responses handlers send: called by http_respond with the
 * request (still valid), the status sent and the seconds from the end of
 * the request to the response, which includes any wait on Redis. It runs in
 * the server's thread and must not respond. Errors the HTTP layer answers
 * itself (400, 408, 413, 414, 431) are counted in http_server_stats instead.
 */
typedef void (*http_observer_fn)(const struct http_request *req, int status,
                                 double seconds, void *arg);

/* Sets the observer of srv (NULL for none). */
void http_server_set_observer(struct http_server *srv, http_observer_fn fn,
                              void *arg);

/* Listens on addr, "HOST:PORT" or "[IPV6]:PORT". With reuseport, several
 * servers (one per thread) may listen on the same address (SO_REUSEPORT).
 * Returns 0, or -1 with errno set and a log line. */
int http_server_listen(struct http_server *srv, const char *addr,
                       bool reuseport);

/* Serves an already connected stream socket (an accepted TCP socket, a
 * socketpair in tests) as if the listener had accepted it, over-limit 503
 * included. The server takes fd in every case and closes it on failure.
 * Returns 0, or -1 when out of memory (logged). */
int http_server_adopt(struct http_server *srv, int fd,
                      const struct sockaddr *peer, socklen_t peer_len);

/* Addresses one server listens on, at most; config.c allows as many. */
#define HTTP_MAX_LISTENERS 4

/* Returns the port actually bound (useful after listening on port 0). */
int http_server_port(const struct http_server *srv);

/* Writes the addresses srv listens on, as bound (the port the kernel
 * picked for port 0), to out (outsize bytes, NUL-terminated): the form of
 * the listen setting, "HOST:PORT" or "[IPV6]:PORT", in the order they
 * were added and separated by commas. Returns 0, or -1 when srv has no
 * listener, a getsockname fails or out is too small. */
int http_server_addresses(const struct http_server *srv, char *out, size_t outsize);

/* Closes the listeners, so that a new tallyd can bind their addresses at
 * once. Lets each connection finish the request it is in and responds to
 * it with "Connection: close", then calls done(arg) once no connection is
 * left (possibly before returning). */
void http_server_drain(struct http_server *srv, void (*done)(void *),
                       void *arg);

/* Closes every connection at once and frees the server. Pending requests
 * must have been answered. */
void http_server_free(struct http_server *srv);

const struct http_server_stats *http_server_stats(const struct http_server *srv);

/* Returns the first header named name (ASCII case-insensitive), or NULL. */
const struct http_header *http_request_header(const struct http_request *req,
                                              const char *name);

/* Tells whether the Content-Type header h names the media type type
 * ("application/json"), case-insensitively, with or without parameters
 * such as "; charset=utf-8". */
bool http_media_type_is(const struct http_header *h, const char *type);

/*
 * Answers req: status line, Date, Content-Length, Connection when needed,
 * content_type (NULL for none), the extra headers, then the body (omitted
 * for HEAD, with Content-Length kept). The bytes are copied; nothing is
 * retained from the caller. After this call req is invalid. The response
 * usually leaves before this returns (one send(2) on a keep-alive
 * connection), so whatever must happen before the client sees the response
 * happens before the call.
 */
void http_respond(struct http_request *req, int status,
                  const char *content_type, const struct http_header *extra,
                  size_t n_extra, const void *body, size_t body_len);

/* Bytes of a prepared response after its status line and Date line. */
#define HTTP_PREPARED_MAX 768

/*
 * A response that is sent unchanged many times, such as the pixel's GIF,
 * rendered once apart from the Date line. The parts given to http_prepare
 * must stay valid as long as the prepared response is used (static data),
 * because a connection that needs a Connection header gets the response
 * written from them.
 */
struct http_prepared {
    int status;
    const char *content_type;
    const struct http_header *extra;
    size_t n_extra;
    const void *body;
    size_t body_len;
    size_t len;      /* bytes of rest */
    size_t head_len; /* bytes of rest without the body: what HEAD gets */
    char rest[HTTP_PREPARED_MAX];
};

/* Fills p with the response http_respond would send for these parts.
 * Returns 0, or -1 when the status is not 100 to 999 or the rendered
 * headers and body exceed HTTP_PREPARED_MAX. */
int http_prepare(struct http_prepared *p, int status, const char *content_type,
                 const struct http_header *extra, size_t n_extra, const void *body,
                 size_t body_len);

/* Sends the response p to req, as http_respond would send p's parts. */
void http_respond_prepared(struct http_request *req, const struct http_prepared *p);

#endif
