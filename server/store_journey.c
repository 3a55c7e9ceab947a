/*
 * store_journey.c - the anonymous journey of a credited order.
 *
 * Before CAMPAIGN_CONVERT credits an order, the store reads the credited
 * reader's latest touchpoints up to the order time plus the clock skew that
 * attribution allows, with ZREVRANGEBYSCORE in the reader's slot. Each
 * score carries the device class and client of its touch (touch.h).
 * CAMPAIGN_CONVERT then gets one JSON entry for the campaign's
 * recent-conversions list: the order, then its touchpoints oldest first.
 * The entry names campaigns, messages, links, times and device classes,
 * never a reader id. The read changes nothing, so a replayed checkout may
 * run it again. A checkout replayed after its claim has lost its reader
 * and sends an entry with an empty journey;
 * CAMPAIGN_CONVERT keeps only the first entry of an order in any case.
 */
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "device.h"
#include "log.h"
#include "money.h"
#include "touch.h"

/* Touchpoints shown per journey. */
#define JOURNEY_TOUCHES_MAX 16

static bool reader_known(const uint8_t reader[TOKEN_READER_LEN])
{
    for (size_t i = 0; i < TOKEN_READER_LEN; i++) {
        if (reader[i] != 0)
            return true;
    }
    return false;
}

/* Orders touches by time, an open before a click of the same second:
 * Redis returns equal scores in member order, which does not tell
 * which came first. The journey is short, so an insertion sort does. */
static bool touch_before(json_t *a, json_t *b)
{
    json_int_t ta = json_integer_value(json_object_get(a, "time"));
    json_int_t tb = json_integer_value(json_object_get(b, "time"));
    const char *ka = json_string_value(json_object_get(a, "kind"));
    const char *kb = json_string_value(json_object_get(b, "kind"));

    if (ta != tb)
        return ta < tb;
    return strcmp(ka, "open") == 0 && strcmp(kb, "open") != 0;
}

static void sort_journey(json_t *journey)
{
    for (size_t i = 1; i < json_array_size(journey); i++) {
        for (size_t j = i; j > 0; j--) {
            json_t *prev = json_array_get(journey, j - 1);
            json_t *cur = json_array_get(journey, j);

            if (!touch_before(cur, prev))
                break;
            json_incref(prev);
            json_array_set(journey, j - 1, cur);
            json_array_set_new(journey, j, prev);
        }
    }
}

/* Builds the entry for op, with its journey (may be NULL) as its touches,
 * and sends CAMPAIGN_CONVERT. */
static void send_with_entry(struct store_op *op)
{
    const struct decision_record *r = &op->steps->record;
    json_t *journey = op->steps->journey;
    const struct attr_decision *d = &r->decision;
    int exponent = money_currency_exponent(r->currency, strlen(r->currency));
    char revenue[32];
    json_t *entry;
    char *text;

    money_format(r->revenue_minor, exponent < 0 ? 0 : exponent, revenue,
                 sizeof(revenue));
    if (journey != NULL)
        sort_journey(journey);
    entry = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:I, s:s, s:b, s:s, s:I, s:s, s:o}",
                      "shop", r->shop, "order", r->order,
                      "time", (json_int_t)r->time, "revenue", revenue,
                      "currency", r->currency, "message", d->touch.touch.message,
                      "link", (json_int_t)d->touch.touch.link,
                      "path", attribution_path_name(d->path),
                      "cross_device", d->cross_device,
                      "touch", attribution_touch_kind_name(d->touch.kind),
                      "click_time", (json_int_t)d->touch.touch.time,
                      "device", device_class_name((enum device_class)op->ev.device),
                      "journey", journey != NULL ? json_incref(journey) : json_array());
    text = entry != NULL ? json_dumps(entry, JSON_COMPACT) : NULL;
    json_decref(entry);
    if (text == NULL) {
        LOG_LIMITED(LOG_LEVEL_ERROR, "store.event_failed",
                    "step=journey event=%s error=\"out of memory\"", op->event_id);
        store_op_finish(op, false);
        return;
    }
    store_campaign_convert(op, text);
    free(text);
}

/* Turns a touchpoint member and its score into a journey touch: kind,
 * time, campaign, message, device, client, for clicks the link, and for a
 * machine's touch its verdict. Returns NULL for a malformed member. */
static json_t *touch_of(const char *member, size_t len, const char *score)
{
    struct attr_touch t;
    json_t *touch;

    if (touch_parse(member, len, strtod(score, NULL), &t) != 0)
        return NULL;
    touch = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s}",
                      "kind", attribution_touch_kind_name(t.kind),
                      "time", (json_int_t)t.touch.time,
                      "campaign", t.touch.campaign, "message", t.touch.message,
                      "device", device_class_name((enum device_class)t.device),
                      "client", device_client_name((enum client_family)t.client));
    if (touch == NULL)
        return NULL;
    if (t.kind == ATTR_TOUCH_CLICK)
        json_object_set_new(touch, "link", json_integer(t.touch.link));
    if (t.touch.verdict != VERDICT_HUMAN)
        json_object_set_new(touch, "verdict",
                            json_string(verdict_name((enum verdict)t.touch.verdict)));
    return touch;
}

static void on_touches(redisAsyncContext *ac, void *r, void *privdata)
{
    struct store_op *op = privdata;
    const redisReply *reply = r;

    (void)ac;
    if (store_reply_failed(op, reply, "journey_touches")) {
        store_op_finish(op, false);
        return;
    }
    op->steps->journey = json_array();
    if (op->steps->journey == NULL || reply->type != REDIS_REPLY_ARRAY) {
        send_with_entry(op);
        return;
    }

    /* Newest first in the reply; the journey lists them oldest first. */
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *member = reply->element[i];
        const redisReply *score = reply->element[i + 1];
        json_t *touch;

        if (member->type != REDIS_REPLY_STRING || score->type != REDIS_REPLY_STRING)
            continue;
        touch = touch_of(member->str, member->len, score->str);
        if (touch != NULL)
            json_array_insert_new(op->steps->journey, 0, touch);
    }
    send_with_entry(op);
}

void store_journey_start(struct store_op *op)
{
    char key[SCHEMA_KEY_MAX];
    struct store_args a;

    if (!reader_known(op->steps->record.decision.touch.touch.reader)) {
        send_with_entry(op);
        return;
    }
    schema_reader_touches(key, op->steps->record.decision.touch.touch.reader);
    store_args_init(&a);
    store_args_str(&a, "ZREVRANGEBYSCORE");
    store_args_str(&a, key);
    store_args_u64(&a, touch_score_max(op->steps->record.time + ATTR_CLOCK_SKEW_S));
    store_args_str(&a, "-inf");
    store_args_str(&a, "WITHSCORES");
    store_args_str(&a, "LIMIT");
    store_args_str(&a, "0");
    store_args_u64(&a, JOURNEY_TOUCHES_MAX);
    store_send(op, on_touches, &a);
}
