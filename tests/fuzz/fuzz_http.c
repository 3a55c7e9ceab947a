/*
 * fuzz_http.c - libFuzzer target for server/http.c: the input is the byte
 * stream a client sends on one connection.
 *
 * The server runs on a private event loop and gets the server end of a
 * socketpair. The first input byte picks how the rest is cut into writes
 * (so requests split at every point are parsed) and whether the client
 * shuts down its side at the end. The handler answers requests at once,
 * except paths starting with "/a", which are answered from the loop a turn
 * later, so a connection may close while a request is pending. Limits are
 * small so that the 413, 414 and 431 paths are reached.
 */
#include "http.h"
#include "log.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct event_base *base;
static int pending; /* requests whose answer is still scheduled */

static void answer(struct http_request *req)
{
    static const struct http_header extra[] = {
        {"Cache-Control", 13, "no-store", 8},
    };
    static const char body[] = "ok\n";

    http_respond(req, 200, "text/plain", extra, 1, body, sizeof(body) - 1);
}

static void on_later(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    answer(arg);
    pending--;
}

static void handler(struct http_request *req, void *arg)
{
    struct timeval now = {0, 0};

    (void)arg;
    /* Touch everything the handler may read, so ASan checks it. */
    for (size_t i = 0; i < req->n_headers; i++) {
        volatile char sink = 0;
        if (req->headers[i].name_len > 0)
            sink ^= req->headers[i].name[req->headers[i].name_len - 1];
        if (req->headers[i].value_len > 0)
            sink ^= req->headers[i].value[req->headers[i].value_len - 1];
        (void)sink;
    }
    if (req->body_len > 0) {
        volatile char last = req->body[req->body_len - 1];
        (void)last;
    }
    (void)http_request_header(req, "Host");

    if (req->path_len >= 2 && memcmp(req->path, "/a", 2) == 0 &&
        event_base_once(base, -1, EV_TIMEOUT, on_later, req, &now) == 0) {
        pending++;
        return;
    }
    answer(req);
}

static void drain_client(int fd)
{
    char buf[4096];

    while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
        ;
}

static void run_loop(int client, int turns)
{
    for (int i = 0; i < turns; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        if (client >= 0)
            drain_client(client);
    }
}

static void send_all(int client, const uint8_t *data, size_t size)
{
    size_t sent = 0;

    for (int tries = 0; sent < size && tries < 10000; tries++) {
        ssize_t n = send(client, data + sent, size - sent,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0)
            sent += (size_t)n;
        else if (n < 0 && errno != EAGAIN && errno != EINTR)
            return;
        run_loop(client, 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_limits limits;
    struct http_server *srv = NULL;
    int pair[2] = {-1, -1};
    size_t piece;
    bool half_close;

    if (size < 1)
        return 0;
    if (base == NULL) {
        signal(SIGPIPE, SIG_IGN);
        log_min_level = LOG_LEVEL_ERROR + 1;
        base = event_base_new();
    }

    http_limits_default(&limits);
    limits.max_url_bytes = 256;
    limits.max_header_bytes = 512;
    limits.max_headers = 8;
    limits.max_body_bytes = 1024;
    srv = http_server_new(base, &limits, handler, NULL);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0)
        abort();
    fcntl(pair[1], F_SETFL, O_NONBLOCK);
    http_server_adopt(srv, pair[0], NULL, 0);

    /* Low 6 bits: write size (0 = everything at once); bit 6: shut down
     * the client's side after the last write. */
    piece = data[0] & 0x3f;
    half_close = (data[0] & 0x40) != 0;
    data++;
    size--;
    if (piece == 0)
        piece = size > 0 ? size : 1;

    for (size_t off = 0; off < size; off += piece) {
        size_t n = size - off < piece ? size - off : piece;
        send_all(pair[1], data + off, n);
        run_loop(pair[1], 2);
    }
    if (half_close)
        shutdown(pair[1], SHUT_WR);
    run_loop(pair[1], 8);

    /* The client goes away; answers still scheduled must find a closed
     * connection and free it quietly. */
    close(pair[1]);
    for (int i = 0; i < 100 && pending > 0; i++)
        run_loop(-1, 1);
    run_loop(-1, 2);

    http_server_free(srv);
    return 0;
}
