/*
 * store_checkout.c - resolving, claiming and crediting one checkout.
 *
 * A checkout is a chain of round trips, each in one Redis Cluster slot:
 *
 *   1. with a valid tly token and a device id: READER_LINK, then LINK_ADD
 *      of the device to the token's reader;
 *   2. without a token inside the click window: LINK_LOOKUP of the device,
 *      then of the customer, then a read of each candidate reader's
 *      touchpoints in the windows (ZREVRANGEBYSCORE). Each read goes out
 *      after the opens and clicks of that reader this loop took before the
 *      checkout (store_join.c). attribution.c picks the touchpoint, and the
 *      first candidate that has one wins;
 *   3. ORDER_CLAIM in the shop's slot: the first checkout event of an order
 *      claims it, stores its decision record and applies the refunds that
 *      arrived before it. A repeat stops here, and a server-to-server
 *      confirmation of a browser's order verifies it;
 *   4. for a credited order, a read of the credited reader's journey
 *      (store_journey.c), then CAMPAIGN_CONVERT in the campaign's slot and
 *      one CAMPAIGN_REFUND per early refund; or CAMPAIGN_VERIFY there for a
 *      confirmed order.
 *
 * Steps 1 and 2 only read or are idempotent, and steps 3 and 4 are
 * idempotent for the same event, so the whole chain can run again for an
 * event without counting twice.
 */
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "log.h"
#include "store_scripts.h"
#include "touch.h"

/* Touchpoints read per candidate reader; the store keeps at most
 * max_touches per reader. */
#define TOUCHES_READ_MAX 256

enum checkout_step {
    CHECKOUT_LINK_DEVICE = 0,
    CHECKOUT_LOOKUP_DEVICE,
    CHECKOUT_LOOKUP_CUSTOMER,
    CHECKOUT_READ_TOUCHES,
};

static void checkout_next(struct store_op *op);
static void look_up_next_candidate(struct store_op *op);

static struct attr_policy store_policy(const struct store *st)
{
    struct attr_policy p = {
        .model = (enum attr_model)st->opts.attribution_model,
        .click_window_s = st->opts.click_window_s,
        .open_window_s = st->opts.open_window_s,
        .attribute_opens = st->opts.attribute_opens,
        .attribute_machine_events = st->opts.attribute_machine_events,
    };

    return p;
}

/* ---- crediting the campaign ----------------------------------------- */

static void on_campaign_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct store_op *op = privdata;

    (void)ac;
    store_op_finish(op, !store_reply_failed(op, r, "campaign_convert"));
}

static void send_next_early_refund(struct store_op *op);

static void on_early_refund_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct store_op *op = privdata;

    (void)ac;
    if (store_reply_failed(op, r, "campaign_refund")) {
        store_op_finish(op, false);
        return;
    }
    send_next_early_refund(op);
}

/* Sends CAMPAIGN_REFUND for the first early refund left in
 * op->steps->early_refunds, or finishes op when none is left. A replay sends
 * them all again, and each one's refund field makes the repeat a no-op. */
static void send_next_early_refund(struct store_op *op)
{
    const struct decision_record *r = &op->steps->record;
    const struct event_touch *t = &r->decision.touch.touch;
    json_t *next = json_array_get(op->steps->early_refunds, 0);
    char field[EVENT_ORDER_MAX + 16], amount[24];
    struct store_campaign_refund refund;

    if (next == NULL) {
        store_op_finish(op, true);
        return;
    }
    snprintf(field, sizeof(field), "%s", json_string_value(json_array_get(next, 0)));
    snprintf(amount, sizeof(amount), "%s", json_string_value(json_array_get(next, 1)));
    json_array_remove(op->steps->early_refunds, 0);

    refund = (struct store_campaign_refund){
        .campaign = t->campaign, .message = t->message, .shop = r->shop,
        .order = r->order, .field = field, .amount = amount,
        .currency = r->currency, .verified = r->verified,
    };
    store_campaign_refund_send(op, &refund, on_early_refund_reply);
}

static void on_campaign_converted(redisAsyncContext *ac, void *r, void *privdata)
{
    struct store_op *op = privdata;

    (void)ac;
    if (store_reply_failed(op, r, "campaign_convert")) {
        store_op_finish(op, false);
        return;
    }
    send_next_early_refund(op);
}

