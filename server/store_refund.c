/*
 * store_refund.c - reversing an order's revenue, in full or in part.
 *
 * Two round trips, each in one Redis Cluster slot: ORDER_REFUND in the
 * shop's slot decides the amount (capped at what is not yet refunded, so
 * an order never goes below zero) and marks the refund applied under its
 * refund key; then, for a credited order, CAMPAIGN_REFUND applies the same
 * amount to the campaign under the same key. Both are no-ops for a refund
 * key they have seen, so a repeated beacon or a replayed event reverses
 * revenue once.
 *
 * A refund of an order tally has not seen is kept in the shop's slot
 * (s:{SHOP}:early:ORDER) until the order's checkout claims it; the claim
 * applies it there and store_checkout.c sends its CAMPAIGN_REFUND.
 */
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_scripts.h"

static void on_campaign_refund(redisAsyncContext *ac, void *r, void *privdata)
{
    struct store_op *op = privdata;

    (void)ac;
    store_op_finish(op, !store_reply_failed(op, r, "campaign_refund"));
}

/* Copies string element i of reply into out. Returns 0, or -1. */
static int element_text(const redisReply *reply, size_t i, char *out, size_t outsize)
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

void store_campaign_refund_send(struct store_op *op,
                                const struct store_campaign_refund *r,
                                redisCallbackFn *cb)
{
    char keys[5][SCHEMA_KEY_MAX];
    struct store_args a;

    schema_campaign(keys[0], r->campaign);
    schema_message(keys[1], r->campaign, r->message);
    schema_hour(keys[2], r->campaign, op->ev.time);
    schema_campaign_order(keys[3], r->campaign, r->shop, r->order);
    schema_message_hour(keys[4], r->campaign, r->message, op->ev.time);

    store_args_init(&a);
    store_args_evalsha(&a, SCRIPT_CAMPAIGN_REFUND, 5);
    for (int i = 0; i < 5; i++)
        store_args_str(&a, keys[i]);
    store_args_str(&a, r->field);
    store_args_str(&a, r->amount);
    store_args_str(&a, r->currency);
    store_args_str(&a, r->verified ? "1" : "0");
    store_args_u64(&a, op->st->opts.campaign_retention_s);
    store_send(op, cb, &a);
}

static void send_campaign_refund(struct store_op *op, const redisReply *reply,
                                 const char *field)
{
    const struct event_refund *rf = &op->ev.u.refund;
    char amount[24], campaign[TOKEN_ID_MAX + 1], message[TOKEN_ID_MAX + 1];
    char verified[4];
    struct store_campaign_refund r;

    if (element_text(reply, 1, amount, sizeof(amount)) != 0 ||
        element_text(reply, 2, campaign, sizeof(campaign)) != 0 ||
        element_text(reply, 3, message, sizeof(message)) != 0 ||
        element_text(reply, 5, verified, sizeof(verified)) != 0) {
        /* An unattributed order has an empty campaign; nothing to credit. */
        store_op_finish(op, true);
        return;
    }
    if (campaign[0] == '\0') {
        store_op_finish(op, true);
        return;
    }

    r = (struct store_campaign_refund){
        .campaign = campaign, .message = message, .shop = rf->shop,
        .order = rf->order_id, .field = field, .amount = amount,
        .currency = rf->currency, .verified = strcmp(verified, "1") == 0,
    };
    store_campaign_refund_send(op, &r, on_campaign_refund);
}

static void refund_field(const struct event_refund *rf, char *out, size_t outsize)
{
    snprintf(out, outsize, "refund:%s", rf->refund_key);
}

static void on_order_refund(redisAsyncContext *ac, void *r, void *privdata)
{
    struct store_op *op = privdata;
    const redisReply *reply = r;
    const struct event_refund *rf = &op->ev.u.refund;
    char field[sizeof(rf->refund_key) + 8];
    long long outcome;

    (void)ac;
    if (store_reply_failed(op, reply, "order_refund")) {
        store_op_finish(op, false);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER) {
        store_op_finish(op, false);
        return;
    }

    outcome = reply->element[0]->integer;
    if (outcome == -1) {
        /* The refund came before its order (a late or lost checkout
         * beacon): ORDER_REFUND kept it in Redis for ORDER_CLAIM. */
        STAT_ADD(op->st->stats.refunds_unknown_order, 1);
        LOG_LIMITED(LOG_LEVEL_INFO, "refund.held", "shop=%s reason=unknown_order "
                    "hint=\"applied when the order's checkout arrives\"", rf->shop);
        store_op_finish(op, true);
        return;
    }
    if (outcome < 0) {
        /* Another currency than the order's: the shop's data is wrong,
         * not tally's, so this is counted and logged at info. */
        STAT_ADD(op->st->stats.refunds_currency_mismatch, 1);
        LOG_LIMITED(LOG_LEVEL_INFO, "refund.rejected", "shop=%s reason=currency_mismatch",
                    rf->shop);
        store_op_finish(op, true);
        return;
    }
    refund_field(rf, field, sizeof(field));
    send_campaign_refund(op, reply, field);
}

void store_refund_start(struct store_op *op)
{
    const struct event_refund *rf = &op->ev.u.refund;
    char keys[3][SCHEMA_KEY_MAX];
    char field[sizeof(rf->refund_key) + 8];
    struct store_args a;

    schema_order(keys[0], rf->shop, rf->order_id);
    schema_shop(keys[1], rf->shop);
    schema_early_refunds(keys[2], rf->shop, rf->order_id);
    refund_field(rf, field, sizeof(field));

    store_args_init(&a);
    store_args_evalsha(&a, SCRIPT_ORDER_REFUND, 3);
    for (int i = 0; i < 3; i++)
        store_args_str(&a, keys[i]);
    store_args_str(&a, field);
    store_args_i64(&a, rf->has_amount ? rf->amount_minor : -1);
    store_args_str(&a, rf->currency);
    store_args_u64(&a, op->st->opts.campaign_retention_s);
    store_send(op, on_order_refund, &a);
}
