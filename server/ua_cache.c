/*
 * ua_cache.c - the direct-mapped User-Agent cache of ua_cache.h.
 *
 * Each slot keeps one whole User-Agent value, so a hit is checked with
 * memcmp and a collision only costs a classification. Values shorter than
 * 8 bytes or longer than UA_CACHE_VALUE_MAX are classified every time.
 */
#include "ua_cache.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define UA_CACHE_SLOTS 64 /* a power of two */
#define UA_CACHE_VALUE_MAX 256

struct ua_slot {
    uint16_t len; /* 0: empty */
    bool agents_known;
    struct ua_traits traits;
    char value[UA_CACHE_VALUE_MAX];
};

struct ua_cache {
    struct ua_slot slots[UA_CACHE_SLOTS];
};

struct ua_cache *ua_cache_new(void)
{
    return calloc(1, sizeof(struct ua_cache));
}

void ua_cache_free(struct ua_cache *cache)
{
    free(cache);
}

void ua_cache_forget_agents(struct ua_cache *cache)
{
    for (size_t i = 0; i < UA_CACHE_SLOTS; i++)
        cache->slots[i].agents_known = false;
}

static uint64_t load64(const char *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

/* Picks the slot from the length and three 8-byte words (start, middle,
 * end), which is cheaper than hashing every byte. len is at least 8. */
static size_t slot_of(const char *ua, size_t len)
{
    uint64_t h = len;

    h ^= load64(ua) * 0x9e3779b97f4a7c15u;
    h ^= load64(ua + len / 2 - 4) * 0xc2b2ae3d27d4eb4fu;
    h ^= load64(ua + len - 8) * 0x165667b19e3779f9u;
    h ^= h >> 29;
    return (size_t)(h % UA_CACHE_SLOTS);
}

static void classify_value(const struct classify_tables *tables, const char *ua, size_t len,
                           struct ua_traits *out)
{
    device_classify(ua, len, &out->device, &out->client);
    out->agents = classify_agent_lists(tables, ua, len);
}

void ua_cache_lookup(struct ua_cache *cache, const struct classify_tables *tables,
                     const char *ua, size_t len, struct ua_traits *out)
{
    struct ua_slot *slot;

    if (len < 8 || len > UA_CACHE_VALUE_MAX) {
        classify_value(tables, ua, len, out);
        return;
    }

    slot = &cache->slots[slot_of(ua, len)];
    if (slot->len == len && memcmp(slot->value, ua, len) == 0) {
        if (!slot->agents_known) {
            slot->traits.agents = classify_agent_lists(tables, ua, len);
            slot->agents_known = true;
        }
        *out = slot->traits;
        return;
    }

    classify_value(tables, ua, len, &slot->traits);
    slot->len = (uint16_t)len;
    slot->agents_known = true;
    memcpy(slot->value, ua, len);
    *out = slot->traits;
}
