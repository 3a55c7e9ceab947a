/*
 * metrics.c - per-worker response counters and the /metrics exposition.
 *
 * The text is written with stdio to a memory stream (open_memstream): a
 * scrape is rare next to tracking traffic, so its allocation does not
 * matter, and the format stays easy to read against the Prometheus text
 * format documentation.
 */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "stat_counter.h"
#include "stats_reader.h"
#include "store.h"
#include "worker.h"

static const char *const route_names[METRICS_ROUTE_COUNT] = {
    [METRICS_ROUTE_PIXEL] = "pixel",
    [METRICS_ROUTE_CLICK] = "click",
    [METRICS_ROUTE_BEACON] = "beacon",
    [METRICS_ROUTE_HEALTHZ] = "healthz",
    [METRICS_ROUTE_READYZ] = "readyz",
    [METRICS_ROUTE_METRICS] = "metrics",
    [METRICS_ROUTE_API_CAMPAIGNS] = "api_campaigns",
    [METRICS_ROUTE_API_STATS] = "api_stats",
    [METRICS_ROUTE_API_CONVERSIONS] = "api_conversions",
    [METRICS_ROUTE_DASHBOARD] = "dashboard",
    [METRICS_ROUTE_OTHER] = "other",
};

/* The statuses tally sends; the last slot counts any other. */
static const int status_codes[METRICS_STATUS_SLOTS - 1] = {
    200, 204, 302, 304, 400, 401, 403, 404, 405, 408,
    413, 414, 415, 417, 429, 431, 500, 501, 503,
};

/* Upper bounds of the latency buckets, in seconds. */
static const double latency_bounds[METRICS_LATENCY_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
};

static bool has_prefix(const char *path, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);

    return len >= n && memcmp(path, prefix, n) == 0;
}

static bool has_suffix(const char *path, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);

    return len >= n && memcmp(path + len - n, suffix, n) == 0;
}

static bool is_path(const char *path, size_t len, const char *name)
{
    return len == strlen(name) && memcmp(path, name, len) == 0;
}

enum metrics_route metrics_route_of(const char *path, size_t len)
{
    if (has_prefix(path, len, "/o/"))
        return METRICS_ROUTE_PIXEL;
    if (has_prefix(path, len, "/c/"))
        return METRICS_ROUTE_CLICK;
    if (is_path(path, len, "/b"))
        return METRICS_ROUTE_BEACON;
    if (is_path(path, len, "/healthz"))
        return METRICS_ROUTE_HEALTHZ;
    if (is_path(path, len, "/readyz"))
        return METRICS_ROUTE_READYZ;
    if (is_path(path, len, "/metrics"))
        return METRICS_ROUTE_METRICS;
    if (is_path(path, len, "/v1/campaigns"))
        return METRICS_ROUTE_API_CAMPAIGNS;
    if (has_prefix(path, len, "/v1/campaigns/") && has_suffix(path, len, "/stats"))
        return METRICS_ROUTE_API_STATS;
    if (has_prefix(path, len, "/v1/campaigns/") && has_suffix(path, len, "/conversions"))
        return METRICS_ROUTE_API_CONVERSIONS;
    if (is_path(path, len, "/dashboard") || has_prefix(path, len, "/dashboard/"))
        return METRICS_ROUTE_DASHBOARD;
    return METRICS_ROUTE_OTHER;
}

static size_t status_slot(int status)
{
    for (size_t i = 0; i < METRICS_STATUS_SLOTS - 1; i++) {
        if (status_codes[i] == status)
            return i;
    }
    return METRICS_STATUS_SLOTS - 1;
}

static size_t latency_slot(double seconds)
{
    for (size_t i = 0; i < METRICS_LATENCY_BUCKETS; i++) {
        if (seconds <= latency_bounds[i])
            return i;
    }
    return METRICS_LATENCY_BUCKETS;
}

void metrics_observe(const struct http_request *req, int status, double seconds,
                     void *arg)
{
    struct metrics *m = &((struct worker *)arg)->metrics;
    enum metrics_route route = metrics_route_of(req->path, req->path_len);
    uint64_t ns = seconds > 0 ? (uint64_t)(seconds * 1e9) : 0;

    atomic_fetch_add_explicit(&m->responses[route][status_slot(status)], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&m->latency[route][latency_slot(seconds)], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&m->latency_sum_ns[route], ns, memory_order_relaxed);
}

