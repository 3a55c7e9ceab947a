/*
 * ratelimit.h - token buckets per client network, in a table of fixed size.
 *
 * A client is an IPv4 address (/32) or an IPv6 /64, because one IPv6 host
 * usually gets a whole /64 and could otherwise change its address per
 * request. Each client has a bucket of burst tokens that refills at rate
 * tokens per second; a request takes one token or is limited.
 *
 * The table never grows: it holds RATELIMIT_SLOTS buckets, and a new client
 * takes the place of the least recently seen one in its set of
 * RATELIMIT_WAYS. An evicted client starts again with a full bucket, so a
 * flood of distinct addresses can make the limit forget a client; it can
 * never make the table use more memory. One table belongs to one event loop
 * thread and is not locked.
 */
#ifndef TALLY_RATELIMIT_H
#define TALLY_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "netaddr.h"

#define RATELIMIT_WAYS 8
#define RATELIMIT_SETS 4096
#define RATELIMIT_SLOTS (RATELIMIT_WAYS * RATELIMIT_SETS) /* 1 MiB per table */

struct ratelimit;

/* Creates a table for rate tokens per second and burst tokens at most.
 * rate 0 turns limiting off (every request passes). Returns NULL when
 * memory or randomness for the hash seed is unavailable. */
struct ratelimit *ratelimit_new(uint32_t rate, uint32_t burst);

void ratelimit_free(struct ratelimit *rl);

/*
 * Takes a token from the bucket of client at now_ms (a monotonic clock in
 * milliseconds). Returns true when the request may go on. Returns false
 * when the bucket is empty, with *retry_after_s set to the whole seconds
 * (at least 1) until a token is available.
 */
bool ratelimit_take(struct ratelimit *rl, const struct netaddr *client,
                    uint64_t now_ms, uint32_t *retry_after_s);

/* Number of clients evicted to make room since the table was created. */
uint64_t ratelimit_evictions(const struct ratelimit *rl);

#endif
