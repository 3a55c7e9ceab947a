/*
 * store_internal.h - what store.c, store_batch.c, store_checkout.c and
 * store_spool.c share: the store itself, one in-flight event, and command
 * building.
 */
#ifndef TALLY_STORE_INTERNAL_H
#define TALLY_STORE_INTERNAL_H

#include <hiredis/async.h>
#include <jansson.h>

#include "attribution.h"
#include "event_codec.h"
#include "journal.h"
#include "decision.h"
#include "resp.h"
#include "stat_counter.h"
#include "schema.h"
#include "store.h"
#include "touch.h"

#define STORE_ARGS_MAX 32
#define STORE_MOVED_MAX 8 /* opens and clicks one event may reclassify; see READER_TOUCH */
#define STORE_SEEN_CAMPAIGNS 64
#define STORE_ADOPTED_MAX 64 /* journals of earlier runs one store replays */
#define STORE_REPLAY_WINDOW 128 /* journal records sent together */

/* Limits of one campaign batch (store_batch.c): events, distinct message
 * keys, hour keys and message hour keys in it, and campaigns with a batch
 * open at once. A batch that reaches a limit is sent at once. The hours
 * include those of the clicks that READER_TOUCH moved to another verdict.
 * Live traffic falls in one or two hours, so a batch has about one message
 * hour per message; replays of a journal spread over more. */
#define STORE_BATCH_EVENTS 256
/* Time a campaign batch of live events collects events before it is
 * sent, in microseconds. A CAMPAIGN_SUMS call costs Redis about the same
 * for 100 events as for 200, because it adds to each counter field once
 * (about 30 HINCRBY for loadtest/bench.py's clicks). With 2 ms and 128
 * events two loops sent batches of about 110 clicks under that load. With
 * 4 ms and 256 the HINCRBY calls per click fell from 0.27 to 0.17 (so
 * about 175 clicks a batch, an estimate), and clicks cost Redis 0.1 to
 * 0.3 us less (docs/benchmarks.md). The counters are late by this much
 * more, and the responses are not. A crash of tallyd loses the events of
 * unsent batches (docs/reliability.md). */
#define STORE_BATCH_DELAY_US 4000
#define STORE_BATCH_MESSAGES 8
#define STORE_BATCH_HOURS 16
#define STORE_BATCH_MESSAGE_HOURS 32
#define STORE_BATCH_CAMPAIGNS 8

/* Campaigns (per writer) with a campaign write in flight whose previous
 * write the next one must name; see store_batch.c. */
#define STORE_PREDS_MAX 1024

/* Events whose commands have been handed to hiredis and that have not
 * finished; further events wait in the store's queue. hiredis 0.14 keeps
 * unsent commands in one buffer and moves the rest of it after every
 * write, so each write costs time in proportion to the backlog. Unbounded,
 * that let Redis apply under 2% of a burst of clicks before the stop
 * deadline (loadtest/bench.py). 512 events are a few milliseconds of Redis
 * work. */
#define STORE_PIPELINE_MAX 512
/* Events that the unsent batches of all campaigns may contain together
 * before they are all sent at once. Those events count against
 * STORE_PIPELINE_MAX, so half of it stays for events in their reader
 * step. */
#define STORE_BATCH_HELD_MAX (STORE_PIPELINE_MAX / 2)
/* Buckets of reader ids that store_join.c keeps in order. Events of two
 * readers in one bucket wait for each other as if they were one reader's,
 * and the waiting one takes READER_TOUCH instead of the plain commands.
 * With 4,096 buckets that happened to 4 % of clicks under make bench
 * (docs/benchmarks.md). 65,536 is every value of the two bytes
 * store_join.c reads, for 192 KB per loop. */
#define STORE_READER_BUCKETS 65536
/* Different links store_click.c counts in a burst window. With a larger
 * burst_links every click takes READER_TOUCH. */
