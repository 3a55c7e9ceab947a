/*
 * test_http.c - server/http.c against a raw-socket client on loopback.
 *
 * Each test starts a server on 127.0.0.1 port 0 with small limits and
 * timeouts (see test_limits) and drives its event loop from the test thread
 * between client steps, so no locking is needed. The handler echoes what it
 * parsed ("method=GET path=/p query=q body=5") and answers "/async" from a
 * timer 50 ms later and "/hold" only when the test says so.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "http.h"
#include "log.h"

#include <errno.h>
#include <event2/event.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HELD_MAX 8
/* Body of "/big"; BIG_REQUESTS of them exceed what the kernel buffers for
 * a client with a small receive window plus the 256 KiB output threshold.
 * Keep-alive responses go to the socket at once, so the server's send
 * buffer counts too: Linux grows it up to tcp_wmem's maximum, 4 MiB by
 * default, and 80 bodies of 64 KiB are 5 MiB. */
#define BIG_BODY_BYTES (64 * 1024)
#define BIG_REQUESTS 80
/* Body of "/m<anything>", which starts "path=/m<anything> ". */
#define MEDIUM_BODY_BYTES 800

struct fixture {
    struct event_base *base;
    struct http_server *srv;
    int port;
    struct http_request *held[HELD_MAX];
    size_t n_held;
    int drain_calls;
};

struct client {
    int fd;
    char buf[1 << 17];
    size_t len;
    bool closed;
};

struct response {
    int status;
    char head[8192];
    char body[8192];
    size_t body_len;
};

struct async_reply {
    struct event *timer;
    struct http_request *req;
};

static struct fixture *fx;

/* ------------------------------------------------------------------ */
/* Server side                                                         */
/* ------------------------------------------------------------------ */

static void respond_echo(struct http_request *req)
{
    static const struct http_header extra[] = {
        {"X-Test", 6, "yes", 3},
    };
    char body[512];
    int n = snprintf(body, sizeof(body), "method=%s path=%.*s query=%.*s body=%zu\n",
                     http_method_str((enum http_method)req->method),
                     (int)req->path_len, req->path,
                     req->query ? (int)req->query_len : 1,
                     req->query ? req->query : "-", req->body_len);

    http_respond(req, 200, "text/plain", extra, 1, body, (size_t)n);
}

static void on_async_timer(evutil_socket_t fd, short what, void *arg)
{
    struct async_reply *reply = arg;

    (void)fd;
    (void)what;
    respond_echo(reply->req);
    event_free(reply->timer);
    free(reply);
}

static bool path_is(const struct http_request *req, const char *path)
{
    return req->path_len == strlen(path) &&
           memcmp(req->path, path, req->path_len) == 0;
}

/* The parts of the response to /prepared and /unprepared. */
static const struct http_header fixed_extra[] = {
    {"Cache-Control", 13, "no-store", 8},
    {"X-Fixed", 7, "1", 1},
};
static const char fixed_body[] = "GIF89a-like fixed body";

static void respond_fixed(struct http_request *req, bool prepared)
{
    static struct http_prepared fixed;

    if (!prepared) {
        http_respond(req, 200, "image/gif", fixed_extra, 2, fixed_body,
                     sizeof(fixed_body) - 1);
        return;
    }
    if (fixed.len == 0)
        assert_int_equal(http_prepare(&fixed, 200, "image/gif", fixed_extra, 2, fixed_body,
                                      sizeof(fixed_body) - 1),
                         0);
    http_respond_prepared(req, &fixed);
}

static void test_handler(struct http_request *req, void *arg)
{
    struct fixture *f = arg;

    if (path_is(req, "/prepared") || path_is(req, "/unprepared")) {
        respond_fixed(req, path_is(req, "/prepared"));
        return;
    }

    if (path_is(req, "/async")) {
        struct async_reply *reply = calloc(1, sizeof(*reply));
        struct timeval delay = {0, 50 * 1000};
        assert_non_null(reply);
        reply->req = req;
        reply->timer = evtimer_new(f->base, on_async_timer, reply);
        evtimer_add(reply->timer, &delay);
        return;
    }
    if (path_is(req, "/big")) {
        static char big[BIG_BODY_BYTES];
        memset(big, 'b', sizeof(big));
        http_respond(req, 200, "application/octet-stream", NULL, 0, big,
                     sizeof(big));
        return;
    }
    if (req->path_len > 2 && memcmp(req->path, "/m", 2) == 0) {
        /* A response of about 900 bytes to a request of about 20. */
        char body[MEDIUM_BODY_BYTES];
        int n = snprintf(body, sizeof(body), "path=%.*s ", (int)req->path_len, req->path);
        memset(body + n, '.', sizeof(body) - (size_t)n);
        http_respond(req, 200, "text/plain", NULL, 0, body, sizeof(body));
        return;
    }
    if (path_is(req, "/hold")) {
        assert_true(f->n_held < HELD_MAX);
        f->held[f->n_held++] = req;
        return;
    }
    respond_echo(req);
}