/* Fills the five campaign keys of record r: totals, message, the order's
 * hour, the campaign's copy of the record and the message's hour of the
 * order. */
static void campaign_keys(const struct decision_record *r, char keys[5][SCHEMA_KEY_MAX])
{
    const struct event_touch *t = &r->decision.touch.touch;

    schema_campaign(keys[0], t->campaign);
    schema_message(keys[1], t->campaign, t->message);
    schema_hour(keys[2], t->campaign, r->time);
    schema_campaign_order(keys[3], t->campaign, r->shop, r->order);
    schema_message_hour(keys[4], t->campaign, t->message, r->time);
}

void store_campaign_convert(struct store_op *op, const char *entry)
{
    const struct decision_record *r = &op->steps->record;
    const struct event_touch *t = &r->decision.touch.touch;
    uint32_t to_order = r->time > t->time ? r->time - t->time : 0;
    char keys[10][SCHEMA_KEY_MAX];
    struct store_args a;

    campaign_keys(r, keys);
    schema_paths(keys[5], t->campaign);
    schema_conversion_times(keys[6], t->campaign);
    schema_recent_conversions(keys[7], t->campaign);
    schema_message_paths(keys[8], t->campaign, t->message);
    schema_message_conversion_times(keys[9], t->campaign, t->message);

    store_args_init(&a);
    store_args_evalsha(&a, SCRIPT_CAMPAIGN_CONVERT, 10);
    for (int i = 0; i < 10; i++)
        store_args_str(&a, keys[i]);
    store_args_str(&a, op->steps->record_json);
    store_args_u64(&a, op->st->opts.campaign_retention_s);
    store_args_str(&a, schema_ttc_field(to_order));
    store_args_str(&a, entry);
    store_args_u64(&a, SCHEMA_RECENT_CONVERSIONS);
    store_send(op, on_campaign_converted, &a);
}

static void send_campaign_verify(struct store_op *op, const char *delta,
                                 const char *net, const char *cut)
{
    char keys[5][SCHEMA_KEY_MAX];
    struct store_args a;

    campaign_keys(&op->steps->record, keys);
    store_args_init(&a);
    store_args_evalsha(&a, SCRIPT_CAMPAIGN_VERIFY, 5);
    for (int i = 0; i < 5; i++)
        store_args_str(&a, keys[i]);
    store_args_str(&a, op->steps->record.currency);
    store_args_str(&a, delta);
    store_args_str(&a, net);
    store_args_i64(&a, op->steps->record.revenue_minor);
    store_args_u64(&a, op->st->opts.campaign_retention_s);
    store_args_str(&a, cut);
    store_send(op, on_campaign_reply, &a);
}

/* Keeps the early refunds of a claim reply, the field and amount pairs
 * from element first on, in op->steps->early_refunds. Returns 0, or -1 when the
 * reply is malformed or memory runs out. */
static int take_early_refunds(struct store_op *op, const redisReply *reply, size_t first)
{
    if (reply->elements <= first)
        return 0;
    op->steps->early_refunds = json_array();
    if (op->steps->early_refunds == NULL)
        return -1;
    for (size_t i = first; i + 1 < reply->elements; i += 2) {
        const redisReply *field = reply->element[i];
        const redisReply *amount = reply->element[i + 1];

        if (field->type != REDIS_REPLY_STRING || amount->type != REDIS_REPLY_STRING ||
            field->len > EVENT_ORDER_MAX + 8 || amount->len >= 24)
            return -1;
        if (json_array_append_new(op->steps->early_refunds,
                                  json_pack("[s#s#]", field->str, (int)field->len,
                                            amount->str, (int)amount->len)) != 0)
            return -1;
    }
    return 0;
}

/* ---- claiming the order --------------------------------------------- */

/* Reads the stored record that a claim reply carries in element 1 into
 * op->steps->record, keeping the event's own revenue for a verification. Returns
 * 0, or -1 when it is missing or malformed. */
