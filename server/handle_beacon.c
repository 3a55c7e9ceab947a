/*
 * handle_beacon.c - browser beacons: POST /b, its CORS preflight
 * OPTIONS /b, and the image fallback GET /b.gif?...
 *
 * Browsers send POST /b with navigator.sendBeacon (Content-Type
 * text/plain, no preflight) or fetch (application/json, after a
 * preflight). A beacon that parses is answered 204 and recorded; one that
 * does not gets 400 with a one-line reason. GET /b.gif carries the same
 * fields in its query and is always answered with the GIF, like a pixel.
 *
 * CORS: when shop_origins is set, a request whose Origin is not in it gets
 * 403, and an allowed one gets Access-Control-Allow-Origin with its own
 * origin. With shop_origins empty, beacons are accepted but no
 * Access-Control header is sent, so a fetch from a page cannot read the
 * answer (sendBeacon does not need to).
 *
 * A checkout whose tly token does not verify is still recorded, as if it
 * had come without a token: the order happened, and identity lookups may
 * still credit it. Placeholder identifiers ("guest", "0", the hash of an
 * empty address) are accepted and ignored, and the store counts them. A
 * reader on the suppression list gets the same answers, but its identify
 * links are not stored and its token and email hash credit nothing.
 *
 * Beacons are limited per client address (see ratelimit.h) before their
 * body is parsed, so that one script cannot invent orders in bulk: POST /b
 * over the limit gets 429 with Retry-After, and GET /b.gif still gets its
 * GIF but records nothing. Preflights are not limited.
 */
#include <http_parser.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "beacon.h"
#include "handlers.h"
#include "ident.h"
#include "intake.h"
#include "log.h"
#include "origin.h"
#include "ratelimit.h"
#include "store.h"
#include "token.h"

#define HDR(n, v) {n, sizeof(n) - 1, v, sizeof(v) - 1}

/* Preflight answers may be cached by the browser for a day. */
#define PREFLIGHT_MAX_AGE "86400"

static void reject(struct worker *w, struct http_request *req, int status,
                   const struct http_header *extra, size_t n_extra,
                   const char *reason)
{
    char line[256];
    int n = snprintf(line, sizeof(line), "%s\n", reason);
    unsigned long long id = (unsigned long long)req->id;

    http_respond(req, status, "text/plain; charset=utf-8", extra, n_extra, line,
                 (size_t)n);
    atomic_fetch_add_explicit(&w->counters.beacon_rejected, 1, memory_order_relaxed);
    LOG_LIMITED(LOG_LEVEL_INFO, "beacon.rejected", "id=%llu status=%d reason=\"%s\"",
                id, status, log_quotable(reason, line, sizeof(line)));
}

static uint64_t monotonic_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

/* Takes a token from the bucket of req's client. Returns true when the
 * beacon may go on; otherwise counts and logs it, with the seconds until
 * the next token in *retry_after. */
static bool take_beacon_token(struct worker *w, const struct http_request *req,
                              uint32_t *retry_after)
{
    char client_text[NETADDR_TEXT_MAX];
    struct netaddr client;

    /* A peer that is not an IP address is limited as "::". */
    worker_client_addr(w, req, &client);
    if (ratelimit_take(w->beacon_limit, &client, monotonic_ms(), retry_after))
        return true;

    atomic_fetch_add_explicit(&w->counters.beacon_rate_limited, 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&w->counters.beacon_rejected, 1, memory_order_relaxed);
    netaddr_format_truncated(&client, client_text);
    LOG_LIMITED(LOG_LEVEL_INFO, "beacon.rate_limited",
                "id=%llu client=%s retry_after=%u", (unsigned long long)req->id,
                client_text, *retry_after);
    return false;
}

/* Applies the limit to a POST /b. Returns true when the beacon may go on;
 * otherwise the beacon has got its 429 response, with the CORS headers. */
