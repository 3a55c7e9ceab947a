/*
 * cmd_stats.c - "tallyctl stats": a campaign's totals, read from the
 * campaign hash c:{ID} in Redis, as an aligned table or one JSON object.
 *
 * The hash contains integer counters and one "revenue:CUR" field per currency
 * in integer minor units; revenue is printed as a decimal string at the
 * currency's ISO 4217 exponent, so no amount passes through floating point.
 * Fields this version does not know are ignored, so newer servers can add
 * fields without breaking it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "cli.h"
#include "money.h"
#include "redis_url.h"
#include "schema.h"
#include "token.h"

#define STATS_TIMEOUT_S 5
#define STATS_MAX_CURRENCIES 64

static const char stats_usage[] =
    "Usage: tallyctl --redis URL stats --campaign ID [--json]\n"
    "\n"
    "Prints the totals of one campaign from its Redis hash c:{ID}.\n"
    "\n"
    "  --campaign ID  campaign id: 1 to 32 of A-Z a-z 0-9 . _ -\n"
    "  --json         print one JSON object instead of a table\n"
    "  --redis URL    Redis to read: redis://[user:password@]host:port[/db]\n"
    "                 or unix:///path/to/redis.sock[?db=N]\n";

/* The integer counters, in the order they are printed. */
static const char *const counter_names[] = {
    "opens",  "unique_opens", "clicks", "unique_clicks",
    "conversions", "cross_device_conversions",
};

#define COUNTER_COUNT (sizeof(counter_names) / sizeof(counter_names[0]))

struct revenue {
    char currency[4];
    char amount[24]; /* decimal at the currency's exponent */
};

struct campaign_stats {
    long long counters[COUNTER_COUNT];
    struct revenue revenue[STATS_MAX_CURRENCIES];
    size_t n_revenue;
};

static int parse_integer(const char *s, long long *out)
{
    char *end;

    errno = 0;
    *out = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return -1;
    return 0;
}

static int add_revenue(struct campaign_stats *st, const char *currency,
                       long long minor)
{
    struct revenue *r;
    int exponent = money_currency_exponent(currency, strlen(currency));

    if (st->n_revenue == STATS_MAX_CURRENCIES)
        return 0; /* more currencies than any shop uses; the rest is dropped */
    if (exponent < 0) {
        cli_error("stats: revenue:%s is not an ISO 4217 currency; printing "
                  "it in minor units", currency);
        exponent = 0;
    }

    r = &st->revenue[st->n_revenue++];
    snprintf(r->currency, sizeof(r->currency), "%s", currency);
    money_format(minor, exponent, r->amount, sizeof(r->amount));
    return 0;
}

/* Reads one field of the hash into st. */
static int take_field(struct campaign_stats *st, const char *key,
                      const char *name, const char *value)
{
    long long number;

    for (size_t i = 0; i < COUNTER_COUNT; i++) {
        if (strcmp(name, counter_names[i]) != 0)
            continue;
        if (parse_integer(value, &number) != 0) {
            cli_error("stats: field %s of %s is not an integer", name, key);
            return -1;
        }
        st->counters[i] = number;
        return 0;
    }

    if (strncmp(name, "revenue:", 8) != 0 || strlen(name) != 11)
        return 0;
    if (parse_integer(value, &number) != 0) {
        cli_error("stats: field %s of %s is not an integer", name, key);
        return -1;
    }
    return add_revenue(st, name + 8, number);
}

static int compare_revenue(const void *a, const void *b)
{
    return strcmp(((const struct revenue *)a)->currency,
                  ((const struct revenue *)b)->currency);
}

/* Sends AUTH when the URL has a password, and SELECT when its db is not 0. */
static int prepare_connection(redisContext *c, const struct redis_target *t)
{
    redisReply *reply = NULL;

    if (t->password[0] != '\0') {
        if (t->user[0] != '\0')
            reply = redisCommand(c, "AUTH %s %s", t->user, t->password);
        else
            reply = redisCommand(c, "AUTH %s", t->password);
        if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
            cli_error("stats: Redis rejected AUTH: %s",
                      reply != NULL ? reply->str : c->errstr);
            freeReplyObject(reply);
            return -1;
        }
        freeReplyObject(reply);
    }

    if (t->db == 0)
        return 0;
    reply = redisCommand(c, "SELECT %d", t->db);
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        cli_error("stats: Redis rejected SELECT %d: %s", t->db,
                  reply != NULL ? reply->str : c->errstr);
        freeReplyObject(reply);
        return -1;
    }
    freeReplyObject(reply);
    return 0;
}

