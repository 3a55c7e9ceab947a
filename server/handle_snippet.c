/*
 * handle_snippet.c - the webshop snippet, GET /tally.js.
 *
 * The minified script is compiled into tallyd (snippet_asset.h), so the
 * server needs no file at run time and the script always matches the
 * beacon fields this build accepts. Shops load it on every page, so it is
 * cacheable: browsers keep it for CACHE_CONTROL's five minutes, then
 * revalidate with If-None-Match and get a body-less 304 while the build
 * is unchanged. A new tallyd build carries a new ETag, which browsers pick
 * up within those five minutes.
 */
#include <http_parser.h>
#include <stdbool.h>
#include <string.h>

#include "handlers.h"
#include "snippet_asset.h"

#define CONTENT_TYPE "application/javascript; charset=utf-8"
#define CACHE_CONTROL "public, max-age=300"

/*
 * Tells whether an If-None-Match value lists etag, by the weak comparison
 * RFC 9110 section 13.1.2 prescribes for it: "*" matches, and W/"x" matches
 * "x". A malformed list matches nothing, so the client gets the full body.
 */
static bool etag_listed(const char *list, size_t len, const char *etag)
{
    size_t etag_len = strlen(etag);
    size_t i = 0;

    while (i < len) {
        size_t start;

        while (i < len && (list[i] == ' ' || list[i] == '\t' || list[i] == ','))
            i++;
        if (i == len)
            break;
        if (list[i] == '*')
            return true;
        if (len - i >= 2 && list[i] == 'W' && list[i + 1] == '/')
            i += 2;
        if (i == len || list[i] != '"')
            return false;

        start = i++;
        while (i < len && list[i] != '"')
            i++;
        if (i == len)
            return false;
        i++;
        if (i - start == etag_len && memcmp(list + start, etag, etag_len) == 0)
            return true;
    }
    return false;
}

void handle_snippet(struct worker *w, struct http_request *req)
{
    const struct http_header *inm = http_request_header(req, "If-None-Match");
    const struct http_header headers[] = {
        {"ETag", 4, snippet_js_etag, strlen(snippet_js_etag)},
        {"Cache-Control", 13, CACHE_CONTROL, sizeof(CACHE_CONTROL) - 1},
        {"X-Content-Type-Options", 22, "nosniff", 7},
        /* Lets shops load it with crossorigin or Subresource Integrity. */
        {"Access-Control-Allow-Origin", 27, "*", 1},
    };
    size_t n_headers = sizeof(headers) / sizeof(headers[0]);

    (void)w;
    if (inm != NULL && etag_listed(inm->value, inm->value_len, snippet_js_etag)) {
        http_respond(req, 304, NULL, headers, n_headers, NULL, 0);
        return;
    }
    http_respond(req, 200, CONTENT_TYPE, headers, n_headers, snippet_js,
                 snippet_js_len);
}