static int take_stored_record(struct store_op *op, const redisReply *reply)
{
    const redisReply *e;
    int64_t revenue = op->steps->record.revenue_minor;

    if (reply->elements < 2 || reply->element[1]->type != REDIS_REPLY_STRING)
        return -1;
    e = reply->element[1];
    if (decision_from_json(e->str, e->len, &op->steps->record) != 0)
        return -1;
    if (op->ev.u.checkout.source == EVENT_SOURCE_SERVER)
        op->steps->record.revenue_minor = revenue;
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
    if (outcome == 0 || outcome == 4) {
        STAT_ADD(op->st->stats.orders_repeated, 1);
        LOG_DEBUG("checkout.repeated", "event=%s shop=%s outcome=%lld", op->event_id,
                  op->ev.u.checkout.shop, outcome);
        store_op_finish(op, true);
        return;
    }
    if ((outcome == 2 || outcome == 3) && take_stored_record(op, reply) != 0) {
        LOG_ERROR("store.event_failed", "step=order_claim event=%s "
                  "error=\"malformed stored decision\"", op->event_id);
        store_op_finish(op, false);
        return;
    }

    if (op->steps->record.decision.path == ATTR_PATH_NONE) {
        STAT_ADD(op->st->stats.orders_unattributed, 1);
        store_op_finish(op, true);
        return;
    }
    if (outcome == 3) {
        if (reply->elements < 5 || reply->element[2]->type != REDIS_REPLY_STRING ||
            reply->element[3]->type != REDIS_REPLY_STRING ||
            reply->element[4]->type != REDIS_REPLY_STRING) {
            store_op_finish(op, false);
            return;
        }
        send_campaign_verify(op, reply->element[2]->str, reply->element[3]->str,
                             reply->element[4]->str);
        return;
    }
    if (take_early_refunds(op, reply, outcome == 2 ? 2 : 1) != 0) {
        LOG_LIMITED(LOG_LEVEL_ERROR, "store.event_failed", "step=order_claim "
                    "event=%s error=\"malformed early refunds or out of memory\"",
                    op->event_id);
        store_op_finish(op, false);
        return;
    }

    /* A replay credits the record stored the first time, with its trail
     * and alternatives, which op->steps->record lacks after a replay. */
    if (outcome == 2)
        op->steps->record_json = strndup(reply->element[1]->str, reply->element[1]->len);
    else
        op->steps->record_json = decision_to_json(&op->steps->record);
    if (op->steps->record_json == NULL) {
        LOG_LIMITED(LOG_LEVEL_ERROR, "store.event_failed",
                    "step=order_claim event=%s error=\"out of memory\"", op->event_id);
        store_op_finish(op, false);
        return;
    }
    store_journey_start(op);
}

/* Appends the shop counters this record increments. */
static size_t claim_counters(const struct decision_record *r,
                             const char *fields[8], char path_field[32],
                             char reason_field[48])
{
    size_t n = 0;
    bool credited = r->decision.path != ATTR_PATH_NONE;

    fields[n++] = "orders";
    fields[n++] = credited ? "attributed_orders" : "unattributed_orders";
    if (r->verified)
        fields[n++] = "verified_orders";
    if (credited) {
        snprintf(path_field, 32, "path:%s", attribution_path_name(r->decision.path));
        fields[n++] = path_field;
    } else {
        snprintf(reason_field, 48, "unattributed:%s",
                 decision_unattributed_reason(&r->trail));
        fields[n++] = reason_field;
    }
    if (decision_trail_has(&r->trail, DECISION_PLACEHOLDER))
        fields[n++] = "ignored_placeholder";
    if (decision_trail_has(&r->trail, DECISION_SHARED))
        fields[n++] = "ignored_shared";
    return n;
}

static void send_order_claim(struct store_op *op)
{
    const struct event_checkout *co = &op->ev.u.checkout;
    char keys[4][SCHEMA_KEY_MAX];
    char path_field[32], reason_field[48];
    const char *fields[8];
    const struct decision_record *record = &op->steps->record;
    size_t n_fields = claim_counters(record, fields, path_field, reason_field);
    char *json = decision_to_json(record);
    struct store_args a;

    if (json == NULL) {
        LOG_LIMITED(LOG_LEVEL_ERROR, "store.event_failed",
                    "step=order_claim event=%s error=\"out of memory\"", op->event_id);
        store_op_finish(op, false);
        return;
    }
    schema_order(keys[0], co->shop, co->order_id);
    schema_shop(keys[1], co->shop);
    schema_shop_orders(keys[2], co->shop);
    schema_early_refunds(keys[3], co->shop, co->order_id);

    store_args_init(&a);
    store_args_evalsha(&a, SCRIPT_ORDER_CLAIM, 4);
    for (int i = 0; i < 4; i++)
        store_args_str(&a, keys[i]);
    store_args_str(&a, op->event_id);
    store_args_str(&a, co->source == EVENT_SOURCE_SERVER ? "server" : "browser");
    store_args_u64(&a, op->st->opts.campaign_retention_s);
    store_args_str(&a, json);
    for (size_t i = 0; i < n_fields; i++)
        store_args_str(&a, fields[i]);
    store_send(op, on_order_claim, &a);
    free(json);
}