/* ---- exposition ---------------------------------------------------- */

static uint64_t load(const _Atomic uint64_t *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}


typedef uint64_t (*worker_value_fn)(const struct worker *w);

static uint64_t sum_workers(const struct worker *workers, int n, worker_value_fn fn)
{
    uint64_t total = 0;

    for (int i = 0; i < n; i++)
        total += fn(&workers[i]);
    return total;
}

static void write_family(FILE *out, const char *name, const char *type,
                         const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void write_requests(FILE *out, const struct worker *workers, int n)
{
    write_family(out, "tally_http_responses_total", "counter",
                 "Responses sent by the request handlers, by route and status.");
    for (int r = 0; r < METRICS_ROUTE_COUNT; r++) {
        for (size_t s = 0; s < METRICS_STATUS_SLOTS; s++) {
            uint64_t total = 0;

            for (int i = 0; i < n; i++)
                total += load(&workers[i].metrics.responses[r][s]);
            if (total == 0)
                continue;
            if (s == METRICS_STATUS_SLOTS - 1)
                fprintf(out, "tally_http_responses_total{route=\"%s\",status=\"other\"} %llu\n",
                        route_names[r], (unsigned long long)total);
            else
                fprintf(out, "tally_http_responses_total{route=\"%s\",status=\"%d\"} %llu\n",
                        route_names[r], status_codes[s], (unsigned long long)total);
        }
    }
}

static void write_latency(FILE *out, const struct worker *workers, int n)
{
    write_family(out, "tally_http_response_seconds", "histogram",
                 "Time from a complete request to its response, by route.");
    for (int r = 0; r < METRICS_ROUTE_COUNT; r++) {
        uint64_t cumulative = 0;
        uint64_t sum_ns = 0;

        for (int i = 0; i < n; i++)
            sum_ns += load(&workers[i].metrics.latency_sum_ns[r]);
        for (size_t b = 0; b <= METRICS_LATENCY_BUCKETS; b++) {
            for (int i = 0; i < n; i++)
                cumulative += load(&workers[i].metrics.latency[r][b]);
            if (b < METRICS_LATENCY_BUCKETS)
                fprintf(out, "tally_http_response_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                        route_names[r], latency_bounds[b], (unsigned long long)cumulative);
            else
                fprintf(out, "tally_http_response_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                        route_names[r], (unsigned long long)cumulative);
        }
        fprintf(out, "tally_http_response_seconds_sum{route=\"%s\"} %.9f\n",
                route_names[r], (double)sum_ns / 1e9);
        fprintf(out, "tally_http_response_seconds_count{route=\"%s\"} %llu\n",
                route_names[r], (unsigned long long)cumulative);
    }
}

static uint64_t http_open(const struct worker *w) { return STAT_LOAD(http_server_stats(w->http)->open_connections); }
static uint64_t http_accepted(const struct worker *w) { return STAT_LOAD(http_server_stats(w->http)->accepted); }
static uint64_t http_over_limit(const struct worker *w) { return STAT_LOAD(http_server_stats(w->http)->rejected_over_limit); }
static uint64_t http_bad_request(const struct worker *w) { return STAT_LOAD(http_server_stats(w->http)->bad_request); }
static uint64_t http_uri_too_long(const struct worker *w) { return STAT_LOAD(http_server_stats(w->http)->uri_too_long); }
static uint64_t http_headers_too_large(const struct worker *w) { return STAT_LOAD(http_server_stats(w->http)->headers_too_large); }
static uint64_t http_body_too_large(const struct worker *w) { return STAT_LOAD(http_server_stats(w->http)->body_too_large); }
static uint64_t http_timed_out(const struct worker *w) { return STAT_LOAD(http_server_stats(w->http)->timed_out); }

static void write_http(FILE *out, const struct worker *workers, int n)
{
    static const struct {
        const char *reason;
        worker_value_fn fn;
    } rejections[] = {
        {"over_connection_limit", http_over_limit},
        {"bad_request", http_bad_request},
        {"uri_too_long", http_uri_too_long},
        {"headers_too_large", http_headers_too_large},
        {"body_too_large", http_body_too_large},
        {"timed_out", http_timed_out},
    };

    write_family(out, "tally_http_connections_open", "gauge",
                 "Open client connections.");
    fprintf(out, "tally_http_connections_open %llu\n",
            (unsigned long long)sum_workers(workers, n, http_open));
    write_family(out, "tally_http_connections_accepted_total", "counter",
                 "Client connections accepted.");
    fprintf(out, "tally_http_connections_accepted_total %llu\n",
            (unsigned long long)sum_workers(workers, n, http_accepted));
    write_family(out, "tally_http_rejected_total", "counter",
                 "Requests the HTTP layer answered with an error itself, by reason.");
    for (size_t i = 0; i < sizeof(rejections) / sizeof(rejections[0]); i++)
        fprintf(out, "tally_http_rejected_total{reason=\"%s\"} %llu\n",
                rejections[i].reason,
                (unsigned long long)sum_workers(workers, n, rejections[i].fn));
}

static uint64_t ev_submitted(const struct worker *w) { return STAT_LOAD(store_stats(w->store)->submitted); }
static uint64_t ev_written(const struct worker *w) { return STAT_LOAD(store_stats(w->store)->written); }
static uint64_t ev_failed(const struct worker *w) { return STAT_LOAD(store_stats(w->store)->failed); }
static uint64_t orders_repeated(const struct worker *w) { return STAT_LOAD(store_stats(w->store)->orders_repeated); }
static uint64_t orders_unattributed(const struct worker *w) { return STAT_LOAD(store_stats(w->store)->orders_unattributed); }
static uint64_t opens_plain(const struct worker *w) { return STAT_LOAD(store_stats(w->store)->opens_plain); }
static uint64_t clicks_plain(const struct worker *w) { return STAT_LOAD(store_stats(w->store)->clicks_plain); }
static uint64_t opens_one_command(const struct worker *w) { return STAT_LOAD(store_stats(w->store)->opens_one_command); }
static uint64_t store_reconnects(const struct worker *w) { return STAT_LOAD(store_stats(w->store)->reconnects); }
static uint64_t reader_connects(const struct worker *w) { return STAT_LOAD(stats_reader_stats(w->reader)->connects); }
static uint64_t reader_timeouts(const struct worker *w) { return STAT_LOAD(stats_reader_stats(w->reader)->timeouts); }

static void write_events(FILE *out, const struct worker *workers, int n)
{
    write_family(out, "tally_events_submitted_total", "counter",
                 "Events handed to the store.");
    fprintf(out, "tally_events_submitted_total %llu\n",
            (unsigned long long)sum_workers(workers, n, ev_submitted));
    write_family(out, "tally_events_written_total", "counter",
                 "Events written to Redis, or found already written.");
    fprintf(out, "tally_events_written_total %llu\n",
            (unsigned long long)sum_workers(workers, n, ev_written));
    write_family(out, "tally_events_failed_total", "counter",
                 "Events that could not be written to Redis.");
    fprintf(out, "tally_events_failed_total %llu\n",
            (unsigned long long)sum_workers(workers, n, ev_failed));
    write_family(out, "tally_opens_plain_total", "counter",
                 "Repeated opens written with plain commands instead of a script.");
    fprintf(out, "tally_opens_plain_total %llu\n",
            (unsigned long long)sum_workers(workers, n, opens_plain));
    write_family(out, "tally_opens_one_command_total", "counter",
                 "Repeated opens written with one ZADD, their renewal known to renewal_cache.");
    fprintf(out, "tally_opens_one_command_total %llu\n",
            (unsigned long long)sum_workers(workers, n, opens_one_command));
    write_family(out, "tally_clicks_plain_total", "counter",
                 "A person's clicks written with plain commands instead of a script.");
    fprintf(out, "tally_clicks_plain_total %llu\n",
            (unsigned long long)sum_workers(workers, n, clicks_plain));
    write_family(out, "tally_orders_repeated_total", "counter",
                 "Checkouts of an order id that was already claimed.");
    fprintf(out, "tally_orders_repeated_total %llu\n",
            (unsigned long long)sum_workers(workers, n, orders_repeated));
    write_family(out, "tally_orders_unattributed_total", "counter",
                 "Orders credited to no campaign.");
    fprintf(out, "tally_orders_unattributed_total %llu\n",
            (unsigned long long)sum_workers(workers, n, orders_unattributed));
}

static uint64_t journaled(const struct worker *w) { return STAT_LOAD(store_stats(w->store)->journaled); }
static uint64_t replayed(const struct worker *w) { return STAT_LOAD(store_stats(w->store)->replayed); }
static uint64_t journal_dropped(const struct worker *w) { return STAT_LOAD(store_stats(w->store)->journal_dropped); }
static uint64_t journal_skipped(const struct worker *w) { return STAT_LOAD(store_stats(w->store)->journal_skipped); }
static uint64_t redis_timeouts(const struct worker *w) { return STAT_LOAD(store_stats(w->store)->timeouts); }
static uint64_t journal_bytes(const struct worker *w) { return STAT_LOAD(store_stats(w->store)->journal_bytes); }

static void write_journal(FILE *out, const struct worker *workers, int n)
{
    static const struct {
        const char *name;
        const char *help;
        worker_value_fn fn;
    } counters[] = {
        {"tally_journal_events_written_total",
         "Events written to the local journal while Redis could not take them.",
         journaled},
        {"tally_journal_events_replayed_total",
         "Journal records applied to Redis after it came back.", replayed},
        {"tally_journal_events_dropped_total",
         "Events lost because the journal was full or not writable.", journal_dropped},
        {"tally_journal_events_skipped_total",
         "Journal records given up: undecodable, or rejected by Redis on every attempt.",
         journal_skipped},
        {"tally_redis_timeouts_total",
         "Store connections dropped after a write went unanswered for redis_timeout.",
         redis_timeouts},
        {"tally_stats_redis_timeouts_total",
         "Stats connections dropped after a read went unanswered for redis_timeout.",
         reader_timeouts},
    };

    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
        write_family(out, counters[i].name, "counter", counters[i].help);
        fprintf(out, "%s %llu\n", counters[i].name,
                (unsigned long long)sum_workers(workers, n, counters[i].fn));
    }
    write_family(out, "tally_journal_bytes", "gauge",
                 "Size of the journal files not yet replayed, in bytes.");
    fprintf(out, "tally_journal_bytes %llu\n",
            (unsigned long long)sum_workers(workers, n, journal_bytes));
    write_family(out, "tally_journal_max_bytes", "gauge",
                 "journal_max_size of one worker's journal, in bytes.");
    fprintf(out, "tally_journal_max_bytes %llu\n",
            (unsigned long long)(n > 0 ? workers[0].cfg->journal_max_size : 0));
    write_family(out, "tally_journal_spooling", "gauge",
                 "1 while a worker sends new events to its journal, by worker.");
    for (int i = 0; i < n; i++)
        fprintf(out, "tally_journal_spooling{worker=\"%d\"} %d\n", i,
                STAT_LOAD(store_stats(workers[i].store)->spooling) ? 1 : 0);
}

static void write_redis(FILE *out, const struct worker *workers, int n)
{
    write_family(out, "tally_redis_connected", "gauge",
                 "1 while a connection to Redis is up, by worker and role.");
    for (int i = 0; i < n; i++) {
        fprintf(out, "tally_redis_connected{role=\"store\",worker=\"%d\"} %d\n", i,
                STAT_LOAD(store_stats(workers[i].store)->connected) ? 1 : 0);
        fprintf(out, "tally_redis_connected{role=\"stats\",worker=\"%d\"} %d\n", i,
                STAT_LOAD(stats_reader_stats(workers[i].reader)->connected) ? 1 : 0);
    }
    write_family(out, "tally_redis_reconnects_total", "counter",
                 "Store connections lost and reopened.");
    fprintf(out, "tally_redis_reconnects_total{role=\"store\"} %llu\n",
            (unsigned long long)sum_workers(workers, n, store_reconnects));
    write_family(out, "tally_redis_connects_total", "counter",
                 "Connections opened on demand for stats reads.");
    fprintf(out, "tally_redis_connects_total{role=\"stats\"} %llu\n",
            (unsigned long long)sum_workers(workers, n, reader_connects));
}

static uint64_t pixel_invalid(const struct worker *w) { return load(&w->counters.pixel_invalid); }
static uint64_t click_invalid(const struct worker *w) { return load(&w->counters.click_invalid); }
static uint64_t beacon_token_invalid(const struct worker *w) { return load(&w->counters.beacon_token_invalid); }
static uint64_t api_token_invalid(const struct worker *w) { return load(&w->metrics.api_token_invalid); }
static uint64_t api_forbidden(const struct worker *w) { return load(&w->metrics.api_forbidden); }
static uint64_t api_redis_failed(const struct worker *w) { return load(&w->metrics.api_redis_failed); }
static uint64_t beacon_rejected(const struct worker *w) { return load(&w->counters.beacon_rejected); }
static uint64_t not_found(const struct worker *w) { return load(&w->counters.not_found); }
static uint64_t beacon_rate_limited(const struct worker *w) { return load(&w->counters.beacon_rate_limited); }
static uint64_t client_addr_malformed(const struct worker *w) { return load(&w->counters.client_addr_malformed); }
static uint64_t token_retired(const struct worker *w) { return load(&w->counters.token_retired); }
static uint64_t sign_rejected(const struct worker *w) { return load(&w->counters.sign_rejected); }

static void write_rejections(FILE *out, const struct worker *workers, int n)
{
    write_family(out, "tally_invalid_tokens_total", "counter",
                 "Tokens that did not verify, by where they came from.");
    fprintf(out, "tally_invalid_tokens_total{kind=\"pixel\"} %llu\n",
            (unsigned long long)sum_workers(workers, n, pixel_invalid));
    fprintf(out, "tally_invalid_tokens_total{kind=\"click\"} %llu\n",
            (unsigned long long)sum_workers(workers, n, click_invalid));
    fprintf(out, "tally_invalid_tokens_total{kind=\"beacon\"} %llu\n",
            (unsigned long long)sum_workers(workers, n, beacon_token_invalid));
    fprintf(out, "tally_invalid_tokens_total{kind=\"api\"} %llu\n",
            (unsigned long long)sum_workers(workers, n, api_token_invalid));
    write_family(out, "tally_api_forbidden_total", "counter",
                 "API requests whose token lacks the scope (403).");
    fprintf(out, "tally_api_forbidden_total %llu\n",
            (unsigned long long)sum_workers(workers, n, api_forbidden));
    write_family(out, "tally_api_redis_failed_total", "counter",
                 "API requests answered 503 because a Redis read failed.");
    fprintf(out, "tally_api_redis_failed_total %llu\n",
            (unsigned long long)sum_workers(workers, n, api_redis_failed));
    write_family(out, "tally_beacons_rejected_total", "counter",
                 "Beacons answered with a 4xx.");
    fprintf(out, "tally_beacons_rejected_total %llu\n",
            (unsigned long long)sum_workers(workers, n, beacon_rejected));
    write_family(out, "tally_beacons_rate_limited_total", "counter",
                 "Beacons answered 429 because their client was over beacon_rate; "
                 "also in tally_beacons_rejected_total.");
    fprintf(out, "tally_beacons_rate_limited_total %llu\n",
            (unsigned long long)sum_workers(workers, n, beacon_rate_limited));
    write_family(out, "tally_client_addr_malformed_total", "counter",
                 "Requests from a trusted proxy whose forwarding header could not "
                 "be read; the proxy's address was used.");
    fprintf(out, "tally_client_addr_malformed_total %llu\n",
            (unsigned long long)sum_workers(workers, n, client_addr_malformed));
    write_family(out, "tally_not_found_total", "counter",
                 "Requests for no route (404) or with a method the route lacks (405).");
    fprintf(out, "tally_not_found_total %llu\n",
            (unsigned long long)sum_workers(workers, n, not_found));
    write_family(out, "tally_tokens_retired_total", "counter",
                 "Valid tokens not counted because their signing key is retired.");
    fprintf(out, "tally_tokens_retired_total %llu\n",
            (unsigned long long)sum_workers(workers, n, token_retired));
    write_family(out, "tally_sign_rejected_total", "counter",
                 "POST /v1/sign requests answered with a 4xx.");
    fprintf(out, "tally_sign_rejected_total %llu\n",
            (unsigned long long)sum_workers(workers, n, sign_rejected));
}

char *metrics_render(const struct worker *workers, int n, size_t *len)
{
    char *text = NULL;
    FILE *out = open_memstream(&text, len);

    if (out == NULL)
        return NULL;
    write_family(out, "tally_build_info", "gauge", "Version of this tallyd.");
    fprintf(out, "tally_build_info{version=\"%s\"} 1\n", TALLY_VERSION);
    write_family(out, "tally_workers", "gauge", "Event loop threads.");
    fprintf(out, "tally_workers %d\n", n);
    write_requests(out, workers, n);
    write_latency(out, workers, n);
    write_http(out, workers, n);
    write_events(out, workers, n);
    write_journal(out, workers, n);
    write_redis(out, workers, n);
    write_rejections(out, workers, n);
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
