/*
 * handle_beacon.c - identify and checkout beacons, POST /b.
 *
 * Browsers send them with navigator.sendBeacon (Content-Type text/plain),
 * fetch (application/json) or from a shop's server. A beacon that parses is
 * answered 204 and recorded; one that does not gets 400 with a one-line
 * reason. A checkout whose tly token does not verify is still recorded, as
 * if it had come without a token: the order happened, and identity lookups
 * may still credit it. A reader on the suppression list gets the same
 * answers, but its identify links are not stored and its clicks credit
 * nothing.
 *
 * Beacons are limited per client address (see ratelimit.h), before their
 * body is parsed, so that one script cannot invent orders in bulk; a client
 * over its limit gets 429 with Retry-After.
 */
#include <http_parser.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "beacon.h"
#include "handlers.h"
#include "ident.h"
#include "intake.h"
#include "log.h"
#include "ratelimit.h"
#include "store.h"
#include "token.h"

static bool media_type_is(const struct http_header *h, const char *type)
{
    size_t len = strlen(type);

    if (h->value_len < len || strncasecmp(h->value, type, len) != 0)
        return false;
    return h->value_len == len || h->value[len] == ';' || h->value[len] == ' ';
}

static void reject(struct worker *w, struct http_request *req, int status,
                   const char *reason)
{
    char line[256];
    int n = snprintf(line, sizeof(line), "%s\n", reason);
    unsigned long long id = (unsigned long long)req->id;

    http_respond(req, status, "text/plain; charset=utf-8", NULL, 0, line, (size_t)n);
    atomic_fetch_add_explicit(&w->counters.beacon_rejected, 1, memory_order_relaxed);

    /* Reasons quote field values ("identify"); single quotes keep the
     * quoted log value in one piece. */
    for (char *q = line; *q != '\0'; q++) {
        if (*q == '"')
            *q = '\'';
        else if (*q == '\n')
            *q = '\0';
    }
    LOG_LIMITED(LOG_LEVEL_INFO, "beacon.rejected", "id=%llu status=%d reason=\"%s\"",
                id, status, line);
}

static uint64_t monotonic_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

/* Takes a token from the client's bucket. Returns true when the beacon may
 * go on; otherwise the beacon has got its 429 response. */
static bool within_rate(struct worker *w, struct http_request *req)
{
    static const char body[] = "too many beacons from this address; retry later\n";
    struct http_header retry = {"Retry-After", 11, NULL, 0};
    unsigned long long id = (unsigned long long)req->id;
    char client_text[NETADDR_TEXT_MAX];
    char seconds[16];
    struct netaddr client;
    uint32_t retry_after = 0;

    /* A peer that is not an IP address is limited as "::". */
    worker_client_addr(w, req, &client);
    if (ratelimit_take(w->beacon_limit, &client, monotonic_ms(), &retry_after))
        return true;

    retry.value = seconds;
    retry.value_len = (size_t)snprintf(seconds, sizeof(seconds), "%u", retry_after);
    http_respond(req, 429, "text/plain; charset=utf-8", &retry, 1, body,
                 sizeof(body) - 1);

    atomic_fetch_add_explicit(&w->counters.beacon_rate_limited, 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&w->counters.beacon_rejected, 1, memory_order_relaxed);
    netaddr_format_truncated(&client, client_text);
    LOG_LIMITED(LOG_LEVEL_INFO, "beacon.rate_limited",
                "id=%llu client=%s retry_after=%u", id, client_text, retry_after);
    return false;
}

