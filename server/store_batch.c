/*
 * store_batch.c - campaign counters of opens and clicks, written in batches.
 *
 * Once the reader step of an open or a click is done (READER_TOUCH, or a
 * repeated open's plain commands), the event joins the pending batch of
 * its campaign. The batches are sent STORE_BATCH_DELAY_US after the first
 * event joined (replays: at the end of the loop iteration), or earlier
 * when one is full or all of them together contain STORE_BATCH_HELD_MAX
 * events. One CAMPAIGN_TOUCH call
 * then counts every event of the batch, so the campaign side costs one
 * command for many events instead of one each. All keys of a batch are in the
 * campaign's slot, as before.
 *
 * Ordering: events join their batch in sequence order (store_join.c holds
 * back those whose reader step ended before an earlier one's), and
 * batches are sent in the order they are closed, so each campaign still receives a writer's events in
 * sequence order. CAMPAIGN_TOUCH checks every event's campaign identity
 * (touch_writer, touch_seq) against the highest sequence number applied
 * for that writer, so an event sent again, alone or in a batch of a
 * different make-up, counts once.
 *
 * Gaps: the high-water mark is only right if a writer's events reach a
 * campaign as a prefix of what it sent. Redis runs a connection's commands
 * in order, but an error reply breaks the prefix: a batch answered BUSY
 * (or OOM, LOADING, NOPERM) does nothing while the next one, arriving after
 * the script ended, is applied. If both replies are lost with the
 * connection, the first batch would be retried with sequence numbers below
 * the mark and skipped. So every event names its predecessor, the touch_seq
 * of the writer's previous event sent to the campaign on this connection,
 * and CAMPAIGN_TOUCH rejects a whole batch with a GAP error when a
 * predecessor has not been applied. A live event's predecessor comes from
 * a table per writer and campaign, kept until a reply shows its batch
 * settled and emptied on a new connection, because nothing sent before
 * can still be in flight then. A replayed record's predecessor is the
 * previous record of its writer and campaign in the replay window
 * (store_spool.c), since the journal lists every unsettled event in
 * sequence order and a window is sent only after the previous one
 * settled.
 *
 * Sums: a batch of live events (one writer's, none sent before) is
 * counted by CAMPAIGN_SUMS from the sums batch_sums.c adds up, one HINCRBY
 * per key and field, instead of CAMPAIGN_TOUCH reading every event. Such
 * a batch is applied whole or not at all, so checking its sequence range
 * and its first event's predecessor is the same check. Replayed records
 * go event by event, since a replay may find some of them applied.
 *
 * Failure: a batch that fails, is lost with its connection or is never
 * sent fails every event in it, each with the reason a single command
 * would have given it, and store_op_finish hands them to the spool (or
 * back to the replay), which orders them by touch_seq as it does single
 * events.
 */
#include "store_internal.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "batch_sums.h"
#include "classify.h"
#include "log.h"
#include "store_scripts.h"

/* Keys before the message and hour keys: totals, applied marks, links,
 * message id set. */
#define FIXED_KEYS 4
/* Arguments per event before its moved opens and clicks: writer, sequence
 * number, predecessor, counter, verdict, unique mask, message key, hour
 * key, message hour key, link field, number of moved ones. Each moved open
 * or click adds its counter, its hour key and its message hour key. */
#define EVENT_ARGS 11
#define MOVED_ARGS 3
/* Arguments of CAMPAIGN_SUMS before its message ids: retention, writer,
 * first and last sequence number, predecessor, events, messages. */
#define SUMS_ARGS 7

_Static_assert(FIXED_KEYS + STORE_BATCH_MESSAGES + STORE_BATCH_HOURS +
               STORE_BATCH_MESSAGE_HOURS <= BATCH_SUMS_KEYS,
               "batch_sums indexes every key of a batch");
_Static_assert(STORE_BATCH_EVENTS <= BATCH_SUMS_LINKS, "one link per event fits");

static bool same_hour(uint32_t a, uint32_t b)
{
    return a / 3600 == b / 3600;
}

/* Returns the index of the event's message among the batch's message keys,
 * or -1 when it is not among them yet. */
