/*
 * forget.h - forgetting a reader, as tallyd (DELETE /v1/readers/...) and
 * tallyctl (forget) both do it.
 *
 * A reader's own keys share its hash tag (schema_reader_all: r:{R}:t,
 * r:{R}:u, r:{R}:d and r:{R}:l), so one DEL removes them. The identity
 * links that name the reader (a customer's k:{K}, a device's d:{D}, each a
 * sorted set of reader ids) live in other slots; every writer of such a
 * link first adds its key name to the reader's link set r:{R}:l
 * (READER_LINK), so forgetting reads that set instead of scanning:
 *
 *   1. SMEMBERS r:{R}:l
 *   2. for each key name: STORE_FORGET_LINK_LUA, which removes R from the
 *      link, so the link is gone once no reader is left in it (other
 *      readers linked to the same identifier keep theirs)
 *   3. DEL r:{R}:t r:{R}:u r:{R}:d r:{R}:l
 *
 * NOTE: an event of the reader still in flight when step 3 runs writes
 * new reader keys after it; forgetting again removes them.
 */
#ifndef TALLY_FORGET_H
#define TALLY_FORGET_H

/* KEYS: one link key (a sorted set of reader ids). ARGV: the reader id
 * (24 hex digits). Redis deletes a sorted set with its last member, so
 * this returns 1 when the reader was the link's last one and the key is
 * gone, else 0: the counts add up to keys deleted. */
#define STORE_FORGET_LINK_LUA                                       \
    "if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 and\n"            \
    "   redis.call('EXISTS', KEYS[1]) == 0 then\n"                  \
    "  return 1\n"                                                  \
    "end\n"                                                         \
    "return 0\n"

#endif