#define STORE_CLICK_LINKS_MAX 16
/* Freed ops of opens and clicks each loop keeps for reuse. AddressSanitizer
 * builds keep none, so that it still reports an op used after its free. */
#if defined(__SANITIZE_ADDRESS__) /* gcc */
#define STORE_FREE_OPS_MAX 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) /* clang 14 defines only this */
#define STORE_FREE_OPS_MAX 0
#endif
#endif
#ifndef STORE_FREE_OPS_MAX
#define STORE_FREE_OPS_MAX STORE_PIPELINE_MAX
#endif

struct store_op;

/* Opens and clicks of one campaign waiting for one CAMPAIGN_TOUCH or
 * CAMPAIGN_SUMS call. */
struct campaign_batch {
    struct store *st;
    char campaign[TOKEN_ID_MAX + 1];
    struct store_op *ops[STORE_BATCH_EVENTS]; /* in sequence order */
    size_t n_ops;
    const char *messages[STORE_BATCH_MESSAGES]; /* point into the ops' events */
    size_t n_messages;
    uint32_t hours[STORE_BATCH_HOURS]; /* a time within each UTC hour */
    size_t n_hours;
    /* Keys c:{C}:m:M:h:HOUR, as indexes into messages and hours. */
    struct {
        uint8_t message;
        uint8_t hour;
    } message_hours[STORE_BATCH_MESSAGE_HOURS];
    size_t n_message_hours;
    uint64_t sent_no; /* st->batches_sent when it was sent */
    struct campaign_batch *next_free;
};

/* The last campaign write sent on the current connection for one writer
 * and campaign, which the next write of that pair names as its
 * predecessor (store_batch.c). */
struct touch_pred {
    uint8_t writer[EVENT_WRITER_LEN];
    char campaign[TOKEN_ID_MAX + 1];
    uint64_t seq;     /* touch_seq of the last event sent */
    uint64_t sent_no; /* the batch that carried it */
};

struct store {
    struct event_base *base;
    struct redis_target target;
    struct store_options opts;
    redisAsyncContext *ac; /* NULL while disconnected */
    /* Builds ac's replies (reply_arena.h): a pixel's READER_TOUCH reply
     * would otherwise cost six mallocs and six frees. */
    struct reply_arena *arena;
    struct event *reconnect_timer;
    int backoff_ms;
    bool closing;
    char writer[17]; /* random id of this store's event sequence, hex */
    uint8_t writer_bytes[EVENT_WRITER_LEN];
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
    size_t held_events; /* events in batches[], against STORE_BATCH_HELD_MAX */
    struct campaign_batch *free_batches;
    /* Sends the batches: a timer, or active at once for replays
     * (store_batch.c). */
    struct event *flush_event;
    bool flush_scheduled;
    bool flush_delayed; /* scheduled as the timer */
    struct batch_sums *sums;  /* scratch space of batch_send */
    struct touch_pred *preds; /* STORE_PREDS_MAX entries, n_preds in use */
    size_t n_preds;
    uint64_t batches_sent; /* on this store, numbers the batches */
    /* Live events not started yet because STORE_PIPELINE_MAX are, in
     * sequence order. Empty while spooling, except after an overflow
     * (store_spool_overflow), when the spool moves it to the journal a
     * slice per loop iteration, and new events and failed ones it
     * renumbers wait behind it. */
    struct store_op *queue_head, *queue_tail;
    /* Freed ops without step state, linked by next_queued, for reuse: at
     * most STORE_FREE_OPS_MAX. */
    struct store_op *free_ops;
    size_t n_free_ops;
    size_t n_queued; /* at most opts.max_queued_events, see queue_op */
    size_t started; /* events started (sent or in a batch) and not finished */
    bool sending_queued; /* send_queued is on the stack */
    /* Opens and clicks from their start until they join a campaign batch,
     * oldest first, and those waiting to start behind an open's or a
     * click's plain commands, with their number and whether such an event
     * is undecided, per reader bucket (store_join.c). */
    struct store_op *join_head, *join_tail;
    bool joining; /* store_join's drain is on the stack */
    struct store_op *parked_head, *parked_tail;
    uint16_t parked[STORE_READER_BUCKETS];
    bool plain_pending[STORE_READER_BUCKETS];
    /* Checkouts whose read of a reader's touchpoints waits behind the
     * opens and clicks of that reader's bucket, oldest first. */
    struct store_op *reads_head, *reads_tail;

