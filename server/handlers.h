/*
 * handlers.h - the request handlers. Each answers before it records: the
 * response never waits on Redis.
 */
#ifndef TALLY_HANDLERS_H
#define TALLY_HANDLERS_H

#include "http.h"
#include "worker.h"

/* GET|HEAD /o/<token>.gif: the GIF, always; a valid GET records an open. */
void handle_pixel(struct worker *w, struct http_request *req);

/* GET|HEAD /c/<token>: 302 to the signed destination with tly added; a
 * valid GET records a click. 400 for a token that does not verify. */
void handle_click(struct worker *w, struct http_request *req);

/* POST /b: identify and checkout beacons. */
void handle_beacon(struct worker *w, struct http_request *req);

/* GET|HEAD /tally.js: the webshop snippet, with an ETag; 304 when the
 * request's If-None-Match lists it. */
void handle_snippet(struct worker *w, struct http_request *req);

/* Answers with a short text/plain body and the status; for errors. */
void handle_text(struct http_request *req, int status, const char *text);

#endif
