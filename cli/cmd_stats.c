/*
 * cmd_stats.c - "tallyctl stats": a campaign's totals, read from the
 * campaign hash c:{ID} in Redis, and with --from/--to its hourly series
 * from the hour hashes c:{ID}:h:YYYYMMDDHH, as an aligned table with
 * thousands separators, one JSON object or CSV.
 *
 * The hash contains integer counters and one "revenue:CUR" field per currency
 * in integer minor units; revenue is printed as a decimal string at the
 * currency's ISO 4217 exponent, so no amount passes through floating point.
 * Fields "opens:VERDICT" and "clicks:VERDICT" split the totals by verdict
 * (classify.h); they are shown side by side, with the machine verdicts
 * summed. Fields this version does not know are ignored, so newer servers
 * can add fields without breaking it. "sent" is the PFCOUNT of the
 * campaign's HyperLogLog c:{ID}:sent (approximate, see
 * docs/redis-schema.md), unknown while nothing was minted through tally.
 * With --message M the same figures come from the message's own keys:
 * c:{ID}:m:M, c:{ID}:m:M:sent and c:{ID}:m:M:h:YYYYMMDDHH.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "classify.h"
#include "cli.h"
#include "money.h"
#include "redis_url.h"
#include "schema.h"
#include "token.h"
#include "utc.h"

#define STATS_TIMEOUT_S 5
#define STATS_MAX_CURRENCIES 64
#define STATS_HOURS_MAX (31 * 24)
#define STATS_HOURS_DEFAULT 48

static const char stats_usage[] =
    "Usage: tallyctl --redis URL stats --campaign ID [--message M]\n"
    "                [--json | --csv] [--from TIME] [--to TIME]\n"
    "\n"
    "Prints the totals of one campaign from its Redis hash c:{ID}, the emails\n"
    "sent (minted by tallyctl rewrite or POST /v1/sign; approximate, from the\n"
    "HyperLogLog c:{ID}:sent), and with --from or --to its counts per UTC hour.\n"
    "A campaign or message with no recorded send, open or click is an error\n"
    "(exit status 1), as in the stats API, so that a mistyped name shows.\n"
    "\n"
    "  --campaign ID  campaign id: 1 to 32 of A-Z a-z 0-9 . _ -\n"
    "  --message M    the figures of message M of the campaign only (an A/B\n"
    "                 variant), from c:{ID}:m:M and its sent and hour keys\n"
    "  --json         print one JSON object instead of a table\n"
    "  --csv          print CSV: the totals, or the hours when a range is given\n"
    "  --from TIME    first hour of the series: Unix seconds or UTC such as\n"
    "                 2026-12-04T14:00Z (default: 47 hours before --to)\n"
    "  --to TIME      last hour of the series (default: now); at most 744 hours\n"
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

/* Columns of the split by verdict. */
enum { SPLIT_OPENS, SPLIT_CLICKS, SPLIT_COUNT };
static const char *const split_names[SPLIT_COUNT] = {"opens", "clicks"};

struct campaign_stats {
    long long sent; /* emails minted; 0 when unknown */
    long long counters[COUNTER_COUNT];
    long long by_verdict[VERDICT_COUNT][SPLIT_COUNT];
    struct revenue revenue[STATS_MAX_CURRENCIES];
    size_t n_revenue;
};

/* The counters of one UTC hour hash, and its revenue. The hour hashes hold
 * no unique counts, so those stay 0. */
struct hour_stats {
    uint32_t start;
    struct campaign_stats stats;
};

/* The hourly columns, in order. */
static const char *const hour_counter_names[] = {
    "opens", "clicks", "conversions", "cross_device_conversions",
};

#define HOUR_COUNTER_COUNT (sizeof(hour_counter_names) / sizeof(hour_counter_names[0]))

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

/* Reads a field "opens:VERDICT" or "clicks:VERDICT" into st. Returns 1
 * when name is one, 0 when not, -1 when its value is not an integer. */
static int take_verdict_field(struct campaign_stats *st, const char *key,
                              const char *name, const char *value)
{
    const char *colon = strchr(name, ':');
    enum verdict v;
    long long number;

    for (int split = 0; colon != NULL && split < SPLIT_COUNT; split++) {
        size_t len = strlen(split_names[split]);

        if ((size_t)(colon - name) != len || strncmp(name, split_names[split], len) != 0 ||
            verdict_parse(colon + 1, strlen(colon + 1), &v) != 0)
            continue;
        if (parse_integer(value, &number) != 0) {
            cli_error("stats: field %s of %s is not an integer", name, key);
            return -1;
        }
        st->by_verdict[v][split] = number;
        return 1;
    }
    return 0;
}

