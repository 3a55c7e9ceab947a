/*
 * handlers.h - the request handlers. Each answers before it records: the
 * response never waits on Redis.
 */
#ifndef TALLY_HANDLERS_H
#define TALLY_HANDLERS_H

#include "http.h"
#include "worker.h"

/* GET|HEAD /o/<token>.gif: the GIF, always; a valid token records an open
 * with its verdict (HEAD is a prefetch). */
void handle_pixel(struct worker *w, struct http_request *req);

/* GET|HEAD /c/<token>: 302 to the signed destination with tly added; a
 * valid token records a click with its verdict (HEAD is a prefetch). 400 for a token that does not verify. */
void handle_click(struct worker *w, struct http_request *req);

/* DELETE /v1/readers/<email_sha256>: forget a reader; admin scope. */
void handle_reader_delete(struct worker *w, struct http_request *req);

/* POST /b: identify and checkout beacons. */
void handle_beacon(struct worker *w, struct http_request *req);

/* Answers with a short text/plain body and the status; for errors. */
void handle_text(struct http_request *req, int status, const char *text);

#endif
