/*
 * store_checkout.c - resolving, claiming and crediting one checkout.
 *
 * A checkout is a chain of round trips, each in one Redis Cluster slot:
 *
 *   1. without a usable visit token: GET the reader linked to the customer
 *      hash, then read each candidate reader's clicks in the window
 *      (ZREVRANGEBYSCORE) and pick the last one (attribution.c);
 *   2. ORDER_CLAIM in the shop's slot: the first event to claim an order id
 *      wins; a repeat of the order stops here;
 *   3. CAMPAIGN_CONVERT in the campaign's slot, when the order was credited.
 *
 * Steps 1 only read, and steps 2 and 3 are idempotent for the same event,
 * so the whole chain can run again for an event without counting twice.
 */
#include "store_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "log.h"
#include "store_scripts.h"
#include "touch.h"

/* Clicks read per candidate reader; the store keeps at most max_touches. */
#define CLICKS_READ_MAX 256

static void look_up_next_candidate(struct store_op *op);
static void send_order_claim(struct store_op *op);

static void on_campaign_convert(redisAsyncContext *ac, void *r, void *privdata)
{
    struct store_op *op = privdata;

    (void)ac;
    store_op_finish(op, !store_reply_failed(op, r, "campaign_convert"));
}

void store_campaign_convert(struct store_op *op, const char *entry)
{
    const struct event_checkout *co = &op->ev.u.checkout;
    const struct attr_decision *d = &op->decision;
    uint32_t to_order = op->ev.time > d->touch.time ? op->ev.time - d->touch.time : 0;
    char keys[7][SCHEMA_KEY_MAX];
    struct store_args a;

    schema_campaign(keys[0], d->touch.campaign);
    schema_message(keys[1], d->touch.campaign, d->touch.message);
    schema_hour(keys[2], d->touch.campaign, op->ev.time);
    schema_campaign_order(keys[3], d->touch.campaign, co->shop, co->order_id);
    schema_paths(keys[4], d->touch.campaign);
    schema_conversion_times(keys[5], d->touch.campaign);
    schema_recent_conversions(keys[6], d->touch.campaign);

    store_args_init(&a);
    store_args_evalsha(&a, SCRIPT_CAMPAIGN_CONVERT, 7);
    for (int i = 0; i < 7; i++)
        store_args_str(&a, keys[i]);
    store_args_str(&a, d->cross_device ? "1" : "0");
    store_args_i64(&a, co->revenue_minor);
    store_args_str(&a, co->currency);
    store_args_u64(&a, op->st->opts.campaign_retention_s);
    store_args_str(&a, co->shop);
    store_args_str(&a, co->order_id);
    store_args_str(&a, d->touch.message);
    store_args_u64(&a, d->touch.link);
    store_args_str(&a, attribution_path_name(d->path));
    store_args_u64(&a, d->touch.time);
    store_args_u64(&a, op->ev.time);
    store_args_str(&a, op->st->opts.attribute_machine_events ? "included" : "ignored");
    store_args_str(&a, schema_ttc_field(to_order));
    store_args_str(&a, entry);
    store_args_u64(&a, SCHEMA_RECENT_CONVERSIONS);
    store_send(op, on_campaign_convert, &a);
}

/* Copies element i of a claim reply (a bulk string) into out. */
static int copy_element(const redisReply *reply, size_t i, char *out, size_t outsize)
{
    const redisReply *e;

    if (i >= reply->elements)
        return -1;
    e = reply->element[i];
    if (e->type != REDIS_REPLY_STRING || e->len >= outsize)
        return -1;
    memcpy(out, e->str, e->len);
    out[e->len] = '\0';
    return 0;
}

/* A replayed claim returns the decision made the first time; finishing with
 * it keeps the campaign credit the same whatever happened since. */