/* Reads one field of the hash into st. */
static int take_field(struct campaign_stats *st, const char *key,
                      const char *name, const char *value)
{
    long long number;
    int rc = take_verdict_field(st, key, name, value);

    if (rc != 0)
        return rc < 0 ? -1 : 0;

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
            cli_error("Redis rejected AUTH: %s",
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
        cli_error("Redis rejected SELECT %d: %s", t->db,
                  reply != NULL ? reply->str : c->errstr);
        freeReplyObject(reply);
        return -1;
    }
    freeReplyObject(reply);
    return 0;
}

redisContext *cli_redis_connect(const struct redis_target *t)
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
        cli_error("cannot connect to Redis at %s: %s; check that it "
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

/* Takes the fields of one HGETALL reply of key into st. */
static int take_hash(redisContext *c, const char *key, redisReply *reply,
                     struct campaign_stats *st)
{
    int rc = 0;

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

/* Sums the machine verdicts (classify.h) of one column. */
static long long machine_total(const struct campaign_stats *st, int split)
{
    long long sum = 0;

    for (int v = 0; v < VERDICT_COUNT; v++) {
        if (verdict_is_machine((enum verdict)v))
            sum += st->by_verdict[v][split];
    }
    return sum;
}

/* {"human": {"opens": N, "clicks": N}, ..., "machine": {...}}: every
 * verdict, zeros included, so a dashboard finds each key. */
static json_t *verdict_json(const struct campaign_stats *st)
{
    json_t *by = json_object();

    for (int v = 0; by != NULL && v <= VERDICT_COUNT; v++) {
        json_t *row = json_object();

        for (int split = 0; split < SPLIT_COUNT; split++)
            json_object_set_new(row, split_names[split],
                                json_integer(v < VERDICT_COUNT ? st->by_verdict[v][split]
                                                               : machine_total(st, split)));
        json_object_set_new(by, v < VERDICT_COUNT ? verdict_name((enum verdict)v)
                                                  : "machine", row);
    }
    return by;
}

/* Tells, as the stats API does, whether the campaign (or its message, when
 * message is not NULL) has a recorded event: 1 or 0, or -1 with an error
 * printed. A mistyped name would otherwise print a table of zeros. */
static int is_known(redisContext *c, const char *campaign, const char *message)
{
    char set[SCHEMA_KEY_MAX];
    redisReply *reply;
    int known;

    if (message != NULL) {
        schema_message_set(set, campaign);
        reply = redisCommand(c, "SISMEMBER %s %s", set, message);
    } else {
        reply = redisCommand(c, "SISMEMBER %s %s", SCHEMA_CAMPAIGNS, campaign);
    }
    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        cli_error("stats: SISMEMBER failed: %s",
                  reply == NULL ? c->errstr
                  : reply->type == REDIS_REPLY_ERROR ? reply->str
                                                     : "not an integer reply");
        freeReplyObject(reply);
        return -1;
    }
    known = reply->integer == 1;
    freeReplyObject(reply);
    if (!known && message != NULL)
        cli_error("stats: no such message %s in campaign %s: it has no recorded "
                  "send, open or click", message, campaign);
    else if (!known)
        cli_error("stats: no such campaign %s: it has no recorded send, open or "
                  "click", campaign);
    return known;
}

/* Reads the hash and sent count of the campaign, or of its message when
 * message is not NULL, into st. */
static int read_stats(redisContext *c, const char *campaign, const char *message,
                      struct campaign_stats *st)
{
    char key[SCHEMA_KEY_MAX];
    redisReply *reply;

    if (message != NULL)
        schema_message(key, campaign, message);
    else
        schema_campaign(key, campaign);
    if (take_hash(c, key, redisCommand(c, "HGETALL %s", key), st) != 0)
        return -1;

    if (message != NULL)
        schema_message_sent(key, campaign, message);
    else
        schema_campaign_sent(key, campaign);
    reply = redisCommand(c, "PFCOUNT %s", key);
    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        cli_error("stats: PFCOUNT %s failed: %s", key,
                  reply == NULL ? c->errstr
                  : reply->type == REDIS_REPLY_ERROR ? reply->str
                                                     : "not an integer reply");
        freeReplyObject(reply);
        return -1;
    }
    st->sent = reply->integer;
    freeReplyObject(reply);
    return 0;
}

/* Writes the key of the hour at start: the campaign's, or its message's
 * when message is not NULL. */
