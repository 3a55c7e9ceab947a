/*
 * worker.h - one event loop thread: its listener, HTTP server, Redis store
 * and signer. Loops share nothing but read-only configuration and keys.
 */
#ifndef TALLY_WORKER_H
#define TALLY_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "client_addr.h"
#include "auth.h"
#include "config.h"
#include "http.h"
#include "keyring.h"
#include "metrics.h"
#include "origin.h"
#include "redis_url.h"

struct event;
struct event_base;
struct http_server;
struct listen_claims;
struct ratelimit;
struct refdata;
struct renewal_cache;
struct signer;
struct stats_reader;
struct ua_cache;
struct store;

/* Requests the handlers turned away or could not use; read by /metrics. */
struct worker_counters {
    _Atomic uint64_t pixel_invalid;   /* GIF sent, nothing recorded */
    _Atomic uint64_t click_invalid;   /* 400, no redirect */
    _Atomic uint64_t beacon_rejected; /* 4xx to a beacon */
    _Atomic uint64_t beacon_token_invalid; /* beacon kept, its token ignored */
    _Atomic uint64_t not_found;
    _Atomic uint64_t beacon_rate_limited;  /* 429 to a beacon */
    _Atomic uint64_t client_addr_malformed; /* forwarding header unreadable */
    _Atomic uint64_t token_retired;   /* valid, but its key stopped counting */
    _Atomic uint64_t sign_rejected;   /* 4xx to POST /v1/sign */
    _Atomic uint64_t conversions_rejected; /* 4xx to POST /v1/conversions */
    _Atomic uint64_t suppressed;      /* answered, not recorded: opted out */
};

struct worker {
    int index;
    const struct config *cfg;
    struct event_base *base;
    struct http_server *http;
    /* The process's claims on the listen addresses (listen_addr.h), owned
     * by main(). This loop reports there once it has closed its listeners. */
    struct listen_claims *claims;
    bool listeners_closed;
    /* The addresses this loop listens on, as bound (real ports), in the
     * form of the listen setting; set by worker_listen. */
    char listen_bound[CONFIG_STR_MAX];
    struct store *store;
    struct signer *signer;
    struct client_addr_config client_addr; /* trusted proxies */
    struct ratelimit *beacon_limit;        /* per client address */
    _Atomic(struct keyring *) pending_keys; /* set by the main thread */
    /* The mailbox of the loop, whose base has no locks: the main thread
     * sets bits of mail (worker.c) and writes to the eventfd mailbox_fd,
     * which wakes mailbox_event. */
    _Atomic unsigned mail;
    int mailbox_fd;
    struct event *mailbox_event;
    struct event *stop_deadline;
    struct refdata *refdata;  /* read by this thread's handlers only */
    _Atomic(struct refdata *) next_refdata; /* posted by worker_set_refdata */
    _Atomic(char *) adopt_path; /* posted by worker_adopt_journal, then freed */
    pthread_t thread;
    struct worker_counters counters;
    struct origin_list origins;   /* shop_origins, parsed */
    struct keyring_shop *shops;   /* shop secrets; wiped by worker_free */
    size_t n_shops;
    struct metrics metrics;
    struct stats_reader *reader; /* stats API reads, see stats_reader.h */
    struct ua_cache *agents; /* User-Agent traits seen lately, see ua_cache.h */
    /* The API tokens this thread's handlers check: main()'s table until
     * the first reload, then reloaded_tokens. */
    const struct auth_tokens *tokens;
    struct auth_tokens *reloaded_tokens; /* owned; NULL before a reload */
    _Atomic(struct auth_tokens *) next_tokens; /* posted by worker_set_tokens */
    /* Shared read-only, owned by main(): every worker (this one included)
     * for /metrics and /readyz. */
    const struct worker *peers;
    int n_peers;
};

/* Sets up a worker: loop, signer, store (connecting) and an HTTP server
 * that listens nowhere until worker_listen. renewals (renewal_cache.h,
 * may be NULL) is shared by all workers and must outlive them. Returns 0,
 * or -1 after logging why; worker_free cleans up either way. */
int worker_init(struct worker *w, int index, const struct config *cfg,
                const struct keyring *ring, const struct redis_target *redis,
                struct refdata *refdata, struct renewal_cache *renewals);

/* Listens on every address of the comma-separated list (checked by
 * config.c), which main() has claimed (listen_addr.h), and records the
 * bound addresses in w->listen_bound. Returns 0, or -1 after logging why. */
int worker_listen(struct worker *w, const char *list);

/* Hands the worker new reference data from any thread: the worker takes
 * its own reference now and switches to it in its loop thread before the
 * next request, releasing the old one. The caller keeps its reference. */
void worker_set_refdata(struct worker *w, struct refdata *d);

/* Hands a copy of ring to the worker, from the main thread. The worker
 * builds a new signer from it in its own thread, between requests, and
 * swaps it in, so requests in progress finish with the old one. A copy the
 * worker has not taken yet is replaced. On failure the worker logs an
 * error and keeps its keys. */
void worker_reload_keys(struct worker *w, const struct keyring *ring);

/* Hands a copy of tokens to the worker from any thread. The worker
 * switches to it in its own thread between requests, so a request is
 * checked against the old table or the new one, never a mix. A copy the
 * worker has not taken yet is replaced. On failure (out of memory) the
 * worker logs an error and keeps its tokens. The caller keeps tokens. */
void worker_set_tokens(struct worker *w, const struct auth_tokens *tokens);

/* Hands the worker, from the main thread, a journal file to take over
 * and replay (store_adopt_journal), in its own thread. Returns 0, or -1
 * when the worker has not taken the previous file yet or memory runs out:
 * the caller tries again later. */
int worker_adopt_journal(struct worker *w, const char *path);

/* Runs the worker's loop on a new thread. Returns 0, or -1. */
int worker_start(struct worker *w);

/* Asks the worker, from any thread, to stop accepting, answer what it has,
 * write what it recorded, and end its loop. */
void worker_request_stop(struct worker *w);

/* Waits for the thread to end. */
void worker_join(struct worker *w);

void worker_free(struct worker *w);

/* Finds the address of the client that sent req: the TCP peer, or the
 * address a trusted proxy forwarded (client_addr.h). A malformed forwarding
 * header is counted and logged, and the peer is used. Returns 0, or -1 when
 * the peer is not an IP address (a socket pair in tests); *out is then
 * "::". */
int worker_client_addr(struct worker *w, const struct http_request *req,
                       struct netaddr *out);

/* Serves one request; the HTTP server's handler. */
void worker_route(struct http_request *req, void *arg);

#endif
