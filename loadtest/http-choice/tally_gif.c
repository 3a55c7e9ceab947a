/*
 * tally_gif.c - server/http.c answering every request with the pixel GIF,
 * single-threaded, on 127.0.0.1 with tally's default limits. Prints the
 * bound port on standard output and exits after SERVER_LIFETIME_S.
 */
#include "gif.h"
#include "http.h"
#include "log.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>

static void answer_pixel(struct http_request *req, void *arg)
{
    static const struct http_header extra[] = {
        {"Cache-Control", 13, "no-store, max-age=0", 19},
    };

    (void)arg;
    http_respond(req, 200, "image/gif", extra, 1, pixel_gif, sizeof(pixel_gif));
}

int main(void)
{
    struct event_base *base = NULL;
    struct http_server *srv = NULL;
    struct http_limits limits;
    struct timeval lifetime = {SERVER_LIFETIME_S, 0};

    signal(SIGPIPE, SIG_IGN);
    log_min_level = LOG_LEVEL_WARN;
    base = event_base_new();
    if (base == NULL)
        return 1;
    http_limits_default(&limits);
    srv = http_server_new(base, &limits, answer_pixel, NULL);
    if (srv == NULL || http_server_listen(srv, "127.0.0.1:0", false) != 0)
        return 1;
    printf("%d\n", http_server_port(srv));
    fflush(stdout);

    event_base_loopexit(base, &lifetime);
    event_base_dispatch(base);
    http_server_free(srv);
    event_base_free(base);
    return 0;
}