    /* Durability, see store_spool.c. */
    struct store_op *ops_head, *ops_tail; /* sent on the connection, oldest first */
    bool spooling;              /* new events go to the journal */
    struct journal *journal;    /* this writer's, opened on the first spool */
    struct journal *adopted[STORE_ADOPTED_MAX]; /* left by earlier runs */
    int n_adopted;
    struct store_op **failed;   /* failed live events waiting for the spool */
    size_t n_failed, failed_cap;
    struct event *spool_event;  /* runs store_spool_flush after hiredis callbacks */
    bool drop_requested;        /* store_spool_flush drops the connection first */
    struct event *tick;         /* timeouts, fsync everysec, replay restart */
    /* Journal records on their way, in journal order, with the cursor
     * after each and the records each one stands for (see journal_read). */
    struct store_op *window[STORE_REPLAY_WINDOW];
    uint64_t window_end[STORE_REPLAY_WINDOW];
    uint64_t window_frames[STORE_REPLAY_WINDOW];
    int window_len, window_done;
    bool window_starting;
    struct journal *replay_source;
    int replay_attempts;        /* failed attempts of the first record */
    uint64_t touch_sent_max;    /* highest touch_seq sent with this store's writer */
    int64_t last_sync_ms;
};

/* Why an event's write failed, which decides whether it may be retried
 * with the same campaign sequence number. */
enum store_failure {
    STORE_FAIL_PERMANENT = 0, /* an error that a retry will meet again */
    STORE_FAIL_LOST,          /* no reply: not sent, connection lost, timeout */
    STORE_FAIL_TRANSIENT,     /* LOADING, BUSY, OOM, READONLY and the like */
};

/* The state an identify or a checkout carries between its commands. It
 * is allocated apart from struct store_op because opens and clicks come
 * in bursts and wait in the queue: each takes about 600 bytes there, and
 * this state would add 840 more. */
struct step_state {
    /* Checkout: identifier lookups and reader candidates still to do,
     * and the decision record being built. Identify: the step reached. */
    int step;
    uint8_t candidates[3][TOKEN_READER_LEN];
    enum attr_path candidate_paths[3];
    int n_candidates;
    int next_candidate;
    struct decision_record record;
    char *record_json; /* the record CAMPAIGN_CONVERT stores, as JSON */
    /* Checkout: early refunds ORDER_CLAIM applied, [[field, amount], ...],
     * still to send to the campaign after CAMPAIGN_CONVERT; or NULL. */
    json_t *early_refunds;
    json_t *journey;   /* touchpoints read for the recent-conversions entry */
    /* An identity link waiting for READER_LINK (store_link_send). */
    struct {
        uint8_t id[TOKEN_READER_LEN];
        uint8_t reader[TOKEN_READER_LEN];
        bool is_device;
        redisCallbackFn *done;
    } link;
};

