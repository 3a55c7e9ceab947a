/*
 * ratelimit.c - the set-associative bucket table of ratelimit.h.
 *
 * Written here rather than taken from a Debian package: uthash and GLib's
 * GHashTable allocate per entry and grow without bound, so a flood of
 * invented addresses would turn into memory use. This table is one
 * allocation made at start-up, a lookup touches one set of RATELIMIT_WAYS
 * entries, and nothing is allocated per request.
 *
 * The set index comes from a hash keyed with a random seed, so a client
 * cannot choose addresses that all land in the set of another client.
 * Tokens are counted in thousandths, so a rate of r per second refills r
 * thousandths per millisecond with integer arithmetic only.
 */
#include "ratelimit.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define MILLI 1000u

struct bucket {
    uint8_t key[16];  /* the client's /32 (IPv4) or /64 (IPv6) */
    uint64_t seen_ms; /* last refill, 0 for an empty slot */
    uint64_t tokens;  /* thousandths of a token */
};

struct ratelimit {
    uint32_t rate;
    uint64_t capacity; /* burst in thousandths */
    uint64_t seed[2];
    uint64_t evictions;
    struct bucket buckets[RATELIMIT_SLOTS];
};

struct ratelimit *ratelimit_new(uint32_t rate, uint32_t burst)
{
    struct ratelimit *rl = calloc(1, sizeof(*rl));

    if (rl == NULL)
        return NULL;
    if (RAND_bytes((unsigned char *)rl->seed, sizeof(rl->seed)) != 1) {
        free(rl);
        return NULL;
    }
    rl->rate = rate;
    rl->capacity = (uint64_t)(burst > 0 ? burst : 1) * MILLI;
    return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
    free(rl);
}

uint64_t ratelimit_evictions(const struct ratelimit *rl)
{
    return rl->evictions;
}

/* A 64-bit finaliser (multiply and xor-shift rounds) over the key mixed
 * with the seed. Not a cryptographic hash, but the seed is secret and
 * random per table, which is all the set index needs. */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static size_t set_of(const struct ratelimit *rl, const uint8_t key[16])
{
    uint64_t hi, lo;

    memcpy(&hi, key, 8);
    memcpy(&lo, key + 8, 8);
    return (size_t)(mix(mix(hi ^ rl->seed[0]) ^ lo ^ rl->seed[1]) % RATELIMIT_SETS);
}

static void client_key(const struct netaddr *client, uint8_t key[16])
{
    memcpy(key, client->bytes, 16);
    if (!netaddr_is_v4(client))
        memset(key + 8, 0, 8); /* one IPv6 /64 is one client */
}

/* Finds the bucket of key in its set, or claims one: an empty slot, else
 * the least recently seen. */
static struct bucket *find_bucket(struct ratelimit *rl, const uint8_t key[16],
                                  uint64_t now_ms)
{
    struct bucket *set = &rl->buckets[set_of(rl, key) * RATELIMIT_WAYS];
    struct bucket *victim = &set[0];

    for (size_t i = 0; i < RATELIMIT_WAYS; i++) {
        struct bucket *b = &set[i];

        if (b->seen_ms != 0 && memcmp(b->key, key, 16) == 0)
            return b;
        if (victim->seen_ms != 0 && (b->seen_ms == 0 || b->seen_ms < victim->seen_ms))
            victim = b;
    }

    if (victim->seen_ms != 0)
        rl->evictions++;
    memcpy(victim->key, key, 16);
    victim->seen_ms = now_ms > 0 ? now_ms : 1;
    victim->tokens = rl->capacity;
    return victim;
}

bool ratelimit_take(struct ratelimit *rl, const struct netaddr *client,
                    uint64_t now_ms, uint32_t *retry_after_s)
{
    uint8_t key[16];
    struct bucket *b;
    uint64_t missing, wait_ms;

    if (rl->rate == 0)
        return true;

    client_key(client, key);
    b = find_bucket(rl, key, now_ms);

    /* Refill for the time since the last request; a clock that went
     * backwards refills nothing. */
    if (now_ms > b->seen_ms) {
        uint64_t elapsed = now_ms - b->seen_ms;
        uint64_t room = rl->capacity - b->tokens;

        if (elapsed >= room / rl->rate + 1)
            b->tokens = rl->capacity;
        else
            b->tokens += elapsed * rl->rate;
        if (b->tokens > rl->capacity)
            b->tokens = rl->capacity;
        b->seen_ms = now_ms;
    }

    if (b->tokens >= MILLI) {
        b->tokens -= MILLI;
        return true;
    }

    missing = MILLI - b->tokens;
    wait_ms = (missing + rl->rate - 1) / rl->rate;
    *retry_after_s = (uint32_t)((wait_ms + 999) / 1000);
    if (*retry_after_s == 0)
        *retry_after_s = 1;
    return false;
}
