/*
 * routes.c - maps a request to its handler by method and path.
 *
 *   /o/<token>.gif   pixel        GET, HEAD
 *   /c/<token>       click        GET, HEAD
 *   /b               beacon       POST, OPTIONS (CORS preflight)
 *   /b.gif           beacon       GET, HEAD (image fallback)
 *   /v1/conversions  conversions  POST (signed by a shop's backend)
 *   /v1/sign         minting      POST, bearer token with the sign scope
 *   /v1/readers/<h>  forget       DELETE (admin token)
 *   /tally.js        snippet      GET, HEAD
 *   /healthz         liveness     GET, HEAD
 *   /readyz          readiness    GET, HEAD
 *   /metrics         Prometheus   GET, HEAD
 *   /v1/...          stats API    GET, HEAD (read token)
 *   /dashboard...    dashboard    GET, HEAD
 */
#include <http_parser.h>
#include <stdatomic.h>
#include <string.h>

#include "handlers.h"
#include "log.h"

static bool path_is(const struct http_request *req, const char *path)
{
    size_t len = strlen(path);

    return req->path_len == len && memcmp(req->path, path, len) == 0;
}

static bool path_starts(const struct http_request *req, const char *prefix)
{
    size_t len = strlen(prefix);

    return req->path_len > len && memcmp(req->path, prefix, len) == 0;
}

void handle_text(struct http_request *req, int status, const char *text)
{
    http_respond(req, status, "text/plain; charset=utf-8", NULL, 0, text,
                 strlen(text));
}

void handle_set_device(struct event *ev, const struct ua_traits *ua)
{
    if (ua == NULL)
        return;
    ev->device = (uint8_t)ua->device;
    ev->client = (uint8_t)ua->client;
}

static bool is_get_or_head(const struct http_request *req)
{
    return req->method == HTTP_GET || req->method == HTTP_HEAD;
}

void worker_route(struct http_request *req, void *arg)
{
    struct worker *w = arg;

    if (path_starts(req, "/o/") && is_get_or_head(req)) {
        handle_pixel(w, req);
        return;
    }
    if (path_starts(req, "/c/") && is_get_or_head(req)) {
        handle_click(w, req);
        return;
    }
    if (path_is(req, "/b")) {
        handle_beacon(w, req);
        return;
    }
    if (path_is(req, "/v1/sign")) {
        handle_sign(w, req);
        return;
    }
    if (path_is(req, "/b.gif") && is_get_or_head(req)) {
        handle_beacon_gif(w, req);
        return;
    }
    if (path_is(req, "/v1/conversions")) {
        handle_conversions(w, req);
        return;
    }
    if (path_is(req, "/tally.js") && is_get_or_head(req)) {
        handle_snippet(w, req);
        return;
    }
    if (path_starts(req, "/v1/readers/")) {
        handle_reader_delete(w, req);
        return;
    }
    if (path_is(req, "/healthz") && is_get_or_head(req)) {
        handle_text(req, 200, "ok\n");
        return;
    }
    if (path_is(req, "/readyz") && is_get_or_head(req)) {
        handle_readyz(w, req);
        return;
    }
    if (path_is(req, "/metrics") && is_get_or_head(req)) {
        handle_metrics(w, req);
        return;
    }
    if (path_starts(req, "/v1/")) {
        handle_api(w, req);
        return;
    }
    if (path_is(req, "/dashboard") || path_starts(req, "/dashboard/")) {
        handle_dashboard(w, req);
        return;
    }

    atomic_fetch_add_explicit(&w->counters.not_found, 1, memory_order_relaxed);
    /* The path is not logged: a mistyped tracking URL may carry a token. */
    LOG_LIMITED(LOG_LEVEL_INFO, "http.not_found", "id=%llu method=%s path_length=%zu",
                (unsigned long long)req->id, http_method_str(req->method),
                req->path_len);
    if (path_starts(req, "/o/") || path_starts(req, "/c/") || path_is(req, "/healthz") ||
        path_is(req, "/b.gif") || path_is(req, "/readyz") || path_is(req, "/metrics") ||
        path_is(req, "/tally.js"))
        handle_text(req, 405, "method not allowed\n");
    else
        handle_text(req, 404, "not found\n");
}
