/*
 * schema.h - names of tally's Redis keys, version 1 of the schema.
 *
 * The key names are a public interface: marketers read them with redis-cli,
 * and docs/redis-schema.md documents each key, its fields and its lifetime.
 * Every key carries a Redis Cluster hash tag, so each write touches one slot:
 *
 *   c:{C}                    campaign totals           (hash)
 *   c:{C}:m:M                totals of message M       (hash)
 *   c:{C}:h:YYYYMMDDHH       one UTC hour of C         (hash)
 *   c:{C}:l                  clicks per "M:link"       (hash)
 *   c:{C}:o:SHOP:ORDER       decision record of an order credited to C (hash)
 *   c:{C}:w                  applied-event marks, internal (hash)
 *   c:{C}:sent               emails minted, as "M|R" pairs (HyperLogLog)
 *   c:{C}:m:M:sent           readers minted for message M (HyperLogLog)
 *   c:{C}:m:M:h:YYYYMMDDHH   one UTC hour of message M (hash)
 *   c:{C}:m:M:p              conversions of M per identity path (hash)
 *   c:{C}:m:M:ttc            conversions of M per time-to-conversion bucket
 *   r:{R}:t                  touchpoints of reader R   (sorted set)
 *   r:{R}:u                  first-touch marks of R    (hash)
 *   r:{R}:l                  keys of links to R        (set)
 *   r:{R}:d                  device and client of each touchpoint of R (hash)
 *   k:{K}                    readers linked to customer hash K (sorted set)
 *   d:{D}                    readers linked to device hash D (sorted set)
 *   o:{SHOP}:ORDER           the order's claim and decision record (hash)
 *   s:{SHOP}                 shop totals, attributed or not (hash)
 *   s:{SHOP}:orders          the shop's order ids by time (sorted set)
 *   s:{SHOP}:shared          identifiers linked to too many readers (set)
 *   s:{SHOP}:w               applied-event marks, internal (hash)
 *   c:{C}:m                  message ids of C          (set)
 *   c:{C}:p                  conversions per identity path (hash)
 *   c:{C}:ttc                conversions per time-to-conversion bucket (hash)
 *   c:{C}:r                  recent conversions with their journeys (list)
 *   campaigns                the ids of all campaigns  (set)
 *
 * C, M and SHOP are ids of token_id_valid; R, K and D are 24 hex digits.
 */
#ifndef TALLY_SCHEMA_H
#define TALLY_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "token.h"

#define SCHEMA_VERSION 1
#define SCHEMA_KEY_MAX 256 /* room for any key name and its NUL */

/* Each function writes one key name and a NUL to out (SCHEMA_KEY_MAX bytes)
 * and returns its length. */
size_t schema_campaign(char *out, const char *campaign);
size_t schema_message(char *out, const char *campaign, const char *message);
size_t schema_hour(char *out, const char *campaign, uint32_t unix_time);
size_t schema_links(char *out, const char *campaign);
size_t schema_campaign_order(char *out, const char *campaign,
                             const char *shop, const char *order_id);
size_t schema_applied(char *out, const char *campaign);
size_t schema_campaign_sent(char *out, const char *campaign);
size_t schema_message_sent(char *out, const char *campaign, const char *message);
size_t schema_message_hour(char *out, const char *campaign, const char *message,
                           uint32_t unix_time);
size_t schema_message_paths(char *out, const char *campaign, const char *message);
size_t schema_message_conversion_times(char *out, const char *campaign,
                                       const char *message);
size_t schema_reader_touches(char *out, const uint8_t reader[TOKEN_READER_LEN]);
size_t schema_reader_marks(char *out, const uint8_t reader[TOKEN_READER_LEN]);
size_t schema_reader_links(char *out, const uint8_t reader[TOKEN_READER_LEN]);
size_t schema_customer(char *out, const uint8_t customer[TOKEN_READER_LEN]);
size_t schema_order(char *out, const char *shop, const char *order_id);
size_t schema_shop(char *out, const char *shop);
/* s:{SHOP}:early:ORDER, refunds that arrived before their order. */
size_t schema_early_refunds(char *out, const char *shop, const char *order_id);
size_t schema_device(char *out, const uint8_t device[TOKEN_READER_LEN]);
size_t schema_shop_orders(char *out, const char *shop);
size_t schema_shop_shared(char *out, const char *shop);
size_t schema_shop_applied(char *out, const char *shop);
size_t schema_message_set(char *out, const char *campaign);
size_t schema_paths(char *out, const char *campaign);
size_t schema_conversion_times(char *out, const char *campaign);
size_t schema_recent_conversions(char *out, const char *campaign);

/* Every key of a reader's own slot, which forgetting the reader deletes;
 * the link set comes last. */
#define SCHEMA_READER_KEYS 3
void schema_reader_all(char out[SCHEMA_READER_KEYS][SCHEMA_KEY_MAX],
                       const uint8_t reader[TOKEN_READER_LEN]);

/* Conversions kept in c:{C}:r, newest first. */
#define SCHEMA_RECENT_CONVERSIONS 100

/* Time-to-conversion buckets of c:{C}:ttc: field name and upper bound in
 * seconds (exclusive; 0 for the last, unbounded one). */
struct schema_ttc_bucket {
    const char *field;
    uint32_t below_s;
};

#define SCHEMA_TTC_BUCKETS 7
extern const struct schema_ttc_bucket schema_ttc_buckets[SCHEMA_TTC_BUCKETS];

/* Returns the field of the bucket that seconds (click to order) falls in. */
const char *schema_ttc_field(uint32_t seconds);

#define SCHEMA_CAMPAIGNS "campaigns"

#endif
