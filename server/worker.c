/*
 * worker.c - set-up, run and orderly stop of one event loop thread.
 *
 * Stopping runs in the worker's own thread, in this order: the HTTP server
 * stops accepting and finishes the requests it has, then the store finishes
 * writing the events those requests recorded, then the loop ends. A
 * deadline ends the loop anyway if Redis does not answer in time; the
 * events still on their way then go to the journal when store_free runs.
 */
#include "worker.h"

#include <errno.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "attribution.h"
#include "ua_cache.h"

#include "http.h"
#include "listen_addr.h"
#include "log.h"
#include "ratelimit.h"
#include "refdata.h"
#include "signer.h"
#include "stats_reader.h"
#include "store.h"

#define STOP_DEADLINE_S 10
#define MAX_TOUCHES_PER_READER 100

/* The bits of worker.mail: what the main thread has posted. */
enum {
    MAIL_REFDATA = 1u << 0, /* next_refdata */
    MAIL_TOKENS = 1u << 1,  /* next_tokens */
    MAIL_KEYS = 1u << 2,    /* pending_keys */
    MAIL_STOP = 1u << 3,
    MAIL_ADOPT = 1u << 4,   /* adopt_path */
};

static void on_mailbox(evutil_socket_t fd, short what, void *arg);
static void on_stop_deadline(evutil_socket_t fd, short what, void *arg);

static uint32_t ms_to_s(int64_t ms)
{
    return (uint32_t)(ms / 1000);
}

/*
 * Creates the worker's event base, with two flags.
 * The change list: on epoll, libevent collects the event additions and
 * deletions of one loop iteration and applies them together before
 * epoll_wait, so a change that is undone in the same iteration costs no
 * epoll_ctl. hiredis 0.14's libevent adapter deletes its read event each
 * time it fires and adds it back from the callback. It also adds and
 * deletes its write event for each batch of commands. strace -c counted
 * about 3.7 epoll_ctl calls per batch without the change list and 1 with
 * it, for pixel requests on one keep-alive connection. libevent documents
 * the change list as unsafe only for descriptors cloned with dup(), and
 * tallyd registers none.
 * No lock: only this worker's thread touches the base once it runs,
 * because the main thread posts to the mailbox instead. With a lock, the
 * base locked and unlocked a mutex around every callback, event_add and
 * event_del: about 20 pairs per pixel request (callgrind).
 */
static struct event_base *new_event_base(void)
{
    struct event_config *config = event_config_new();
    struct event_base *base = NULL;

