/*
 * http_limits.c - the default HTTP limits (docs/http.md explains each).
 *
 * Kept apart from http.c so that the configuration code, which tallyctl also
 * links, can fill in defaults without pulling in the event loop.
 */
#include "http.h"

void http_limits_default(struct http_limits *limits)
{
    /* A click URL can carry an 8 KB destination, base64url-encoded inside
     * the token, so the request target limit is twice that. */
    limits->max_url_bytes = 16384;
    limits->max_header_bytes = 16384;
    limits->max_headers = 64;
    limits->max_body_bytes = 65536;
    limits->header_timeout_ms = 10000;
    limits->body_timeout_ms = 10000;
    limits->idle_timeout_ms = 60000;
    limits->write_timeout_ms = 30000;
    limits->max_connections = 10000;
}
