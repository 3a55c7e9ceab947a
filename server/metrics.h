/*
 * metrics.h - request counters and latency histograms of one worker, and the
 * Prometheus text exposition of every worker's numbers (GET /metrics).
 *
 * Each worker updates only its own struct metrics, with relaxed atomic
 * adds; /metrics, served by whichever worker gets the request, reads every
 * worker's counters with relaxed loads and adds them up. No lock is taken
 * on the request path, and a scrape may see one worker's counters a few
 * requests later than another's, which Prometheus counters tolerate.
 */
#ifndef TALLY_METRICS_H
#define TALLY_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"

struct worker;

/* Route label of a request, from its path. */
enum metrics_route {
    METRICS_ROUTE_PIXEL = 0,
    METRICS_ROUTE_CLICK,
    METRICS_ROUTE_BEACON,
    METRICS_ROUTE_HEALTHZ,
    METRICS_ROUTE_READYZ,
    METRICS_ROUTE_METRICS,
    METRICS_ROUTE_API_CAMPAIGNS,
    METRICS_ROUTE_API_STATS,
    METRICS_ROUTE_API_CONVERSIONS,
    METRICS_ROUTE_DASHBOARD,
    METRICS_ROUTE_OTHER,
    METRICS_ROUTE_COUNT,
};

#define METRICS_STATUS_SLOTS 20   /* the statuses tally sends, and "other" */
#define METRICS_LATENCY_BUCKETS 13 /* upper bounds, +Inf not included */

struct metrics {
    _Atomic uint64_t responses[METRICS_ROUTE_COUNT][METRICS_STATUS_SLOTS];
    /* Per bucket, not cumulative; the exposition adds them up. The last
     * slot counts what is above every bound. */
    _Atomic uint64_t latency[METRICS_ROUTE_COUNT][METRICS_LATENCY_BUCKETS + 1];
    _Atomic uint64_t latency_sum_ns[METRICS_ROUTE_COUNT];
    _Atomic uint64_t api_token_invalid; /* 401: missing or unknown token */
    _Atomic uint64_t api_forbidden;     /* 403: token without the scope */
    _Atomic uint64_t api_redis_failed;  /* 503: the stats read failed */
};

/* Returns the route label of a request path. */
enum metrics_route metrics_route_of(const char *path, size_t len);

/* The http_observer_fn of a worker (arg is the struct worker): counts the
 * response by route and status and records its latency. */
void metrics_observe(const struct http_request *req, int status, double seconds,
                     void *arg);

/*
 * Writes the Prometheus text format (version 0.0.4) of workers[0..n) to a
 * new malloc'd string. Returns it with its length in *len, or NULL when
 * memory runs out. The caller frees it.
 */
char *metrics_render(const struct worker *workers, int n, size_t *len);

#endif