static int find_message(const struct campaign_batch *b, const char *message)
{
    for (size_t i = 0; i < b->n_messages; i++)
        if (strcmp(b->messages[i], message) == 0)
            return (int)i;
    return -1;
}

static int find_hour(const struct campaign_batch *b, uint32_t time)
{
    for (size_t i = 0; i < b->n_hours; i++)
        if (same_hour(b->hours[i], time))
            return (int)i;
    return -1;
}

/* Returns the index of the message hour key of message (an index into
 * b->messages) and time among b's message hour keys, or -1. */
static int find_message_hour(const struct campaign_batch *b, int message, uint32_t time)
{
    for (size_t i = 0; i < b->n_message_hours; i++)
        if (b->message_hours[i].message == message &&
            same_hour(b->hours[b->message_hours[i].hour], time))
            return (int)i;
    return -1;
}

/* Counts the hours of op (its own and those of its moved clicks) that
 * are not among b's hour keys yet, and in *new_pairs those that have no
 * message hour key for op's message yet. */
static size_t new_hours(const struct campaign_batch *b, const struct store_op *op,
                        size_t *new_pairs)
{
    int message = find_message(b, op->ev.u.touch.message);
    uint32_t seen[1 + STORE_MOVED_MAX];
    size_t n_seen = 0, n_new = 0;

    *new_pairs = 0;
    for (int i = -1; i < op->n_moved; i++) {
        uint32_t time = i < 0 ? op->ev.u.touch.time : op->moved[i];
        bool repeated = false;

        for (size_t k = 0; k < n_seen && !repeated; k++)
            repeated = same_hour(seen[k], time);
        if (repeated)
            continue;
        seen[n_seen++] = time;
        if (find_hour(b, time) < 0)
            n_new++;
        if (message < 0 || find_message_hour(b, message, time) < 0)
            (*new_pairs)++;
    }
    return n_new;
}

static bool batch_fits(const struct campaign_batch *b, const struct store_op *op)
{
    const struct event_touch *t = &op->ev.u.touch;
    size_t new_pairs;
    size_t n_new = new_hours(b, op, &new_pairs);

    return b->n_ops < STORE_BATCH_EVENTS &&
           (find_message(b, t->message) >= 0 || b->n_messages < STORE_BATCH_MESSAGES) &&
           b->n_hours + n_new <= STORE_BATCH_HOURS &&
           b->n_message_hours + new_pairs <= STORE_BATCH_MESSAGE_HOURS;
}

/* Adds the hour key of time and the message hour key of message (an index
 * into b->messages) and time, where b lacks them. */
static void add_hour(struct campaign_batch *b, int message, uint32_t time)
{
    int hour = find_hour(b, time);

    if (hour < 0) {
        hour = (int)b->n_hours;
        b->hours[b->n_hours++] = time;
    }
    if (find_message_hour(b, message, time) < 0) {
        b->message_hours[b->n_message_hours].message = (uint8_t)message;
        b->message_hours[b->n_message_hours].hour = (uint8_t)hour;
        b->n_message_hours++;
    }
}

/* Returns the predecessor entry of writer in campaign, or NULL. */
static struct touch_pred *pred_find(struct store *st, const uint8_t *writer,
                                    const char *campaign)
{
    for (size_t i = 0; i < st->n_preds; i++) {
        struct touch_pred *p = &st->preds[i];

        if (memcmp(p->writer, writer, EVENT_WRITER_LEN) == 0 &&
            strcmp(p->campaign, campaign) == 0)
            return p;
    }
    return NULL;
}

/* Counts the writers of b's live events that have no predecessor entry
 * yet. Replayed records take their predecessors from the window. */
static size_t preds_missing(struct store *st, const struct campaign_batch *b)
{
    size_t n = 0;

    for (size_t i = 0; i < b->n_ops; i++) {
        const uint8_t *writer = b->ops[i]->touch_writer;
        bool counted = b->ops[i]->replay || pred_find(st, writer, b->campaign) != NULL;

        for (size_t k = 0; k < i && !counted; k++)
            counted = memcmp(b->ops[k]->touch_writer, writer, EVENT_WRITER_LEN) == 0;
        if (!counted)
            n++;
    }
    return n;
}