static int restore_decision(struct store_op *op, const redisReply *reply)
{
    struct attr_decision *d = &op->decision;
    char link[16], path[16], cross[4], click_time[16];

    memset(d, 0, sizeof(*d));
    if (copy_element(reply, 1, d->touch.campaign, sizeof(d->touch.campaign)) != 0 ||
        copy_element(reply, 2, d->touch.message, sizeof(d->touch.message)) != 0 ||
        copy_element(reply, 3, link, sizeof(link)) != 0 ||
        copy_element(reply, 4, path, sizeof(path)) != 0 ||
        copy_element(reply, 5, cross, sizeof(cross)) != 0 ||
        copy_element(reply, 6, click_time, sizeof(click_time)) != 0)
        return -1;

    d->touch.link = (uint32_t)strtoul(link, NULL, 10);
    d->touch.time = (uint32_t)strtoul(click_time, NULL, 10);
    d->cross_device = strcmp(cross, "1") == 0;
    if (strcmp(path, "token") == 0)
        d->path = ATTR_PATH_TOKEN;
    else if (strcmp(path, "customer") == 0)
        d->path = ATTR_PATH_CUSTOMER;
    else if (strcmp(path, "email") == 0)
        d->path = ATTR_PATH_EMAIL;
    else
        d->path = ATTR_PATH_NONE;
    return 0;
}

static void on_order_claim(redisAsyncContext *ac, void *r, void *privdata)
{
    struct store_op *op = privdata;
    const redisReply *reply = r;
    long long outcome;

    (void)ac;
    if (store_reply_failed(op, reply, "order_claim")) {
        store_op_finish(op, false);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER) {
        LOG_ERROR("store.event_failed", "step=order_claim event=%s "
                  "error=\"unexpected reply type %d\"", op->event_id, reply->type);
        store_op_finish(op, false);
        return;
    }

    outcome = reply->element[0]->integer;
    if (outcome == 0) {
        op->st->stats.orders_repeated++;
        LOG_DEBUG("checkout.repeated", "event=%s shop=%s", op->event_id,
                  op->ev.u.checkout.shop);
        store_op_finish(op, true);
        return;
    }
    if (outcome == 2 && restore_decision(op, reply) != 0) {
        LOG_ERROR("store.event_failed", "step=order_claim event=%s "
                  "error=\"malformed stored decision\"", op->event_id);
        store_op_finish(op, false);
        return;
    }

    if (op->decision.path == ATTR_PATH_NONE) {
        op->st->stats.orders_unattributed++;
        store_op_finish(op, true);
        return;
    }
    store_journey_start(op);
}

static void send_order_claim(struct store_op *op)
{
    const struct event_checkout *co = &op->ev.u.checkout;
    const struct attr_decision *d = &op->decision;
    bool credited = d->path != ATTR_PATH_NONE;
    char keys[2][SCHEMA_KEY_MAX];
    struct store_args a;

    schema_order(keys[0], co->shop, co->order_id);
    schema_shop(keys[1], co->shop);

    store_args_init(&a);
    store_args_evalsha(&a, SCRIPT_ORDER_CLAIM, 2);
    store_args_str(&a, keys[0]);
    store_args_str(&a, keys[1]);
    store_args_str(&a, op->event_id);
    store_args_u64(&a, op->ev.time);
    store_args_str(&a, credited ? d->touch.campaign : "");
    store_args_str(&a, credited ? d->touch.message : "");
    store_args_u64(&a, credited ? d->touch.link : 0);
    store_args_str(&a, attribution_path_name(d->path));
    store_args_str(&a, d->cross_device ? "1" : "0");
    store_args_i64(&a, co->revenue_minor);
    store_args_str(&a, co->currency);
    store_args_u64(&a, op->st->opts.campaign_retention_s);
    store_args_u64(&a, credited ? d->touch.time : 0);
    store_args_str(&a, co->order_id);
    store_send(op, on_order_claim, &a);
}

/* Machine clicks carry a verdict suffix that touch_parse_click rejects, so
 * they are credited only when attribute_machine_events is set. */
static int parse_click(const struct store_op *op, const redisReply *member,
                       double score, struct event_touch *out)
{
    if (op->st->opts.attribute_machine_events)
        return touch_parse_click_any(member->str, member->len, score, out);
    return touch_parse_click(member->str, member->len, score, out);
}

static void on_clicks(redisAsyncContext *ac, void *r, void *privdata)
{
    struct store_op *op = privdata;
    const redisReply *reply = r;
    struct event_touch *clicks = NULL;
    size_t n = 0;
    enum attr_path path;

    (void)ac;
    if (store_reply_failed(op, reply, "reader_clicks")) {
        store_op_finish(op, false);
        return;
    }

    /* WITHSCORES: member, score, member, score, ... */
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2)
        clicks = calloc(reply->elements / 2, sizeof(*clicks));
    for (size_t i = 0; clicks != NULL && i + 1 < reply->elements; i += 2) {
        const redisReply *member = reply->element[i];
        const redisReply *score = reply->element[i + 1];

        if (member->type != REDIS_REPLY_STRING || score->type != REDIS_REPLY_STRING)
            continue;
        if (parse_click(op, member, strtod(score->str, NULL), &clicks[n]) == 0)
            n++;
    }

    path = op->candidate_paths[op->next_candidate - 1];
    if (attribution_last_click(clicks, n, op->ev.time, op->st->opts.click_window_s,
                               path, &op->decision)) {
        memcpy(op->decision.touch.reader, op->candidates[op->next_candidate - 1],
               TOKEN_READER_LEN);
        free(clicks);
        send_order_claim(op);
        return;
    }
    free(clicks);
    look_up_next_candidate(op);
}

