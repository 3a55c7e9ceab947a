/*
 * schema.c - key names of schema.h.
 *
 * Order ids are the only free-form part of a key. They are printable ASCII
 * (beacon.c checks), at most EVENT_ORDER_MAX bytes, and always come after
 * the hash tag, so a brace inside one cannot move a key to another slot.
 */
#include "schema.h"

#include <string.h>
#include <time.h>

#include "ident.h"

/*
 * Key names are built by copying their parts, not with snprintf: the store
 * builds several per event, and formatting cost more than the rest of the
 * key handling together (callgrind, loadtest/bench.py). A name that would
 * not fit is cut at SCHEMA_KEY_MAX - 1 bytes, as snprintf would cut it.
 * The ids of schema.h are short enough that none is cut.
 */
struct key {
    char *out;
    size_t len;
};

static void put(struct key *k, const char *s, size_t len)
{
    if (len > SCHEMA_KEY_MAX - 1 - k->len)
        len = SCHEMA_KEY_MAX - 1 - k->len;
    memcpy(k->out + k->len, s, len);
    k->len += len;
    k->out[k->len] = '\0';
}

static void put_str(struct key *k, const char *s)
{
    put(k, s, strlen(s));
}

/* Appends value as exactly width decimal digits (value < 10^width). */
static void put_digits(struct key *k, unsigned value, size_t width)
{
    char digits[4];

    for (size_t i = width; i > 0; i--) {
        digits[i - 1] = (char)('0' + value % 10);
        value /= 10;
    }
    put(k, digits, width);
}

/* Starts "<type>:{<tag>}" in out. */
static struct key key_start(char *out, const char *type, const char *tag)
{
    struct key k = {out, 0};

    put_str(&k, type);
    put(&k, ":{", 2);
    put_str(&k, tag);
    put(&k, "}", 1);
    return k;
}

/* Writes "<type>:{<tag>}<suffix>" to out and returns its length. */
static size_t tagged_key(char *out, const char *type, const char *tag, const char *suffix)
{
    struct key k = key_start(out, type, tag);

    put_str(&k, suffix);
    return k.len;
}

size_t schema_campaign(char *out, const char *campaign)
{
    return key_start(out, "c", campaign).len;
}

/* Starts "c:{<campaign>}:m:<message>" in out. */
static struct key message_start(char *out, const char *campaign, const char *message)
{
    struct key k = key_start(out, "c", campaign);

    put(&k, ":m:", 3);
    put_str(&k, message);
    return k;
}

/* Writes "c:{<campaign>}:m:<message><suffix>" to out and returns its length. */
static size_t message_key(char *out, const char *campaign, const char *message,
                          const char *suffix)
{
    struct key k = message_start(out, campaign, message);

    put_str(&k, suffix);
    return k.len;
}

size_t schema_message(char *out, const char *campaign, const char *message)
{
    return message_key(out, campaign, message, "");
}

/* Appends ":h:YYYYMMDDHH", the UTC hour of unix_time. */
static void put_hour(struct key *k, uint32_t unix_time)
{
    time_t t = (time_t)unix_time;
    struct tm utc;

    gmtime_r(&t, &utc);
    put(k, ":h:", 3);
    put_digits(k, (unsigned)(utc.tm_year + 1900) % 10000, 4);
    put_digits(k, (unsigned)(utc.tm_mon + 1), 2);
    put_digits(k, (unsigned)utc.tm_mday, 2);
    put_digits(k, (unsigned)utc.tm_hour, 2);
}

size_t schema_hour(char *out, const char *campaign, uint32_t unix_time)
{
    struct key k = key_start(out, "c", campaign);

    put_hour(&k, unix_time);
    return k.len;
}

size_t schema_links(char *out, const char *campaign)
{
    return tagged_key(out, "c", campaign, ":l");
}

size_t schema_campaign_order(char *out, const char *campaign, const char *shop,
                             const char *order_id)
{
    struct key k = key_start(out, "c", campaign);

    put(&k, ":o:", 3);
    put_str(&k, shop);
    put(&k, ":", 1);
    put_str(&k, order_id);
    return k.len;
}

size_t schema_applied(char *out, const char *campaign)
{
    return tagged_key(out, "c", campaign, ":w");
}

size_t schema_campaign_sent(char *out, const char *campaign)
{
    return tagged_key(out, "c", campaign, ":sent");
}

size_t schema_message_sent(char *out, const char *campaign, const char *message)
{
    return message_key(out, campaign, message, ":sent");
}

size_t schema_message_hour(char *out, const char *campaign, const char *message,
                           uint32_t unix_time)
{
    struct key k = message_start(out, campaign, message);

    put_hour(&k, unix_time);
    return k.len;
}

size_t schema_message_paths(char *out, const char *campaign, const char *message)
{
    return message_key(out, campaign, message, ":p");
}

size_t schema_message_conversion_times(char *out, const char *campaign,
                                       const char *message)
{
    return message_key(out, campaign, message, ":ttc");
}

static size_t hex_key(char *out, const char *prefix, const uint8_t id[TOKEN_READER_LEN],
                      const char *suffix)
{
    char hex[2 * TOKEN_READER_LEN + 1];

    ident_hex(id, TOKEN_READER_LEN, hex);
    return tagged_key(out, prefix, hex, suffix);
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
    struct key k = key_start(out, "o", shop);

    put(&k, ":", 1);
    put_str(&k, order_id);
    return k.len;
}

size_t schema_early_refunds(char *out, const char *shop, const char *order_id)
{
    struct key k = key_start(out, "s", shop);

    put(&k, ":early:", 7);
    put_str(&k, order_id);
    return k.len;
}

size_t schema_shop(char *out, const char *shop)
{
    return key_start(out, "s", shop).len;
}

size_t schema_device(char *out, const uint8_t device[TOKEN_READER_LEN])
{
    return hex_key(out, "d", device, "");
}

size_t schema_shop_orders(char *out, const char *shop)
{
    return tagged_key(out, "s", shop, ":orders");
}

size_t schema_shop_shared(char *out, const char *shop)
{
    return tagged_key(out, "s", shop, ":shared");
}

size_t schema_shop_applied(char *out, const char *shop)
{
    return tagged_key(out, "s", shop, ":w");
}

size_t schema_message_set(char *out, const char *campaign)
{
    return tagged_key(out, "c", campaign, ":m");
}

size_t schema_paths(char *out, const char *campaign)
{
    return tagged_key(out, "c", campaign, ":p");
}

size_t schema_conversion_times(char *out, const char *campaign)
{
    return tagged_key(out, "c", campaign, ":ttc");
}

size_t schema_recent_conversions(char *out, const char *campaign)
{
    return tagged_key(out, "c", campaign, ":r");
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
    schema_reader_links(out[SCHEMA_READER_KEYS - 1], reader);
}
