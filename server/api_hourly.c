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

/* ---- JSON text ------------------------------------------------------ */

/* A growing text buffer; failed is set once memory runs out, and every
 * later append does nothing. */
struct text {
    char *data;
    size_t len, cap;
    bool failed;
};

static void put(struct text *t, const char *s, size_t len)
{
    if (t->failed)
        return;
    if (t->len + len + 1 > t->cap) {
        size_t cap = t->cap > 0 ? t->cap : 4096;
        char *data;

        while (cap < t->len + len + 1)
            cap *= 2;
        data = realloc(t->data, cap);
        if (data == NULL) {
            t->failed = true;
            return;
        }
        t->data = data;
        t->cap = cap;
    }
    memcpy(t->data + t->len, s, len);
    t->len += len;
    t->data[t->len] = '\0';
}

static void put_str(struct text *t, const char *s)
{
    put(t, s, strlen(s));
}

static void put_integer(struct text *t, long long value)
{
    char digits[24];
    size_t n = sizeof(digits);
    unsigned long long magnitude = value < 0 ? 0ULL - (unsigned long long)value
                                             : (unsigned long long)value;

    do {
        digits[--n] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude > 0);
    if (value < 0)
        digits[--n] = '-';
    put(t, digits + n, sizeof(digits) - n);
}

/* Appends a comma when comma is set, then name[0..len) as a JSON string,
 * escaped by jansson. Returns -1, and appends nothing, when name is not
 * valid UTF-8. */
static int put_name(struct text *t, bool comma, const char *name, size_t len)
{
    json_t *string = json_stringn(name, len);
    char *quoted = string != NULL ? json_dumps(string, JSON_ENCODE_ANY) : NULL;

    json_decref(string);
    if (quoted == NULL)
        return -1;
    if (comma)
        put(t, ",", 1);
    put_str(t, quoted);
    free(quoted);
    return 0;
}

/* Appends "hours": the ISO 8601 UTC hours. gmtime runs once per day, and
 * the hour digits are patched in between. */
static void put_hours(struct text *t, const struct api_hourly *h)
{
    char iso[21];

    put_str(t, "\"hours\":[");
    for (uint32_t i = 0; i < h->n_hours; i++) {
        uint32_t start = h->from + i * 3600;
        unsigned hour = start % 86400 / 3600;

        if (i == 0 || hour == 0) {
            utc_format_hour(start, iso);
        } else {
            iso[11] = (char)('0' + hour / 10);
            iso[12] = (char)('0' + hour % 10);
        }
        put(t, i == 0 ? "\"" : ",\"", i == 0 ? 1 : 2);
        put(t, iso, 20);
        put(t, "\"", 1);
    }
    put(t, "]", 1);
}

/* Appends the counter array of column c (0 where an hour lacks the field;
 * all zeros when c is NULL). */
static void put_counters(struct text *t, const struct hourly_column *c, uint32_t n_hours)
{
    put(t, "[", 1);
    for (uint32_t i = 0; i < n_hours; i++) {
        if (i > 0)
            put(t, ",", 1);
        put_integer(t, c != NULL && c->values[i] != ABSENT ? c->values[i] : 0);
    }
    put(t, "]", 1);
}

/* Appends the amount array of column c: decimal strings at the currency's
 * exponent, null where an hour has no amount. */
static void put_amounts(struct text *t, const struct hourly_column *c, uint32_t n_hours,
                        int exponent)
{
    put(t, "[", 1);
    for (uint32_t i = 0; i < n_hours; i++) {
        char amount[32];

        if (i > 0)
            put(t, ",", 1);
        if (c->values[i] == ABSENT) {
            put(t, "null", 4);
            continue;
        }
        money_format(c->values[i], exponent, amount, sizeof(amount));
        put(t, "\"", 1);
        put_str(t, amount);
        put(t, "\"", 1);
    }
    put(t, "]", 1);
}

static const struct hourly_column *find_column(const struct api_hourly *h, const char *name)
{
    for (size_t i = 0; i < h->n_columns; i++)
        if (strcmp(h->columns[i].name, name) == 0)
            return &h->columns[i];
    return NULL;
}