/* Reads the next candidate reader's clicks in the window, or claims the
 * order unattributed when no candidate is left. */
static void look_up_next_candidate(struct store_op *op)
{
    char key[SCHEMA_KEY_MAX];
    uint32_t now = op->ev.time;
    uint32_t window = op->st->opts.click_window_s;
    struct store_args a;

    if (op->next_candidate >= op->n_candidates) {
        memset(&op->decision, 0, sizeof(op->decision));
        send_order_claim(op);
        return;
    }
    schema_reader_touches(key, op->candidates[op->next_candidate]);
    op->next_candidate++;

    store_args_init(&a);
    store_args_str(&a, "ZREVRANGEBYSCORE");
    store_args_str(&a, key);
    store_args_str(&a, "+inf");
    store_args_u64(&a, now > window ? now - window : 0);
    store_args_str(&a, "WITHSCORES");
    store_args_str(&a, "LIMIT");
    store_args_str(&a, "0");
    store_args_u64(&a, CLICKS_READ_MAX);
    store_send(op, on_clicks, &a);
}

static void add_candidate(struct store_op *op, const uint8_t reader[TOKEN_READER_LEN],
                          enum attr_path path)
{
    for (int i = 0; i < op->n_candidates; i++)
        if (memcmp(op->candidates[i], reader, TOKEN_READER_LEN) == 0)
            return;
    memcpy(op->candidates[op->n_candidates], reader, TOKEN_READER_LEN);
    op->candidate_paths[op->n_candidates] = path;
    op->n_candidates++;
}

static void add_email_candidate(struct store_op *op)
{
    const struct event_checkout *co = &op->ev.u.checkout;

    if (co->has_email_reader)
        add_candidate(op, co->email_reader, ATTR_PATH_EMAIL);
}

/* Parses the 24 hex digits of a stored reader id. Returns 0, or -1. */
static int parse_reader_hex(const char *hex, size_t len, uint8_t out[TOKEN_READER_LEN])
{
    if (len != 2 * TOKEN_READER_LEN)
        return -1;
    for (size_t i = 0; i < TOKEN_READER_LEN; i++) {
        char pair[3] = {hex[2 * i], hex[2 * i + 1], '\0'};

        if (!isxdigit((unsigned char)pair[0]) || !isxdigit((unsigned char)pair[1]))
            return -1;
        out[i] = (uint8_t)strtoul(pair, NULL, 16);
    }
    return 0;
}

static void on_customer_link(redisAsyncContext *ac, void *r, void *privdata)
{
    struct store_op *op = privdata;
    const redisReply *reply = r;
    uint8_t reader[TOKEN_READER_LEN];

    (void)ac;
    if (store_reply_failed(op, reply, "customer_link")) {
        store_op_finish(op, false);
        return;
    }
    /* A link that is not 24 hex digits (edited by hand) counts as absent. */
    if (reply->type == REDIS_REPLY_STRING &&
        parse_reader_hex(reply->str, reply->len, reader) == 0)
        add_candidate(op, reader, ATTR_PATH_CUSTOMER);
    add_email_candidate(op);
    look_up_next_candidate(op);
}

void store_checkout_start(struct store_op *op)
{
    const struct event_checkout *co = &op->ev.u.checkout;
    char key[SCHEMA_KEY_MAX];
    struct store_args a;

    if (co->has_visit &&
        attribution_from_visit(&co->visit, op->ev.time, op->st->opts.click_window_s,
                               &op->decision)) {
        send_order_claim(op);
        return;
    }

    if (!co->has_customer) {
        add_email_candidate(op);
        look_up_next_candidate(op);
        return;
    }
    schema_customer(key, co->customer);
    store_args_init(&a);
    store_args_str(&a, "GET");
    store_args_str(&a, key);
    store_send(op, on_customer_link, &a);
}