static void test_limits(struct http_limits *limits)
{
    http_limits_default(limits);
    limits->max_url_bytes = 1024;
    limits->max_header_bytes = 1024;
    limits->max_headers = 8;
    limits->max_body_bytes = 4096;
    limits->header_timeout_ms = 300;
    limits->body_timeout_ms = 300;
    limits->idle_timeout_ms = 300;
    limits->write_timeout_ms = 1000;
    limits->max_connections = 4;
}

static int setup(void **state)
{
    struct http_limits limits;

    signal(SIGPIPE, SIG_IGN);
    log_min_level = LOG_LEVEL_WARN;
    fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    fx->base = event_base_new();
    assert_non_null(fx->base);
    test_limits(&limits);
    fx->srv = http_server_new(fx->base, &limits, test_handler, fx);
    assert_non_null(fx->srv);
    assert_int_equal(http_server_listen(fx->srv, "127.0.0.1:0", false), 0);
    fx->port = http_server_port(fx->srv);
    assert_true(fx->port > 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    http_server_free(fx->srv);
    event_base_free(fx->base);
    free(fx);
    fx = NULL;
    return 0;
}

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs the server's loop for about ms milliseconds. */
static void pump(int ms)
{
    long end = now_ms() + ms;

    do {
        event_base_loop(fx->base, EVLOOP_NONBLOCK);
        usleep(1000);
    } while (now_ms() < end);
}

/* ------------------------------------------------------------------ */
/* Client side                                                         */
/* ------------------------------------------------------------------ */

static struct client *client_connect(void)
{
    struct client *c = calloc(1, sizeof(*c));
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_port = htons((uint16_t)fx->port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };

    assert_non_null(c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    pump(5);
    return c;
}

/* Connects with a 4 KiB receive buffer, so that responses the client does
 * not read pile up in the server's output buffer soon. */
static struct client *client_connect_small_window(void)
{
    struct client *c = calloc(1, sizeof(*c));
    int rcvbuf = 4096;
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_port = htons((uint16_t)fx->port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };

    assert_non_null(c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    assert_int_equal(connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    pump(5);
    return c;
}

static void client_free(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

static void client_send(struct client *c, const char *data, size_t len)
{
    size_t sent = 0;

    while (sent < len) {
        ssize_t n = send(c->fd, data + sent, len - sent,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN)
            fail_msg("send failed: %s", strerror(errno));
        if (n > 0)
            sent += (size_t)n;
        event_base_loop(fx->base, EVLOOP_NONBLOCK);
    }
}

static void client_send_str(struct client *c, const char *data)
{
    client_send(c, data, strlen(data));
}

/* Reads whatever has arrived; sets closed on end of stream or reset. */
static void client_recv(struct client *c)
{
    while (!c->closed && c->len < sizeof(c->buf)) {
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len,
                         MSG_DONTWAIT);
        if (n > 0) {
            c->len += (size_t)n;
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            c->closed = true;
        return;
    }
}

static size_t content_length_of(const char *head)
{
    const char *cl = strcasestr(head, "\r\nContent-Length: ");

    return cl ? (size_t)strtoul(cl + 18, NULL, 10) : 0;
}

/* Takes one complete response off the client's buffer. A response to HEAD
 * has no body, whatever its Content-Length. Returns false while the
 * buffer holds no whole response yet. */
static bool take_response(struct client *c, struct response *r, bool head)
{
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    size_t head_len;
    size_t body_len;

    if (end == NULL)
        return false;
    head_len = (size_t)(end - c->buf) + 4;
    assert_true(head_len < sizeof(r->head));
    memcpy(r->head, c->buf, head_len);
    r->head[head_len] = '\0';
    body_len = head ? 0 : content_length_of(r->head);
    if (c->len < head_len + body_len)
        return false;

    /* Bodies larger than r->body are checked by length only. */
    memcpy(r->body, c->buf + head_len,
           body_len < sizeof(r->body) ? body_len : sizeof(r->body) - 1);
    r->body[body_len < sizeof(r->body) ? body_len : sizeof(r->body) - 1] = '\0';
    r->body_len = body_len;
    r->status = atoi(r->head + 9);
    memmove(c->buf, c->buf + head_len + body_len, c->len - head_len - body_len);
    c->len -= head_len + body_len;
    return true;
}

static bool client_response(struct client *c, struct response *r, bool head,
                            int timeout_ms)
{
    long end = now_ms() + timeout_ms;

    memset(r, 0, sizeof(*r));
    while (now_ms() < end) {
        event_base_loop(fx->base, EVLOOP_NONBLOCK);
        client_recv(c);
        if (take_response(c, r, head))
            return true;
        if (c->closed)
            return false;
        usleep(1000);
    }
    return false;
}

/* Waits for the server to close; true when it did within timeout_ms. */
static bool client_wait_closed(struct client *c, int timeout_ms)
{
    long end = now_ms() + timeout_ms;

    while (!c->closed && now_ms() < end) {
        event_base_loop(fx->base, EVLOOP_NONBLOCK);
        client_recv(c);
        usleep(1000);
    }
    return c->closed;
}

static bool has_header(const struct response *r, const char *line)
{
    char needle[256];

    snprintf(needle, sizeof(needle), "\r\n%s\r\n", line);
    return strcasestr(r->head, needle) != NULL;
}

/* Sends request on a fresh connection and expects status, Connection:
 * close and then the close itself. */
static void expect_rejection(const char *request, size_t len, int status)
{
    struct client *c = client_connect();
    struct response r;

    client_send(c, request, len);
    assert_true(client_response(c, &r, false, 2000));
    assert_int_equal(r.status, status);
    assert_true(has_header(&r, "Connection: close"));
    assert_true(has_header(&r, "Content-Type: text/plain"));
    assert_true(client_wait_closed(c, 3000));
    client_free(c);
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

static void http_get(void **state)
{
    struct client *c = client_connect();
    struct response r;

    (void)state;
    client_send_str(c, "GET /pixel?t=abc HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(client_response(c, &r, false, 1000));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "method=GET path=/pixel query=t=abc body=0\n");
    assert_non_null(strstr(r.head, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(r.head, "\r\nDate: "));
    assert_non_null(strstr(r.head, " GMT\r\n"));
    assert_true(has_header(&r, "Content-Type: text/plain"));
    assert_true(has_header(&r, "X-Test: yes"));
    assert_null(strcasestr(r.head, "Connection:"));
    assert_int_equal(http_server_stats(fx->srv)->requests, 1);
    client_free(c);
}

/* Removes the Date line, the only part that may differ between two
 * responses a second apart. */
static void drop_date(char *head)
{
    char *date = strstr(head, "\r\nDate: ");
    char *end = date != NULL ? strstr(date + 2, "\r\n") : NULL;

    assert_non_null(end);
    memmove(date, end, strlen(end) + 1);
}

/* A prepared response goes out byte for byte as http_respond would send
 * its parts: for GET and HEAD, and with the Connection header that
 * HTTP/1.0 keep-alive and a closing connection need. */
static void http_prepared_same_bytes(void **state)
{
    static const struct {
        const char *method;
        const char *rest; /* after the target */
    } forms[] = {
        {"GET", " HTTP/1.1\r\nHost: x\r\n\r\n"},
        {"HEAD", " HTTP/1.1\r\nHost: x\r\n\r\n"},
        {"GET", " HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"},
        {"GET", " HTTP/1.1\r\nConnection: close\r\n\r\n"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        struct response got[2];
        const char *paths[2] = {"/prepared", "/unprepared"};
        bool head = strcmp(forms[i].method, "HEAD") == 0;

        for (int k = 0; k < 2; k++) {
            struct client *c = client_connect();
            char request[256];

            snprintf(request, sizeof(request), "%s %s%s", forms[i].method, paths[k],
                     forms[i].rest);
            client_send_str(c, request);
            assert_true(client_response(c, &got[k], head, 1000));
            drop_date(got[k].head);
            client_free(c);
        }
        assert_int_equal(got[0].status, 200);
        assert_string_equal(got[0].head, got[1].head);
        assert_int_equal(got[0].body_len, got[1].body_len);
        assert_memory_equal(got[0].body, got[1].body, got[0].body_len);
    }
}

static void http_prepare_rejects_oversize(void **state)
{
    static char body[HTTP_PREPARED_MAX];
    struct http_prepared p;

    (void)state;
    assert_int_equal(http_prepare(&p, 200, "text/plain", NULL, 0, body, sizeof(body)), -1);
    assert_int_equal(http_prepare(&p, 1000, "text/plain", NULL, 0, "x", 1), -1);
    assert_int_equal(http_prepare(&p, 204, NULL, NULL, 0, NULL, 0), 0);
}

static void http_head_no_body(void **state)
{
    struct client *c = client_connect();
    struct response r;

    (void)state;
    client_send_str(c, "HEAD /h HTTP/1.1\r\n\r\n");
    assert_true(client_response(c, &r, true, 1000));
    assert_int_equal(r.status, 200);
    assert_int_equal(content_length_of(r.head),
                     strlen("method=HEAD path=/h query=- body=0\n"));

    /* No body bytes: the next response starts right after the head. */
    client_send_str(c, "GET /next HTTP/1.1\r\n\r\n");
    assert_true(client_response(c, &r, false, 1000));
    assert_string_equal(r.body, "method=GET path=/next query=- body=0\n");
    client_free(c);
}

static void http_keepalive_two_requests(void **state)
{
    struct client *c = client_connect();
    struct response r;

    (void)state;
    client_send_str(c, "GET /one HTTP/1.1\r\n\r\n");
    assert_true(client_response(c, &r, false, 1000));
    assert_string_equal(r.body, "method=GET path=/one query=- body=0\n");
    client_send_str(c, "GET /two?x HTTP/1.1\r\n\r\n");
    assert_true(client_response(c, &r, false, 1000));
    assert_string_equal(r.body, "method=GET path=/two query=x body=0\n");
    assert_int_equal(http_server_stats(fx->srv)->accepted, 1);
    client_free(c);
}

static void http_http10_keepalive(void **state)
{
    struct client *c = client_connect();
    struct response r;

    (void)state;
    client_send_str(c, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_true(client_response(c, &r, false, 1000));
    assert_true(has_header(&r, "Connection: keep-alive"));
    client_send_str(c, "GET /b HTTP/1.0\r\n\r\n");
    assert_true(client_response(c, &r, false, 1000));
    assert_true(has_header(&r, "Connection: close"));
    assert_true(client_wait_closed(c, 3000));
    client_free(c);
}

static void http_pipelined_in_order(void **state)
{
    struct client *c = client_connect();
    struct response r;

    (void)state;
    client_send_str(c, "GET /1 HTTP/1.1\r\n\r\n"
                       "GET /async HTTP/1.1\r\n\r\n"
                       "POST /3 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                       "HEAD /4 HTTP/1.1\r\n\r\n"
                       "GET /5 HTTP/1.1\r\n\r\n");
    assert_true(client_response(c, &r, false, 1000));
    assert_string_equal(r.body, "method=GET path=/1 query=- body=0\n");
    assert_true(client_response(c, &r, false, 1000));
    assert_string_equal(r.body, "method=GET path=/async query=- body=0\n");
    assert_true(client_response(c, &r, false, 1000));
    assert_string_equal(r.body, "method=POST path=/3 query=- body=3\n");
    assert_true(client_response(c, &r, true, 1000));
    assert_int_equal(r.status, 200);
    assert_true(client_response(c, &r, false, 1000));
    assert_string_equal(r.body, "method=GET path=/5 query=- body=0\n");
    client_free(c);
}

/* More pipelined input than the server buffers (64 KiB) arrives while a
 * request is held. The server stops reading at its limit and must read the
 * rest once the handler responds to the held request. */
static void http_input_limit_resumes(void **state)
{
    enum { QUEUED = 4000 }; /* requests of 20 to 23 bytes, about 89 KiB */
    static char requests[QUEUED * 32];
    struct client *c = client_connect();
    struct response r;
    char expected[64];
    size_t n = 0;

    (void)state;
    client_send_str(c, "GET /hold HTTP/1.1\r\n\r\n");
    pump(20);
    assert_int_equal(fx->n_held, 1);

    for (int i = 0; i < QUEUED; i++)
        n += (size_t)snprintf(requests + n, sizeof(requests) - n,
                              "GET /q%d HTTP/1.1\r\n\r\n", i);
    assert_true(n > 64 * 1024);
    client_send(c, requests, n);
    pump(50);
    assert_int_equal(http_server_stats(fx->srv)->requests, 1);

    respond_echo(fx->held[0]);
    fx->n_held = 0;
    assert_true(client_response(c, &r, false, 1000));
    assert_string_equal(r.body, "method=GET path=/hold query=- body=0\n");
    for (int i = 0; i < QUEUED; i++) {
        snprintf(expected, sizeof(expected), "method=GET path=/q%d query=- body=0\n", i);
        if (!client_response(c, &r, false, 2000))
            fail_msg("no response to request %d of %d", i, QUEUED);
        assert_string_equal(r.body, expected);
    }
    client_free(c);
}

static void http_output_backpressure(void **state)
{
    struct client *c = client_connect_small_window();
    struct response r;
    char requests[2048];
    size_t n = 0;

    (void)state;
    for (int i = 0; i < BIG_REQUESTS; i++)
        n += (size_t)snprintf(requests + n, sizeof(requests) - n,
                              "GET /big HTTP/1.1\r\n\r\n");
    n += (size_t)snprintf(requests + n, sizeof(requests) - n,
                          "GET /last HTTP/1.1\r\n\r\n");
    client_send(c, requests, n);
    pump(100);

    /* The client reads nothing, so the server stops handling requests once
     * its output is full. */
    assert_true(http_server_stats(fx->srv)->requests < BIG_REQUESTS);

    for (int i = 0; i < BIG_REQUESTS; i++) {
        assert_true(client_response(c, &r, false, 2000));
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body_len, BIG_BODY_BYTES);
    }
    assert_true(client_response(c, &r, false, 2000));
    assert_string_equal(r.body, "method=GET path=/last query=- body=0\n");
    client_free(c);
}

/* Responses of less than 1 KiB to pipelined requests that the client does
 * not read yet. The first responses leave straight from the stack. Once
 * the socket is full, one leaves in part, so the rest of it and every
 * later response must queue behind it, in order. 6,000 responses are
 * about 5 MiB, more than the kernel buffers for the client. */
static void http_medium_responses_fill_socket(void **state)
{
    enum { QUEUED = 6000 };
    static char requests[QUEUED * 32];
    struct client *c = client_connect_small_window();
    struct response r;
    char expected[64];
    size_t n = 0;

    (void)state;
    for (int i = 0; i < QUEUED; i++)
        n += (size_t)snprintf(requests + n, sizeof(requests) - n,
                              "GET /m%d HTTP/1.1\r\n\r\n", i);
    client_send(c, requests, n);
    pump(100);

    for (int i = 0; i < QUEUED; i++) {
        int len = snprintf(expected, sizeof(expected), "path=/m%d ", i);

        if (!client_response(c, &r, false, 2000))
            fail_msg("no response to request %d of %d", i, QUEUED);
        assert_int_equal(r.body_len, MEDIUM_BODY_BYTES);
        assert_memory_equal(r.body, expected, (size_t)len);
    }
    assert_int_equal(http_server_stats(fx->srv)->requests, QUEUED);
    client_free(c);
}

static void http_post_content_length(void **state)
{
    struct client *c = client_connect();
    struct response r;

    (void)state;
    client_send_str(c, "POST /beacon?v=1 HTTP/1.1\r\nContent-Type: text/plain\r\n"
                       "Content-Length: 5\r\n\r\nhello");
    assert_true(client_response(c, &r, false, 1000));
    assert_string_equal(r.body, "method=POST path=/beacon query=v=1 body=5\n");
    client_free(c);
}

static void http_post_chunked(void **state)
{
    struct client *c = client_connect();
    struct response r;

    (void)state;
    client_send_str(c, "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    assert_true(client_response(c, &r, false, 1000));
    assert_string_equal(r.body, "method=POST path=/b query=- body=11\n");
    client_free(c);
}

static void http_expect_continue(void **state)
{
    struct client *c = client_connect();
    struct response r;

    (void)state;
    client_send_str(c, "POST /e HTTP/1.1\r\nExpect: 100-continue\r\n"
                       "Content-Length: 4\r\n\r\n");
    assert_true(client_response(c, &r, false, 1000));
    assert_int_equal(r.status, 100);
    client_send_str(c, "abcd");
    assert_true(client_response(c, &r, false, 1000));
    assert_string_equal(r.body, "method=POST path=/e query=- body=4\n");
    client_free(c);
}

static void http_expect_other_417(void **state)
{
    static const char req[] = "POST /e HTTP/1.1\r\nExpect: magic\r\n"
                              "Content-Length: 4\r\n\r\nabcd";

    (void)state;
    expect_rejection(req, sizeof(req) - 1, 417);
}

static void http_target_forms(void **state)
{
    struct client *c = client_connect();
    struct response r;

    (void)state;
    client_send_str(c, "GET http://example.test/abs?q=1 HTTP/1.1\r\n\r\n");
    assert_true(client_response(c, &r, false, 1000));
    assert_string_equal(r.body, "method=GET path=/abs query=q=1 body=0\n");
    client_send_str(c, "GET /c?a=1&b=?2 HTTP/1.1\r\n\r\n");
    assert_true(client_response(c, &r, false, 1000));
    assert_string_equal(r.body, "method=GET path=/c query=a=1&b=?2 body=0\n");
    client_send_str(c, "GET /f?x=%41#frag HTTP/1.1\r\n\r\n");
    assert_true(client_response(c, &r, false, 1000));
    assert_string_equal(r.body, "method=GET path=/f query=x=%41 body=0\n");
    client_free(c);
}

static void http_uri_too_long_414(void **state)
{
    char req[4096];
    int n = snprintf(req, sizeof(req), "GET /%01500d HTTP/1.1\r\n\r\n", 7);

    (void)state;
    expect_rejection(req, (size_t)n, 414);
    assert_int_equal(http_server_stats(fx->srv)->uri_too_long, 1);
}

static void http_too_many_headers_431(void **state)
{
    char req[4096];
    size_t n = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\n");

    (void)state;
    for (int i = 0; i < 10; i++)
        n += (size_t)snprintf(req + n, sizeof(req) - n, "X-H%d: v\r\n", i);
    n += (size_t)snprintf(req + n, sizeof(req) - n, "\r\n");
    expect_rejection(req, n, 431);
    assert_int_equal(http_server_stats(fx->srv)->headers_too_large, 1);
}

static void http_headers_too_large_431(void **state)
{
    char req[4096];
    int n = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nCookie: %01200d\r\n\r\n", 1);

    (void)state;
    expect_rejection(req, (size_t)n, 431);
    assert_int_equal(http_server_stats(fx->srv)->headers_too_large, 1);
}

static void http_body_length_413(void **state)
{
    static const char req[] = "POST / HTTP/1.1\r\nContent-Length: 10000\r\n\r\n";

    (void)state;
    expect_rejection(req, sizeof(req) - 1, 413);
    assert_int_equal(http_server_stats(fx->srv)->body_too_large, 1);
}

static void http_body_chunked_413(void **state)
{
    char req[8192];
    size_t n = (size_t)snprintf(req, sizeof(req),
                                "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");

    (void)state;
    for (int i = 0; i < 5; i++) {
        n += (size_t)snprintf(req + n, sizeof(req) - n, "3e8\r\n");
        memset(req + n, 'a', 1000);
        n += 1000;
        n += (size_t)snprintf(req + n, sizeof(req) - n, "\r\n");
    }
    n += (size_t)snprintf(req + n, sizeof(req) - n, "0\r\n\r\n");
    expect_rejection(req, n, 413);
    assert_int_equal(http_server_stats(fx->srv)->body_too_large, 1);
}

static void http_length_and_chunked_400(void **state)
{
    static const char req[] = "POST / HTTP/1.1\r\nContent-Length: 5\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n";

    (void)state;
    expect_rejection(req, sizeof(req) - 1, 400);
    assert_int_equal(http_server_stats(fx->srv)->bad_request, 1);
}

static void http_duplicate_length_400(void **state)
{
    static const char req[] = "POST / HTTP/1.1\r\nContent-Length: 5\r\n"
                              "Content-Length: 5\r\n\r\nhello";

    (void)state;
    expect_rejection(req, sizeof(req) - 1, 400);
}

static void http_space_in_name_400(void **state)
{
    static const char req[] = "POST / HTTP/1.1\r\nContent-Length : 5\r\n\r\nhello";

    (void)state;
    expect_rejection(req, sizeof(req) - 1, 400);
}

static void http_garbage_400(void **state)
{
    static const char req[] = "\x01\x02 hello there\r\n\r\n";

    (void)state;
    expect_rejection(req, sizeof(req) - 1, 400);
    assert_int_equal(http_server_stats(fx->srv)->bad_request, 1);
}

static void http_version_505(void **state)
{
    static const char req[] = "GET / HTTP/2.0\r\nHost: x\r\n\r\n";

    (void)state;
    expect_rejection(req, sizeof(req) - 1, 505);
}

static void http_header_timeout_trickle(void **state)
{
    struct client *c = client_connect();
    struct response r;
    long start = now_ms();
    bool answered = false;

    (void)state;
    client_send_str(c, "GET / HTTP/1.1\r\n");
    /* One byte every 50 ms; each would reset a per-read timeout. */
    for (int i = 0; i < 40 && !answered; i++) {
        client_send_str(c, "X");
        answered = client_response(c, &r, false, 50);
    }
    assert_true(answered);
    assert_int_equal(r.status, 408);
    assert_true(now_ms() - start < 800);
    assert_true(client_wait_closed(c, 3000));
    assert_int_equal(http_server_stats(fx->srv)->timed_out, 1);
    client_free(c);
}

static void http_body_timeout_408(void **state)
{
    struct client *c = client_connect();
    struct response r;

    (void)state;
    client_send_str(c, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
    assert_true(client_response(c, &r, false, 1500));
    assert_int_equal(r.status, 408);
    client_free(c);
}

static void http_idle_close(void **state)
{
    struct client *c = client_connect();
    struct client *silent = client_connect();
    struct response r;
    long start;

    (void)state;
    client_send_str(c, "GET / HTTP/1.1\r\n\r\n");
    assert_true(client_response(c, &r, false, 1000));
    start = now_ms();
    assert_true(client_wait_closed(c, 2000));
    assert_true(now_ms() - start >= 250);
    assert_int_equal(c->len, 0);

    /* A connection that never sends a byte closes without an answer. */
    assert_true(client_wait_closed(silent, 2000));
    assert_int_equal(silent->len, 0);
    assert_int_equal(http_server_stats(fx->srv)->timed_out, 2);
    assert_int_equal(http_server_stats(fx->srv)->open_connections, 0);
    client_free(c);
    client_free(silent);
}

static void http_max_connections_503(void **state)
{
    struct client *clients[4];
    struct client *extra;
    struct response r;

    (void)state;
    for (int i = 0; i < 4; i++)
        clients[i] = client_connect();
    pump(20);
    assert_int_equal(http_server_stats(fx->srv)->open_connections, 4);

    extra = client_connect();
    assert_true(client_response(extra, &r, false, 1000));
    assert_int_equal(r.status, 503);
    assert_true(has_header(&r, "Connection: close"));
    assert_true(client_wait_closed(extra, 1000));
    assert_int_equal(http_server_stats(fx->srv)->rejected_over_limit, 1);

    for (int i = 0; i < 4; i++)
        client_free(clients[i]);
    client_free(extra);
}

static void http_async_response(void **state)
{
    struct client *c = client_connect();
    struct response r;
    long start = now_ms();

    (void)state;
    client_send_str(c, "GET /async?k=v HTTP/1.1\r\n\r\n");
    assert_true(client_response(c, &r, false, 1000));
    assert_true(now_ms() - start >= 45);
    assert_string_equal(r.body, "method=GET path=/async query=k=v body=0\n");
    client_free(c);
}

static void http_client_gone_before_answer(void **state)
{
    struct client *c = client_connect();

    (void)state;
    client_send_str(c, "POST /hold HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
    pump(20);
    assert_int_equal(fx->n_held, 1);

    /* A reset, not an orderly close, so the server drops the socket now. */
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER,
               &(struct linger){.l_onoff = 1, .l_linger = 0},
               sizeof(struct linger));
    client_free(c);
    pump(30);
    assert_int_equal(http_server_stats(fx->srv)->open_connections, 0);

    /* The request is still valid: its body can be read and answered. */
    assert_int_equal(fx->held[0]->body_len, 3);
    assert_memory_equal(fx->held[0]->body, "abc", 3);
    respond_echo(fx->held[0]);
    fx->n_held = 0;
    pump(5);
}

static void http_client_eof_still_answered(void **state)
{
    struct client *c = client_connect();
    struct response r;

    (void)state;
    client_send_str(c, "GET /hold HTTP/1.1\r\n\r\n");
    shutdown(c->fd, SHUT_WR);
    pump(20);
    assert_int_equal(fx->n_held, 1);
    respond_echo(fx->held[0]);
    fx->n_held = 0;
    assert_true(client_response(c, &r, false, 1000));
    assert_true(has_header(&r, "Connection: close"));
    assert_true(client_wait_closed(c, 1000));
    client_free(c);
}

static void on_drained(void *arg)
{
    struct fixture *f = arg;

    f->drain_calls++;
}

static void http_drain(void **state)
{
    struct client *idle = client_connect();
    struct client *busy = client_connect();
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_port = htons((uint16_t)fx->port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    struct response r;
    int late_fd;

    (void)state;
    client_send_str(idle, "GET / HTTP/1.1\r\n\r\n");
    assert_true(client_response(idle, &r, false, 1000));
    client_send_str(busy, "GET /hold HTTP/1.1\r\n\r\n");
    pump(20);
    assert_int_equal(fx->n_held, 1);

    http_server_drain(fx->srv, on_drained, fx);
    assert_true(client_wait_closed(idle, 200));
    assert_int_equal(idle->len, 0);
    pump(20);
    assert_int_equal(fx->drain_calls, 0);

    respond_echo(fx->held[0]);
    fx->n_held = 0;
    assert_true(client_response(busy, &r, false, 1000));
    assert_int_equal(r.status, 200);
    assert_true(has_header(&r, "Connection: close"));
    assert_true(client_wait_closed(busy, 1000));

    /* The server lingers until the client closes its side too. */
    close(busy->fd);
    busy->fd = -1;
    pump(20);
    assert_int_equal(fx->drain_calls, 1);

    /* The listener is closed, so that a new server can bind the address
     * at once: a new client is refused. */
    late_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(late_fd >= 0);
    assert_int_equal(connect(late_fd, (struct sockaddr *)&sin, sizeof(sin)), -1);
    assert_int_equal(errno, ECONNREFUSED);
    close(late_fd);

    client_free(idle);
    client_free(busy);
}

static void http_listen_addresses(void **state)
{
    struct http_server *srv = http_server_new(fx->base, &(struct http_limits){0},
                                              test_handler, fx);

    (void)state;
    assert_int_equal(http_server_listen(srv, "[::1]:0", false), 0);
    assert_true(http_server_port(srv) > 0);
    assert_int_equal(http_server_listen(srv, "localhost:0", true), 0);
    assert_int_equal(http_server_listen(srv, "127.0.0.1", false), -1);
    assert_int_equal(http_server_listen(srv, "127.0.0.1:99999", false), -1);
    assert_int_equal(http_server_listen(srv, "[::1:80", false), -1);
    /* Rejected without a DNS query: listening parses with AI_NUMERICHOST,
     * and "localhost" is the only name it maps itself. */
    assert_int_equal(http_server_listen(srv, "example.test:80", false), -1);
    http_server_free(srv);
}

#define HTTP_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        HTTP_TEST(http_get),
        HTTP_TEST(http_head_no_body),
        HTTP_TEST(http_prepared_same_bytes),
        HTTP_TEST(http_prepare_rejects_oversize),
        HTTP_TEST(http_keepalive_two_requests),
        HTTP_TEST(http_http10_keepalive),
        HTTP_TEST(http_pipelined_in_order),
        HTTP_TEST(http_input_limit_resumes),
        HTTP_TEST(http_output_backpressure),
        HTTP_TEST(http_medium_responses_fill_socket),
        HTTP_TEST(http_post_content_length),
        HTTP_TEST(http_post_chunked),
        HTTP_TEST(http_expect_continue),
        HTTP_TEST(http_expect_other_417),
        HTTP_TEST(http_target_forms),
        HTTP_TEST(http_uri_too_long_414),
        HTTP_TEST(http_too_many_headers_431),
        HTTP_TEST(http_headers_too_large_431),
        HTTP_TEST(http_body_length_413),
        HTTP_TEST(http_body_chunked_413),
        HTTP_TEST(http_length_and_chunked_400),
        HTTP_TEST(http_duplicate_length_400),
        HTTP_TEST(http_space_in_name_400),
        HTTP_TEST(http_garbage_400),
        HTTP_TEST(http_version_505),
        HTTP_TEST(http_header_timeout_trickle),
        HTTP_TEST(http_body_timeout_408),
        HTTP_TEST(http_idle_close),
        HTTP_TEST(http_max_connections_503),
        HTTP_TEST(http_async_response),
        HTTP_TEST(http_client_gone_before_answer),
        HTTP_TEST(http_client_eof_still_answered),
        HTTP_TEST(http_drain),
        HTTP_TEST(http_listen_addresses),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
