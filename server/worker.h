/*
 * worker.h - one event loop thread: its listener, HTTP server, Redis store
 * and signer. Loops share nothing but read-only configuration and keys.
 */
#ifndef TALLY_WORKER_H
#define TALLY_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "keyring.h"
#include "origin.h"
#include "redis_url.h"

struct event;
struct event_base;
struct http_server;
struct signer;
struct store;

/* Requests the handlers turned away or could not use; read by /metrics. */
struct worker_counters {
    _Atomic uint64_t pixel_invalid;   /* GIF sent, nothing recorded */
    _Atomic uint64_t click_invalid;   /* 400, no redirect */
    _Atomic uint64_t beacon_rejected; /* 4xx to a beacon */
    _Atomic uint64_t beacon_token_invalid; /* beacon kept, its token ignored */
    _Atomic uint64_t not_found;
    _Atomic uint64_t conversions_rejected; /* 4xx to POST /v1/conversions */
};

struct worker {
    int index;
    const struct config *cfg;
    struct event_base *base;
    struct http_server *http;
    struct store *store;
    struct signer *signer;
    struct event *stop_event;  /* activated from the main thread */
    struct event *stop_deadline;
    pthread_t thread;
    struct worker_counters counters;
    struct origin_list origins;   /* shop_origins, parsed */
    struct keyring_shop *shops;   /* shop secrets; wiped by worker_free */
    size_t n_shops;
};

/* Sets up a worker: loop, signer, store (connecting) and a listening HTTP
 * server. Returns 0, or -1 after logging why; worker_free cleans up either
 * way. */
int worker_init(struct worker *w, int index, const struct config *cfg,
                const struct keyring *ring, const struct redis_target *redis);

/* Runs the worker's loop on a new thread. Returns 0, or -1. */
int worker_start(struct worker *w);

/* Asks the worker, from any thread, to stop accepting, answer what it has,
 * write what it recorded, and end its loop. */
void worker_request_stop(struct worker *w);

/* Waits for the thread to end. */
void worker_join(struct worker *w);

void worker_free(struct worker *w);

/* Serves one request; the HTTP server's handler. */
void worker_route(struct http_request *req, void *arg);

#endif