static bool within_rate(struct worker *w, struct http_request *req,
                        const struct http_header *cors, size_t n_cors)
{
    static const char body[] = "too many beacons from this address; retry later\n";
    struct http_header headers[3];
    char seconds[16];
    uint32_t retry_after = 0;

    if (take_beacon_token(w, req, &retry_after))
        return true;

    headers[0] = (struct http_header){"Retry-After", 11, seconds, 0};
    headers[0].value_len = (size_t)snprintf(seconds, sizeof(seconds), "%u", retry_after);
    for (size_t i = 0; i < n_cors && i < 2; i++)
        headers[1 + i] = cors[i];
    http_respond(req, 429, "text/plain; charset=utf-8", headers, 1 + n_cors, body,
                 sizeof(body) - 1);
    return false;
}

/* Verifies the beacon's tly token into *visit. Returns true when valid. */
static bool verify_visit(struct worker *w, const struct beacon *b,
                         struct event_touch *visit)
{
    uint8_t scratch[TOKEN_BINARY_MAX];
    struct token tok;
    enum token_status status;

    if (!b->has_token)
        return false;
    status = token_decode(w->signer, b->token, strlen(b->token), TOKEN_VISIT,
                          scratch, &tok);
    if (status != TOKEN_OK) {
        atomic_fetch_add_explicit(&w->counters.beacon_token_invalid, 1,
                                  memory_order_relaxed);
        LOG_LIMITED(LOG_LEVEL_INFO, "beacon.invalid_token", "status=%s",
                    token_status_name(status));
        return false;
    }

    memset(visit, 0, sizeof(*visit));
    memcpy(visit->campaign, tok.campaign, sizeof(tok.campaign));
    memcpy(visit->message, tok.message, sizeof(tok.message));
    memcpy(visit->reader, tok.reader, sizeof(tok.reader));
    memcpy(visit->click_id, tok.click_id, sizeof(tok.click_id));
    visit->link = tok.link;
    visit->time = tok.issued;
    return true;
}

/* Hashes the beacon's customer id into out unless it is a placeholder.
 * Returns 1 when hashed, 0 when absent or a placeholder (*placeholder
 * set), -1 when unusable. */
static int hash_customer(struct worker *w, const struct beacon *b, bool *placeholder,
                         uint8_t out[TOKEN_READER_LEN])
{
    size_t len = strlen(b->customer_id);

    *placeholder = false;
    if (!b->has_customer)
        return 0;
    if (ident_is_placeholder(b->customer_id, len)) {
        *placeholder = true;
        return 0;
    }
    return ident_customer_id(w->signer, b->shop, b->customer_id, len, out) == 0 ? 1 : -1;
}

/* Same for the device id. */
static int hash_device(struct worker *w, const struct beacon *b, bool *placeholder,
                       uint8_t out[TOKEN_READER_LEN])
{
    size_t len = strlen(b->device_id);

    *placeholder = false;
    if (!b->has_device)
        return 0;
    if (ident_is_placeholder(b->device_id, len)) {
        *placeholder = true;
        return 0;
    }
    return ident_device_id(w->signer, b->shop, b->device_id, len, out) == 0 ? 1 : -1;
}

/* Same for the email hash, into a reader id. */
static int hash_email(struct worker *w, const struct beacon *b, bool *placeholder,
                      uint8_t out[TOKEN_READER_LEN])
{
    *placeholder = false;
    if (!b->has_email)
        return 0;
    if (ident_email_is_placeholder(b->email_sha256)) {
        *placeholder = true;
        return 0;
    }
    return ident_reader_id(w->signer, b->email_sha256, out) == 0 ? 1 : -1;
}

static int build_identify(struct worker *w, const struct beacon *b,
                          struct event *ev, const char **reason)
{
    struct event_identify *id = &ev->u.identify;
    struct event_touch visit;
    bool placeholder;
    int rc;

    memcpy(id->shop, b->shop, sizeof(id->shop));
    rc = hash_customer(w, b, &placeholder, id->customer);
    id->has_customer = rc == 1;
    id->placeholders += placeholder;
    if (rc >= 0) {
        rc = hash_device(w, b, &placeholder, id->device);
        id->has_device = rc == 1;
        id->placeholders += placeholder;
    }
    if (rc < 0) {
        *reason = "customer_id or device_id is not usable";
        return -1;
    }