static void hour_key(char *key, const char *campaign, const char *message, uint32_t start)
{
    if (message != NULL)
        schema_message_hour(key, campaign, message, start);
    else
        schema_hour(key, campaign, start);
}

/* Reads n hour hashes from the hour at from on, pipelined. */
static int read_hours(redisContext *c, const char *campaign, const char *message,
                      uint32_t from, size_t n, struct hour_stats *hours)
{
    char key[SCHEMA_KEY_MAX];

    for (size_t i = 0; i < n; i++) {
        hours[i].start = from + (uint32_t)i * 3600;
        hour_key(key, campaign, message, hours[i].start);
        if (redisAppendCommand(c, "HGETALL %s", key) != REDIS_OK) {
            cli_error("stats: cannot queue HGETALL %s: %s", key, c->errstr);
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        void *reply = NULL;

        hour_key(key, campaign, message, hours[i].start);
        if (redisGetReply(c, &reply) != REDIS_OK)
            reply = NULL;
        if (take_hash(c, key, reply, &hours[i].stats) != 0)
            return -1;
    }
    return 0;
}

/* Copies text (digits, optional '-' and '.fraction') with a ',' between
 * groups of three digits of its integer part. */
static void group_thousands(const char *text, char *out, size_t outsize)
{
    const char *digits = text[0] == '-' ? text + 1 : text;
    size_t int_len = strcspn(digits, ".");
    size_t used = 0;

    if (digits != text && used + 1 < outsize)
        out[used++] = '-';
    for (size_t i = 0; i < int_len && used + 2 < outsize; i++) {
        if (i > 0 && (int_len - i) % 3 == 0)
            out[used++] = ',';
        out[used++] = digits[i];
    }
    snprintf(out + used, outsize - used, "%s", digits + int_len);
}

static void group_integer(long long value, char *out, size_t outsize)
{
    char text[32];

    snprintf(text, sizeof(text), "%lld", value);
    group_thousands(text, out, outsize);
}

/* Returns the amount of currency in st, or "0". */
static const char *revenue_of(const struct campaign_stats *st, const char *currency)
{
    for (size_t i = 0; i < st->n_revenue; i++) {
        if (strcmp(st->revenue[i].currency, currency) == 0)
            return st->revenue[i].amount;
    }
    return "0";
}

static long long hour_counter(const struct campaign_stats *st, size_t column)
{
    for (size_t i = 0; i < COUNTER_COUNT; i++) {
        if (strcmp(counter_names[i], hour_counter_names[column]) == 0)
            return st->counters[i];
    }
    return 0;
}

static int compare_currency(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Collects the currencies that occur in any hour, sorted. */
static size_t hour_currencies(const struct hour_stats *hours, size_t n,
                              char currencies[][4])
{
    size_t count = 0;

    for (size_t h = 0; h < n; h++) {
        for (size_t i = 0; i < hours[h].stats.n_revenue; i++) {
            const char *cur = hours[h].stats.revenue[i].currency;
            bool seen = false;

            for (size_t k = 0; k < count; k++)
                seen = seen || strcmp(currencies[k], cur) == 0;
            if (!seen && count < STATS_MAX_CURRENCIES)
                snprintf(currencies[count++], 4, "%s", cur);
        }
    }
    qsort(currencies, count, sizeof(currencies[0]), compare_currency);
    return count;
}

static json_t *hours_json(const struct hour_stats *hours, size_t n)
{
    json_t *list = json_array();

    for (size_t h = 0; h < n; h++) {
        json_t *item = json_object();
        json_t *revenue = json_object();
        char iso[21];

        utc_format_hour(hours[h].start, iso);
        json_object_set_new(item, "hour", json_string(iso));
        for (size_t i = 0; i < HOUR_COUNTER_COUNT; i++)
            json_object_set_new(item, hour_counter_names[i],
                                json_integer(hour_counter(&hours[h].stats, i)));
        for (size_t i = 0; i < hours[h].stats.n_revenue; i++)
            json_object_set_new(revenue, hours[h].stats.revenue[i].currency,
                                json_string(hours[h].stats.revenue[i].amount));
        json_object_set_new(item, "revenue", revenue);
        json_array_append_new(list, item);
    }
    return list;
}

static int print_json(const char *campaign, const char *message,
                      const struct campaign_stats *st,
                      const struct hour_stats *hours, size_t n_hours)
{
    json_t *root = json_object();
    json_t *revenue = json_object();
    char *text = NULL;
    int rc = -1;

    if (root == NULL || revenue == NULL)
        goto done;
    json_object_set_new(root, "by_verdict", verdict_json(st));
    if (hours != NULL)
        json_object_set_new(root, "hourly", hours_json(hours, n_hours));
    json_object_set_new(root, "campaign", json_string(campaign));
    if (message != NULL)
        json_object_set_new(root, "message", json_string(message));
    json_object_set_new(root, "sent", st->sent > 0 ? json_integer(st->sent) : json_null());
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

static void print_table(const char *campaign, const char *message,
                        const struct campaign_stats *st)
{
    char label[32];
    char value[48];

    printf("%-26s %15s\n", "campaign", campaign);
    if (message != NULL)
        printf("%-26s %15s\n", "message", message);
    if (st->sent > 0)
        group_integer(st->sent, value, sizeof(value));
    else
        snprintf(value, sizeof(value), "unknown");
    printf("%-26s %15s\n", "sent", value);
    for (size_t i = 0; i < COUNTER_COUNT; i++) {
        group_integer(st->counters[i], value, sizeof(value));
        printf("%-26s %15s\n", counter_names[i], value);
    }
    if (st->n_revenue == 0)
        printf("%-26s %15s\n", "revenue", "0");
    for (size_t i = 0; i < st->n_revenue; i++) {
        snprintf(label, sizeof(label), "revenue %s", st->revenue[i].currency);
        group_thousands(st->revenue[i].amount, value, sizeof(value));
        printf("%-26s %15s\n", label, value);
    }

    printf("\n%-26s %12s %12s\n", "by verdict", "opens", "clicks");
    for (int v = 0; v < VERDICT_COUNT; v++)
        printf("%-26s %12lld %12lld\n", verdict_name((enum verdict)v),
               st->by_verdict[v][SPLIT_OPENS], st->by_verdict[v][SPLIT_CLICKS]);
    printf("%-26s %12lld %12lld\n", "machine (sum)", machine_total(st, SPLIT_OPENS),
           machine_total(st, SPLIT_CLICKS));
}

static void print_hours_table(const struct hour_stats *hours, size_t n)
{
    char currencies[STATS_MAX_CURRENCIES][4];
    size_t n_currencies = hour_currencies(hours, n, currencies);
    char value[48];

    printf("\n%-20s", "hour (UTC)");
    for (size_t i = 0; i < HOUR_COUNTER_COUNT; i++)
        printf(" %12s", i == 3 ? "cross_device" : hour_counter_names[i]);
    for (size_t k = 0; k < n_currencies; k++)
        printf("  revenue %-6s", currencies[k]);
    printf("\n");

    for (size_t h = 0; h < n; h++) {
        char iso[21];

        utc_format_hour(hours[h].start, iso);
        printf("%-20s", iso);
        for (size_t i = 0; i < HOUR_COUNTER_COUNT; i++) {
            group_integer(hour_counter(&hours[h].stats, i), value, sizeof(value));
            printf(" %12s", value);
        }
        for (size_t k = 0; k < n_currencies; k++) {
            group_thousands(revenue_of(&hours[h].stats, currencies[k]), value,
                            sizeof(value));
            printf(" %15s", value);
        }
        printf("\n");
    }
}

static void print_csv(const char *campaign, const char *message,
                      const struct campaign_stats *st)
{
    printf("metric,value\ncampaign,%s\n", campaign);
    if (message != NULL)
        printf("message,%s\n", message);
    if (st->sent > 0)
        printf("sent,%lld\n", st->sent);
    else
        printf("sent,\n");
    for (size_t i = 0; i < COUNTER_COUNT; i++)
        printf("%s,%lld\n", counter_names[i], st->counters[i]);
    for (size_t i = 0; i < st->n_revenue; i++)
        printf("revenue:%s,%s\n", st->revenue[i].currency, st->revenue[i].amount);
    for (int v = 0; v < VERDICT_COUNT; v++)
        for (int split = 0; split < SPLIT_COUNT; split++)
            printf("%s:%s,%lld\n", split_names[split], verdict_name((enum verdict)v),
                   st->by_verdict[v][split]);
}

static void print_hours_csv(const struct hour_stats *hours, size_t n)
{
    char currencies[STATS_MAX_CURRENCIES][4];
    size_t n_currencies = hour_currencies(hours, n, currencies);

    printf("hour");
    for (size_t i = 0; i < HOUR_COUNTER_COUNT; i++)
        printf(",%s", hour_counter_names[i]);
    for (size_t k = 0; k < n_currencies; k++)
        printf(",revenue:%s", currencies[k]);
    printf("\n");
    for (size_t h = 0; h < n; h++) {
        char iso[21];

        utc_format_hour(hours[h].start, iso);
        printf("%s", iso);
        for (size_t i = 0; i < HOUR_COUNTER_COUNT; i++)
            printf(",%lld", hour_counter(&hours[h].stats, i));
        for (size_t k = 0; k < n_currencies; k++)
            printf(",%s", revenue_of(&hours[h].stats, currencies[k]));
        printf("\n");
    }
}

/* Turns --from and --to into the first hour and the number of hours.
 * Returns 0, or -1 after printing why. */
static int parse_range(const char *from_text, const char *to_text, uint32_t *from,
                       size_t *n_hours)
{
    uint32_t to = (uint32_t)time(NULL);

    if (to_text != NULL && utc_parse(to_text, &to) != 0) {
        cli_error("stats: --to '%s' is invalid: use Unix seconds or UTC such as "
                  "2026-12-04T14:00Z", to_text);
        return -1;
    }
    to -= to % 3600;
    *from = to >= (STATS_HOURS_DEFAULT - 1) * 3600 ? to - (STATS_HOURS_DEFAULT - 1) * 3600 : 0;
    if (from_text != NULL && utc_parse(from_text, from) != 0) {
        cli_error("stats: --from '%s' is invalid: use Unix seconds or UTC such as "
                  "2026-12-04T14:00Z", from_text);
        return -1;
    }
    *from -= *from % 3600;
    if (*from > to) {
        cli_error("stats: --from is after --to");
        return -1;
    }
    *n_hours = (to - *from) / 3600 + 1;
    if (*n_hours > STATS_HOURS_MAX) {
        cli_error("stats: --from..--to spans %zu hours; at most %d are read at once",
                  *n_hours, STATS_HOURS_MAX);
        return -1;
    }
    return 0;
}

int cmd_stats(const struct cli_globals *g, int argc, char **argv)
{
    const char *campaign = NULL;
    const char *message = NULL;
    const char *url = g->redis;
    const char *from_text = NULL, *to_text = NULL;
    bool json = false, csv = false;
    const struct cli_option opts[] = {
        {"campaign", &campaign, NULL},
        {"message", &message, NULL},
        {"json", NULL, &json},
        {"csv", NULL, &csv},
        {"from", &from_text, NULL},
        {"to", &to_text, NULL},
        {"redis", &url, NULL},
    };
    static struct campaign_stats st;
    static struct hour_stats hours[STATS_HOURS_MAX];
    bool ranged;
    uint32_t from = 0;
    size_t n_hours = 0;
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
    if (message != NULL && !token_id_valid(message, strlen(message))) {
        cli_error("stats: --message %s is invalid: use 1 to %d of A-Z a-z 0-9 . _ -",
                  message, TOKEN_ID_MAX);
        return CLI_EXIT_USAGE;
    }
    if (json && csv) {
        cli_error("stats: --json and --csv exclude each other; give one");
        return CLI_EXIT_USAGE;
    }
    ranged = from_text != NULL || to_text != NULL;
    if (ranged && parse_range(from_text, to_text, &from, &n_hours) != 0)
        return CLI_EXIT_USAGE;
    if (url == NULL) {
        cli_error("stats: no Redis given: pass --redis URL or --config FILE");
        return CLI_EXIT_USAGE;
    }
    if (redis_url_parse(url, &target, err, sizeof(err)) != 0) {
        cli_error("stats: --redis: %s", err);
        return CLI_EXIT_USAGE;
    }

    c = cli_redis_connect(&target);
    memset(&target, 0, sizeof(target)); /* drops the password */
    if (c == NULL)
        return CLI_EXIT_FAILURE;

    rc = is_known(c, campaign, message) == 1 ? 0 : -1;
    if (rc == 0)
        rc = read_stats(c, campaign, message, &st);
    if (rc == 0 && ranged)
        rc = read_hours(c, campaign, message, from, n_hours, hours);
    redisFree(c);
    if (rc != 0)
        return CLI_EXIT_FAILURE;

    if (json)
        return print_json(campaign, message, &st, ranged ? hours : NULL, n_hours) == 0
                   ? CLI_EXIT_OK
                   : CLI_EXIT_FAILURE;
    if (csv && ranged)
        print_hours_csv(hours, n_hours);
    else if (csv)
        print_csv(campaign, message, &st);
    else
        print_table(campaign, message, &st);
    if (!csv && !json && ranged)
        print_hours_table(hours, n_hours);
    return CLI_EXIT_OK;
}