static bool is_always(const char *name)
{
    for (size_t k = 0; k < sizeof(always) / sizeof(always[0]); k++)
        if (strcmp(always[k], name) == 0)
            return true;
    return false;
}

/* Appends "counters": the always-present counters first, then every other
 * integer field. */
static void put_counter_object(struct text *t, const struct api_hourly *h)
{
    bool first = true;

    put_str(t, "\"counters\":{");
    for (size_t k = 0; k < sizeof(always) / sizeof(always[0]); k++) {
        put(t, first ? "\"" : ",\"", first ? 1 : 2);
        put_str(t, always[k]);
        put(t, "\":", 2);
        put_counters(t, find_column(h, always[k]), h->n_hours);
        first = false;
    }
    for (size_t i = 0; i < h->n_columns; i++) {
        const struct hourly_column *c = &h->columns[i];

        if (amount_exponent(c->name) >= 0 || is_always(c->name))
            continue;
        if (put_name(t, true, c->name, strlen(c->name)) != 0)
            continue;
        put(t, ":", 1);
        put_counters(t, c, h->n_hours);
    }
    put(t, "}", 1);
}

/* Returns whether column i is the first amount column of its group. */
static bool first_of_group(const struct api_hourly *h, size_t i)
{
    const char *name = h->columns[i].name;
    size_t group_len = (size_t)(strrchr(name, ':') - name);

    for (size_t k = 0; k < i; k++) {
        const char *other = h->columns[k].name;

        if (amount_exponent(other) >= 0 && strncmp(other, name, group_len + 1) == 0 &&
            strlen(other) == group_len + 4)
            return false;
    }
    return true;
}

/* Appends the currencies of the group of amount column i, from column i
 * on, as "CUR":[...] pairs. */
static void put_group(struct text *t, const struct api_hourly *h, size_t i)
{
    const char *name = h->columns[i].name;
    size_t group_len = (size_t)(strrchr(name, ':') - name);
    bool first = true;

    for (size_t k = i; k < h->n_columns; k++) {
        const char *other = h->columns[k].name;
        int exponent = amount_exponent(other);

        if (exponent < 0 || strlen(other) != group_len + 4 ||
            strncmp(other, name, group_len + 1) != 0)
            continue;
        put(t, first ? "\"" : ",\"", first ? 1 : 2);
        put(t, other + group_len + 1, 3);
        put(t, "\":", 2);
        put_amounts(t, &h->columns[k], h->n_hours, exponent);
        first = false;
    }
}

/* Appends "amounts": {GROUP: {CUR: [...]}} of the "GROUP:CUR" fields. */
static void put_amount_object(struct text *t, const struct api_hourly *h)
{
    bool first = true;

    put_str(t, "\"amounts\":{");
    for (size_t i = 0; i < h->n_columns; i++) {
        const char *name = h->columns[i].name;

        if (amount_exponent(name) < 0 || !first_of_group(h, i))
            continue;
        if (put_name(t, !first, name, (size_t)(strrchr(name, ':') - name)) != 0)
            continue;
        put(t, ":{", 2);
        put_group(t, h, i);
        put(t, "}", 1);
        first = false;
    }
    put(t, "}", 1);
}

char *api_hourly_json(const struct api_hourly *h)
{
    struct text t = {NULL, 0, 0, false};
    char iso[21];

    put_str(&t, "{\"from\":\"");
    utc_format_hour(h->from, iso);
    put_str(&t, iso);
    put_str(&t, "\",\"to\":\"");
    utc_format_hour(h->from + (h->n_hours - 1) * 3600, iso);
    put_str(&t, iso);
    put_str(&t, "\",");
    put_hours(&t, h);
    put(&t, ",", 1);
    put_counter_object(&t, h);
    put(&t, ",", 1);
    put_amount_object(&t, h);
    put(&t, "}", 1);
    if (t.failed) {
        free(t.data);
        return NULL;
    }
    return t.data;
}
