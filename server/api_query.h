/*
 * api_query.h - one stats API request on its way through Redis.
 *
 * A handler opens a query, sends its reads as one stage of pipelined
 * commands on the worker's stats reader, and names a finish function. Each
 * reply is copied into jansson values as it arrives (hiredis frees replies
 * when their callback returns). Once every reply of the stage is in, the
 * finish function runs: it either starts another stage (reads that depend
 * on the first ones) or answers with api_query_respond. A failed or lost
 * read answers 503 and ends the query, so a finish function only ever sees
 * complete stages.
 */
#ifndef TALLY_API_QUERY_H
#define TALLY_API_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "http.h"
#include "worker.h"

#define API_QUERY_SLOTS_MAX 2048 /* commands in one stage */

struct api_query;
typedef void (*api_finish_fn)(struct api_query *q);

/* Takes the reply of a slot sent with api_query_send_raw. reply is never
 * NULL nor an error, and is freed when the function returns. */
typedef void (*api_raw_fn)(struct api_query *q, size_t slot, const redisReply *reply);

struct api_query {
    struct worker *w;
    struct http_request *req;
    api_finish_fn finish;
    json_t **replies; /* per slot: the reply as JSON, NULL for a nil reply */
    size_t n_slots;
    size_t pending;
    bool failed;
    bool responded;
    bool finishing;    /* a finish function is running */
    bool finish_again; /* its new stage is complete already */
    json_t *result;  /* the handler's answer under construction */
    json_t *kept;    /* a reply the handler keeps past its stage */
    void *data;      /* the handler's own state */
    void (*free_data)(void *data); /* frees data; NULL: free() */
};

/* Opens a query for req. Returns NULL (after answering 500) when memory
 * runs out. */
struct api_query *api_query_new(struct worker *w, struct http_request *req);

/* Starts a stage of n_slots commands (1..API_QUERY_SLOTS_MAX), dropping
 * the replies of the previous stage. Returns 0, or -1 when memory runs out
 * (the query is then marked failed). */
int api_query_stage(struct api_query *q, size_t n_slots, api_finish_fn finish);

/* Sends the command of slot with its arguments as NUL-terminated strings.
 * A command that cannot be sent marks the query failed. */
void api_query_send(struct api_query *q, size_t slot, int argc, const char **argv);

/* Sends like api_query_send, but hands the reply to raw instead of copying
 * it to JSON (its replies[slot] stays NULL): for large replies that the
 * handler can decode straight into its own state. A failed or lost reply
 * marks the query failed as for api_query_send. */
void api_query_send_raw(struct api_query *q, size_t slot, int argc, const char **argv,
                        api_raw_fn raw);

/* Ends the sending of a stage: finishes at once when no reply is awaited.
 * The caller must not touch q afterwards. */
void api_query_wait(struct api_query *q);

/* Answers with status and the JSON value body (a reference is stolen) and
 * marks the query responded; it is freed once its finish function returns. */
void api_query_respond(struct api_query *q, int status, json_t *body);

/* Responds like api_query_respond, with the member "name": raw appended
 * to the object body. raw is JSON text that the caller built itself; it
 * is taken (freed here), as is a reference of body. When raw is NULL (its
 * building ran out of memory) the response is a 500. */
void api_query_respond_with(struct api_query *q, int status, json_t *body,
                            const char *name, char *raw);

/* Answers with {"error": message}. */
void api_query_error(struct api_query *q, int status, const char *message);

/* Answers req with status and body (reference stolen), without a query. */
void api_respond_json(struct http_request *req, int status, json_t *body);

/* Responds to req with status, the JSON text[0..len) and the headers of
 * every API response (Cache-Control: no-store, X-Content-Type-Options:
 * nosniff). text stays the caller's. */
void api_respond_json_text(struct http_request *req, int status, const char *text,
                           size_t len);

/* Responds to req with 405, "Allow: <allow>" and a JSON error naming the
 * methods, and logs it rate-limited at info. allow lists the path's
 * methods as RFC 9110 spells them, such as "GET, HEAD". It is at most 90
 * bytes, because the body is built in a stack buffer. */
void api_respond_not_allowed(struct http_request *req, const char *allow);

/* Responds to req like api_query_respond_with, without a query. */
void api_respond_json_with(struct http_request *req, int status, json_t *body,
                           const char *name, char *raw);

/*
 * Splits the field/value list of an HGETALL reply (a JSON array of strings)
 * into integer counters and money amounts: a field "NAME:CUR" whose CUR is
 * an ISO 4217 code goes to amounts[NAME][CUR] as a decimal string at the
 * currency's exponent; every other field with an integer value goes to
 * counters[field]; the rest is skipped. counters and amounts are objects
 * the caller owns.
 */
void api_group_fields(const json_t *pairs, json_t *counters, json_t *amounts);

/* Copies query parameter name of req, percent-decoded, to out. Returns 1
 * when found, 0 when absent, -1 when its value is longer than outsize - 1
 * or decodes to a NUL byte. */
int api_query_param(const struct http_request *req, const char *name, char *out,
                    size_t outsize);

#endif
