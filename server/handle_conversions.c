/*
 * handle_conversions.c - POST /v1/conversions, the server-to-server API.
 *
 * A shop's backend confirms checkouts and refunds with the same JSON body
 * as a browser beacon, signed with its shop secret (conversion_auth.h).
 * A verified checkout counts the order once and marks it verified, also
 * when the browser's beacon for the same order arrived first. Answers:
 * 204 when accepted, 400 for a body that does not parse or an identify
 * (browsers send those), 401 for a missing, stale or wrong signature or a
 * shop without a secret, 405 for another method, 415 for another type.
 *
 * A request replayed within conversion_max_age is accepted again and
 * changes nothing, because an order is claimed once and a refund counts
 * once per refund key; an older one fails the timestamp check.
 */
#include <http_parser.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "beacon.h"
#include "conversion_auth.h"
#include "handlers.h"
#include "keyring.h"
#include "log.h"
#include "store.h"

/* Responds with status and reason as a text line, plus n_headers headers. */
static void reject_with(struct worker *w, struct http_request *req, int status,
                        const char *reason, const struct http_header *headers,
                        size_t n_headers)
{
    char line[256];
    int n = snprintf(line, sizeof(line), "%s\n", reason);

    http_respond(req, status, "text/plain; charset=utf-8", headers, n_headers, line,
                 (size_t)n);
    atomic_fetch_add_explicit(&w->counters.conversions_rejected, 1, memory_order_relaxed);
    LOG_LIMITED(LOG_LEVEL_INFO, "conversions.rejected", "status=%d reason=\"%s\"",
                status, log_quotable(reason, line, sizeof(line)));
}

static void reject(struct worker *w, struct http_request *req, int status,
                   const char *reason)
{
    reject_with(w, req, status, reason, NULL, 0);
}

/* Checks the signature headers for the beacon's shop. Returns 0, or -1
 * with the reason in *reason. */
static int authenticate(struct worker *w, const struct http_request *req,
                        const struct beacon *b, const char **reason)
{
    const struct http_header *ts = http_request_header(req, "X-Tally-Timestamp");
    const struct http_header *sig = http_request_header(req, "X-Tally-Signature");
    const uint8_t *secret = keyring_shop_secret(w->shops, w->n_shops, b->shop);
    enum conversion_auth_status status;

    if (ts == NULL || sig == NULL) {
        *reason = "X-Tally-Timestamp and X-Tally-Signature are required";
        return -1;
    }
    if (secret == NULL) {
        *reason = "shop has no shop_secret in the keys file";
        return -1;
    }
    status = conversion_auth_check(secret, ts->value, ts->value_len, sig->value,
                                   sig->value_len, req->body, req->body_len,
                                   (uint32_t)time(NULL),
                                   (uint32_t)(w->cfg->conversion_max_age_ms / 1000));
    switch (status) {
    case CONVERSION_AUTH_OK:
        return 0;
    case CONVERSION_AUTH_MALFORMED:
        *reason = "X-Tally-Signature must be sha256=<64 hex> and X-Tally-Timestamp "
                  "Unix seconds";
        return -1;
    case CONVERSION_AUTH_STALE:
        *reason = "X-Tally-Timestamp is too far from the server's clock";
        return -1;
    case CONVERSION_AUTH_BAD_MAC:
        break;
    }
    *reason = "X-Tally-Signature does not match the body";
    return -1;
}

void handle_conversions(struct worker *w, struct http_request *req)
{
    const struct http_header *type = http_request_header(req, "Content-Type");
    const char *reason = NULL;
    struct beacon b;
    struct event ev;

    if (req->method != HTTP_POST) {
        static const struct http_header allow = {"Allow", 5, "POST", 4};

        reject_with(w, req, 405, "conversions are sent with POST", &allow, 1);
        return;
    }
    if (type == NULL || !http_media_type_is(type, "application/json")) {
        reject(w, req, 415, "Content-Type must be application/json");
        return;
    }
    if (req->body == NULL || req->body_len == 0) {
        reject(w, req, 400, "body is empty");
        return;
    }
    /* The shop named in the body picks the secret, so the body is parsed
     * first; nothing from it is used before the MAC is checked. */
    if (beacon_parse(req->body, req->body_len, &b, &reason) != 0) {
        reject(w, req, 400, reason);
        return;
    }
    if (authenticate(w, req, &b, &reason) != 0) {
        reject(w, req, 401, reason);
        return;
    }
    if (b.type == BEACON_IDENTIFY) {
        reject(w, req, 400, "type must be \"checkout\" or \"refund\"");
        return;
    }
    if (beacon_to_event(w, &b, EVENT_SOURCE_SERVER, &ev, &reason) != 0) {
        reject(w, req, 400, reason);
        return;
    }

    beacon_record(w, &ev);
    http_respond(req, 204, NULL, NULL, 0, NULL, 0);
}