/* Verifies the beacon's tly token into *visit. Returns true when valid. */
static bool verify_visit(struct worker *w, uint64_t req_id, const struct beacon *b,
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
        LOG_LIMITED(LOG_LEVEL_INFO, "beacon.invalid_token", "id=%llu status=%s",
                    (unsigned long long)req_id, token_status_name(status));
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

/* Builds the identify event; returns 0, or -1 with a reason. */
static int build_identify(struct worker *w, uint64_t req_id, const struct beacon *b,
                          struct event *ev, const char **reason)
{
    struct event_identify *id = &ev->u.identify;
    struct event_touch visit;

    if (ident_customer_id(w->signer, b->shop, b->customer_id,
                          strlen(b->customer_id), id->customer) != 0) {
        *reason = "customer_id is not usable";
        return -1;
    }
    if (verify_visit(w, req_id, b, &visit)) {
        memcpy(id->reader, visit.reader, sizeof(id->reader));
        return 0;
    }
    if (b->has_email && ident_reader_id(w->signer, b->email_sha256, id->reader) == 0)
        return 0;
    *reason = "token is not a valid tly token and no email_sha256 was given";
    return -1;
}

static int build_checkout(struct worker *w, uint64_t req_id, const struct beacon *b,
                          struct event *ev, const char **reason)
{
    struct event_checkout *co = &ev->u.checkout;

    memcpy(co->shop, b->shop, sizeof(co->shop));
    memcpy(co->order_id, b->order_id, sizeof(co->order_id));
    memcpy(co->currency, b->currency, sizeof(co->currency));
    co->revenue_minor = b->revenue_minor;
    co->has_visit = verify_visit(w, req_id, b, &co->visit);

    if (b->has_customer) {
        if (ident_customer_id(w->signer, b->shop, b->customer_id,
                              strlen(b->customer_id), co->customer) != 0) {
            *reason = "customer_id is not usable";
            return -1;
        }
        co->has_customer = true;
    }
    if (b->has_email) {
        if (ident_reader_id(w->signer, b->email_sha256, co->email_reader) != 0) {
            *reason = "email_sha256 could not be hashed";
            return -1;
        }
        co->has_email_reader = true;
    }
    return 0;
}

/* Removes what names a suppressed reader from ev. Returns true when
 * nothing of ev may be recorded. */
static bool drop_suppressed(struct worker *w, struct event *ev)
{
    struct event_checkout *co = &ev->u.checkout;

    if (ev->kind == EVENT_IDENTIFY)
        return intake_suppressed(w, ev->u.identify.reader);
    if (co->has_visit && intake_suppressed(w, co->visit.reader))
        co->has_visit = false;
    if (co->has_email_reader && intake_suppressed(w, co->email_reader))
        co->has_email_reader = false;
    return false;
}

void handle_beacon(struct worker *w, struct http_request *req)
{
    const struct http_header *type = http_request_header(req, "Content-Type");
    const char *reason = NULL;
    struct beacon b;
    struct event ev;
    int rc;

    if (req->method != HTTP_POST) {
        reject(w, req, 405, "beacons are sent with POST");
        return;
    }
    if (!within_rate(w, req))
        return;
    if (type != NULL && !media_type_is(type, "text/plain") &&
        !media_type_is(type, "application/json")) {
        reject(w, req, 415, "Content-Type must be text/plain or application/json");
        return;
    }
    if (req->body == NULL || req->body_len == 0) {
        reject(w, req, 400, "body is empty");
        return;
    }
    if (beacon_parse(req->body, req->body_len, &b, &reason) != 0) {
        reject(w, req, 400, reason);
        return;
    }

    memset(&ev, 0, sizeof(ev));
    handle_set_device(&ev, req);
    ev.time = (uint32_t)time(NULL);
    if (b.type == BEACON_IDENTIFY) {
        ev.kind = EVENT_IDENTIFY;
        rc = build_identify(w, req->id, &b, &ev, &reason);
    } else {
        ev.kind = EVENT_CHECKOUT;
        rc = build_checkout(w, req->id, &b, &ev, &reason);
    }
    if (rc != 0) {
        reject(w, req, 400, reason);
        return;
    }

    http_respond(req, 204, NULL, NULL, 0, NULL, 0);
    if (drop_suppressed(w, &ev))
        return;
    store_submit(w->store, &ev);
}
