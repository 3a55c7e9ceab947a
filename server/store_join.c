/*
 * store_join.c - the order of opens and clicks: per reader in the reader's
 * slot, also for the checkouts that read a reader's touchpoints, and per
 * writer in the campaign batches.
 *
 * When every open and click took one READER_TOUCH, sent as it started,
 * Redis ran a reader's events in the order tally accepted them, and the
 * replies came back in that order. A repeated open now sends two plain
 * commands (store_open.c), and a person's click three (store_click.c), and
 * when they cannot decide, READER_TOUCH follows a round trip later. Two
 * rules keep the old order:
 *
 * - Per reader: while an event's plain commands are undecided, later opens
 *   and clicks of a reader in the same bucket wait (parked). They start,
 *   oldest first and all with READER_TOUCH, once that event has finished
 *   or sent its own READER_TOUCH, so no event this loop took for the
 *   reader runs between an event's plain commands and its script. A
 *   reader's burst thus waits one round trip, and so does an event of
 *   another reader in the same bucket. Other loops and other tallyd
 *   instances have connections of their own. store_open.c and
 *   store_click.c describe how READER_TOUCH settles a click of theirs
 *   that runs between an event's commands. Identifies do not wait. A checkout's read of a
 *   reader's touchpoints waits while the reader's bucket has an undecided
 *   open or parked events, and goes out right after the parked events
 *   have started (store_reader_read). Without that wait, a click the loop
 *   had accepted could still be parked when the checkout read the
 *   reader's touchpoints, and the order would go to an older touch.
 *
 * - Per writer: CAMPAIGN_TOUCH skips an event at or below the highest
 *   sequence number applied for its writer (store_batch.c), so events must
 *   join their campaign batches in sequence order. Each open and click
 *   enters the join list when it starts, parked or not, and leaves it from
 *   the head once its reader step is done. An op that fails leaves from
 *   wherever it is. The spool gives it a new campaign identity when a
 *   later one may have been applied (store_spool.c).
 *
 * The three lists (join, parked, checkout reads) hold at most
 * STORE_PIPELINE_MAX ops each, so they are plain linked lists, and an op
 * is found in them by walking from the head.
 */
#include "store_internal.h"

static unsigned bucket_of(const uint8_t *reader)
{
    /* Reader ids are keyed hashes, so any two bytes are uniform. */
    return ((unsigned)reader[0] | (unsigned)reader[1] << 8) % STORE_READER_BUCKETS;
}

static unsigned reader_bucket(const struct store_op *op)
{
    return bucket_of(op->ev.u.touch.reader);
}

static bool bucket_busy(const struct store *st, unsigned bucket)
{
    return st->plain_pending[bucket] || st->parked[bucket] > 0;
}

/* ---- per reader --------------------------------------------------------- */

static void send_reader_step(struct store_op *op)
{
    bool open = store_open_plain_eligible(op);

    if (!open && !store_click_plain_eligible(op)) {
        store_reader_touch_send(op);
        return;
    }
    op->plain_pending = true;
    op->st->plain_pending[reader_bucket(op)] = true;
    if (open)
        store_open_plain_send(op);
    else
        store_click_plain_send(op);
}

static void park(struct store_op *op)
{
    struct store *st = op->st;

    op->park_next = NULL;
    if (st->parked_tail != NULL)
        st->parked_tail->park_next = op;
    else
        st->parked_head = op;
    st->parked_tail = op;
    op->parked = true;
    st->parked[reader_bucket(op)]++;
}

static void unpark(struct store_op *op)
{
    struct store *st = op->st;
    struct store_op *prev = NULL;

    for (struct store_op *o = st->parked_head; o != op; o = o->park_next)
        prev = o;
    if (prev != NULL)
        prev->park_next = op->park_next;
    else
        st->parked_head = op->park_next;
    if (st->parked_tail == op)
        st->parked_tail = prev;
    op->park_next = NULL;
    op->parked = false;
    st->parked[reader_bucket(op)]--;
}

/* ---- checkout reads ------------------------------------------------------ */

static void unlink_read(struct store_op *op)
{
    struct store *st = op->st;
    struct store_op *prev = NULL;

    for (struct store_op *o = st->reads_head; o != op; o = o->read_next)
        prev = o;
    if (prev != NULL)
        prev->read_next = op->read_next;
    else
        st->reads_head = op->read_next;
    if (st->reads_tail == op)
        st->reads_tail = prev;
    op->read_next = NULL;
    op->read_waiting = false;
}

