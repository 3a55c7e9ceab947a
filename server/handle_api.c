/*
 * handle_api.c - the read-only stats API (read scope), in JSON:
 *
 *   GET /v1/campaigns                      campaigns with their totals
 *   GET /v1/campaigns/<id>/stats?from&to   totals, sent, rates, links,
 *                                          paths, time to conversion,
 *                                          hourly series and per-message
 *                                          totals, sent, rates, links,
 *                                          paths and time to conversion
 *   GET /v1/campaigns/<id>/stats?message=M the same for one message, from
 *                                          its own keys
 *   GET /v1/campaigns/<id>/conversions?limit=N
 *                                          recent credited orders with
 *                                          their journeys
 *
 * Every answer is built from a fixed number of pipelined reads of the
 * campaign's own keys (docs/redis-schema.md): no KEYS, no SCAN, nothing
 * per reader. The hour hashes are decoded as they arrive, and their series
 * is written as JSON text (api_hourly.h).
 * Counters are returned as they are stored, every integer field of a hash
 * included, so fields that newer writers add appear without a change here.
 * docs/api.md documents the JSON.
 */
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_hourly.h"
#include "api_query.h"
#include "auth_request.h"
#include "handlers.h"
#include "money.h"
#include "schema.h"
#include "token.h"
#include "utc.h"

#define CAMPAIGNS_LISTED_MAX 500
#define MESSAGES_LISTED_MAX 100
#define HOURS_MAX (31 * 24)
#define HOURS_DEFAULT 48
#define CONVERSIONS_DEFAULT 20

/* ---- shared pieces ------------------------------------------------- */

/* Counters every campaign and message answer has, 0 until first written. */
static const char *const standard_counters[] = {
    "opens", "unique_opens", "clicks", "unique_clicks", "conversions",
    "cross_device_conversions",
};

/* Returns a new object {"counters": {...}, "amounts": {...}} of a hash. */
static json_t *grouped_hash(const json_t *pairs)
{
    json_t *counters = json_object();
    json_t *amounts = json_object();

    for (size_t i = 0; i < sizeof(standard_counters) / sizeof(standard_counters[0]); i++)
        json_object_set_new(counters, standard_counters[i], json_integer(0));
    api_group_fields(pairs, counters, amounts);
    return json_pack("{s:o, s:o}", "counters", counters, "amounts", amounts);
}

static json_int_t counter(const json_t *grouped, const char *name)
{
    return json_integer_value(json_object_get(json_object_get(grouped, "counters"), name));
}

/* Sets counters.sent of a grouped hash from a PFCOUNT reply, when the
 * campaign or message has minted emails; "sent" stays absent (unknown)
 * otherwise. */
static void add_sent(json_t *grouped, const json_t *pfcount)
{
    json_int_t sent = json_integer_value(pfcount);

    if (sent > 0)
        json_object_set_new(json_object_get(grouped, "counters"), "sent",
                            json_integer(sent));
}

static json_t *ratio(json_int_t numerator, json_int_t denominator)
{
    if (denominator <= 0)
        return json_null();
    return json_real((double)numerator / (double)denominator);
}

/* Adds "rates" to a grouped hash: each is null when its denominator is 0
 * or, for the rates against sent, when sent is unknown. */
