/*
 * store_internal.h - what store.c and store_checkout.c share: the store
 * itself, one in-flight event, and command building.
 */
#ifndef TALLY_STORE_INTERNAL_H
#define TALLY_STORE_INTERNAL_H

#include <hiredis/async.h>

#include "attribution.h"
#include "resp.h"
#include "schema.h"
#include "store.h"

#define STORE_ARGS_MAX 20
#define STORE_SEEN_CAMPAIGNS 64

/* Limits of one campaign batch (store_batch.c): events, distinct message
 * keys and hour keys in it, and campaigns with a batch open at once. A
 * batch that reaches a limit is sent at once. */
#define STORE_BATCH_EVENTS 128
#define STORE_BATCH_MESSAGES 8
#define STORE_BATCH_HOURS 2
#define STORE_BATCH_CAMPAIGNS 8

/* Events whose commands have been handed to hiredis and that have not
 * finished; further events wait in the store's queue. hiredis 0.14 keeps
 * unsent commands in one buffer and moves the rest of it after every
 * write, so each write costs time in proportion to the backlog. Unbounded,
 * that let Redis apply under 2% of a burst of clicks before the stop
 * deadline (loadtest/bench.py). 512 events are a few milliseconds of Redis
 * work. */
#define STORE_PIPELINE_MAX 512

struct store_op;

/* Opens and clicks of one campaign waiting for one CAMPAIGN_TOUCH call. */
struct campaign_batch {
    struct store *st;
    char campaign[TOKEN_ID_MAX + 1];
    struct store_op *ops[STORE_BATCH_EVENTS]; /* in sequence order */
    size_t n_ops;
    const char *messages[STORE_BATCH_MESSAGES]; /* point into the ops' events */
    size_t n_messages;
    uint32_t hours[STORE_BATCH_HOURS]; /* a time within each UTC hour */
    size_t n_hours;
    struct campaign_batch *next_free;
};

struct store {
    struct event_base *base;
    struct redis_target target;
    struct store_options opts;
    redisAsyncContext *ac; /* NULL while disconnected */
    struct event *reconnect_timer;
    int backoff_ms;
    bool closing;
    char writer[17]; /* random id of this store's event sequence, hex */
    uint64_t next_seq;
    size_t in_flight;
    void (*drained)(void *);
    void *drained_arg;
    struct store_stats stats;
    /* Campaign ids already added to the campaigns set on this connection;
     * only saves commands, since SADD repeats are harmless. */
    char seen[STORE_SEEN_CAMPAIGNS][TOKEN_ID_MAX + 1];
    unsigned seen_next;
    struct resp_buf resp; /* the command being encoded */
    struct campaign_batch *batches[STORE_BATCH_CAMPAIGNS]; /* not sent yet */
    size_t n_batches;
    struct campaign_batch *free_batches;
    struct event *flush_event; /* sends the batches at the end of an iteration */
    bool flush_scheduled;
    struct store_op *queue_head; /* events waiting to be sent, in order */
    struct store_op *queue_tail;
    size_t started; /* events sent and not finished */
    bool sending_queued; /* send_queued is on the stack */
};

/* One event on its way to Redis; owned by the store until op_finish. */
struct store_op {
    struct store *st;
    struct event ev;
    uint64_t seq;
    char event_id[40]; /* "<writer>-<seq>" */
    unsigned unique_mask;
    /* Checkout: reader candidates still to look up, and the decision. */
    uint8_t candidates[2][TOKEN_READER_LEN];
    enum attr_path candidate_paths[2];
    int n_candidates;
    int next_candidate;
    struct attr_decision decision;
    struct store_op *next_queued; /* in the store's queue */
    bool started; /* sent, so counted in store.started */
};

/* Argument vector of one command; numbers are formatted into text. */
struct store_args {
    const char *argv[STORE_ARGS_MAX];
    size_t lens[STORE_ARGS_MAX];
    int argc;
    char text[STORE_ARGS_MAX][SCHEMA_KEY_MAX];
};

void store_args_init(struct store_args *a);
void store_args_str(struct store_args *a, const char *s);
void store_args_buf(struct store_args *a, const char *s, size_t len);
void store_args_u64(struct store_args *a, uint64_t v);
void store_args_i64(struct store_args *a, int64_t v);
/* Appends EVALSHA <sha> <numkeys>; the keys and arguments follow. */
void store_args_evalsha(struct store_args *a, int script, int numkeys);

/* Sends a command for op; the reply goes to cb. On failure to send, ends
 * op as failed and returns -1. */
int store_send(struct store_op *op, redisCallbackFn *cb, struct store_args *a);

/* Ends op: counts it as written or failed and frees it. */
void store_op_finish(struct store_op *op, bool ok);

/* Tells whether reply is an error; logs it against op when it is. A NULL
 * reply means the connection was lost. */
bool store_reply_failed(struct store_op *op, const redisReply *reply,
                        const char *step);

/* Adds an open or a click whose READER_TOUCH has replied (unique_mask
 * set) to its campaign's batch. The batch's reply finishes op. */
void store_batch_add(struct store_op *op);

/* Sends every pending batch now. */
void store_batch_flush(struct store *st);

/* Creates the flush event. Returns 0, or -1 when memory runs out. */
int store_batch_init(struct store *st);

/* Ends the events of unsent batches as failed and frees the batches and
 * the flush event. Call after the connection is gone. */
void store_batch_free(struct store *st);

/* Starts the checkout chain of store_checkout.c. */
void store_checkout_start(struct store_op *op);

#endif
