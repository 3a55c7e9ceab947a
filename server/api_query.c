/*
 * api_query.c - the staged, pipelined Redis reads of api_query.h, and the
 * JSON helpers the stats handlers share.
 */
#include "api_query.h"

#include <assert.h>
#include <errno.h>
#include <http_parser.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "money.h"
#include "stats_reader.h"
#include "ident.h"

#define HDR(n, v) {n, sizeof(n) - 1, v, sizeof(v) - 1}

static const struct http_header json_headers[] = {
    HDR("Cache-Control", "no-store"),
    HDR("X-Content-Type-Options", "nosniff"),
};

/* The hiredis privdata of one command: which query and slot it fills. */
struct api_slot {
    struct api_query *q;
    size_t index;
    api_raw_fn raw; /* NULL: copy the reply to JSON */
};

static void query_free(struct api_query *q)
{
    for (size_t i = 0; i < q->n_slots; i++)
        json_decref(q->replies[i]);
    free(q->replies);
    json_decref(q->result);
    json_decref(q->kept);
    if (q->free_data != NULL)
        q->free_data(q->data);
    else
        free(q->data);
    free(q);
}

void api_respond_json_text(struct http_request *req, int status, const char *text,
                           size_t len)
{
    http_respond(req, status, "application/json", json_headers, 2, text, len);
}

void api_respond_json(struct http_request *req, int status, json_t *body)
{
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

    if (text == NULL) {
        static const char oom[] = "{\"error\":\"out of memory\"}\n";

        api_respond_json_text(req, 500, oom, sizeof(oom) - 1);
    } else {
        api_respond_json_text(req, status, text, strlen(text));
    }
    free(text);
    json_decref(body);
}

void api_respond_not_allowed(struct http_request *req, const char *allow)
{
    struct http_header headers[] = {
        {"Allow", 5, allow, strlen(allow)},
        json_headers[0],
        json_headers[1],
    };
    char body[128];
    int n = snprintf(body, sizeof(body), "{\"error\":\"method not allowed: use %s\"}",
                     allow);

    assert(n > 0);
    assert((size_t)n < sizeof(body));
    LOG_LIMITED(LOG_LEVEL_INFO, "api.method_not_allowed", "id=%llu method=%s allow=\"%s\"",
                (unsigned long long)req->id, http_method_str(req->method), allow);
    http_respond(req, 405, "application/json", headers,
                 sizeof(headers) / sizeof(headers[0]), body, (size_t)n);
}

void api_respond_json_with(struct http_request *req, int status, json_t *body,
                           const char *name, char *raw)
{
    char *text = body != NULL && raw != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    size_t text_len = text != NULL ? strlen(text) : 0;
    size_t name_len = strlen(name);
    size_t raw_len = raw != NULL ? strlen(raw) : 0;
    char *joined = NULL;
    size_t len;

    /* text is "{...}": its closing brace gives way to ,"name":raw}. */
    if (text != NULL && text_len >= 2 && text[text_len - 1] == '}')
        joined = malloc(text_len + name_len + raw_len + 5);
    if (joined == NULL) {
        free(text);
        free(raw);
        api_respond_json(req, 500, NULL);
        json_decref(body);
        return;
    }

    len = text_len - 1;
    memcpy(joined, text, len);
    if (text_len > 2)
        joined[len++] = ',';
    joined[len++] = '"';
    memcpy(joined + len, name, name_len);
    len += name_len;
    joined[len++] = '"';
    joined[len++] = ':';
    memcpy(joined + len, raw, raw_len);
    len += raw_len;
    joined[len++] = '}';
    http_respond(req, status, "application/json", json_headers, 2, joined, len);
    free(joined);
    free(text);
    free(raw);
    json_decref(body);
}

struct api_query *api_query_new(struct worker *w, struct http_request *req)
{
    struct api_query *q = calloc(1, sizeof(*q));

    if (q == NULL) {
        api_respond_json(req, 500, NULL);
        return NULL;
    }
    q->w = w;
    q->req = req;
    return q;
}

void api_query_respond(struct api_query *q, int status, json_t *body)
{
    api_respond_json(q->req, status, body);
    q->req = NULL;
    q->responded = true;
}

void api_query_respond_with(struct api_query *q, int status, json_t *body,
                            const char *name, char *raw)
{
    api_respond_json_with(q->req, status, body, name, raw);
    q->req = NULL;
    q->responded = true;
}

void api_query_error(struct api_query *q, int status, const char *message)
{
    api_query_respond(q, status, json_pack("{s:s}", "error", message));
}

int api_query_stage(struct api_query *q, size_t n_slots, api_finish_fn finish)
{
    for (size_t i = 0; i < q->n_slots; i++)
        json_decref(q->replies[i]);
    free(q->replies);
    q->n_slots = 0;
    q->finish = finish;
    q->replies = calloc(n_slots, sizeof(*q->replies));
    if (q->replies == NULL) {
        q->failed = true;
        return -1;
    }
    q->n_slots = n_slots;
    return 0;
}

/* Copies a reply into JSON; sets *error for an error reply. */
static json_t *reply_to_json(const redisReply *reply, bool *error)
{
    json_t *array;

    switch (reply->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        return json_stringn_nocheck(reply->str, reply->len);
    case REDIS_REPLY_INTEGER:
        return json_integer(reply->integer);
    case REDIS_REPLY_ARRAY:
        array = json_array();
        for (size_t i = 0; array != NULL && i < reply->elements; i++) {
            json_t *e = reply_to_json(reply->element[i], error);

            json_array_append_new(array, e != NULL ? e : json_null());
        }
        return array;
    case REDIS_REPLY_ERROR:
        *error = true;
        return NULL;
    default:
        return NULL;
    }
}