    if (verify_visit(w, b, &visit)) {
        memcpy(id->reader, visit.reader, sizeof(id->reader));
        id->has_reader = true;
        id->reader_from_token = true;
        return 0;
    }
    rc = hash_email(w, b, &placeholder, id->reader);
    id->placeholders += placeholder;
    if (rc < 0) {
        *reason = "email_sha256 could not be hashed";
        return -1;
    }
    id->has_reader = rc == 1;
    return 0;
}

static int build_checkout(struct worker *w, const struct beacon *b,
                          struct event *ev, const char **reason)
{
    struct event_checkout *co = &ev->u.checkout;
    int rc;

    memcpy(co->shop, b->shop, sizeof(co->shop));
    memcpy(co->order_id, b->order_id, sizeof(co->order_id));
    memcpy(co->currency, b->currency, sizeof(co->currency));
    co->revenue_minor = b->revenue_minor;
    co->has_visit = verify_visit(w, b, &co->visit);
    co->token_invalid = b->has_token && !co->has_visit;

    rc = hash_customer(w, b, &co->customer_placeholder, co->customer);
    co->has_customer = rc == 1;
    if (rc >= 0) {
        rc = hash_device(w, b, &co->device_placeholder, co->device);
        co->has_device = rc == 1;
    }
    if (rc >= 0) {
        rc = hash_email(w, b, &co->email_placeholder, co->email_reader);
        co->has_email_reader = rc == 1;
    }
    if (rc < 0) {
        *reason = "customer_id, device_id or email_sha256 is not usable";
        return -1;
    }
    return 0;
}

static void build_refund(const struct beacon *b, struct event *ev)
{
    struct event_refund *rf = &ev->u.refund;

    memcpy(rf->shop, b->shop, sizeof(rf->shop));
    memcpy(rf->order_id, b->order_id, sizeof(rf->order_id));
    memcpy(rf->currency, b->currency, sizeof(rf->currency));
    rf->has_amount = b->has_amount;
    rf->amount_minor = b->amount_minor;
    if (b->has_refund_id)
        snprintf(rf->refund_key, sizeof(rf->refund_key), "id:%s", b->refund_id);
    else
        strcpy(rf->refund_key, "full");
}

int beacon_to_event(struct worker *w, const struct beacon *b,
                    enum event_source source, struct event *ev,
                    const char **reason)
{
    memset(ev, 0, sizeof(*ev));
    ev->time = (uint32_t)time(NULL);
    switch (b->type) {
    case BEACON_IDENTIFY:
        ev->kind = EVENT_IDENTIFY;
        return build_identify(w, b, ev, reason);
    case BEACON_CHECKOUT:
        ev->kind = EVENT_CHECKOUT;
        ev->u.checkout.source = source;
        return build_checkout(w, b, ev, reason);
    case BEACON_REFUND:
        ev->kind = EVENT_REFUND;
        ev->u.refund.source = source;
        build_refund(b, ev);
        return 0;
    }
    *reason = "unknown beacon type";
    return -1;
}

/* Checks the request's Origin against shop_origins. Returns 1 when allowed
 * (cors filled with the Access-Control-Allow-Origin and Vary headers), 0
 * when there is no Origin or no list (no CORS headers), -1 when denied. */
static int check_origin(const struct worker *w, const struct http_request *req,
                        struct http_header cors[2])
{
    const struct http_header *origin = http_request_header(req, "Origin");

    if (origin == NULL || w->origins.n == 0)
        return 0;
    if (!origin_list_allows(&w->origins, origin->value, origin->value_len))
        return -1;
    cors[0] = (struct http_header){"Access-Control-Allow-Origin", 27, origin->value,
                                   origin->value_len};
    cors[1] = (struct http_header)HDR("Vary", "Origin");
    return 1;
}

static void handle_preflight(struct worker *w, struct http_request *req)
{
    struct http_header headers[5];
    int allowed = check_origin(w, req, headers);

    if (allowed != 1) {
        reject(w, req, 403, NULL, 0, "origin is not in shop_origins");
        return;
    }
    headers[2] = (struct http_header)HDR("Access-Control-Allow-Methods", "POST");
    headers[3] = (struct http_header)HDR("Access-Control-Allow-Headers", "Content-Type");
    headers[4] = (struct http_header)HDR("Access-Control-Max-Age", PREFLIGHT_MAX_AGE);
    http_respond(req, 204, NULL, headers, 5, NULL, 0);
}

