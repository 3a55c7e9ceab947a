/*
 * handle_ops.c - what operators poll: GET /metrics (Prometheus text format,
 * every worker's numbers added up) and GET /readyz.
 *
 * /readyz answers 200 when every worker can keep the events it accepts:
 * its store is connected to Redis, or its journal has room for them until
 * Redis is back (events then spool to the journal and replay later). A
 * load balancer should send tracking traffic only to a tallyd that will
 * not drop it. Neither needs a token: operators scrape them from inside
 * the network, and neither shows campaign data.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handlers.h"
#include "log.h"
#include "metrics.h"
#include "event_codec.h"
#include "stat_counter.h"
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

/*
 * Returns whether a worker whose store is not connected can journal one
 * more event: the state directory is writable and the journal is below
 * journal_max_size by at least one encoded record and its frame.
 * NOTE: journal_bytes adds up the worker's own journal and any journal it
 * adopted from an earlier run, while the limit applies to its own file
 * alone, so this errs towards "no room" during a replay of adopted files.
 */
static bool journal_has_room(const struct worker *peer)
{
    const struct store_stats *st = store_stats(peer->store);
    uint64_t bytes = STAT_LOAD(st->journal_bytes);
    uint64_t limit = peer->cfg->journal_max_size;
    uint64_t record = EVENT_RECORD_MAX + 64;

    if (limit < record || bytes > limit - record)
        return false;
    return access(peer->cfg->state_dir, W_OK | X_OK) == 0;
}

void handle_readyz(struct worker *w, struct http_request *req)
{
    static const char not_ready[] = "not ready: redis unreachable and the journal "
                                    "is full or its state_dir is not writable\n";
    bool spooling = false;

    for (int i = 0; i < w->n_peers; i++) {
        /* Another worker's flag (stat_counter.h). */
        if (STAT_LOAD(store_stats(w->peers[i].store)->connected))
            continue;
        if (!journal_has_room(&w->peers[i])) {
            http_respond(req, 503, "text/plain; charset=utf-8", no_store, 1,
                         not_ready, sizeof(not_ready) - 1);
            return;
        }
        spooling = true;
    }
    if (spooling) {
        static const char journal[] = "ready: redis unreachable, events go to the "
                                      "journal\n";

        http_respond(req, 200, "text/plain; charset=utf-8", no_store, 1, journal,
                     sizeof(journal) - 1);
        return;
    }
    http_respond(req, 200, "text/plain; charset=utf-8", no_store, 1, "ready\n", 6);
}
