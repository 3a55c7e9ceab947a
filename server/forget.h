/*
 * forget.h - forgetting a reader, as tallyd (DELETE /v1/readers/...) and
 * tallyctl (forget) both do it.
 *
 * A reader's own keys share its hash tag (schema_reader_all: r:{R}:t,
 * r:{R}:u, r:{R}:d and r:{R}:l), so one DEL removes them. Keys elsewhere whose value is the reader id (a
 * customer link k:{K}) live in other slots; every writer of such a link
 * first adds its key name to the reader's link set r:{R}:l (READER_LINK),
 * so forgetting reads that set instead of scanning:
 *
 *   1. SMEMBERS r:{R}:l
 *   2. for each key name: STORE_FORGET_LINK_LUA, which deletes the link
 *      only while it still points at R (a later identify may have moved it
 *      to another reader)
 *   3. DEL r:{R}:t r:{R}:u r:{R}:d r:{R}:l
 *
 * NOTE: an event of the reader still in flight when step 3 runs writes
 * new reader keys after it; forgetting again removes them.
 */
#ifndef TALLY_FORGET_H
#define TALLY_FORGET_H

/* KEYS: one link key. ARGV: the reader id (24 hex digits). Returns 1 when
 * the link pointed at the reader and was deleted, else 0. */
#define STORE_FORGET_LINK_LUA                                  \
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"          \
    "  return redis.call('DEL', KEYS[1])\n"                    \
    "end\n"                                                    \
    "return 0\n"

#endif