void store_reader_read(struct store_op *op, const uint8_t *reader,
                       void (*send)(struct store_op *op))
{
    struct store *st = op->st;
    unsigned bucket = bucket_of(reader);

    if (!bucket_busy(st, bucket)) {
        send(op);
        return;
    }
    op->read_bucket = bucket;
    op->read_send = send;
    op->read_next = NULL;
    if (st->reads_tail != NULL)
        st->reads_tail->read_next = op;
    else
        st->reads_head = op;
    st->reads_tail = op;
    op->read_waiting = true;
}

/* Sends the waiting reads of bucket, oldest first. A send that fails
 * finishes its op, which can start other events, so each round looks
 * at the list and the bucket afresh. */
static void send_reads(struct store *st, unsigned bucket)
{
    while (!bucket_busy(st, bucket)) {
        struct store_op *op = st->reads_head;

        while (op != NULL && op->read_bucket != bucket)
            op = op->read_next;
        if (op == NULL)
            return;
        unlink_read(op);
        op->read_send(op);
    }
}

/* Starts the parked ops of bucket, oldest first, then the checkout reads
 * that waited for them. A start that fails finishes its op and may come
 * back here, so each round reads the state afresh from st. */
static void release(struct store *st, unsigned bucket)
{
    while (!st->plain_pending[bucket] && st->parked[bucket] > 0) {
        struct store_op *op = st->parked_head;

        while (reader_bucket(op) != bucket)
            op = op->park_next;
        unpark(op);
        /* READER_TOUCH, never plain commands: the whole bucket starts now,
         * so a reader's burst waits one round trip, not one per open, and
         * a start that fails cannot recurse through the next plain open. */
        store_reader_touch_send(op);
    }
    send_reads(st, bucket);
}

/* Marks op's plain commands decided and starts the ops parked behind it. */
static void plain_decided(struct store_op *op)
{
    unsigned bucket;

    if (!op->plain_pending)
        return;
    bucket = reader_bucket(op);
    op->plain_pending = false;
    op->st->plain_pending[bucket] = false;
    release(op->st, bucket);
}

void store_plain_finish(struct store_op *op, bool whole_write)
{
    if (!whole_write) {
        /* The script goes out before the parked events of the reader. A
         * send that fails has finished op, which decided it. */
        if (store_reader_touch_send(op) == 0)
            plain_decided(op);
        return;
    }
    op->unique_mask = 0;
    op->n_moved = 0;
    op->n_moved_clicks = 0;
    plain_decided(op);
    store_reader_done(op);
}

/* ---- per writer --------------------------------------------------------- */

static void unlink_join(struct store_op *op)
{
    struct store *st = op->st;

    if (op->join_prev != NULL)
        op->join_prev->join_next = op->join_next;
    else
        st->join_head = op->join_next;
    if (op->join_next != NULL)
        op->join_next->join_prev = op->join_prev;
    else
        st->join_tail = op->join_prev;
    op->join_prev = op->join_next = NULL;
    op->in_join = false;
}

/* store_batch_add can finish ops and so come back here. The flag keeps
 * one drain on the stack, which looks at the head again after each add. */
static void drain(struct store *st)
{
    if (st->joining)
        return;
    st->joining = true;
    while (st->join_head != NULL && st->join_head->reader_done) {
        struct store_op *op = st->join_head;

        unlink_join(op);
        store_batch_add(op);
    }
    st->joining = false;
}

void store_reader_step_start(struct store_op *op)
{
    struct store *st = op->st;
    unsigned bucket = reader_bucket(op);

    op->join_prev = st->join_tail;
    op->join_next = NULL;
    if (st->join_tail != NULL)
        st->join_tail->join_next = op;
    else
        st->join_head = op;
    st->join_tail = op;
    op->in_join = true;

    if (bucket_busy(st, bucket))
        park(op);
    else
        send_reader_step(op);
}

void store_reader_done(struct store_op *op)
{
    op->reader_done = true;
    drain(op->st);
}

void store_join_leave(struct store_op *op)
{
    if (op->read_waiting)
        unlink_read(op);
    if (op->parked)
        unpark(op);
    plain_decided(op);
    if (!op->in_join)
        return;
    unlink_join(op);
    drain(op->st);
}
