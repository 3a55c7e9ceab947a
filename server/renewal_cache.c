/*
 * renewal_cache.c - a set-associative table of renewal_cache.h.
 *
 * Written here rather than taken from a library: Debian's hash tables
 * (GLib's GHashTable, uthash) need a lock to be shared between threads
 * and grow with their entries. This one is shared without locks and has
 * a fixed size. A miss only costs an HMGET, so the table may lose entries.
 *
 * Each entry is a 64-bit fingerprint of (reader, period, generation); 0
 * is an empty slot. The set comes from the reader's first four bytes and
 * the fingerprint from its next eight, which are independent because
 * reader ids are keyed hashes (token.h). Two readers then share an entry
 * with a chance of about 2^-64 per lookup. Such a clash would skip one
 * renewal, so a reader's keys could expire earlier than the retention
 * promises. The generation changes on renewal_cache_forget_all, so older
 * entries stop matching without being cleared.
 */
#include "renewal_cache.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define WAYS 4 /* entries per set, one 32-byte half of a cache line */
#define HUGE_PAGE ((size_t)2 << 20) /* x86-64's transparent huge page, bytes */

struct renewal_cache {
    _Atomic uint64_t *slots; /* n_sets * WAYS */
    size_t set_mask;          /* n_sets - 1, n_sets a power of two */
    _Atomic uint64_t generation;
};

struct renewal_cache *renewal_cache_new(size_t entries)
{
    struct renewal_cache *c;
    size_t n_sets = 1;
    size_t bytes, align;

    if (entries == 0)
        return NULL;
    while (n_sets * 2 * WAYS <= entries)
        n_sets *= 2;

    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    /* aligned_alloc takes a size that is a multiple of the alignment. A
     * table of huge pages, where the kernel has them, spares a TLB miss on
     * most lookups besides the cache miss. */
    bytes = n_sets * WAYS * sizeof(c->slots[0]);
    align = bytes >= HUGE_PAGE ? HUGE_PAGE : 64;
    bytes = (bytes + align - 1) / align * align;
    c->slots = aligned_alloc(align, bytes);
    if (c->slots == NULL) {
        free(c);
        return NULL;
    }
    /* Only a hint: a kernel without transparent huge pages refuses it, and
     * the table then works on small pages. */
    if (align == HUGE_PAGE)
        (void)madvise(c->slots, bytes, MADV_HUGEPAGE);
    for (size_t i = 0; i < n_sets * WAYS; i++)
        atomic_init(&c->slots[i], 0);
    c->set_mask = n_sets - 1;
    atomic_init(&c->generation, 0);
    return c;
}

void renewal_cache_free(struct renewal_cache *c)
{
    if (c == NULL)
        return;
    free(c->slots);
    free(c);
}

/* The finaliser of splitmix64, so that periods and generations that
 * differ in one bit give unrelated fingerprints. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static _Atomic uint64_t *set_of(const struct renewal_cache *c,
                                const uint8_t reader[TOKEN_READER_LEN])
{
    uint32_t index;

    memcpy(&index, reader, sizeof(index));
    return c->slots + (index & c->set_mask) * WAYS;
}

static uint64_t fingerprint(const struct renewal_cache *c,
                            const uint8_t reader[TOKEN_READER_LEN], uint32_t period)
{
    uint64_t tag, generation;
    uint64_t fp;

    memcpy(&tag, reader + 4, sizeof(tag));
    generation = atomic_load_explicit(&c->generation, memory_order_relaxed);
    fp = tag ^ mix64(((uint64_t)period << 32 | (generation & 0xffffffffu)) + 1);
    return fp != 0 ? fp : 1;
}

void renewal_cache_prefetch(const struct renewal_cache *c,
                            const uint8_t reader[TOKEN_READER_LEN])
{
    if (c != NULL)
        __builtin_prefetch(set_of(c, reader));
}

bool renewal_cache_has(const struct renewal_cache *c,
                       const uint8_t reader[TOKEN_READER_LEN], uint32_t period)
{
    _Atomic uint64_t *set;
    uint64_t fp;

    if (c == NULL)
        return false;
    set = set_of(c, reader);
    fp = fingerprint(c, reader, period);
    for (int i = 0; i < WAYS; i++)
        if (atomic_load_explicit(&set[i], memory_order_relaxed) == fp)
            return true;
    return false;
}

void renewal_cache_put(struct renewal_cache *c, const uint8_t reader[TOKEN_READER_LEN],
                       uint32_t period)
{
    _Atomic uint64_t *set;
    uint64_t fp;
    int victim;

    if (c == NULL)
        return;
    set = set_of(c, reader);
    fp = fingerprint(c, reader, period);

    /* An empty slot first. Otherwise the fingerprint's top bits pick one:
     * a random choice, which needs no per-set state. Entries of earlier
     * periods and generations never match again, so losing one of them
     * costs nothing, and losing a current one costs one HMGET. */
    victim = (int)(fp >> 62);
    for (int i = 0; i < WAYS; i++) {
        uint64_t v = atomic_load_explicit(&set[i], memory_order_relaxed);

        if (v == fp)
            return;
        if (v == 0) {
            victim = i;
            break;
        }
    }
    atomic_store_explicit(&set[victim], fp, memory_order_relaxed);
}

void renewal_cache_forget_all(struct renewal_cache *c)
{
    if (c != NULL)
        atomic_fetch_add_explicit(&c->generation, 1, memory_order_relaxed);
}