    if (config == NULL)
        return NULL;
    event_config_set_flag(config, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    event_config_set_flag(config, EVENT_BASE_FLAG_NOLOCK);
    base = event_base_new_with_config(config);
    event_config_free(config);
    return base;
}

int worker_listen(struct worker *w, const char *list)
{
    char addr[CONFIG_STR_MAX];
    const char *cursor = list;

    while (config_list_next(&cursor, addr, sizeof(addr)) == 1) {
        if (http_server_listen(w->http, addr, true) != 0)
            return -1;
    }
    if (http_server_addresses(w->http, w->listen_bound, sizeof(w->listen_bound)) != 0) {
        LOG_ERROR("worker.init_failed", "worker=%d listen=%s error=\"getsockname "
                  "failed, or the bound addresses are over %zu bytes\"", w->index,
                  list, sizeof(w->listen_bound) - 1);
        return -1;
    }
    return 0;
}

/* Sets up the trusted proxies and the beacon rate limit of w. */
static int worker_init_clients(struct worker *w, const struct config *cfg)
{
    char err[256];

    if (client_addr_config_init(&w->client_addr, cfg->trusted_proxies,
                                cfg->proxy_header, err, sizeof(err)) != 0) {
        LOG_ERROR("worker.init_failed", "worker=%d error=\"%s\"", w->index, err);
        return -1;
    }
    w->beacon_limit = ratelimit_new((uint32_t)cfg->beacon_rate,
                                    (uint32_t)cfg->beacon_burst);
    if (w->beacon_limit == NULL) {
        LOG_ERROR("worker.init_failed",
                  "worker=%d error=\"no memory or randomness for the beacon "
                  "rate limit\"", w->index);
        return -1;
    }
    return 0;
}

/* Sets bits in w's mail and wakes its loop, from any thread. eventfd(2)
 * rejects a write only when the counter would overflow, which the loop
 * prevents by emptying the counter on each wake-up. A failure is logged. */
static void post_mail(struct worker *w, unsigned bits)
{
    uint64_t one = 1;

    atomic_fetch_or(&w->mail, bits);
    if (write(w->mailbox_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
        LOG_ERROR("worker.mail_failed", "worker=%d error=\"%s\"", w->index,
                  strerror(errno));
}

/* Switches to the reference data posted last, in the worker's thread. */
static void switch_refdata(struct worker *w)
{
    struct refdata *next = atomic_exchange(&w->next_refdata, NULL);

    if (next == NULL)
        return;
    refdata_release(w->refdata);
    w->refdata = next;
    ua_cache_forget_agents(w->agents);
    LOG_DEBUG("worker.refdata_switched", "worker=%d", w->index);
}

void worker_set_refdata(struct worker *w, struct refdata *d)
{
    refdata_retain(d);
    /* A reload that the worker has not picked up yet is replaced. */
    refdata_release(atomic_exchange(&w->next_refdata, d));
    post_mail(w, MAIL_REFDATA);
}

int worker_adopt_journal(struct worker *w, const char *path)
{
    char *copy = strdup(path);
    char *empty = NULL;

    if (copy == NULL)
        return -1;
    if (!atomic_compare_exchange_strong(&w->adopt_path, &empty, copy)) {
        free(copy);
        return -1;
    }
    post_mail(w, MAIL_ADOPT);
    return 0;
}

static void adopt_posted_journal(struct worker *w)
{
    char *path = atomic_exchange(&w->adopt_path, NULL);

    if (path == NULL)
        return;
    store_adopt_journal(w->store, path);
    free(path);
}

static void free_tokens(struct auth_tokens *tokens)
{
    if (tokens == NULL)
        return;
    auth_tokens_wipe(tokens);
    free(tokens);
}

/* Switches to the API tokens posted last, in the worker's thread. */
static void switch_tokens(struct worker *w)
{
    struct auth_tokens *next = atomic_exchange(&w->next_tokens, NULL);

    if (next == NULL)
        return;
    free_tokens(w->reloaded_tokens);
    w->reloaded_tokens = next;
    w->tokens = next;
    LOG_DEBUG("worker.tokens_switched", "worker=%d api_tokens=%zu", w->index,
              next->count);
}

void worker_set_tokens(struct worker *w, const struct auth_tokens *tokens)
{
    struct auth_tokens *copy = malloc(sizeof(*copy));

    if (copy == NULL) {
        LOG_ERROR("keys.reload_failed", "worker=%d error=\"out of memory\" "
                  "hint=\"the old API tokens stay in use\"", w->index);
        return;
    }
    memcpy(copy, tokens, sizeof(*copy));
    free_tokens(atomic_exchange(&w->next_tokens, copy));
    post_mail(w, MAIL_TOKENS);
}

/* Sets *out to a copy of ring's shop secrets, NULL when it has none. The
 * copy is the caller's, to be freed with free_shops. Returns 0, or -1 when
 * memory runs out. */
static int copy_shops(const struct keyring *ring, struct keyring_shop **out)
{
    *out = NULL;
    if (ring->n_shops == 0)
        return 0;
    *out = calloc(ring->n_shops, sizeof(**out));
    if (*out == NULL)
        return -1;
    memcpy(*out, ring->shops, ring->n_shops * sizeof(**out));
    return 0;
}

static void free_shops(struct keyring_shop *shops, size_t n)
{
    if (shops == NULL)
        return;
    OPENSSL_cleanse(shops, n * sizeof(*shops));
    free(shops);
}

int worker_init(struct worker *w, int index, const struct config *cfg,
                const struct keyring *ring, const struct redis_target *redis,
                struct refdata *refdata, struct renewal_cache *renewals)
{
    struct store_options opts = {
        .click_window_s = ms_to_s(cfg->click_window_ms),
        .open_window_s = ms_to_s(cfg->open_window_ms),
        .attribute_opens = cfg->attribute_opens,
        .max_readers_per_identifier = (unsigned)cfg->max_readers_per_identifier,
        .reader_retention_s = ms_to_s(cfg->reader_retention_ms),
        .campaign_retention_s = ms_to_s(cfg->campaign_retention_ms),
        .max_touches = MAX_TOUCHES_PER_READER,
        .burst_window_s = ms_to_s(cfg->burst_window_ms),
        .burst_links = (unsigned)cfg->burst_links,
        .honeypot_window_s = ms_to_s(cfg->honeypot_window_ms),
        .attribute_machine_events = cfg->attribute_machine_events,
        .state_dir = cfg->state_dir,
        .journal_fsync = cfg->journal_fsync,
        .journal_max_bytes = cfg->journal_max_size,
        .redis_timeout_ms = cfg->redis_timeout_ms,
        .max_queued_events = (size_t)cfg->max_queued_events,
        .renewals = renewals,
    };
    enum attr_model model;

    memset(w, 0, sizeof(*w));
    w->mailbox_fd = -1;
    w->index = index;
    w->cfg = cfg;
    refdata_retain(refdata);
    w->refdata = refdata;

    w->base = new_event_base();
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
    if (copy_shops(ring, &w->shops) != 0) {
        LOG_ERROR("worker.init_failed", "worker=%d error=\"out of memory\"", index);
        return -1;
    }
    w->n_shops = ring->n_shops;

    w->mailbox_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->mailbox_fd < 0) {
        LOG_ERROR("worker.init_failed", "worker=%d error=\"eventfd: %s\"", index,
                  strerror(errno));
        return -1;
    }
    w->mailbox_event = event_new(w->base, w->mailbox_fd, EV_READ | EV_PERSIST,
                                 on_mailbox, w);
    w->stop_deadline = evtimer_new(w->base, on_stop_deadline, w);
    if (w->mailbox_event == NULL || w->stop_deadline == NULL ||
        event_add(w->mailbox_event, NULL) != 0) {
        LOG_ERROR("worker.init_failed", "worker=%d error=\"event_new failed\"", index);
        return -1;
    }
    w->signer = signer_new(ring);
    if (w->signer == NULL) {
        LOG_ERROR("worker.init_failed", "worker=%d error=\"signer_new failed\"", index);
        return -1;
    }
    w->store = store_new(w->base, redis, &opts);
    w->reader = stats_reader_new(w->base, redis, cfg->redis_timeout_ms);
    w->http = http_server_new(w->base, &cfg->http, worker_route, w);
    w->agents = ua_cache_new();
    if (w->store == NULL || w->reader == NULL || w->http == NULL || w->agents == NULL) {
        LOG_ERROR("worker.init_failed", "worker=%d error=\"out of memory\"", index);
        return -1;
    }
    http_server_set_observer(w->http, metrics_observe, w);
    return worker_init_clients(w, cfg);
}

int worker_client_addr(struct worker *w, const struct http_request *req,
                       struct netaddr *out)
{
    static const struct netaddr unspecified;
    char network[NETADDR_TEXT_MAX];

    if (client_addr_resolve(&w->client_addr, req, out) == CLIENT_ADDR_MALFORMED) {
        atomic_fetch_add_explicit(&w->counters.client_addr_malformed, 1,
                                  memory_order_relaxed);
        netaddr_format_truncated(out, network);
        LOG_LIMITED(LOG_LEVEL_INFO, "client_addr.malformed",
                    "id=%llu peer=%s header=%s", (unsigned long long)req->id,
                    network, w->cfg->proxy_header);
    }
    return memcmp(out, &unspecified, sizeof(unspecified)) == 0 ? -1 : 0;
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

static void start_stop(struct worker *w)
{
    struct timeval deadline = {STOP_DEADLINE_S, 0};

    evtimer_add(w->stop_deadline, &deadline);
    /* The drain closes the listeners, so a new tallyd may claim them
     * once every loop has done so. */
    http_server_drain(w->http, on_http_drained, w);
    if (w->claims != NULL && !w->listeners_closed)
        listen_claims_loop_closed(w->claims);
    w->listeners_closed = true;
}

static void free_keys(struct keyring *ring)
{
    if (ring == NULL)
        return;
    keyring_wipe(ring);
    free(ring);
}

/* Runs in the worker's thread: swaps in the signer and the shop secrets of
 * the latest pending keys, both or neither. Handlers use them only while
 * they run, so no request is handled half with the old keys and half with
 * the new. */
static void switch_keys(struct worker *w)
{
    struct keyring *keys = atomic_exchange(&w->pending_keys, NULL);
    struct signer *fresh;
    struct keyring_shop *shops;

    if (keys == NULL)
        return;

    fresh = signer_new(keys);
    if (fresh == NULL || copy_shops(keys, &shops) != 0) {
        LOG_ERROR("keys.reload_failed", "worker=%d error=\"out of memory or "
                  "OpenSSL failed\" hint=\"the old keys stay in use\"",
                  w->index);
        if (fresh != NULL)
            signer_free(fresh);
        free_keys(keys);
        return;
    }

    signer_free(w->signer);
    w->signer = fresh;
    free_shops(w->shops, w->n_shops);
    w->shops = shops;
    w->n_shops = keys->n_shops;
    LOG_DEBUG("keys.reloaded", "worker=%d active_key=%u shops=%zu", w->index,
              (unsigned)keys->active_id, keys->n_shops);
    free_keys(keys);
}

void worker_reload_keys(struct worker *w, const struct keyring *ring)
{
    struct keyring *copy = malloc(sizeof(*copy));

    if (copy == NULL) {
        LOG_ERROR("keys.reload_failed", "worker=%d error=\"out of memory\" "
                  "hint=\"the old keys stay in use\"", w->index);
        return;
    }
    memcpy(copy, ring, sizeof(*copy));
    free_keys(atomic_exchange(&w->pending_keys, copy));
    post_mail(w, MAIL_KEYS);
}

/* Runs in the worker's thread when the main thread has posted mail. */
static void on_mailbox(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    uint64_t posts;
    unsigned mail;

    (void)what;
    /* Empties the counter. The mail bits record what was posted. */
    if (read(fd, &posts, sizeof(posts)) < 0 && errno != EAGAIN)
        LOG_ERROR("worker.mail_failed", "worker=%d error=\"%s\"", w->index,
                  strerror(errno));
    mail = atomic_exchange(&w->mail, 0);
    if (mail & MAIL_REFDATA)
        switch_refdata(w);
    if (mail & MAIL_TOKENS)
        switch_tokens(w);
    if (mail & MAIL_KEYS)
        switch_keys(w);
    if (mail & MAIL_ADOPT)
        adopt_posted_journal(w);
    if (mail & MAIL_STOP)
        start_stop(w);
}

static void *run_loop(void *arg)
{
    struct worker *w = arg;
    const struct store_stats *ss;

    event_base_dispatch(w->base);

    /* The totals let an operator (and the benchmark's loss check) compare
     * what was answered with what reached Redis. events_in_flight are
     * still unsettled at the stop deadline and go to the journal when the
     * store closes. */
    ss = store_stats(w->store);
    LOG_NOTICE("worker.stopped",
               "worker=%d requests=%llu events_submitted=%llu events_written=%llu "
               "events_failed=%llu events_journaled=%llu events_replayed=%llu "
               "events_in_flight=%zu redis_replies=%llu",
               w->index, (unsigned long long)http_server_stats(w->http)->requests,
               (unsigned long long)ss->submitted, (unsigned long long)ss->written,
               (unsigned long long)ss->failed, (unsigned long long)ss->journaled,
               (unsigned long long)ss->replayed, store_in_flight(w->store),
               (unsigned long long)store_replies(w->store));
    return NULL;
}

int worker_start(struct worker *w)
{
    if (pthread_create(&w->thread, NULL, run_loop, w) != 0) {
        LOG_ERROR("worker.start_failed", "worker=%d", w->index);
        return -1;
    }
    return 0;
}

void worker_request_stop(struct worker *w)
{
    post_mail(w, MAIL_STOP);
}

void worker_join(struct worker *w)
{
    pthread_join(w->thread, NULL);
}

void worker_free(struct worker *w)
{
    /* The stats reader and the store first: freeing them ends pending Redis
     * commands, whose callbacks answer their requests (an API read, a
     * forget) while the connections still exist. */
    if (w->reader != NULL)
        stats_reader_free(w->reader);
    if (w->store != NULL)
        store_free(w->store);
    if (w->http != NULL)
        http_server_free(w->http);
    ua_cache_free(w->agents);
    if (w->signer != NULL)
        signer_free(w->signer);
    ratelimit_free(w->beacon_limit);
    client_addr_config_free(&w->client_addr);
    if (w->mailbox_event != NULL)
        event_free(w->mailbox_event);
    /* A worker that worker_init never reached is all zeros, and its
     * mailbox_fd 0 is not its own. */
    if (w->base != NULL && w->mailbox_fd >= 0)
        close(w->mailbox_fd);
    if (w->stop_deadline != NULL)
        event_free(w->stop_deadline);
    free_keys(atomic_exchange(&w->pending_keys, NULL));
    refdata_release(w->refdata);
    refdata_release(atomic_exchange(&w->next_refdata, NULL));
    free_tokens(w->reloaded_tokens);
    free_tokens(atomic_exchange(&w->next_tokens, NULL));
    free(atomic_exchange(&w->adopt_path, NULL));
    if (w->base != NULL)
        event_base_free(w->base);
    free_shops(w->shops, w->n_shops);
    memset(w, 0, sizeof(*w));
}
