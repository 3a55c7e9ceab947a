/*
 * worker.c - set-up, run and orderly stop of one event loop thread.
 *
 * Stopping runs in the worker's own thread, in this order: the HTTP server
 * stops accepting and finishes the requests it has, then the store finishes
 * writing the events those requests recorded, then the loop ends. A
 * deadline ends the loop anyway if Redis does not answer in time.
 */
#include "worker.h"

#include <event2/event.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "attribution.h"

#include "http.h"
#include "log.h"
#include "signer.h"
#include "store.h"

#define STOP_DEADLINE_S 10
#define MAX_TOUCHES_PER_READER 100

static uint32_t ms_to_s(int64_t ms)
{
    return (uint32_t)(ms / 1000);
}

int worker_init(struct worker *w, int index, const struct config *cfg,
                const struct keyring *ring, const struct redis_target *redis)
{
    struct store_options opts = {
        .click_window_s = ms_to_s(cfg->click_window_ms),
        .open_window_s = ms_to_s(cfg->open_window_ms),
        .attribute_opens = cfg->attribute_opens,
        .max_readers_per_identifier = (unsigned)cfg->max_readers_per_identifier,
        .reader_retention_s = ms_to_s(cfg->reader_retention_ms),
        .campaign_retention_s = ms_to_s(cfg->campaign_retention_ms),
        .max_touches = MAX_TOUCHES_PER_READER,
    };
    enum attr_model model;

    memset(w, 0, sizeof(*w));
    w->index = index;
    w->cfg = cfg;

    w->base = event_base_new();
    if (w->base == NULL) {
        LOG_ERROR("worker.init_failed", "worker=%d error=\"event_base_new failed\"", index);
        return -1;
    }
    if (attribution_model_parse(cfg->attribution_model, &model) != 0 ||
        origin_list_parse(cfg->shop_origins, &w->origins) != 0) {
        LOG_ERROR("worker.init_failed", "worker=%d error=\"invalid attribution_model "
                  "or shop_origins\"", index);
        return -1;
    }
    opts.attribution_model = (int)model;
    if (ring->n_shops > 0) {
        w->shops = calloc(ring->n_shops, sizeof(*w->shops));
        if (w->shops == NULL) {
            LOG_ERROR("worker.init_failed", "worker=%d error=\"out of memory\"", index);
            return -1;
        }
        memcpy(w->shops, ring->shops, ring->n_shops * sizeof(*w->shops));
        w->n_shops = ring->n_shops;
    }

    w->signer = signer_new(ring);
    if (w->signer == NULL) {
        LOG_ERROR("worker.init_failed", "worker=%d error=\"signer_new failed\"", index);
        return -1;
    }
    w->store = store_new(w->base, redis, &opts);
    w->http = http_server_new(w->base, &cfg->http, worker_route, w);
    if (w->store == NULL || w->http == NULL) {
        LOG_ERROR("worker.init_failed", "worker=%d error=\"out of memory\"", index);
        return -1;
    }
    if (http_server_listen(w->http, cfg->listen, true) != 0)
        return -1;
    return 0;
}

static void on_store_drained(void *arg)
{
    struct worker *w = arg;

    LOG_DEBUG("worker.drained", "worker=%d", w->index);
    event_base_loopbreak(w->base);
}

static void on_http_drained(void *arg)
{
    struct worker *w = arg;

    store_drain(w->store, on_store_drained, w);
}

static void on_stop_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;

    (void)fd;
    (void)what;
    LOG_WARN("worker.stop_deadline", "worker=%d events_in_flight=%zu", w->index,
             store_in_flight(w->store));
    event_base_loopbreak(w->base);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    struct timeval deadline = {STOP_DEADLINE_S, 0};

    (void)fd;
    (void)what;
    evtimer_add(w->stop_deadline, &deadline);
    http_server_drain(w->http, on_http_drained, w);
}

static void *run_loop(void *arg)
{
    struct worker *w = arg;

    event_base_dispatch(w->base);
    return NULL;
}

int worker_start(struct worker *w)
{
    w->stop_event = event_new(w->base, -1, 0, on_stop, w);
    w->stop_deadline = evtimer_new(w->base, on_stop_deadline, w);
    if (w->stop_event == NULL || w->stop_deadline == NULL)
        return -1;
    if (pthread_create(&w->thread, NULL, run_loop, w) != 0) {
        LOG_ERROR("worker.start_failed", "worker=%d", w->index);
        return -1;
    }
    return 0;
}

void worker_request_stop(struct worker *w)
{
    /* Thread-safe because main() called evthread_use_pthreads() first. */
    event_active(w->stop_event, 0, 0);
}

void worker_join(struct worker *w)
{
    pthread_join(w->thread, NULL);
}

void worker_free(struct worker *w)
{
    if (w->http != NULL)
        http_server_free(w->http);
    if (w->store != NULL)
        store_free(w->store);
    if (w->signer != NULL)
        signer_free(w->signer);
    if (w->stop_event != NULL)
        event_free(w->stop_event);
    if (w->stop_deadline != NULL)
        event_free(w->stop_deadline);
    if (w->base != NULL)
        event_base_free(w->base);
    if (w->shops != NULL) {
        OPENSSL_cleanse(w->shops, w->n_shops * sizeof(*w->shops));
        free(w->shops);
    }
    memset(w, 0, sizeof(*w));
}
