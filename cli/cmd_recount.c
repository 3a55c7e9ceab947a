/*
 * cmd_recount.c - "tallyctl recount": a campaign's conversions and revenue
 * under another attribution model, recounted from the decision records.
 *
 * Every order record o:{SHOP}:ORDER holds, besides the touchpoint it was
 * credited to, the touchpoint each model would have credited
 * (alt_last_click, alt_first_touch, alt_last_touch). The shop's order index
 * s:{SHOP}:orders lists the orders, so the recount reads one shop's
 * records in batches and never scans the keyspace. Revenue is net of
 * refunds. The windows and the opens setting stay those each order was
 * decided under; only the model changes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "attribution.h"
#include "cli.h"
#include "decision.h"
#include "money.h"
#include "redis_url.h"
#include "schema.h"
#include "token.h"

#define RECOUNT_BATCH 500
#define RECOUNT_MAX_CURRENCIES 64

static const char recount_usage[] =
    "Usage: tallyctl --redis URL recount --campaign ID --model MODEL\n"
    "                [--shop ID] [--json]\n"
    "\n"
    "Recounts one campaign's conversions and net revenue under another\n"
    "attribution model from the shop's decision records.\n"
    "\n"
    "  --campaign ID  campaign id: 1 to 32 of A-Z a-z 0-9 . _ -\n"
    "  --model MODEL  last_click, first_touch or last_touch\n"
    "  --shop ID      shop whose orders are read (default: default)\n"
    "  --json         print one JSON object instead of a table\n";

struct recount {
    long long orders_read;
    long long conversions;  /* under the requested model */
    long long credited_now; /* records credited to the campaign today */
    struct {
        char currency[4];
        long long minor;
    } revenue[RECOUNT_MAX_CURRENCIES];
    size_t n_revenue;
};

static void add_revenue(struct recount *rc, const char *currency, long long minor)
{
    for (size_t i = 0; i < rc->n_revenue; i++) {
        if (strcmp(rc->revenue[i].currency, currency) == 0) {
            rc->revenue[i].minor += minor;
            return;
        }
    }
    if (rc->n_revenue == RECOUNT_MAX_CURRENCIES || strlen(currency) != 3)
        return;
    snprintf(rc->revenue[rc->n_revenue].currency, 4, "%s", currency);
    rc->revenue[rc->n_revenue].minor = minor;
    rc->n_revenue++;
}

static const char *reply_text(const redisReply *r)
{
    return r != NULL && r->type == REDIS_REPLY_STRING ? r->str : "";
}

/* Adds one record's fields (alternative, campaign, revenue, refunded,
 * currency) to rc. */
static void take_record(struct recount *rc, const char *campaign,
                        const redisReply *fields)
{
    struct attr_touch alt;
    const char *currency;
    long long revenue, refunded;

    if (fields->type != REDIS_REPLY_ARRAY || fields->elements != 5)
        return;
    rc->orders_read++;
    if (strcmp(reply_text(fields->element[1]), campaign) == 0)
        rc->credited_now++;
    if (decision_parse_alternative(reply_text(fields->element[0]), &alt) != 0 ||
        strcmp(alt.touch.campaign, campaign) != 0)
        return;

    revenue = strtoll(reply_text(fields->element[2]), NULL, 10);
    refunded = strtoll(reply_text(fields->element[3]), NULL, 10);
    currency = reply_text(fields->element[4]);
    rc->conversions++;
    add_revenue(rc, currency, revenue - refunded);
}

/* Reads one batch of the order index from start; returns the number of
 * orders in it, or -1. */
static long read_batch(redisContext *c, const char *shop, const char *campaign,
                       enum attr_model model, long start, struct recount *rc)
{
    char index[SCHEMA_KEY_MAX], key[SCHEMA_KEY_MAX], field[32];
    redisReply *ids;
    long n;

    schema_shop_orders(index, shop);
    ids = redisCommand(c, "ZRANGE %s %ld %ld", index, start, start + RECOUNT_BATCH - 1);
    if (ids == NULL || ids->type != REDIS_REPLY_ARRAY) {
        cli_error("recount: ZRANGE %s failed: %s", index,
                  ids == NULL ? c->errstr : reply_text(ids));
        freeReplyObject(ids);
        return -1;
    }
    snprintf(field, sizeof(field), "alt_%s", attribution_model_name(model));
    for (size_t i = 0; i < ids->elements; i++) {
        schema_order(key, shop, reply_text(ids->element[i]));
        redisAppendCommand(c, "HMGET %s %s campaign revenue refunded currency", key,
                           field);
    }
    for (size_t i = 0; i < ids->elements; i++) {
        redisReply *fields = NULL;

        if (redisGetReply(c, (void **)&fields) != REDIS_OK) {
            cli_error("recount: HMGET failed: %s", c->errstr);
            freeReplyObject(ids);
            return -1;
        }
        take_record(rc, campaign, fields);
        freeReplyObject(fields);
    }
    n = (long)ids->elements;
    freeReplyObject(ids);
    return n;
}

