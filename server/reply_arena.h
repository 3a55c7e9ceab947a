/*
 * reply_arena.h - hiredis reply objects carved from one growing buffer.
 *
 * hiredis 0.14 builds each reply as a tree of malloc'd redisReply objects
 * and frees it when the reply's callback returns. A 744-hour stats request
 * gets 744 hash replies of about 20 elements each, so about 28,000
 * allocations (two per element). They cost a third of tallyd's CPU time
 * for that request: 1.6 ms without the arena, 1.1 ms with it
 * (loadtest/stats/latency.py). hiredis lets a reader use its own object
 * functions (redisReader.fn), and it builds and frees one reply at a time:
 * redisProcessCallbacks frees each reply with fn->freeObject before the
 * reader starts the next one. So an arena attached to a reader hands out
 * the objects of the reply being built, and freeing that reply empties it.
 */
#ifndef TALLY_REPLY_ARENA_H
#define TALLY_REPLY_ARENA_H

#include <hiredis/read.h>
#include <stdint.h>

struct reply_arena;

/* Returns a new, empty arena, or NULL when memory runs out. */
struct reply_arena *reply_arena_new(void);

/* Frees a and its memory. Call only after every reader it is attached to
 * has been freed, since freeing a reader frees its unfinished reply. */
void reply_arena_free(struct reply_arena *a);

/*
 * Makes reader build its replies in a. The replies are ordinary
 * redisReply trees for their users, except that they must be freed with
 * reader->fn->freeObject (as hiredis's async API does), never with
 * freeReplyObject, and that freeing a reply frees every object of a.
 * One arena serves one reader at a time.
 */
void reply_arena_attach(struct reply_arena *a, redisReader *reader);

/* Returns the number of whole replies a has built and freed, one per
 * command whose reply the reader's connection read. */
uint64_t reply_arena_replies(const struct reply_arena *a);

#endif