/* Runs the finish function of the stage that has all its replies. A
 * finish function that starts a stage whose commands all failed to send
 * (api_query_wait with nothing pending) is followed here by the next
 * round, not by a nested call, so q is freed once, after the last. */
static void complete(struct api_query *q)
{
    do {
        q->finish_again = false;
        if (q->failed) {
            atomic_fetch_add_explicit(&q->w->metrics.api_redis_failed, 1,
                                      memory_order_relaxed);
            api_query_error(q, 503, "the stats store (Redis) cannot be read now; "
                                    "retry shortly");
        } else {
            q->finishing = true;
            q->finish(q);
            q->finishing = false;
        }
    } while (!q->responded && q->finish_again);
    if (q->responded)
        query_free(q);
}

static void on_reply(redisAsyncContext *ac, void *reply_ptr, void *privdata)
{
    struct api_slot *slot = privdata;
    struct api_query *q = slot->q;
    const redisReply *reply = reply_ptr;
    bool error = false;

    (void)ac;
    if (reply == NULL) {
        q->failed = true;
    } else if (slot->raw != NULL && reply->type != REDIS_REPLY_ERROR) {
        if (!q->failed)
            slot->raw(q, slot->index, reply);
    } else {
        q->replies[slot->index] = reply_to_json(reply, &error);
        if (error) {
            LOG_LIMITED(LOG_LEVEL_ERROR, "api.redis_error", "error=\"%.*s\"",
                        (int)reply->len, reply->str);
            q->failed = true;
        }
    }
    free(slot);

    q->pending--;
    if (q->pending == 0)
        complete(q);
}

void api_query_send(struct api_query *q, size_t index, int argc, const char **argv)
{
    api_query_send_raw(q, index, argc, argv, NULL);
}

void api_query_send_raw(struct api_query *q, size_t index, int argc, const char **argv,
                        api_raw_fn raw)
{
    size_t lens[8];
    struct api_slot *slot;

    if (q->failed || argc > 8 || index >= q->n_slots) {
        q->failed = true;
        return;
    }
    slot = malloc(sizeof(*slot));
    if (slot == NULL) {
        q->failed = true;
        return;
    }
    slot->q = q;
    slot->index = index;
    slot->raw = raw;
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    if (stats_reader_send(q->w->reader, on_reply, slot, argc, argv, lens) != 0) {
        free(slot);
        q->failed = true;
        return;
    }
    q->pending++;
}

void api_query_wait(struct api_query *q)
{
    if (q->pending > 0)
        return;
    if (q->finishing)
        q->finish_again = true;
    else
        complete(q);
}

/* ---- JSON helpers -------------------------------------------------- */

static int parse_integer(const char *s, long long *out)
{
    char *end;

    errno = 0;
    *out = strtoll(s, &end, 10);
    return errno != 0 || end == s || *end != '\0' ? -1 : 0;
}

void api_group_fields(const json_t *pairs, json_t *counters, json_t *amounts)
{
    size_t n = json_array_size(pairs);

    for (size_t i = 0; i + 1 < n; i += 2) {
        const char *field = json_string_value(json_array_get(pairs, i));
        const char *value = json_string_value(json_array_get(pairs, i + 1));
        const char *colon;
        long long number;
        int exponent = -1;

        if (field == NULL || value == NULL || parse_integer(value, &number) != 0)
            continue;
        colon = strrchr(field, ':');
        if (colon != NULL && colon != field && strlen(colon + 1) == 3)
            exponent = money_currency_exponent(colon + 1, 3);

        if (exponent >= 0) {
            char group[64];
            char amount[32];
            json_t *per_currency;

            snprintf(group, sizeof(group), "%.*s", (int)(colon - field), field);
            per_currency = json_object_get(amounts, group);
            if (per_currency == NULL) {
                per_currency = json_object();
                json_object_set_new(amounts, group, per_currency);
            }
            money_format(number, exponent, amount, sizeof(amount));
            json_object_set_new(per_currency, colon + 1, json_string(amount));
            continue;
        }
        json_object_set_new(counters, field, json_integer(number));
    }
}

/* Percent-decodes value[0..len) into out; '+' stays '+'. */
static int decode_value(const char *value, size_t len, char *out, size_t outsize)
{
    size_t used = 0;

    for (size_t i = 0; i < len; i++) {
        char c = value[i];

        if (c == '%' && i + 2 < len && ident_hex_value(value[i + 1]) >= 0 &&
            ident_hex_value(value[i + 2]) >= 0) {
            c = (char)(ident_hex_value(value[i + 1]) * 16 + ident_hex_value(value[i + 2]));
            i += 2;
        }
        if (c == '\0' || used + 1 >= outsize)
            return -1;
        out[used++] = c;
    }
    out[used] = '\0';
    return 1;
}

int api_query_param(const struct http_request *req, const char *name, char *out,
                    size_t outsize)
{
    size_t name_len = strlen(name);
    const char *p = req->query;
    const char *end;

    if (p == NULL)
        return 0;
    end = p + req->query_len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp != NULL ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));

        if (eq != NULL && (size_t)(eq - p) == name_len && memcmp(p, name, name_len) == 0)
            return decode_value(eq + 1, (size_t)(stop - eq - 1), out, outsize);
        p = stop + 1;
    }
    return 0;
}