/* ---- candidates and their touchpoints ------------------------------- */

static void on_touches(redisAsyncContext *ac, void *r, void *privdata)
{
    struct store_op *op = privdata;
    const redisReply *reply = r;
    struct decision_record *rec = &op->steps->record;
    struct attr_touch *touches = NULL;
    size_t n = 0;
    int index = op->steps->next_candidate - 1;
    enum attr_path path = op->steps->candidate_paths[index];

    (void)ac;
    if (store_reply_failed(op, reply, "reader_touches")) {
        store_op_finish(op, false);
        return;
    }

    /* WITHSCORES: member, score, member, score, ... */
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2)
        touches = calloc(reply->elements / 2, sizeof(*touches));
    for (size_t i = 0; touches != NULL && i + 1 < reply->elements; i += 2) {
        const redisReply *member = reply->element[i];
        const redisReply *score = reply->element[i + 1];

        if (member->type != REDIS_REPLY_STRING || score->type != REDIS_REPLY_STRING)
            continue;
        if (touch_parse(member->str, member->len, strtod(score->str, NULL),
                        &touches[n]) == 0)
            n++;
    }

    if (attribution_credit(&rec->policy, touches, n, rec->time, path, &rec->decision)) {
        memcpy(rec->decision.touch.touch.reader, op->steps->candidates[index],
               TOKEN_READER_LEN);
        decision_trail_add(&rec->trail, path, DECISION_CREDITED);
        decision_fill_alternatives(rec, touches, n);
        free(touches);
        send_order_claim(op);
        return;
    }
    free(touches);
    decision_trail_add(&rec->trail, path, DECISION_NO_TOUCH);
    look_up_next_candidate(op);
}

/* Reads the touchpoints in the windows of the candidate that
 * look_up_next_candidate took last, at next_candidate - 1. */
static void send_touches_read(struct store_op *op)
{
    char key[SCHEMA_KEY_MAX];
    const struct decision_record *rec = &op->steps->record;
    struct store_args a;

    schema_reader_touches(key, op->steps->candidates[op->steps->next_candidate - 1]);
    store_args_init(&a);
    store_args_str(&a, "ZREVRANGEBYSCORE");
    store_args_str(&a, key);
    store_args_u64(&a, touch_score_max(rec->time + ATTR_CLOCK_SKEW_S));
    store_args_u64(&a, touch_score_min(attribution_oldest_eligible(&rec->policy, rec->time)));
    store_args_str(&a, "WITHSCORES");
    store_args_str(&a, "LIMIT");
    store_args_str(&a, "0");
    store_args_u64(&a, TOUCHES_READ_MAX);
    store_send(op, on_touches, &a);
}

/* Reads the next candidate reader's touchpoints, after the opens and
 * clicks of that reader this loop has taken, or claims the order
 * unattributed when no candidate is left. */
static void look_up_next_candidate(struct store_op *op)
{
    const uint8_t *reader;

    if (op->steps->next_candidate >= op->steps->n_candidates) {
        memset(&op->steps->record.decision, 0, sizeof(op->steps->record.decision));
        send_order_claim(op);
        return;
    }
    reader = op->steps->candidates[op->steps->next_candidate];
    op->steps->next_candidate++;
    store_reader_read(op, reader, send_touches_read);
}

static void add_candidate(struct store_op *op, const uint8_t reader[TOKEN_READER_LEN],
                          enum attr_path path)
{
    memcpy(op->steps->candidates[op->steps->n_candidates], reader, TOKEN_READER_LEN);
    op->steps->candidate_paths[op->steps->n_candidates] = path;
    op->steps->n_candidates++;
}

