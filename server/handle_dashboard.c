/*
 * handle_dashboard.c - GET /dashboard and its scripts and styles.
 *
 * The page itself needs no token: it holds no data and asks the user for a
 * read token, which its script sends to the stats API. The
 * Content-Security-Policy lets the page load only tallyd's own files and
 * talk only to tallyd, so it makes no request elsewhere even if a future
 * change tried. Inline styles are allowed because uPlot sizes its chart
 * elements through style attributes.
 */
#include <http_parser.h>

#include "dashboard_assets.h"
#include "handlers.h"

#define HDR(n, v) {n, sizeof(n) - 1, v, sizeof(v) - 1}

static const struct http_header asset_headers[] = {
    HDR("Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"),
    HDR("Cache-Control", "no-cache"),
    HDR("X-Content-Type-Options", "nosniff"),
    HDR("Referrer-Policy", "no-referrer"),
};

void handle_dashboard(struct worker *w, struct http_request *req)
{
    const struct dashboard_asset *asset = dashboard_asset_find(req->path, req->path_len);

    (void)w;
    if (asset == NULL) {
        handle_text(req, 404, "not found\n");
        return;
    }
    if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
        handle_text(req, 405, "method not allowed\n");
        return;
    }
    http_respond(req, 200, asset->content_type, asset_headers,
                 sizeof(asset_headers) / sizeof(asset_headers[0]), asset->data,
                 asset->len);
}