static redisContext *connect_target(const struct redis_target *t)
{
    struct timeval timeout = {STATS_TIMEOUT_S, 0};
    char where[512];
    redisContext *c;

    if (t->is_unix)
        c = redisConnectUnixWithTimeout(t->path, timeout);
    else
        c = redisConnectWithTimeout(t->host, t->port, timeout);

    redis_url_describe(t, where, sizeof(where));
    if (c == NULL || c->err != 0) {
        cli_error("stats: cannot connect to Redis at %s: %s; check that it "
                  "runs and the URL is right", where,
                  c != NULL ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, timeout);

    if (prepare_connection(c, t) != 0) {
        redisFree(c);
        return NULL;
    }
    return c;
}

redisContext *cli_redis_connect(const struct redis_target *t)
{
    return connect_target(t);
}

/* Reads the campaign hash into st. */
static int read_stats(redisContext *c, const char *campaign,
                      struct campaign_stats *st)
{
    char key[SCHEMA_KEY_MAX];
    redisReply *reply;
    int rc = 0;

    schema_campaign(key, campaign);
    reply = redisCommand(c, "HGETALL %s", key);
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        cli_error("stats: HGETALL %s failed: %s", key,
                  reply == NULL ? c->errstr
                  : reply->type == REDIS_REPLY_ERROR ? reply->str
                                                     : "not a hash reply");
        freeReplyObject(reply);
        return -1;
    }

    for (size_t i = 0; i + 1 < reply->elements && rc == 0; i += 2) {
        const redisReply *name = reply->element[i];
        const redisReply *value = reply->element[i + 1];

        if (name->type != REDIS_REPLY_STRING || value->type != REDIS_REPLY_STRING)
            continue;
        rc = take_field(st, key, name->str, value->str);
    }
    freeReplyObject(reply);

    qsort(st->revenue, st->n_revenue, sizeof(st->revenue[0]), compare_revenue);
    return rc;
}

static int print_json(const char *campaign, const struct campaign_stats *st)
{
    json_t *root = json_object();
    json_t *revenue = json_object();
    char *text = NULL;
    int rc = -1;

    if (root == NULL || revenue == NULL)
        goto done;
    json_object_set_new(root, "campaign", json_string(campaign));
    for (size_t i = 0; i < COUNTER_COUNT; i++)
        json_object_set_new(root, counter_names[i],
                            json_integer(st->counters[i]));
    for (size_t i = 0; i < st->n_revenue; i++)
        json_object_set_new(revenue, st->revenue[i].currency,
                            json_string(st->revenue[i].amount));
    json_object_set(root, "revenue", revenue);

    text = json_dumps(root, 0);
    if (text == NULL)
        goto done;
    printf("%s\n", text);
    rc = 0;

done:
    free(text);
    json_decref(revenue);
    json_decref(root);
    return rc;
}

static void print_table(const char *campaign, const struct campaign_stats *st)
{
    char label[32];

    printf("%-26s %s\n", "campaign", campaign);
    for (size_t i = 0; i < COUNTER_COUNT; i++)
        printf("%-26s %lld\n", counter_names[i], st->counters[i]);
    if (st->n_revenue == 0)
        printf("%-26s %s\n", "revenue", "0");
    for (size_t i = 0; i < st->n_revenue; i++) {
        snprintf(label, sizeof(label), "revenue %s", st->revenue[i].currency);
        printf("%-26s %s\n", label, st->revenue[i].amount);
    }
}

int cmd_stats(const struct cli_globals *g, int argc, char **argv)
{
    const char *campaign = NULL;
    const char *url = g->redis;
    bool json = false;
    const struct cli_option opts[] = {
        {"campaign", &campaign, NULL},
        {"json", NULL, &json},
        {"redis", &url, NULL},
    };
    static struct campaign_stats st;
    struct redis_target target;
    redisContext *c;
    char err[512];
    int rc = cli_parse_options("stats", argc, argv, opts,
                               sizeof(opts) / sizeof(opts[0]));

    if (rc == 1) {
        fputs(stats_usage, stdout);
        return CLI_EXIT_OK;
    }
    if (rc != 0)
        return CLI_EXIT_USAGE;

    if (campaign == NULL || !token_id_valid(campaign, strlen(campaign))) {
        cli_error("stats: --campaign %s: use 1 to %d of A-Z a-z 0-9 . _ -",
                  campaign == NULL ? "is missing" : "is invalid", TOKEN_ID_MAX);
        return CLI_EXIT_USAGE;
    }
    if (url == NULL) {
        cli_error("stats: no Redis given: pass --redis URL or --config FILE");
        return CLI_EXIT_USAGE;
    }
    if (redis_url_parse(url, &target, err, sizeof(err)) != 0) {
        cli_error("stats: --redis: %s", err);
        return CLI_EXIT_USAGE;
    }

    c = connect_target(&target);
    memset(&target, 0, sizeof(target)); /* drops the password */
    if (c == NULL)
        return CLI_EXIT_FAILURE;

    rc = read_stats(c, campaign, &st);
    redisFree(c);
    if (rc != 0)
        return CLI_EXIT_FAILURE;

    if (json)
        return print_json(campaign, &st) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
    print_table(campaign, &st);
    return CLI_EXIT_OK;
}