/* Returns the touch_seq that the i-th event of b names as its predecessor.
 * A replayed record names the previous record of its writer and campaign
 * in the window, sent or not. A record that failed before its campaign
 * write keeps its identity for the retry, so no later record may be
 * applied past it.
 * A live event names the writer's previous event in b, else its last event
 * sent to the campaign, else 0 (none in flight, nothing to check). A live
 * event that failed before its campaign write gets a new identity instead
 * (store_spool.c). */
static uint64_t pred_of(struct store *st, const struct campaign_batch *b, size_t i)
{
    const uint8_t *writer = b->ops[i]->touch_writer;
    const struct touch_pred *p;

    if (b->ops[i]->replay)
        return b->ops[i]->touch_pred;

    for (size_t k = i; k-- > 0;)
        if (memcmp(b->ops[k]->touch_writer, writer, EVENT_WRITER_LEN) == 0)
            return b->ops[k]->touch_seq;
    p = pred_find(st, writer, b->campaign);
    return p != NULL ? p->seq : 0;
}

/* Records b's live events, now sent, as the predecessors of the next
 * ones. preds_missing has checked that the table has room. */
static void preds_record(struct store *st, const struct campaign_batch *b)
{
    for (size_t i = 0; i < b->n_ops; i++) {
        const struct store_op *op = b->ops[i];
        struct touch_pred *p;

        if (op->replay)
            continue;
        p = pred_find(st, op->touch_writer, b->campaign);

        if (p == NULL) {
            p = &st->preds[st->n_preds++];
            memcpy(p->writer, op->touch_writer, EVENT_WRITER_LEN);
            strcpy(p->campaign, b->campaign);
        }
        p->seq = op->touch_seq;
        p->sent_no = b->sent_no;
    }
}

/* Forgets the predecessors carried by batch sent_no or earlier, because
 * its reply applied them and every batch before it has a reply too. */
static void preds_settle(struct store *st, uint64_t sent_no)
{
    size_t kept = 0;

    for (size_t i = 0; i < st->n_preds; i++)
        if (st->preds[i].sent_no > sent_no)
            st->preds[kept++] = st->preds[i];
    st->n_preds = kept;
}

void store_batch_preds_reset(struct store *st)
{
    st->n_preds = 0;
}

static void batch_release(struct campaign_batch *b)
{
    struct store *st = b->st;

    b->next_free = st->free_batches;
    st->free_batches = b;
}

/* Ends every event of b as written or failed, in sequence order, and
 * releases b. The ops are copied out first: finishing one may start
 * others (a replay window, the queue), which may reuse b. */
static void batch_finish(struct campaign_batch *b, bool ok)
{
    struct store_op *ops[STORE_BATCH_EVENTS];
    size_t n = b->n_ops;

    memcpy(ops, b->ops, n * sizeof(ops[0]));
    b->n_ops = 0;
    batch_release(b);
    for (size_t i = 0; i < n; i++)
        store_op_finish(ops[i], ok);
}

/* Fails every event of b with the outcome store_reply_failed gave the
 * first one: whether the script may have run (touch_pending) and whether a
 * retry can succeed. Only the first event is logged. */
static void batch_fail(struct campaign_batch *b, const redisReply *reply)
{
    const struct store_op *first = b->ops[0];

    store_reply_failed(b->ops[0], reply, "campaign_touch");
    for (size_t i = 1; i < b->n_ops; i++) {
        b->ops[i]->failure = first->failure;
        b->ops[i]->touch_pending = first->touch_pending;
    }
    batch_finish(b, false);
}

/* Tells whether reply is CAMPAIGN_SUMS's rejection of a partly applied
 * batch. NOTE: no test reaches it through tallyd, because a live batch is
 * partly applied only if the ordering rules above break. */
static bool is_split(const redisReply *reply)
{
    return reply != NULL && reply->type == REDIS_REPLY_ERROR && reply->len >= 6 &&
           memcmp(reply->str, "SPLIT ", 6) == 0;
}

