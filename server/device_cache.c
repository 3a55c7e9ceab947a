/*
 * device_cache.c - the direct-mapped User-Agent cache of device_cache.h.
 *
 * Each slot keeps one whole User-Agent value, so a hit is checked with
 * memcmp and a collision only costs a classification. Values longer than
 * DEVICE_CACHE_UA_MAX are classified every time.
 */
#include "device_cache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DEVICE_CACHE_SLOTS 64 /* a power of two */
#define DEVICE_CACHE_UA_MAX 256

struct device_slot {
    uint16_t len; /* 0: empty */
    uint8_t device;
    uint8_t client;
    char ua[DEVICE_CACHE_UA_MAX];
};

struct device_cache {
    struct device_slot slots[DEVICE_CACHE_SLOTS];
};

struct device_cache *device_cache_new(void)
{
    return calloc(1, sizeof(struct device_cache));
}

void device_cache_free(struct device_cache *cache)
{
    free(cache);
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
    return (size_t)(h % DEVICE_CACHE_SLOTS);
}

void device_cache_classify(struct device_cache *cache, const char *ua, size_t len,
                           enum device_class *device, enum client_family *client)
{
    struct device_slot *slot;

    if (len < 8 || len > DEVICE_CACHE_UA_MAX) {
        device_classify(ua, len, device, client);
        return;
    }

    slot = &cache->slots[slot_of(ua, len)];
    if (slot->len == len && memcmp(slot->ua, ua, len) == 0) {
        *device = (enum device_class)slot->device;
        *client = (enum client_family)slot->client;
        return;
    }

    device_classify(ua, len, device, client);
    slot->len = (uint16_t)len;
    slot->device = (uint8_t)*device;
    slot->client = (uint8_t)*client;
    memcpy(slot->ua, ua, len);
}
