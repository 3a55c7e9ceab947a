/*
 * evhttp_gif.c - the baseline: libevent's evhttp answering every request
 * with the pixel GIF, single-threaded, on 127.0.0.1. Prints the bound port
 * on standard output and exits after SERVER_LIFETIME_S.
 *
 * Limits and timeouts are set to tally's defaults where evhttp has them,
 * so both servers do comparable work.
 */
#include "gif.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static struct evbuffer *reply_body;

static void answer_pixel(struct evhttp_request *req, void *arg)
{
    struct evkeyvalq *headers = evhttp_request_get_output_headers(req);

    (void)arg;
    evhttp_add_header(headers, "Content-Type", "image/gif");
    evhttp_add_header(headers, "Cache-Control", "no-store, max-age=0");
    /* The body is a reference to static memory; evhttp_send_reply empties
     * reply_body, which stays ours for the next request. */
    evbuffer_add_reference(reply_body, pixel_gif, sizeof(pixel_gif), NULL, NULL);
    evhttp_send_reply(req, 200, "OK", reply_body);
}

int main(void)
{
    struct event_base *base = NULL;
    struct evhttp *http = NULL;
    struct evhttp_bound_socket *sock = NULL;
    struct timeval lifetime = {SERVER_LIFETIME_S, 0};

    signal(SIGPIPE, SIG_IGN);
    base = event_base_new();
    http = base ? evhttp_new(base) : NULL;
    reply_body = evbuffer_new();
    if (http == NULL || reply_body == NULL)
        return 1;

    evhttp_set_max_headers_size(http, 16384);
    evhttp_set_max_body_size(http, 65536);
    evhttp_set_timeout(http, 60);
    evhttp_set_gencb(http, answer_pixel, NULL);
    sock = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    if (sock == NULL)
        return 1;

    {
        struct sockaddr_in sin;
        socklen_t len = sizeof(sin);
        getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&sin, &len);
        printf("%d\n", ntohs(sin.sin_port));
        fflush(stdout);
    }

    event_base_loopexit(base, &lifetime);
    event_base_dispatch(base);
    evhttp_free(http);
    evbuffer_free(reply_body);
    event_base_free(base);
    return 0;
}
