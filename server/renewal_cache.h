/*
 * renewal_cache.h - the readers whose keys Redis has shown renewed in a
 * renewal period, for the plain opens of store_open.c.
 *
 * READER_TOUCH renews a reader's two keys on the reader's first event of
 * each renewal period (touch_ttl_slack) and keeps the period in field e
 * of the marks hash. A repeated open written with a plain ZADD must know
 * that the keys were renewed in its period, so it read e with an HMGET.
 * That second command per open took a sixth of Redis's CPU per open under
 * loadtest/bench.py's pixel load (docs/benchmarks.md). This cache
 * remembers, per reader, the periods in which a reply showed the keys
 * renewed: the HMGET's field e, or READER_TOUCH run for a live event.
 *
 * "Renewed in period P" stays true until the keys are deleted (forget)
 * or expire. Then an open's ZADD XX finds no member and READER_TOUCH runs
 * and renews. A renewal that the cache misses only costs one HMGET.
 *
 * One cache serves every event loop of the process, because a reader's
 * requests reach whichever loop their connection went to. Entries are
 * single 64-bit words read and written with relaxed atomics, so no loop
 * waits for another. Two loops storing into one set at once may lose an
 * entry, which costs one HMGET later.
 */
#ifndef TALLY_RENEWAL_CACHE_H
#define TALLY_RENEWAL_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "token.h"

struct renewal_cache;

/* Returns a cache of about entries entries (rounded down to a power of
 * two, at least 4), using 8 bytes each. NULL when entries is 0, which
 * turns the cache off: renewal_cache_has then always returns false and
 * the other calls do nothing. NULL also when memory runs out; the caller
 * tells the two apart by entries. */
struct renewal_cache *renewal_cache_new(size_t entries);

void renewal_cache_free(struct renewal_cache *c);

/* Tells whether a reply since the latest renewal_cache_forget_all showed
 * reader's keys renewed in period. Any thread. */
bool renewal_cache_has(const struct renewal_cache *c,
                       const uint8_t reader[TOKEN_READER_LEN], uint32_t period);

/* Starts loading reader's entries into the CPU's caches, for a
 * renewal_cache_has or renewal_cache_put soon after. Any thread. */
void renewal_cache_prefetch(const struct renewal_cache *c,
                            const uint8_t reader[TOKEN_READER_LEN]);

/* Records that a reply showed reader's keys renewed in period. Any
 * thread. */
void renewal_cache_put(struct renewal_cache *c, const uint8_t reader[TOKEN_READER_LEN],
                       uint32_t period);

/* Forgets every entry, in constant time, for a connection that may reach
 * another Redis or one restarted from an older snapshot. A reply read
 * before this call and recorded after it is the one window left: a loop
 * notices a closed connection when it reads its last replies, long before
 * another loop reconnects. Any thread. */
void renewal_cache_forget_all(struct renewal_cache *c);

#endif