static void on_lookup(redisAsyncContext *ac, void *r, void *privdata)
{
    struct store_op *op = privdata;
    bool is_device = op->steps->step == CHECKOUT_LOOKUP_DEVICE;
    enum attr_path path = is_device ? ATTR_PATH_DEVICE : ATTR_PATH_CUSTOMER;
    uint8_t reader[TOKEN_READER_LEN];
    long long n = 0;
    int found;

    (void)ac;
    if (store_reply_failed(op, r, "link_lookup")) {
        store_op_finish(op, false);
        return;
    }
    found = store_lookup_parse(r, &n, reader);
    if (found != 1)
        decision_trail_add(&op->steps->record.trail, path, DECISION_NOT_LINKED);
    else if (n > (long long)op->st->opts.max_readers_per_identifier)
        decision_trail_add(&op->steps->record.trail, path, DECISION_SHARED);
    else
        add_candidate(op, reader, path);
    op->steps->step++;
    checkout_next(op);
}

static void on_device_linked(redisAsyncContext *ac, void *r, void *privdata)
{
    struct store_op *op = privdata;
    const struct event_checkout *co = &op->ev.u.checkout;

    (void)ac;
    if (!store_link_check_shared(op, r, co->shop, co->device, true)) {
        store_op_finish(op, false);
        return;
    }
    op->steps->step++;
    checkout_next(op);
}

/* Runs the next step that applies. */
static void checkout_next(struct store_op *op)
{
    const struct event_checkout *co = &op->ev.u.checkout;
    struct decision_record *rec = &op->steps->record;

    for (;; op->steps->step++) {
        switch (op->steps->step) {
        case CHECKOUT_LINK_DEVICE:
            if (!co->has_visit || !co->has_device)
                continue;
            store_link_send(op, co->device, true, co->visit.reader, on_device_linked);
            return;
        case CHECKOUT_LOOKUP_DEVICE:
            if (rec->decision.path == ATTR_PATH_TOKEN) {
                send_order_claim(op);
                return;
            }
            if (!co->has_device)
                continue;
            store_lookup_send(op, co->device, true, on_lookup);
            return;
        case CHECKOUT_LOOKUP_CUSTOMER:
            if (!co->has_customer)
                continue;
            store_lookup_send(op, co->customer, false, on_lookup);
            return;
        default:
            if (co->has_email_reader)
                add_candidate(op, co->email_reader, ATTR_PATH_EMAIL);
            look_up_next_candidate(op);
            return;
        }
    }
}

/* Fills the record's order fields and the trail of what the handler
 * already knows: the token and the placeholders. */
static void start_record(struct store_op *op)
{
    const struct event_checkout *co = &op->ev.u.checkout;
    struct decision_record *rec = &op->steps->record;

    memset(rec, 0, sizeof(*rec));
    snprintf(rec->event, sizeof(rec->event), "%s", op->event_id);
    memcpy(rec->shop, co->shop, sizeof(rec->shop));
    memcpy(rec->order, co->order_id, sizeof(rec->order));
    memcpy(rec->currency, co->currency, sizeof(rec->currency));
    rec->time = op->ev.time;
    rec->revenue_minor = co->revenue_minor;
    rec->verified = co->source == EVENT_SOURCE_SERVER;
    rec->policy = store_policy(op->st);

    if (co->token_invalid)
        decision_trail_add(&rec->trail, ATTR_PATH_TOKEN, DECISION_INVALID);
    if (co->device_placeholder)
        decision_trail_add(&rec->trail, ATTR_PATH_DEVICE, DECISION_PLACEHOLDER);
    if (co->customer_placeholder)
        decision_trail_add(&rec->trail, ATTR_PATH_CUSTOMER, DECISION_PLACEHOLDER);
    if (co->email_placeholder)
        decision_trail_add(&rec->trail, ATTR_PATH_EMAIL, DECISION_PLACEHOLDER);
}

void store_checkout_start(struct store_op *op)
{
    const struct event_checkout *co = &op->ev.u.checkout;
    struct decision_record *rec = &op->steps->record;

    start_record(op);
    if (co->has_visit) {
        if (attribution_from_visit(&rec->policy, &co->visit, rec->time, &rec->decision)) {
            decision_trail_add(&rec->trail, ATTR_PATH_TOKEN, DECISION_CREDITED);
            decision_same_alternatives(rec);
        } else {
            decision_trail_add(&rec->trail, ATTR_PATH_TOKEN, DECISION_OUTSIDE_WINDOW);
        }
    }
    op->steps->step = CHECKOUT_LINK_DEVICE;
    checkout_next(op);
}