static void print_result(const char *campaign, const char *shop,
                         enum attr_model model, const struct recount *rc, bool json)
{
    json_t *root = json_object();
    json_t *revenue = json_object();
    char amount[32];
    char *text;

    if (!json)
        printf("%-18s %s\n%-18s %s\n%-18s %s\n%-18s %lld\n%-18s %lld\n%-18s %lld\n",
               "campaign", campaign, "shop", shop, "model",
               attribution_model_name(model), "orders_read", rc->orders_read,
               "conversions", rc->conversions, "credited_now", rc->credited_now);
    for (size_t i = 0; i < rc->n_revenue; i++) {
        const char *cur = rc->revenue[i].currency;
        int exponent = money_currency_exponent(cur, strlen(cur));

        money_format(rc->revenue[i].minor, exponent < 0 ? 0 : exponent, amount,
                     sizeof(amount));
        json_object_set_new(revenue, cur, json_string(amount));
        if (!json)
            printf("%-18s %s %s\n", "revenue", cur, amount);
    }
    if (!json) {
        json_decref(revenue);
        json_decref(root);
        return;
    }
    json_object_set_new(root, "campaign", json_string(campaign));
    json_object_set_new(root, "shop", json_string(shop));
    json_object_set_new(root, "model", json_string(attribution_model_name(model)));
    json_object_set_new(root, "orders_read", json_integer(rc->orders_read));
    json_object_set_new(root, "conversions", json_integer(rc->conversions));
    json_object_set_new(root, "credited_now", json_integer(rc->credited_now));
    json_object_set_new(root, "revenue", revenue);
    text = json_dumps(root, JSON_SORT_KEYS);
    if (text != NULL)
        printf("%s\n", text);
    free(text);
    json_decref(root);
}

int cmd_recount(const struct cli_globals *g, int argc, char **argv)
{
    const char *campaign = NULL, *model_name = NULL, *shop = "default";
    const char *url = g->redis;
    bool json = false;
    const struct cli_option opts[] = {
        {"campaign", &campaign, NULL}, {"model", &model_name, NULL},
        {"shop", &shop, NULL},         {"json", NULL, &json},
        {"redis", &url, NULL},
    };
    static struct recount rc;
    struct redis_target target;
    enum attr_model model;
    redisContext *c;
    char err[512];
    long start = 0, got;
    int parsed = cli_parse_options("recount", argc, argv, opts,
                                   sizeof(opts) / sizeof(opts[0]));

    if (parsed == 1) {
        fputs(recount_usage, stdout);
        return CLI_EXIT_OK;
    }
    if (parsed != 0)
        return CLI_EXIT_USAGE;
    if (campaign == NULL || !token_id_valid(campaign, strlen(campaign)) ||
        !token_id_valid(shop, strlen(shop))) {
        cli_error("recount: --campaign and --shop take 1 to %d of A-Z a-z 0-9 . _ -",
                  TOKEN_ID_MAX);
        return CLI_EXIT_USAGE;
    }
    if (model_name == NULL || attribution_model_parse(model_name, &model) != 0) {
        cli_error("recount: --model must be last_click, first_touch or last_touch");
        return CLI_EXIT_USAGE;
    }
    if (url == NULL || redis_url_parse(url, &target, err, sizeof(err)) != 0) {
        cli_error("recount: pass a valid --redis URL or --config FILE");
        return CLI_EXIT_USAGE;
    }

    c = cli_redis_connect(&target);
    memset(&target, 0, sizeof(target)); /* drops the password */
    if (c == NULL)
        return CLI_EXIT_FAILURE;
    do {
        got = read_batch(c, shop, campaign, model, start, &rc);
        start += got;
    } while (got == RECOUNT_BATCH);
    redisFree(c);
    if (got < 0)
        return CLI_EXIT_FAILURE;

    print_result(campaign, shop, model, &rc, json);
    return CLI_EXIT_OK;
}
