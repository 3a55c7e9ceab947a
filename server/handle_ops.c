/*
 * handle_ops.c - what operators poll: GET /metrics (Prometheus text format,
 * every worker's numbers added up) and GET /readyz.
 *
 * /readyz answers 200 only when every worker's store is connected to Redis,
 * because a load balancer should send tracking traffic only to a tallyd
 * whose events reach Redis. Neither needs a token: operators scrape them
 * from inside the network, and neither shows campaign data.
 */
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "log.h"
#include "metrics.h"
#include "store.h"

#define HDR(n, v) {n, sizeof(n) - 1, v, sizeof(v) - 1}

static const struct http_header no_store[] = {
    HDR("Cache-Control", "no-store"),
};

void handle_metrics(struct worker *w, struct http_request *req)
{
    size_t len = 0;
    char *text = metrics_render(w->peers, w->n_peers, &len);

    if (text == NULL) {
        LOG_LIMITED(LOG_LEVEL_ERROR, "metrics.render_failed", "error=\"out of memory\"");
        handle_text(req, 500, "out of memory\n");
        return;
    }
    http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", no_store, 1,
                 text, len);
    free(text);
}

void handle_readyz(struct worker *w, struct http_request *req)
{
    for (int i = 0; i < w->n_peers; i++) {
        /* Another worker's flag, read with a relaxed load like /metrics. */
        if (!__atomic_load_n(&store_stats(w->peers[i].store)->connected,
                             __ATOMIC_RELAXED)) {
            /* TODO: once events spool to a local journal while Redis is
             * down, a journal with room is ready too. */
            http_respond(req, 503, "text/plain; charset=utf-8", no_store, 1,
                         "not ready: redis unreachable\n", 29);
            return;
        }
    }
    http_respond(req, 200, "text/plain; charset=utf-8", no_store, 1, "ready\n", 6);
}