static void on_campaign_touch(redisAsyncContext *ac, void *r, void *privdata)
{
    struct campaign_batch *b = privdata;
    const redisReply *reply = r;

    (void)ac;
    if (is_split(reply)) {
        /* Some of the events were applied before: they must keep their
         * identities, as after a lost reply, so that the replay skips
         * them. */
        LOG_LIMITED(LOG_LEVEL_ERROR, "store.event_failed",
                    "step=campaign_sums campaign=%s events=%zu error=\"%.*s\"",
                    b->campaign, b->n_ops, (int)reply->len, reply->str);
        for (size_t i = 0; i < b->n_ops; i++)
            b->ops[i]->failure = STORE_FAIL_LOST;
        batch_finish(b, false);
        return;
    }
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        batch_fail(b, reply);
        return;
    }
    preds_settle(b->st, b->sent_no);
    for (size_t i = 0; i < b->n_ops; i++)
        b->ops[i]->touch_pending = false;
    batch_finish(b, true);
}

/* Returns the index in KEYS (from 1) of the hour key of time. */
static size_t hour_key(const struct campaign_batch *b, uint32_t time)
{
    return FIXED_KEYS + 1 + b->n_messages + (size_t)find_hour(b, time);
}

/* Returns the index in KEYS (from 1) of the message hour key of message
 * (an index into b->messages) and time. */
static size_t message_hour_key(const struct campaign_batch *b, int message, uint32_t time)
{
    return FIXED_KEYS + 1 + b->n_messages + b->n_hours +
           (size_t)find_message_hour(b, message, time);
}

static void encode_event(struct resp_buf *out, const struct campaign_batch *b,
                         size_t index)
{
    const struct store_op *op = b->ops[index];
    const struct event_touch *t = &op->ev.u.touch;
    bool is_click = op->ev.kind == EVENT_CLICK;
    int message = find_message(b, t->message);
    size_t message_key = FIXED_KEYS + 1 + (size_t)message;
    char link_field[TOKEN_ID_MAX + 1 + RESP_U64_MAX];
    size_t link_len = 0;

    if (is_click) {
        link_len = strlen(t->message);
        memcpy(link_field, t->message, link_len);
        link_field[link_len++] = ':';
        link_len += resp_u64_text(t->link, link_field + link_len);
    }

    resp_bulk(out, op->touch_writer_hex, 2 * EVENT_WRITER_LEN);
    resp_bulk_u64(out, op->touch_seq);
    resp_bulk_u64(out, pred_of(b->st, b, index));
    resp_bulk_str(out, is_click ? "clicks" : "opens");
    resp_bulk_str(out, verdict_name((enum verdict)t->verdict));
    resp_bulk_u64(out, op->unique_mask);
    resp_bulk_u64(out, message_key);
    resp_bulk_u64(out, hour_key(b, t->time));
    resp_bulk_u64(out, message_hour_key(b, message, t->time));
    resp_bulk(out, link_field, link_len);
    resp_bulk_u64(out, (uint64_t)op->n_moved);
    for (int i = 0; i < op->n_moved; i++) {
        resp_bulk_str(out, i < op->n_moved_clicks ? "clicks" : "opens");
        resp_bulk_u64(out, hour_key(b, op->moved[i]));
        resp_bulk_u64(out, message_hour_key(b, message, op->moved[i]));
    }
}

/* Tells whether b contains live events of one writer only, which
 * CAMPAIGN_SUMS can count as a whole. Replayed records may come from
 * several writers and may have been applied in part, so they go one by
 * one. */
static bool batch_is_live(const struct campaign_batch *b)
{
    for (size_t i = 0; i < b->n_ops; i++)
        if (b->ops[i]->replay ||
            memcmp(b->ops[i]->touch_writer, b->ops[0]->touch_writer, EVENT_WRITER_LEN) != 0)
            return false;
    return true;
}

/* Adds the counts of b's event at index to s, as CAMPAIGN_TOUCH counts
 * one event. Returns -1 when s has no room for its link. */
