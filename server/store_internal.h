/*
 * store_internal.h - what store.c and store_checkout.c share: the store
 * itself, one in-flight event, and command building.
 */
#ifndef TALLY_STORE_INTERNAL_H
#define TALLY_STORE_INTERNAL_H

#include <hiredis/async.h>
#include <jansson.h>

#include "attribution.h"
#include "schema.h"
#include "store.h"

#define STORE_ARGS_MAX 32
#define STORE_MOVED_MAX 8 /* clicks one event may reclassify; see READER_TOUCH */
#define STORE_SEEN_CAMPAIGNS 64

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
};

/* One event on its way to Redis; owned by the store until op_finish. */
struct store_op {
    struct store *st;
    struct event ev;
    uint64_t seq;
    char event_id[40]; /* "<writer>-<seq>" */
    unsigned unique_mask;
    /* Open or click: times of the reader's clicks that READER_TOUCH moved
     * from human to this event's verdict (burst or honeypot). */
    uint32_t moved[STORE_MOVED_MAX];
    int n_moved;
    /* Checkout: reader candidates still to look up, and the decision. */
    uint8_t candidates[2][TOKEN_READER_LEN];
    enum attr_path candidate_paths[2];
    int n_candidates;
    int next_candidate;
    struct attr_decision decision;
    json_t *journey; /* touchpoints read for the recent-conversions entry */
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

/* Starts the checkout chain of store_checkout.c. */
void store_checkout_start(struct store_op *op);

/* Reads the journey of a credited order (store_journey.c), then sends
 * CAMPAIGN_CONVERT through store_campaign_convert. */
void store_journey_start(struct store_op *op);

/* Sends CAMPAIGN_CONVERT for op's decision with entry (JSON text) for the
 * campaign's recent-conversions list. */
void store_campaign_convert(struct store_op *op, const char *entry);

#endif
