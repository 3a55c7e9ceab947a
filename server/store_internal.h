/*
 * store_internal.h - what store.c and store_checkout.c share: the store
 * itself, one in-flight event, and command building.
 */
#ifndef TALLY_STORE_INTERNAL_H
#define TALLY_STORE_INTERNAL_H

#include <hiredis/async.h>

#include "attribution.h"
#include "decision.h"
#include "schema.h"
#include "store.h"

#define STORE_ARGS_MAX 32
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
    /* Checkout: identifier lookups and reader candidates still to do,
     * and the decision record being built. Identify: the step reached. */
    int step;
    uint8_t candidates[3][TOKEN_READER_LEN];
    enum attr_path candidate_paths[3];
    int n_candidates;
    int next_candidate;
    struct decision_record record;
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

/* Starts the identify chain of store_links.c. */
void store_identify_start(struct store_op *op);

/* Starts the refund chain of store_refund.c. */
void store_refund_start(struct store_op *op);

/* Sends LINK_ADD, linking the customer (is_device false) or device hash id
 * to reader, for op; the reply (the number of readers linked) goes to cb.
 * store_link_check_shared handles it. */
void store_link_send(struct store_op *op, const uint8_t id[TOKEN_READER_LEN],
                     bool is_device, const uint8_t reader[TOKEN_READER_LEN],
                     redisCallbackFn *cb);

/* Checks a LINK_ADD reply: when the identifier is now linked to more
 * readers than allowed, counts it and adds its key to the shop's shared
 * set (a separate, idempotent SADD). Returns false when the reply is an
 * error, after logging it. */
bool store_link_check_shared(struct store_op *op, const redisReply *reply,
                             const char *shop, const uint8_t id[TOKEN_READER_LEN],
                             bool is_device);

/* Sends LINK_LOOKUP for the customer or device hash id of a checkout or
 * identify at op->ev.time; the reply goes to cb. */
void store_lookup_send(struct store_op *op, const uint8_t id[TOKEN_READER_LEN],
                       bool is_device, redisCallbackFn *cb);

/* Reads a LINK_LOOKUP reply into *n_readers and reader. Returns 1 when a
 * reader is linked, 0 when none is, -1 for a malformed reply. */
int store_lookup_parse(const redisReply *reply, long long *n_readers,
                       uint8_t reader[TOKEN_READER_LEN]);

/* Sends SHOP_COUNT for op: the n field/increment pairs go to the shop's
 * totals once. Must be called from store_submit, in sequence order; the
 * reply is not waited for. */
void store_shop_count(struct store_op *op, const char *shop,
                      const char *const *fields, const long long *increments,
                      size_t n);

#endif