static int sum_event(struct batch_sums *s, const struct campaign_batch *b, size_t index)
{
    const struct store_op *op = b->ops[index];
    const struct event_touch *t = &op->ev.u.touch;
    bool is_click = op->ev.kind == EVENT_CLICK;
    int message = find_message(b, t->message);
    size_t message_key = FIXED_KEYS + 1 + (size_t)message;
    enum sum_column verdict = (enum sum_column)(SUM_VERDICT + t->verdict);
    size_t keys[4] = {1, message_key, hour_key(b, t->time),
                      message_hour_key(b, message, t->time)};

    for (size_t k = 0; k < 4; k++) {
        batch_sums_add(s, keys[k], is_click, SUM_TOTAL, 1);
        batch_sums_add(s, keys[k], is_click, verdict, 1);
    }
    if (op->unique_mask & 1)
        batch_sums_add(s, 1, is_click, SUM_UNIQUE, 1);
    if (op->unique_mask >= 2)
        batch_sums_add(s, message_key, is_click, SUM_UNIQUE, 1);

    /* A moved open or click leaves kind:human for kind:<verdict>. */
    for (int i = 0; i < op->n_moved; i++) {
        bool moved_click = i < op->n_moved_clicks;
        enum sum_column human = (enum sum_column)(SUM_VERDICT + VERDICT_HUMAN);

        keys[2] = hour_key(b, op->moved[i]);
        keys[3] = message_hour_key(b, message, op->moved[i]);
        for (size_t k = 0; k < 4; k++) {
            batch_sums_add(s, keys[k], moved_click, human, -1);
            batch_sums_add(s, keys[k], moved_click, verdict, 1);
        }
    }
    return is_click ? batch_sums_add_link(s, t->message, t->link) : 0;
}

/* Adds up the counts of b's events into st->sums. Returns -1 when they do
 * not fit, and b goes one event at a time instead. */
static int sum_batch(struct store *st, const struct campaign_batch *b)
{
    batch_sums_reset(st->sums);
    for (size_t i = 0; i < b->n_ops; i++)
        if (sum_event(st->sums, b, i) != 0)
            return -1;
    return 0;
}

/* Counts the arguments of b's events. */
static size_t event_args(const struct campaign_batch *b)
{
    size_t n = 0;

    for (size_t i = 0; i < b->n_ops; i++)
        n += EVENT_ARGS + MOVED_ARGS * (size_t)b->ops[i]->n_moved;
    return n;
}

/* Marks b's events as possibly applied from now on, and raises the store's
 * highest sent touch_seq, which store_spool.c uses to renumber events
 * whose campaign write certainly did not run. */
static void mark_sent(struct campaign_batch *b)
{
    struct store *st = b->st;

    for (size_t i = 0; i < b->n_ops; i++) {
        struct store_op *op = b->ops[i];

        if (memcmp(op->touch_writer, st->writer_bytes, EVENT_WRITER_LEN) == 0 &&
            op->touch_seq > st->touch_sent_max)
            st->touch_sent_max = op->touch_seq;
        op->touch_pending = true;
    }
}

/* Fails the events of a batch that was never handed to hiredis. */
static void fail_unsent(struct campaign_batch *b)
{
    for (size_t i = 0; i < b->n_ops; i++)
        b->ops[i]->failure = STORE_FAIL_LOST;
    batch_finish(b, false);
}

/* Removes b from the pending batches and sends it. */
/* Takes the batch at index of st->batches out of the unsent ones. */
static void batch_detach(struct store *st, size_t index)
{
    st->held_events -= st->batches[index]->n_ops;
    st->batches[index] = st->batches[--st->n_batches];
}

