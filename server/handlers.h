/*
 * handlers.h - the request handlers. Each answers before it records: the
 * response never waits on Redis.
 */
#ifndef TALLY_HANDLERS_H
#define TALLY_HANDLERS_H

#include "event.h"
#include "http.h"
#include "ua_cache.h"
#include "worker.h"

/* GET|HEAD /o/<token>.gif: the GIF, always; a valid token records an open
 * with its verdict (HEAD is a prefetch). */
void handle_pixel(struct worker *w, struct http_request *req);

/* GET|HEAD /c/<token>: 302 to the signed destination with tly added; a
 * valid token records a click with its verdict (HEAD is a prefetch). 400 for a token that does not verify. */
void handle_click(struct worker *w, struct http_request *req);

/* POST /b: identify, checkout and refund beacons; OPTIONS /b: the CORS
 * preflight. */
void handle_beacon(struct worker *w, struct http_request *req);

/* GET|HEAD /b.gif?...: a beacon in the query; always the GIF. */
void handle_beacon_gif(struct worker *w, struct http_request *req);

/* POST /v1/conversions: checkouts and refunds signed by a shop's backend. */
void handle_conversions(struct worker *w, struct http_request *req);

/* Answers with the open pixel's GIF and its no-cache headers. */
void pixel_respond(struct http_request *req);

struct beacon;

/* Builds the event of a parsed beacon: verifies its token, hashes its
 * identifiers (placeholders are flagged, not hashed), stamps the time.
 * Returns 0, or -1 with a reason for the client in *reason. */
int beacon_to_event(struct worker *w, const struct beacon *b,
                    enum event_source source, struct event *ev,
                    const char **reason);

/* Submits a beacon's event to the store, minus what names a reader on the
 * suppression list: such a reader's token and email hash are dropped from
 * a checkout, and its identify is not recorded at all. */
void beacon_record(struct worker *w, struct event *ev);
/* DELETE /v1/readers/<email_sha256>: forget a reader; admin scope. Any
 * other method on the path gets 405. */
void handle_reader_delete(struct worker *w, struct http_request *req);

/* POST /b: identify and checkout beacons. */
void handle_beacon(struct worker *w, struct http_request *req);

/* POST /v1/sign: pixel and click URLs for a batch of recipients, behind
 * a bearer token with the sign scope. */
void handle_sign(struct worker *w, struct http_request *req);
/* GET /v1/campaigns...: the stats API, read scope (handle_api.c). */
void handle_api(struct worker *w, struct http_request *req);

/* GET /metrics and GET /readyz (handle_ops.c). */
void handle_metrics(struct worker *w, struct http_request *req);
void handle_readyz(struct worker *w, struct http_request *req);

/* GET /dashboard and its assets (handle_dashboard.c). */
void handle_dashboard(struct worker *w, struct http_request *req);

/* Sets ev's device class and client family from ua, the traits of the
 * request's User-Agent (intake_user_agent); NULL leaves them unknown. */
void handle_set_device(struct event *ev, const struct ua_traits *ua);

/* GET|HEAD /tally.js: the webshop snippet, with an ETag; 304 when the
 * request's If-None-Match lists it. */
void handle_snippet(struct worker *w, struct http_request *req);

/* Answers with a short text/plain body and the status; for errors. */
void handle_text(struct http_request *req, int status, const char *text);

#endif
