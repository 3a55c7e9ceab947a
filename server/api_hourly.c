/*
 * api_hourly.c - hour-hash replies decoded into per-field arrays, and the
 * JSON series built from them (api_hourly.h).
 */
#include "api_hourly.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "money.h"
#include "utc.h"

#define ABSENT LLONG_MIN /* the hour has no such field */

struct hourly_column {
    char *name;
    long long *values; /* n_hours of them, ABSENT until taken */
};

struct api_hourly {
    uint32_t from;
    uint32_t n_hours;
    size_t n_columns;
    struct hourly_column columns[API_HOURLY_FIELDS_MAX];
};

static const char *const always[] = {"opens", "clicks", "conversions",
                                     "cross_device_conversions"};

struct api_hourly *api_hourly_new(uint32_t from, uint32_t n_hours)
{
    struct api_hourly *h = calloc(1, sizeof(*h));

    if (h == NULL)
        return NULL;
    h->from = from;
    h->n_hours = n_hours;
    return h;
}

void api_hourly_free(struct api_hourly *h)
{
    if (h == NULL)
        return;
    for (size_t i = 0; i < h->n_columns; i++) {
        free(h->columns[i].name);
        free(h->columns[i].values);
    }
    free(h);
}

static bool column_is(const struct hourly_column *c, const char *name, size_t len)
{
    return strncmp(c->name, name, len) == 0 && c->name[len] == '\0';
}

/* Returns the column of field name[0..len), adding it when there is room,
 * or NULL. Hour hashes written by the same scripts mostly list their
 * fields in the same order, so the column at position hint is tried
 * first. */
static struct hourly_column *column_of(struct api_hourly *h, const char *name, size_t len,
                                       size_t hint)
{
    struct hourly_column *c;

    if (hint < h->n_columns && column_is(&h->columns[hint], name, len))
        return &h->columns[hint];
    for (size_t i = 0; i < h->n_columns; i++) {
        c = &h->columns[i];
        if (column_is(c, name, len))
            return c;
    }
    if (h->n_columns == API_HOURLY_FIELDS_MAX)
        return NULL;

    c = &h->columns[h->n_columns];
    c->name = strndup(name, len);
    c->values = malloc(h->n_hours * sizeof(*c->values));
    if (c->name == NULL || c->values == NULL) {
        free(c->name);
        free(c->values);
        return NULL;
    }
    for (uint32_t i = 0; i < h->n_hours; i++)
        c->values[i] = ABSENT;
    h->n_columns++;
    return c;
}

/* Parses a whole reply string as an integer. Returns 0, or -1. */
static int parse_value(const redisReply *value, long long *out)
{
    char text[32];
    char *end;

    if (value->type != REDIS_REPLY_STRING || value->len == 0 || value->len >= sizeof(text))
        return -1;
    memcpy(text, value->str, value->len);
    text[value->len] = '\0';
    errno = 0;
    *out = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || *out == ABSENT)
        return -1;
    return 0;
}

void api_hourly_take(struct api_hourly *h, uint32_t hour, const redisReply *reply)
{
    if (hour >= h->n_hours || reply->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *field = reply->element[i];
        struct hourly_column *c;
        long long value;

        if (field->type != REDIS_REPLY_STRING || parse_value(reply->element[i + 1], &value) != 0)
            continue;
        c = column_of(h, field->str, field->len, i / 2);
        if (c != NULL)
            c->values[hour] = value;
    }
}

/* Returns the currency exponent of a field "GROUP:CUR", or -1 when the
 * field is not an amount. */
static int amount_exponent(const char *field)
{
    const char *colon = strrchr(field, ':');

    if (colon == NULL || colon == field || strlen(colon + 1) != 3)
        return -1;
    return money_currency_exponent(colon + 1, 3);
}

static json_t *counter_array(const struct hourly_column *c, uint32_t n_hours)
{
    json_t *array = json_array();

    for (uint32_t i = 0; i < n_hours; i++)
        json_array_append_new(array, json_integer(c != NULL && c->values[i] != ABSENT
                                                      ? c->values[i] : 0));
    return array;
}

static json_t *amount_array(const struct hourly_column *c, uint32_t n_hours, int exponent)
{
    json_t *array = json_array();

    for (uint32_t i = 0; i < n_hours; i++) {
        char amount[32];

        if (c->values[i] == ABSENT) {
            json_array_append_new(array, json_null());
            continue;
        }
        money_format(c->values[i], exponent, amount, sizeof(amount));
        json_array_append_new(array, json_string(amount));
    }
    return array;
}

/* Puts array at money[GROUP][CUR] for field "GROUP:CUR"; steals array. */
static void add_amount(json_t *money, const char *field, json_t *array)
{
    const char *colon = strrchr(field, ':');
    char group[64];
    json_t *per_currency;

    snprintf(group, sizeof(group), "%.*s", (int)(colon - field), field);
    per_currency = json_object_get(money, group);
    if (per_currency == NULL) {
        per_currency = json_object();
        json_object_set_new(money, group, per_currency);
    }
    json_object_set_new(per_currency, colon + 1, array);
}

void api_hourly_add(json_t *hourly, const struct api_hourly *h)
{
    json_t *hours = json_array();
    json_t *series = json_object();
    json_t *money = json_object();

    for (uint32_t i = 0; i < h->n_hours; i++) {
        char iso[21];

        utc_format_hour(h->from + i * 3600, iso);
        json_array_append_new(hours, json_string(iso));
    }
    for (size_t k = 0; k < sizeof(always) / sizeof(always[0]); k++)
        json_object_set_new(series, always[k], counter_array(NULL, h->n_hours));

    for (size_t i = 0; i < h->n_columns; i++) {
        const struct hourly_column *c = &h->columns[i];
        int exponent = amount_exponent(c->name);

        if (exponent >= 0)
            add_amount(money, c->name, amount_array(c, h->n_hours, exponent));
        else
            json_object_set_new(series, c->name, counter_array(c, h->n_hours));
    }

    json_object_set_new(hourly, "hours", hours);
    json_object_set_new(hourly, "counters", series);
    json_object_set_new(hourly, "amounts", money);
}