static void batch_send(struct campaign_batch *b)
{
    struct store *st = b->st;
    struct resp_buf *out = &st->resp;
    size_t n_keys = FIXED_KEYS + b->n_messages + b->n_hours + b->n_message_hours;
    char key[SCHEMA_KEY_MAX];
    bool summed;

    for (size_t i = 0; i < st->n_batches; i++) {
        if (st->batches[i] == b) {
            batch_detach(st, i);
            break;
        }
    }

    /* Without room to remember its predecessors, a batch is failed
     * unsent: the spool that follows starts a new connection, which
     * empties the table. */
    if (st->n_preds + preds_missing(st, b) > STORE_PREDS_MAX) {
        LOG_LIMITED(LOG_LEVEL_WARN, "store.event_failed",
                    "step=campaign_touch campaign=%s events=%zu "
                    "error=\"too many campaigns in flight\"", b->campaign, b->n_ops);
        fail_unsent(b);
        return;
    }

    /* A few events are shorter event by event: an open takes 11 arguments
     * there and about 30 as sums. One or two events are never shorter
     * summed (an event adds at least 8 sums), so they skip the summing. */
    summed = b->n_ops > 2 && batch_is_live(b) && sum_batch(st, b) == 0 &&
             3 * batch_sums_triples(st->sums) < event_args(b);
    resp_reset(out);
    if (summed) {
        resp_array(out, 3 + n_keys + SUMS_ARGS + b->n_messages +
                            3 * batch_sums_triples(st->sums));
        resp_bulk_str(out, "EVALSHA");
        resp_bulk_str(out, store_script_sha(SCRIPT_CAMPAIGN_SUMS));
    } else {
        resp_array(out, 3 + n_keys + 2 + b->n_messages + event_args(b));
        resp_bulk_str(out, "EVALSHA");
        resp_bulk_str(out, store_script_sha(SCRIPT_CAMPAIGN_TOUCH));
    }
    resp_bulk_u64(out, n_keys);
    resp_bulk(out, key, schema_campaign(key, b->campaign));
    resp_bulk(out, key, schema_applied(key, b->campaign));
    resp_bulk(out, key, schema_links(key, b->campaign));
    resp_bulk(out, key, schema_message_set(key, b->campaign));
    for (size_t i = 0; i < b->n_messages; i++)
        resp_bulk(out, key, schema_message(key, b->campaign, b->messages[i]));
    for (size_t i = 0; i < b->n_hours; i++)
        resp_bulk(out, key, schema_hour(key, b->campaign, b->hours[i]));
    for (size_t i = 0; i < b->n_message_hours; i++)
        resp_bulk(out, key, schema_message_hour(key, b->campaign,
                                                b->messages[b->message_hours[i].message],
                                                b->hours[b->message_hours[i].hour]));
    resp_bulk_u64(out, st->opts.campaign_retention_s);
    if (summed) {
        resp_bulk(out, b->ops[0]->touch_writer_hex, 2 * EVENT_WRITER_LEN);
        resp_bulk_u64(out, b->ops[0]->touch_seq);
        resp_bulk_u64(out, b->ops[b->n_ops - 1]->touch_seq);
        resp_bulk_u64(out, pred_of(st, b, 0));
        resp_bulk_u64(out, b->n_ops);
    }
    resp_bulk_u64(out, b->n_messages);
    for (size_t i = 0; i < b->n_messages; i++)
        resp_bulk_str(out, b->messages[i]);
    if (summed)
        batch_sums_encode(st->sums, 3, out);
    else
        for (size_t i = 0; i < b->n_ops; i++)
            encode_event(out, b, i);

    /* Not sent: no event of b can have been applied, so touch_pending
     * stays false and the spool may renumber them. */
    if (st->ac == NULL || out->failed ||
        redisAsyncFormattedCommand(st->ac, on_campaign_touch, b, out->data,
                                   out->len) != REDIS_OK) {
        LOG_LIMITED(LOG_LEVEL_WARN, "store.event_failed",
                    "step=campaign_touch campaign=%s events=%zu "
                    "error=\"not connected to redis\"", b->campaign, b->n_ops);
        fail_unsent(b);
        return;
    }
    b->sent_no = ++st->batches_sent;
    preds_record(st, b);
    mark_sent(b);
}

void store_batch_flush(struct store *st)
{
    while (st->n_batches > 0)
        batch_send(st->batches[0]);
}

void store_batch_fail_pending(struct store *st)
{
    while (st->n_batches > 0) {
        struct campaign_batch *b = st->batches[0];

        batch_detach(st, 0);
        fail_unsent(b);
    }
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    struct store *st = arg;

    (void)fd;
    (void)what;
    st->flush_scheduled = false;
    st->flush_delayed = false;
    store_batch_flush(st);
}