static void add_rates(json_t *grouped)
{
    json_int_t sent = counter(grouped, "sent");
    json_int_t unique_opens = counter(grouped, "unique_opens");
    json_int_t unique_clicks = counter(grouped, "unique_clicks");
    json_int_t conversions = counter(grouped, "conversions");
    json_t *rates = json_object();

    json_object_set_new(rates, "open_rate", ratio(unique_opens, sent));
    json_object_set_new(rates, "click_rate", ratio(unique_clicks, sent));
    json_object_set_new(rates, "conversion_rate_of_sent", ratio(conversions, sent));
    json_object_set_new(rates, "click_to_open_rate", ratio(unique_clicks, unique_opens));
    json_object_set_new(rates, "conversion_rate", ratio(conversions, unique_clicks));
    json_object_set_new(rates, "cross_device_share",
                        ratio(counter(grouped, "cross_device_conversions"), conversions));
    json_object_set_new(grouped, "rates", rates);
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Returns the sorted, valid ids of a SMEMBERS reply, at most max of them,
 * in a malloc'd array (*n entries, pointing into reply). */
static const char **sorted_ids(const json_t *reply, size_t max, size_t *n, bool *truncated)
{
    size_t total = json_array_size(reply);
    const char **ids = calloc(total > 0 ? total : 1, sizeof(*ids));
    size_t count = 0;

    *n = 0;
    *truncated = false;
    if (ids == NULL)
        return NULL;
    for (size_t i = 0; i < total; i++) {
        const char *id = json_string_value(json_array_get(reply, i));

        if (id != NULL && token_id_valid(id, strlen(id)))
            ids[count++] = id;
    }
    qsort(ids, count, sizeof(*ids), compare_strings);
    if (count > max) {
        count = max;
        *truncated = true;
    }
    *n = count;
    return ids;
}

/* The 400 of a path whose campaign id cannot be one. An id that is valid
 * but has nothing recorded gets 404 from the Redis lookup instead. */
static const char campaign_id_invalid[] =
    "campaign id is invalid: use 1 to 32 of A-Z a-z 0-9 . _ -";

/* Finds the campaign id of "/v1/campaigns/<id>/<tail>". Returns 0 and
 * copies it to out, or -1 when the id is not 1 to 32 of A-Z a-z 0-9 . _ -
 * (an empty id, or one with a slash, included). */
static int campaign_of_path(const struct http_request *req, const char *tail,
                            char out[TOKEN_ID_MAX + 1])
{
    static const char prefix[] = "/v1/campaigns/";
    size_t prefix_len = sizeof(prefix) - 1;
    size_t tail_len = strlen(tail);
    size_t id_len;

    if (req->path_len <= prefix_len + tail_len + 1)
        return -1;
    id_len = req->path_len - prefix_len - tail_len - 1;
    if (req->path[prefix_len + id_len] != '/' ||
        memcmp(req->path + prefix_len + id_len + 1, tail, tail_len) != 0 ||
        !token_id_valid(req->path + prefix_len, id_len))
        return -1;
    memcpy(out, req->path + prefix_len, id_len);
    out[id_len] = '\0';
    return 0;
}

/* ---- GET /v1/campaigns --------------------------------------------- */

struct list_data {
    size_t n;
    bool truncated;
    const char **ids; /* point into the query's kept SMEMBERS reply */
};

static void finish_list_totals(struct api_query *q)
{
    struct list_data *d = q->data;
    json_t *list = json_array();

    for (size_t i = 0; i < d->n; i++) {
        json_t *item = grouped_hash(q->replies[i]);

        json_object_set_new(item, "id", json_string(d->ids[i]));
        json_array_append_new(list, item);
    }
    free(d->ids);
    d->ids = NULL;
    api_query_respond(q, 200, json_pack("{s:o, s:b}", "campaigns", list,
                                        "truncated", d->truncated));
}

static void finish_list_ids(struct api_query *q)
{
    struct list_data *d = q->data;
    char key[SCHEMA_KEY_MAX];

    q->kept = json_incref(q->replies[0]); /* the ids outlive this stage */
    d->ids = sorted_ids(q->kept, CAMPAIGNS_LISTED_MAX, &d->n, &d->truncated);
    if (d->ids == NULL) {
        api_query_error(q, 500, "out of memory");
        return;
    }
    if (d->n == 0) {
        free(d->ids);
        d->ids = NULL;
        api_query_respond(q, 200, json_pack("{s:[], s:b}", "campaigns", "truncated", 0));
        return;
    }
    if (api_query_stage(q, d->n, finish_list_totals) == 0) {
        for (size_t i = 0; i < d->n; i++) {
            const char *argv[] = {"HGETALL", key};

            schema_campaign(key, d->ids[i]);
            api_query_send(q, i, 2, argv);
        }
    }
    api_query_wait(q);
}

static void list_campaigns(struct worker *w, struct http_request *req)
{
    struct api_query *q = api_query_new(w, req);
    const char *argv[] = {"SMEMBERS", SCHEMA_CAMPAIGNS};

    if (q == NULL)
        return;
    q->data = calloc(1, sizeof(struct list_data));
    if (q->data != NULL && api_query_stage(q, 1, finish_list_ids) == 0)
        api_query_send(q, 0, 2, argv);
    else
        q->failed = true;
    api_query_wait(q);
}

/* ---- GET /v1/campaigns/<id>/stats ---------------------------------- */

/* Slots of the first stage. The campaign's view and one message's view
 * (?message=M) read the same slots from different keys; SLOT_MESSAGES is
 * read by the campaign's view only. */
enum {
    SLOT_KNOWN = 0,
    SLOT_TOTALS,
    SLOT_LINKS,
    SLOT_PATHS,
    SLOT_TTC,
    SLOT_MESSAGES,
    SLOT_SENT,
    SLOT_HOURS, /* the first of n_hours, decoded by api_hourly_take */
};

/* Slots per message in the second stage of the campaign's view. */
enum {
    MESSAGE_SLOT_TOTALS = 0,
    MESSAGE_SLOT_SENT,
    MESSAGE_SLOT_PATHS,
    MESSAGE_SLOT_TTC,
    MESSAGE_SLOTS,
};

struct stats_data {
    char campaign[TOKEN_ID_MAX + 1];
    char message[TOKEN_ID_MAX + 1]; /* "" for the campaign's view */
    uint32_t from; /* first hour, Unix s */
    uint32_t n_hours;
    const char **messages;
    size_t n_messages;
    json_t *links;       /* the campaign's links, split out per message */
    char *hourly;        /* JSON text of the hourly series */
    struct api_hourly *hours;
};

static void stats_data_free(void *data)
{
    struct stats_data *d = data;

    if (d == NULL)
        return;
    api_hourly_free(d->hours);
    free(d->messages);
    free(d->hourly);
    free(d);
}

static void take_hour(struct api_query *q, size_t slot, const redisReply *reply)
{
    struct stats_data *d = q->data;

    api_hourly_take(d->hours, (uint32_t)(slot - SLOT_HOURS), reply);
}

/* Reads from and to: the hours from the one containing from up to and
 * including the one containing to. Default: the last HOURS_DEFAULT hours.
 * Returns NULL, or an error message. */
static const char *parse_range(const struct http_request *req, struct stats_data *d)
{
    char from_text[64], to_text[64];
    int has_from = api_query_param(req, "from", from_text, sizeof(from_text));
    int has_to = api_query_param(req, "to", to_text, sizeof(to_text));
    uint32_t from, to;

    if (has_from < 0 || has_to < 0)
        return "from and to must be Unix seconds or UTC times such as "
               "2026-12-04T14:00:00Z";
    to = (uint32_t)time(NULL);
    if (has_to == 1 && utc_parse(to_text, &to) != 0)
        return "to is invalid: use Unix seconds or a UTC time such as "
               "2026-12-04T14:00:00Z";
    to -= to % 3600;
    from = to >= (HOURS_DEFAULT - 1) * 3600 ? to - (HOURS_DEFAULT - 1) * 3600 : 0;
    if (has_from == 1 && utc_parse(from_text, &from) != 0)
        return "from is invalid: use Unix seconds or a UTC time such as "
               "2026-12-04T14:00:00Z";
    from -= from % 3600;
    if (from > to)
        return "from is after to";
    if ((to - from) / 3600 + 1 > HOURS_MAX)
        return "the range from..to is longer than 31 days (744 hours)";
    d->from = from;
    d->n_hours = (to - from) / 3600 + 1;
    return NULL;
}

/* Reads the optional message parameter into d->message. Returns NULL, or
 * an error message. */
static const char *parse_message(const struct http_request *req, struct stats_data *d)
{
    int has = api_query_param(req, "message", d->message, sizeof(d->message));

    if (has == 0) {
        d->message[0] = '\0';
        return NULL;
    }
    if (has < 0 || !token_id_valid(d->message, strlen(d->message)))
        return "message is invalid: use 1 to 32 of A-Z a-z 0-9 . _ -";
    return NULL;
}

static json_t *link_list(const json_t *pairs)
{
    json_t *links = json_array();
    size_t n = json_array_size(pairs);

    for (size_t i = 0; i + 1 < n; i += 2) {
        const char *field = json_string_value(json_array_get(pairs, i));
        const char *value = json_string_value(json_array_get(pairs, i + 1));
        const char *colon = field != NULL ? strrchr(field, ':') : NULL;

        if (colon == NULL || value == NULL)
            continue;
        json_array_append_new(links, json_pack("{s:s%, s:I, s:I}",
                                               "message", field, (size_t)(colon - field),
                                               "link", (json_int_t)strtoll(colon + 1, NULL, 10),
                                               "clicks", (json_int_t)strtoll(value, NULL, 10)));
    }
    return links;
}

/* Returns the conversions per identity path of an HGETALL reply. */
static json_t *path_counts(const json_t *pairs)
{
    json_t *paths = json_object();
    json_t *unused = json_object();

    api_group_fields(pairs, paths, unused);
    json_decref(unused);
    return paths;
}

static json_t *ttc_list(const json_t *pairs)
{
    json_t *counts = json_object();
    json_t *amounts = json_object();
    json_t *list = json_array();

    api_group_fields(pairs, counts, amounts);
    for (size_t i = 0; i < SCHEMA_TTC_BUCKETS; i++) {
        const struct schema_ttc_bucket *b = &schema_ttc_buckets[i];

        json_array_append_new(list, json_pack("{s:s, s:o, s:I}", "bucket", b->field,
                                              "below_seconds",
                                              b->below_s > 0 ? json_integer(b->below_s)
                                                             : json_null(),
                                              "conversions",
                                              json_integer_value(json_object_get(counts, b->field))));
    }
    json_decref(counts);
    json_decref(amounts);
    return list;
}

/* Returns the entries of links (from link_list) of one message. */
static json_t *links_of_message(const json_t *links, const char *message)
{
    json_t *mine = json_array();
    size_t i;
    json_t *link;

    json_array_foreach(links, i, link) {
        if (strcmp(json_string_value(json_object_get(link, "message")), message) == 0)
            json_array_append(mine, link);
    }
    return mine;
}

/* Returns the figures of one campaign or message: totals with sent and
 * rates, conversions by path and time to conversion, from the replies of
 * its hash, its sent count, its paths and its buckets. */
static json_t *figures(const json_t *totals_reply, const json_t *sent_reply,
                       const json_t *paths_reply, const json_t *ttc_reply)
{
    json_t *totals = grouped_hash(totals_reply);

    add_sent(totals, sent_reply);
    add_rates(totals);
    return json_pack("{s:o, s:o, s:o}", "totals", totals,
                     "conversions_by_path", path_counts(paths_reply),
                     "time_to_conversion", ttc_list(ttc_reply));
}

static void finish_stats_messages(struct api_query *q)
{
    struct stats_data *d = q->data;
    json_t *messages = json_array();
    char *hourly = d->hourly;

    for (size_t i = 0; i < d->n_messages; i++) {
        json_t *const *replies = q->replies + i * MESSAGE_SLOTS;
        json_t *item = figures(replies[MESSAGE_SLOT_TOTALS], replies[MESSAGE_SLOT_SENT],
                               replies[MESSAGE_SLOT_PATHS], replies[MESSAGE_SLOT_TTC]);
        json_t *totals = json_object_get(item, "totals");

        /* A message's totals are flat in its entry, beside its id. */
        json_object_update(item, totals);
        json_object_del(item, "totals");
        json_object_set_new(item, "message", json_string(d->messages[i]));
        json_object_set_new(item, "links", links_of_message(d->links, d->messages[i]));
        json_array_append_new(messages, item);
    }
    free(d->messages);
    d->messages = NULL;
    d->hourly = NULL;
    json_object_set_new(q->result, "messages", messages);
    api_query_respond_with(q, 200, json_incref(q->result), "hourly", hourly);
}

/* Sends the second stage of the campaign's view: each message's hash,
 * sent count, paths and buckets. */
static void send_message_stage(struct api_query *q)
{
    struct stats_data *d = q->data;
    char key[SCHEMA_KEY_MAX];

    if (api_query_stage(q, d->n_messages * MESSAGE_SLOTS, finish_stats_messages) != 0)
        return;
    for (size_t i = 0; i < d->n_messages; i++) {
        const char *hgetall[] = {"HGETALL", key};
        const char *pfcount[] = {"PFCOUNT", key};
        size_t slot = i * MESSAGE_SLOTS;

        schema_message(key, d->campaign, d->messages[i]);
        api_query_send(q, slot + MESSAGE_SLOT_TOTALS, 2, hgetall);
        schema_message_sent(key, d->campaign, d->messages[i]);
        api_query_send(q, slot + MESSAGE_SLOT_SENT, 2, pfcount);
        schema_message_paths(key, d->campaign, d->messages[i]);
        api_query_send(q, slot + MESSAGE_SLOT_PATHS, 2, hgetall);
        schema_message_conversion_times(key, d->campaign, d->messages[i]);
        api_query_send(q, slot + MESSAGE_SLOT_TTC, 2, hgetall);
    }
}

static void finish_stats(struct api_query *q)
{
    struct stats_data *d = q->data;
    bool one_message = d->message[0] != '\0';
    json_t *links;
    bool truncated;

    if (json_integer_value(q->replies[SLOT_KNOWN]) != 1) {
        api_query_error(q, 404, one_message
                                    ? "no such message: it has no recorded send, open "
                                      "or click in this campaign"
                                    : "no such campaign: it has no recorded open or click");
        return;
    }

    q->result = figures(q->replies[SLOT_TOTALS], q->replies[SLOT_SENT],
                        q->replies[SLOT_PATHS], q->replies[SLOT_TTC]);
    json_object_set_new(q->result, "campaign", json_string(d->campaign));
    links = link_list(q->replies[SLOT_LINKS]);
    d->hourly = api_hourly_json(d->hours);

    if (one_message) {
        json_object_set_new(q->result, "message", json_string(d->message));
        json_object_set_new(q->result, "links", links_of_message(links, d->message));
        json_decref(links);
        api_query_respond_with(q, 200, json_incref(q->result), "hourly", d->hourly);
        d->hourly = NULL;
        return;
    }

    json_object_set_new(q->result, "links", links);
    d->links = links; /* borrowed from q->result for the message stage */
    q->kept = json_incref(q->replies[SLOT_MESSAGES]); /* ids outlive the stage */
    d->messages = sorted_ids(q->kept, MESSAGES_LISTED_MAX, &d->n_messages, &truncated);
    if (d->messages == NULL || d->n_messages == 0) {
        free(d->messages);
        d->messages = NULL;
        json_object_set_new(q->result, "messages", json_array());
        api_query_respond_with(q, 200, json_incref(q->result), "hourly", d->hourly);
        d->hourly = NULL;
        return;
    }
    json_object_set_new(q->result, "messages_truncated", json_boolean(truncated));
    send_message_stage(q);
    api_query_wait(q);
}

/* Sends the first stage: for the campaign's view the campaign's keys, for
 * one message's view the message's own keys (links are per campaign and
 * are filtered). */
static void send_stats_stage(struct api_query *q)
{
    struct stats_data *d = q->data;
    bool one_message = d->message[0] != '\0';
    const char *hgetall[] = {"HGETALL", NULL};
    const char *pfcount[] = {"PFCOUNT", NULL};
    char key[SCHEMA_KEY_MAX], set[SCHEMA_KEY_MAX];

    hgetall[1] = pfcount[1] = key;
    if (one_message) {
        const char *known[] = {"SISMEMBER", set, d->message};

        schema_message_set(set, d->campaign);
        api_query_send(q, SLOT_KNOWN, 3, known);
        schema_message(key, d->campaign, d->message);
        api_query_send(q, SLOT_TOTALS, 2, hgetall);
        schema_message_paths(key, d->campaign, d->message);
        api_query_send(q, SLOT_PATHS, 2, hgetall);
        schema_message_conversion_times(key, d->campaign, d->message);
        api_query_send(q, SLOT_TTC, 2, hgetall);
        schema_message_sent(key, d->campaign, d->message);
        api_query_send(q, SLOT_SENT, 2, pfcount);
    } else {
        const char *known[] = {"SISMEMBER", SCHEMA_CAMPAIGNS, d->campaign};
        const char *smembers[] = {"SMEMBERS", key};

        api_query_send(q, SLOT_KNOWN, 3, known);
        schema_campaign(key, d->campaign);
        api_query_send(q, SLOT_TOTALS, 2, hgetall);
        schema_paths(key, d->campaign);
        api_query_send(q, SLOT_PATHS, 2, hgetall);
        schema_conversion_times(key, d->campaign);
        api_query_send(q, SLOT_TTC, 2, hgetall);
        schema_message_set(key, d->campaign);
        api_query_send(q, SLOT_MESSAGES, 2, smembers);
        schema_campaign_sent(key, d->campaign);
        api_query_send(q, SLOT_SENT, 2, pfcount);
    }
    schema_links(key, d->campaign);
    api_query_send(q, SLOT_LINKS, 2, hgetall);
    for (uint32_t i = 0; i < d->n_hours; i++) {
        uint32_t hour = d->from + i * 3600;

        if (one_message)
            schema_message_hour(key, d->campaign, d->message, hour);
        else
            schema_hour(key, d->campaign, hour);
        api_query_send_raw(q, SLOT_HOURS + i, 2, hgetall, take_hour);
    }
}

static void campaign_stats(struct worker *w, struct http_request *req)
{
    struct stats_data *d = calloc(1, sizeof(*d));
    struct api_query *q;
    const char *error;

    if (d == NULL) {
        api_respond_json(req, 500, NULL);
        return;
    }
    if (campaign_of_path(req, "stats", d->campaign) != 0) {
        free(d);
        api_respond_json(req, 400, json_pack("{s:s}", "error", campaign_id_invalid));
        return;
    }
    error = parse_range(req, d);
    if (error == NULL)
        error = parse_message(req, d);
    if (error != NULL) {
        free(d);
        api_respond_json(req, 400, json_pack("{s:s}", "error", error));
        return;
    }
    q = api_query_new(w, req);
    if (q == NULL) {
        free(d);
        return;
    }
    q->data = d;
    q->free_data = stats_data_free;
    d->hours = api_hourly_new(d->from, d->n_hours);
    if (d->hours == NULL)
        q->failed = true;
    else if (api_query_stage(q, SLOT_HOURS + d->n_hours, finish_stats) == 0)
        send_stats_stage(q);
    api_query_wait(q);
}

/* ---- GET /v1/campaigns/<id>/conversions ---------------------------- */

static void finish_conversions(struct api_query *q)
{
    const char *campaign = q->data;
    const json_t *entries = q->replies[1];
    json_t *list = json_array();

    if (json_integer_value(q->replies[0]) != 1) {
        json_decref(list);
        api_query_error(q, 404, "no such campaign: it has no recorded open or click");
        return;
    }
    for (size_t i = 0; i < json_array_size(entries); i++) {
        const char *text = json_string_value(json_array_get(entries, i));
        json_t *entry = text != NULL ? json_loads(text, 0, NULL) : NULL;

        if (entry != NULL)
            json_array_append_new(list, entry);
    }
    api_query_respond(q, 200, json_pack("{s:s, s:o}", "campaign", campaign,
                                        "conversions", list));
}

static void campaign_conversions(struct worker *w, struct http_request *req)
{
    char *campaign = calloc(1, TOKEN_ID_MAX + 1);
    char limit_text[16];
    char key[SCHEMA_KEY_MAX], stop[16];
    long limit = CONVERSIONS_DEFAULT;
    struct api_query *q;
    int has_limit;

    if (campaign == NULL) {
        api_respond_json(req, 500, NULL);
        return;
    }
    if (campaign_of_path(req, "conversions", campaign) != 0) {
        free(campaign);
        api_respond_json(req, 400, json_pack("{s:s}", "error", campaign_id_invalid));
        return;
    }
    has_limit = api_query_param(req, "limit", limit_text, sizeof(limit_text));
    if (has_limit == 1) {
        char *end;

        limit = strtol(limit_text, &end, 10);
        if (*end != '\0' || end == limit_text)
            limit = -1;
    }
    if (has_limit < 0 || limit < 1 || limit > SCHEMA_RECENT_CONVERSIONS) {
        free(campaign);
        api_respond_json(req, 400, json_pack("{s:s}", "error", "limit must be a whole "
                                             "number from 1 to 100"));
        return;
    }

    q = api_query_new(w, req);
    if (q == NULL) {
        free(campaign);
        return;
    }
    q->data = campaign;
    if (api_query_stage(q, 2, finish_conversions) == 0) {
        const char *known[] = {"SISMEMBER", SCHEMA_CAMPAIGNS, campaign};
        const char *lrange[] = {"LRANGE", key, "0", stop};

        schema_recent_conversions(key, campaign);
        snprintf(stop, sizeof(stop), "%ld", limit - 1);
        api_query_send(q, 0, 3, known);
        api_query_send(q, 1, 4, lrange);
    }
    api_query_wait(q);
}

/* ---- routing ------------------------------------------------------- */

void handle_api(struct worker *w, struct http_request *req)
{
    enum metrics_route route = metrics_route_of(req->path, req->path_len);

    if (route != METRICS_ROUTE_API_CAMPAIGNS && route != METRICS_ROUTE_API_STATS &&
        route != METRICS_ROUTE_API_CONVERSIONS) {
        api_respond_json(req, 404, json_pack("{s:s}", "error", "no such API path: use "
                                             "/v1/campaigns, /v1/campaigns/ID/stats or "
                                             "/v1/campaigns/ID/conversions"));
        return;
    }
    if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
        api_respond_not_allowed(req, "GET, HEAD");
        return;
    }
    if (!auth_request(w, req, AUTH_SCOPE_READ))
        return;

    if (route == METRICS_ROUTE_API_CAMPAIGNS)
        list_campaigns(w, req);
    else if (route == METRICS_ROUTE_API_STATS)
        campaign_stats(w, req);
    else
        campaign_conversions(w, req);
}