/* One event on its way to Redis; owned by the store until op_finish. */
struct store_op {
    struct store *st;
    struct store_op *prev, *next; /* in st's ops list while sent */
    struct event ev;
    uint8_t writer[EVENT_WRITER_LEN]; /* of the event id, not always st's */
    char writer_hex[17];
    uint64_t seq;
    uint8_t touch_writer[EVENT_WRITER_LEN]; /* sent with CAMPAIGN_TOUCH, */
    char touch_writer_hex[17];              /* see event_codec.h */
    uint64_t touch_seq;
    char event_id[40]; /* "<writer>-<seq>" */
    bool replay;        /* read from a journal, not submitted live */
    bool succeeded;     /* replay: the outcome, kept for the window */
    bool touch_pending; /* CAMPAIGN_TOUCH sent and no reply yet */
    /* Replay: touch_seq of the previous record of the same writer and
     * campaign in the window, which must be applied first; 0 for none. */
    uint64_t touch_pred;
    enum store_failure failure;
    int64_t sent_ms;    /* monotonic, when its first command was sent */
    unsigned unique_mask;
    /* Open or click: times of the reader's clicks, then opens, that
     * READER_TOUCH moved from human to this event's verdict (burst or
     * honeypot). The first n_moved_clicks are clicks. */
    uint32_t moved[STORE_MOVED_MAX];
    int n_moved;
    int n_moved_clicks;
    /* The step state of an identify or a checkout. NULL for other kinds. */
    struct step_state *steps;
    struct store_op *next_queued; /* in the store's queue */
    bool started; /* counted in store.started */
    /* Opens and clicks, store_join.c: the links in st's join list and
     * parked list, whether the op is in them, and whether its reader step
     * is done. */
    struct store_op *join_prev, *join_next;
    struct store_op *park_next;
    bool in_join;
    bool parked;
    bool reader_done;
    /* An open's or a click's plain commands (store_open.c,
     * store_click.c): sent and not decided yet, failed, and whether the
     * ZADD moved the open's time or was sent for the click. */
    bool plain_pending;
    bool plain_failed;
    bool plain_updated;
    /* An open's ZADD went out alone: renewal_cache.h showed the keys
     * renewed in its period, and its reply decides. */
    bool plain_renewed;
    /* A click's plain commands (store_click.c): replies still due,
     * whether those that came allow the plain write, and whether ZCARD
     * showed more than max_touches members. */
    uint8_t plain_due;
    bool plain_enough;
    bool plain_oversized;
    /* A checkout waiting in st's reads list: the next one there, the
     * bucket it waits for and what sends its read (store_reader_read). */
    struct store_op *read_next;
    void (*read_send)(struct store_op *op);
    unsigned read_bucket;
    bool read_waiting;
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

/* Encodes a in RESP and queues it on st's connection; the reply goes to
 * cb with privdata. Returns -1, and cb never runs, when st is not
 * connected, memory ran out or hiredis rejected the command. */
int store_send_args(struct store *st, redisCallbackFn *cb, void *privdata,
                    const struct store_args *a);

/* Sends a command for op; the reply goes to cb. On failure to send, ends
 * op as failed and returns -1. */
int store_send(struct store_op *op, redisCallbackFn *cb, struct store_args *a);

/* Returns a zeroed op of st for an event of kind, with step state for an
 * identify or a checkout, or NULL when memory runs out. */
struct store_op *store_op_alloc(struct store *st, enum event_kind kind);
/* Frees op and its step state, or keeps op for reuse by store_op_alloc.
 * op may be NULL. */
void store_op_free(struct store_op *op);
/* Ends op: counts it as written and frees it, or hands it to the spool
 * (a live event) or the replay (a journal record) when it failed. */
void store_op_finish(struct store_op *op, bool ok);

/* Counts one submitted event as settled (written or journaled) and calls
 * the drain callback when none is left. */
void store_event_done(struct store *st);

/* Tells whether reply is an error; logs it against op when it is. A NULL
 * reply means the connection was lost. */
bool store_reply_failed(struct store_op *op, const redisReply *reply,
                        const char *step);

/* Adds an open or a click whose reader step has replied (unique_mask,
 * verdict and moved times set) to its campaign's batch. The batch's reply
 * finishes op. Only store_join.c calls it, in the order the ops started. */
void store_batch_add(struct store_op *op);

/* Starts the reader step of an open or a click: puts it at the end of
 * st's join list and sends its commands, or parks it behind an undecided
 * open or click of its reader bucket. */
void store_reader_step_start(struct store_op *op);

/* Marks op's reader step done (unique_mask, verdict and moved times set).
 * Then hands every done op at the head of the join list to
 * store_batch_add, so that campaign batches get events in the order they
 * started, as CAMPAIGN_TOUCH's sequence check needs. */
void store_reader_done(struct store_op *op);

/* Takes op out of the join and parked lists; store_op_finish calls it
 * for every op. The ops behind it may then start or join their batches. */
void store_join_leave(struct store_op *op);

/* Calls send(op) once every open and click this loop started before it
 * for reader's bucket has gone to Redis with its whole reader step:
 * at once when none waits, else when the bucket's parked events start.
 * A checkout reads a reader's touchpoints through this, so the read
 * comes after every event its loop accepted before the checkout. */
void store_reader_read(struct store_op *op, const uint8_t *reader,
                       void (*send)(struct store_op *op));

/* Ends the plain step of op, an open or a click, once its replies have
 * decided. When they show the plain commands were its whole write
 * (whole_write), op finishes its reader step as READER_TOUCH would have:
 * no unique mask and no moved touches. Otherwise READER_TOUCH follows.
 * Either way the reader's parked events start after it. */
void store_plain_finish(struct store_op *op, bool whole_write);

/* Sends READER_TOUCH for an open or a click; store.c. Returns 0, or -1
 * when sending failed and op has been finished. */
int store_reader_touch_send(struct store_op *op);

/* Tells whether op, a click starting, may try the plain commands of
 * store_click.c before READER_TOUCH. */
bool store_click_plain_eligible(const struct store_op *op);

/* Sends a click's plain commands, which fall back on READER_TOUCH. */
void store_click_plain_send(struct store_op *op);

/* The keys and names a plain write of an open or a click uses. The
 * message mark "o|C|M" or "c|C|M" starts the member (mark_len bytes), and
 * the honeypot time of the message is the field "h|C|M". store_plain_names
 * fills the touchpoints key and the member, store_marks_hmget the marks
 * key and the honeypot field, which an open whose renewal is known never
 * sends. */
struct plain_names {
    char touches[SCHEMA_KEY_MAX];
    char marks[SCHEMA_KEY_MAX];
    char member[TOUCH_MEMBER_MAX];
    char honeypot[TOUCH_MEMBER_MAX];
    size_t touches_len, marks_len, member_len, mark_len;
};

/* Fills the touchpoints key and member of *n for op's touch, a click's
 * when is_click. */
void store_plain_names(const struct store_op *op, bool is_click, struct plain_names *n);

/* Fills the rest of *n and builds into *a HMGET of the reader's message
 * mark, honeypot time and renewal period. *a points into *n. */
void store_marks_hmget(const struct store_op *op, struct plain_names *n, struct store_args *a);

/* Returns true when the reply to HMGET of a reader's marks {message mark,
 * honeypot time, renewal period} allows op's plain write: the message
 * mark exists, no honeypot time lies within the honeypot window of a
 * person's event, and the keys were renewed in op's renewal period. A
 * renewal the reply shows goes into renewal_cache.h either way.
 * store_open.c and store_click.c share it. */
bool store_marks_allow_plain(const struct store_op *op, const redisReply *marks);

/* Tells whether op, an open starting, may try the plain commands of
 * store_open.c before READER_TOUCH. */
bool store_open_plain_eligible(const struct store_op *op);

/* Sends a repeated open's plain commands, which fall back on
 * store_reader_touch_send when the open needs the script. */
void store_open_plain_send(struct store_op *op);

/* Forgets the predecessors of the live campaign writes. Call only when no
 * campaign write can be in flight, that is on a new connection. */
void store_batch_preds_reset(struct store *st);

/* Sends every pending batch now. */
void store_batch_flush(struct store *st);

/* Ends the events of every unsent batch as failed (STORE_FAIL_LOST with no
 * campaign write sent), so the spool journals them with the rest. */
void store_batch_fail_pending(struct store *st);

/* Creates the flush event. Returns 0, or -1 when memory runs out. */
int store_batch_init(struct store *st);

/* Fails the events of unsent batches and frees the batches and the flush
 * event. Call after the connection is gone. */
void store_batch_free(struct store *st);

/* Sends queued live events while fewer than STORE_PIPELINE_MAX are
 * started; store.c. */
void store_send_queued(struct store *st);

/* Removes and returns the oldest queued live event, or NULL; store.c. */
struct store_op *store_queue_pop(struct store *st);

/* Appends op to the queue without starting anything; store.c. */
void store_queue_append(struct store_op *op);

/* Starts the checkout chain of store_checkout.c. */
void store_checkout_start(struct store_op *op);

/* Starts the identify chain of store_links.c. */
void store_identify_start(struct store_op *op);

/* Starts the refund chain of store_refund.c. */
void store_refund_start(struct store_op *op);

/* One refund to apply to a credited order's campaign; every string is
 * the caller's and only read during the call. */
struct store_campaign_refund {
    const char *campaign, *message, *shop, *order;
    const char *field;    /* "refund:KEY", the mark that makes it once */
    const char *amount;   /* minor units, decimal */
    const char *currency;
    bool verified;        /* the order was verified when the refund applied */
};

/* Sends CAMPAIGN_REFUND for r on op's behalf, in the hour of op's event;
 * the reply goes to cb. */
void store_campaign_refund_send(struct store_op *op,
                                const struct store_campaign_refund *r,
                                redisCallbackFn *cb);

/* Links the customer (is_device false) or device hash id to reader, for
 * op: READER_LINK first adds the link's key name to the reader's link set
 * (forget.h), then LINK_ADD links it. The LINK_ADD reply (the number of
 * readers linked) goes to cb, which store_link_check_shared helps; a failed
 * READER_LINK finishes op as failed and cb never runs. */
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
 * totals once per event (its own writer and sequence number). Call it as
 * op's first command, so a writer's counts reach Redis in sequence order.
 * The reply goes to cb, which checks it with store_reply_failed. */
void store_shop_count(struct store_op *op, const char *shop,
                      const char *const *fields, const long long *increments,
                      size_t n, redisCallbackFn *cb);

/* Reads the journey of a credited order (store_journey.c), then sends
 * CAMPAIGN_CONVERT through store_campaign_convert. */
void store_journey_start(struct store_op *op);

/* Sends CAMPAIGN_CONVERT for op's decision record (op->record_json) with
 * entry (JSON text) for the campaign's recent-conversions list. */
void store_campaign_convert(struct store_op *op, const char *entry);
/* Sends the first command of op by its kind; store.c. */
void store_op_start(struct store_op *op);

/* ---- store_spool.c ---- */

/* Sets up the spool and tick events. Returns 0, or -1 out of memory. */
int store_spool_init(struct store *st);

/* Takes a failed live event: it is written to the journal by the next
 * store_spool_flush, and the store spools new events until the journal
 * drains. */
void store_spool_failed(struct store_op *op);

/* Writes a new event to the journal while the store is spooling. */
void store_spool_submit(struct store_op *op);

/* Drops the connection if asked to, so no failed event's successor is
 * still on its way, then journals the failed events. Runs outside hiredis
 * callbacks only: from the spool event, or from store_submit. */
void store_spool_flush(struct store *st);

/* Starts spooling when the queue has reached max_queued_events, as after
 * a failure, and moves the queue to the journal over the next loop
 * iterations. */
void store_spool_overflow(struct store *st);

/* Records a replayed op's outcome; the window's last one settles them all. */
void store_replay_done(struct store_op *op, bool ok);

/* Starts replaying journal records if connected and idle. */
void store_replay_kick(struct store *st);

/* Drops the connection now (outside any hiredis callback): every op sent
 * on it fails with STORE_FAIL_LOST. */
void store_drop_connection(struct store *st);

/* Moves every failed event to the journal and closes the journals. */
void store_spool_close(struct store *st);

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t store_now_ms(void);

#endif