/* Live events wait STORE_BATCH_DELAY_US for more of their campaign. A
 * replayed record goes at the end of this loop iteration, because the
 * next replay window waits for this one's reply (store_spool.c), and a
 * delay would slow a replay down to one window per delay. */
static void schedule_flush(struct store *st, bool at_once)
{
    static const struct timeval delay = {0, STORE_BATCH_DELAY_US};

    if (st->flush_scheduled && (!at_once || !st->flush_delayed))
        return;
    if (st->flush_scheduled)
        event_del(st->flush_event);
    if (at_once)
        event_active(st->flush_event, 0, 0);
    else
        event_add(st->flush_event, &delay);
    st->flush_scheduled = true;
    st->flush_delayed = !at_once;
}

static struct campaign_batch *batch_open(struct store *st, const char *campaign)
{
    struct campaign_batch *b = st->free_batches;

    if (b != NULL)
        st->free_batches = b->next_free;
    else
        b = malloc(sizeof(*b));
    if (b == NULL)
        return NULL;
    b->st = st;
    strcpy(b->campaign, campaign);
    b->n_ops = 0;
    b->n_messages = 0;
    b->n_hours = 0;
    b->n_message_hours = 0;
    st->batches[st->n_batches++] = b;
    return b;
}

/* Tells whether st's connection can still take commands. While hiredis
 * fails the callbacks of a lost connection, ac is still set. */
static bool connected(const struct store *st)
{
    return st->ac != NULL &&
           (st->ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING)) == 0;
}

void store_batch_add(struct store_op *op)
{
    struct store *st = op->st;
    const struct event_touch *t = &op->ev.u.touch;
    struct campaign_batch *b = NULL;
    int message;

    /* An op whose reader step ends while the connection goes down fails
     * with the events in flight, as one in an unsent batch does. A batch
     * opened now would fail only at its flush, after the spool journaled
     * the rest, and so behind later events of an overflow's queue. */
    if (!connected(st)) {
        op->failure = STORE_FAIL_LOST;
        store_op_finish(op, false);
        return;
    }

    for (size_t i = 0; i < st->n_batches && b == NULL; i++)
        if (strcmp(st->batches[i]->campaign, t->campaign) == 0)
            b = st->batches[i];
    if (b != NULL && !batch_fits(b, op)) {
        batch_send(b);
        b = NULL;
    }
    if (b == NULL) {
        if (st->n_batches == STORE_BATCH_CAMPAIGNS)
            store_batch_flush(st);
        b = batch_open(st, t->campaign);
        if (b == NULL) {
            LOG_LIMITED(LOG_LEVEL_ERROR, "store.event_failed",
                        "step=campaign_touch event=%s error=\"out of memory\"",
                        op->event_id);
            store_op_finish(op, false);
            return;
        }
    }

    b->ops[b->n_ops++] = op;
    st->held_events++;
    message = find_message(b, t->message);
    if (message < 0) {
        message = (int)b->n_messages;
        b->messages[b->n_messages++] = t->message;
    }
    add_hour(b, message, t->time);
    for (int i = 0; i < op->n_moved; i++)
        add_hour(b, message, op->moved[i]);

    schedule_flush(st, op->replay || st->held_events >= STORE_BATCH_HELD_MAX);
}

int store_batch_init(struct store *st)
{
    st->flush_event = event_new(st->base, -1, 0, on_flush, st);
    st->preds = malloc(STORE_PREDS_MAX * sizeof(st->preds[0]));
    st->n_preds = 0;
    st->sums = calloc(1, sizeof(*st->sums));
    return st->flush_event != NULL && st->preds != NULL && st->sums != NULL ? 0 : -1;
}

void store_batch_free(struct store *st)
{
    struct campaign_batch *b;

    /* Batches not sent yet go to the spool with the events in flight. */
    store_batch_fail_pending(st);
    while ((b = st->free_batches) != NULL) {
        st->free_batches = b->next_free;
        free(b);
    }
    if (st->flush_event != NULL)
        event_free(st->flush_event);
    st->flush_event = NULL;
    free(st->preds);
    st->preds = NULL;
    free(st->sums);
    st->sums = NULL;
}
