/*
 * schema.c - key names of schema.h.
 *
 * Order ids are the only free-form part of a key. They are printable ASCII
 * (beacon.c checks), at most EVENT_ORDER_MAX bytes, and always come after
 * the hash tag, so a brace inside one cannot move a key to another slot.
 */
#include "schema.h"

#include <stdio.h>
#include <time.h>

#include "ident.h"

static size_t written(int n)
{
    return n < 0 ? 0 : (size_t)n;
}

size_t schema_campaign(char *out, const char *campaign)
{
    return written(snprintf(out, SCHEMA_KEY_MAX, "c:{%s}", campaign));
}

size_t schema_message(char *out, const char *campaign, const char *message)
{
    return written(snprintf(out, SCHEMA_KEY_MAX, "c:{%s}:m:%s", campaign, message));
}

size_t schema_hour(char *out, const char *campaign, uint32_t unix_time)
{
    time_t t = (time_t)unix_time;
    struct tm utc;

    gmtime_r(&t, &utc);
    return written(snprintf(out, SCHEMA_KEY_MAX, "c:{%s}:h:%04d%02d%02d%02d",
                            campaign, utc.tm_year + 1900, utc.tm_mon + 1,
                            utc.tm_mday, utc.tm_hour));
}

size_t schema_links(char *out, const char *campaign)
{
    return written(snprintf(out, SCHEMA_KEY_MAX, "c:{%s}:l", campaign));
}

size_t schema_campaign_order(char *out, const char *campaign, const char *shop,
                             const char *order_id)
{
    return written(snprintf(out, SCHEMA_KEY_MAX, "c:{%s}:o:%s:%s", campaign,
                            shop, order_id));
}

size_t schema_applied(char *out, const char *campaign)
{
    return written(snprintf(out, SCHEMA_KEY_MAX, "c:{%s}:w", campaign));
}

size_t schema_campaign_sent(char *out, const char *campaign)
{
    return written(snprintf(out, SCHEMA_KEY_MAX, "c:{%s}:sent", campaign));
}

size_t schema_message_sent(char *out, const char *campaign, const char *message)
{
    return written(snprintf(out, SCHEMA_KEY_MAX, "c:{%s}:m:%s:sent", campaign,
                            message));
}

static size_t hex_key(char *out, const char *prefix, const uint8_t id[TOKEN_READER_LEN],
                      const char *suffix)
{
    char hex[2 * TOKEN_READER_LEN + 1];

    ident_hex(id, TOKEN_READER_LEN, hex);
    return written(snprintf(out, SCHEMA_KEY_MAX, "%s:{%s}%s", prefix, hex, suffix));
}

size_t schema_reader_touches(char *out, const uint8_t reader[TOKEN_READER_LEN])
{
    return hex_key(out, "r", reader, ":t");
}

size_t schema_reader_marks(char *out, const uint8_t reader[TOKEN_READER_LEN])
{
    return hex_key(out, "r", reader, ":u");
}

size_t schema_reader_links(char *out, const uint8_t reader[TOKEN_READER_LEN])
{
    return hex_key(out, "r", reader, ":l");
}

size_t schema_customer(char *out, const uint8_t customer[TOKEN_READER_LEN])
{
    return hex_key(out, "k", customer, "");
}

size_t schema_order(char *out, const char *shop, const char *order_id)
{
    return written(snprintf(out, SCHEMA_KEY_MAX, "o:{%s}:%s", shop, order_id));
}

size_t schema_shop(char *out, const char *shop)
{
    return written(snprintf(out, SCHEMA_KEY_MAX, "s:{%s}", shop));
}

size_t schema_device(char *out, const uint8_t device[TOKEN_READER_LEN])
{
    return hex_key(out, "d", device, "");
}

size_t schema_shop_orders(char *out, const char *shop)
{
    return written(snprintf(out, SCHEMA_KEY_MAX, "s:{%s}:orders", shop));
}

size_t schema_shop_shared(char *out, const char *shop)
{
    return written(snprintf(out, SCHEMA_KEY_MAX, "s:{%s}:shared", shop));
}

size_t schema_shop_applied(char *out, const char *shop)
{
    return written(snprintf(out, SCHEMA_KEY_MAX, "s:{%s}:w", shop));
}

size_t schema_message_set(char *out, const char *campaign)
{
    return written(snprintf(out, SCHEMA_KEY_MAX, "c:{%s}:m", campaign));
}

size_t schema_paths(char *out, const char *campaign)
{
    return written(snprintf(out, SCHEMA_KEY_MAX, "c:{%s}:p", campaign));
}

size_t schema_conversion_times(char *out, const char *campaign)
{
    return written(snprintf(out, SCHEMA_KEY_MAX, "c:{%s}:ttc", campaign));
}

size_t schema_recent_conversions(char *out, const char *campaign)
{
    return written(snprintf(out, SCHEMA_KEY_MAX, "c:{%s}:r", campaign));
}

size_t schema_reader_devices(char *out, const uint8_t reader[TOKEN_READER_LEN])
{
    return hex_key(out, "r", reader, ":d");
}

const struct schema_ttc_bucket schema_ttc_buckets[SCHEMA_TTC_BUCKETS] = {
    {"lt_5m", 300},
    {"5m_1h", 3600},
    {"1h_6h", 6 * 3600},
    {"6h_1d", 24 * 3600},
    {"1d_3d", 3 * 24 * 3600},
    {"3d_7d", 7 * 24 * 3600},
    {"ge_7d", 0},
};

const char *schema_ttc_field(uint32_t seconds)
{
    for (size_t i = 0; i + 1 < SCHEMA_TTC_BUCKETS; i++) {
        if (seconds < schema_ttc_buckets[i].below_s)
            return schema_ttc_buckets[i].field;
    }
    return schema_ttc_buckets[SCHEMA_TTC_BUCKETS - 1].field;
}

void schema_reader_all(char out[SCHEMA_READER_KEYS][SCHEMA_KEY_MAX],
                       const uint8_t reader[TOKEN_READER_LEN])
{
    schema_reader_touches(out[0], reader);
    schema_reader_marks(out[1], reader);
    schema_reader_devices(out[2], reader);
    schema_reader_links(out[SCHEMA_READER_KEYS - 1], reader);
}