/* Removes what names a suppressed reader from ev. Returns true when
 * nothing of ev may be recorded. */
static bool drop_suppressed(struct worker *w, struct event *ev)
{
    struct event_identify *id = &ev->u.identify;
    struct event_checkout *co = &ev->u.checkout;

    switch (ev->kind) {
    case EVENT_IDENTIFY:
        return id->has_reader && intake_suppressed(w, id->reader);
    case EVENT_CHECKOUT:
        if (co->has_visit && intake_suppressed(w, co->visit.reader))
            co->has_visit = false;
        if (co->has_email_reader && intake_suppressed(w, co->email_reader))
            co->has_email_reader = false;
        return false;
    default:
        return false;
    }
}

void handle_beacon(struct worker *w, struct http_request *req)
{
    const struct http_header *type = http_request_header(req, "Content-Type");
    struct http_header cors[2];
    const char *reason = NULL;
    struct beacon b;
    struct event ev;
    struct ua_traits traits;
    int allowed;

    if (req->method == HTTP_OPTIONS) {
        handle_preflight(w, req);
        return;
    }
    allowed = check_origin(w, req, cors);
    if (allowed < 0) {
        reject(w, req, 403, NULL, 0, "origin is not in shop_origins");
        return;
    }
    size_t n_cors = allowed == 1 ? 2 : 0;

    if (req->method != HTTP_POST) {
        reject(w, req, 405, cors, n_cors, "beacons are sent with POST");
        return;
    }
    if (!within_rate(w, req, cors, n_cors))
        return;
    if (type != NULL && !http_media_type_is(type, "text/plain") &&
        !http_media_type_is(type, "application/json")) {
        reject(w, req, 415, cors, n_cors,
               "Content-Type must be text/plain or application/json");
        return;
    }
    if (req->body == NULL || req->body_len == 0) {
        reject(w, req, 400, cors, n_cors, "body is empty");
        return;
    }
    if (beacon_parse(req->body, req->body_len, &b, &reason) != 0 ||
        beacon_to_event(w, &b, EVENT_SOURCE_BROWSER, &ev, &reason) != 0) {
        reject(w, req, 400, cors, n_cors, reason);
        return;
    }

    handle_set_device(&ev, intake_user_agent(w, req, &traits));
    beacon_record(w, &ev);
    http_respond(req, 204, NULL, cors, n_cors, NULL, 0);
}

void beacon_record(struct worker *w, struct event *ev)
{
    if (!drop_suppressed(w, ev))
        store_submit(w->store, ev);
}

void handle_beacon_gif(struct worker *w, struct http_request *req)
{
    const char *reason = NULL;
    struct beacon b;
    struct event ev;
    struct ua_traits traits;
    long skipped = 0;
    bool record = req->method == HTTP_GET;
    uint32_t retry_after = 0;
    unsigned long long id = (unsigned long long)req->id;
    int rc;

    /* Over the limit, the image still loads but records nothing. */
    if (record && !take_beacon_token(w, req, &retry_after)) {
        pixel_respond(req);
        return;
    }

    rc = req->query == NULL ? -1
         : beacon_parse_query(req->query, req->query_len, &b, &reason, &skipped);
    if (rc == 0)
        rc = beacon_to_event(w, &b, EVENT_SOURCE_BROWSER, &ev, &reason);
    if (rc == 0 && record) {
        handle_set_device(&ev, intake_user_agent(w, req, &traits));
        beacon_record(w, &ev);
    }
    pixel_respond(req);

    if (skipped > 0)
        LOG_LIMITED(LOG_LEVEL_INFO, "beacon.query_pieces_skipped", "id=%llu count=%ld",
                    id, skipped);
    if (rc != 0) {
        char quoted[256];

        atomic_fetch_add_explicit(&w->counters.beacon_rejected, 1, memory_order_relaxed);
        LOG_LIMITED(LOG_LEVEL_INFO, "beacon.rejected", "id=%llu status=gif reason=\"%s\"",
                    id, log_quotable(reason != NULL ? reason : "query is missing",
                                     quoted, sizeof(quoted)));
    }
}
