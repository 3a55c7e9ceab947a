/*
 * store_spool.c - the journal side of a store: spooling failed and new
 * events, replaying them in order, and noticing a Redis that stopped
 * answering.
 *
 * CAMPAIGN_TOUCH skips an event whose sequence number is at or below the
 * highest one applied for its writer, which is only right while a writer's
 * campaign writes reach Redis in sequence order. So once a live event
 * fails, the store spools: it drops the connection (every event still on
 * it fails at once), writes the failed events to its journal in sequence
 * order, and journals every new event behind them. Replay sends a window
 * of records at once, each through the same code as a live event, consumes
 * the records up to the first one that failed, and starts over from there.
 * The store writes directly again only when its journal is empty.
 *
 * An event whose CAMPAIGN_TOUCH certainly did not run (never sent, or
 * answered with an error) while a later one of the same writer may have
 * run gets a new campaign identity: this store's writer and a sequence
 * number above every one it sent so far. Its event id stays, so
 * READER_TOUCH and ORDER_CLAIM still recognise it. An event whose campaign
 * write may have run keeps its identity, and the high-water mark then
 * skips it if it did.
 */
#include "store_internal.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ident.h"
#include "log.h"

#define TICK_MIN_MS 10
#define TICK_MAX_MS 250
#define FSYNC_EVERYSEC_MS 1000
/* Attempts of a journal record that Redis rejects with a non-transient
 * error before it is given up and counted in journal_skipped. */
#define REPLAY_PERMANENT_ATTEMPTS 3
/* At most this many queued events go to the journal per loop iteration
 * after an overflow, about 4 ms of writes. Moving 262,144 at once held
 * the loop for about 250 ms. */
#define OVERFLOW_SLICE_MAX 4096

static void on_spool(evutil_socket_t fd, short what, void *arg);
static void on_tick(evutil_socket_t fd, short what, void *arg);

int64_t store_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int store_spool_init(struct store *st)
{
    int timeout = st->opts.redis_timeout_ms;
    int tick_ms = timeout / 4 < TICK_MIN_MS ? TICK_MIN_MS
                  : timeout / 4 > TICK_MAX_MS ? TICK_MAX_MS
                                              : timeout / 4;
    struct timeval interval = {tick_ms / 1000, (tick_ms % 1000) * 1000};

    st->spool_event = event_new(st->base, -1, 0, on_spool, st);
    st->tick = event_new(st->base, -1, EV_PERSIST, on_tick, st);
    if (st->spool_event == NULL || st->tick == NULL)
        return -1;
    st->last_sync_ms = store_now_ms();
    return event_add(st->tick, &interval);
}

static void update_journal_bytes(struct store *st)
{
    uint64_t bytes = st->journal != NULL ? journal_size(st->journal) : 0;

    for (int i = 0; i < st->n_adopted; i++)
        bytes += journal_size(st->adopted[i]);
    STAT_SET(st->stats.journal_bytes, bytes);
}

static void set_spooling(struct store *st, bool on)
{
    st->spooling = on;
    STAT_SET(st->stats.spooling, on);
}

/* Opens this writer's journal on first use. */
static struct journal *own_journal(struct store *st)
{
    char path[1200];
    char err[1400];

    if (st->journal != NULL)
        return st->journal;
    snprintf(path, sizeof(path), "%s/%s%s", st->opts.state_dir, st->writer,
             JOURNAL_SUFFIX);
    st->journal = journal_open(path, st->opts.journal_fsync, st->opts.journal_max_bytes,
                               err, sizeof(err));
    if (st->journal == NULL) {
        LOG_LIMITED(LOG_LEVEL_ERROR, "journal.open_failed", "error=\"%s\"", err);
        return NULL;
    }
    LOG_NOTICE("journal.opened", "path=%s writer=%s", path, st->writer);
    return st->journal;
}

/* Writes op to the journal, or counts it lost, and frees it. */
static void journal_op(struct store *st, struct store_op *op)
{
    struct event_record rec;
    struct journal *j = own_journal(st);
    enum journal_result result = JOURNAL_IO_ERROR;

    memset(&rec, 0, sizeof(rec));
    memcpy(rec.writer, op->writer, EVENT_WRITER_LEN);
    rec.seq = op->seq;
    memcpy(rec.touch_writer, op->touch_writer, EVENT_WRITER_LEN);
    rec.touch_seq = op->touch_seq;
    rec.ev = op->ev;
    if (j != NULL)
        result = journal_append(j, &rec);

    if (result == JOURNAL_OK || result == JOURNAL_NOT_SYNCED) {
        /* A record not synced was logged as journal.fsync_failed. */
        STAT_ADD(st->stats.journaled, 1);
    } else {
        /* Answered already, so the reader saw nothing; the count is lost. */
        STAT_ADD(st->stats.journal_dropped, 1);
        STAT_ADD(st->stats.failed, 1);
        LOG_LIMITED(LOG_LEVEL_ERROR, "journal.event_dropped", "event=%s reason=\"%s\"",
                    op->event_id,
                    result == JOURNAL_FULL ? "journal_max_size reached"
                    : result == JOURNAL_INVALID ? "event does not encode"
                                                : "journal not writable");
    }
    store_op_free(op);
    store_event_done(st);
}

static void push_failed(struct store *st, struct store_op *op)
{
    if (st->n_failed == st->failed_cap) {
        size_t cap = st->failed_cap == 0 ? 64 : st->failed_cap * 2;
        struct store_op **grown = realloc(st->failed, cap * sizeof(*grown));

        if (grown == NULL) {
            LOG_LIMITED(LOG_LEVEL_ERROR, "journal.event_dropped",
                        "event=%s reason=\"out of memory\"", op->event_id);
            STAT_ADD(st->stats.journal_dropped, 1);
            STAT_ADD(st->stats.failed, 1);
            store_op_free(op);
            store_event_done(st);
            return;
        }
        st->failed = grown;
        st->failed_cap = cap;
    }
    st->failed[st->n_failed++] = op;
}

void store_spool_failed(struct store_op *op)
{
    struct store *st = op->st;
    struct store_op *queued;
    size_t n_queued = 0;
    /* Only an overflow leaves a queue while spooling. */
    bool overflowed = st->spooling && st->queue_head != NULL;

    if (!st->spooling)
        LOG_WARN("store.spooling", "writer=%s first_event=%s", st->writer, op->event_id);
    set_spooling(st, true);
    push_failed(st, op);

    /* Queued live events were never started; they follow op to the
     * journal, where write_failed sorts them in by touch_seq. After an
     * overflow the queue stays, and journal_queue_slice moves it behind
     * the failed events, whose sequence numbers are all lower except those
     * write_failed renumbers, which it appends to the queue. */
    while (!overflowed && (queued = store_queue_pop(st)) != NULL) {
        push_failed(st, queued);
        n_queued++;
    }
    if (n_queued > 0)
        LOG_WARN("store.queue_spooled", "writer=%s events=%zu", st->writer, n_queued);
    st->drop_requested = true;
    event_active(st->spool_event, 0, 0);
}

/*
 * As after a failure, the connection is dropped, so the events in flight
 * fail and go to the journal first. The queue follows them a slice per
 * loop iteration (journal_queue_slice), and new events wait behind it
 * (store_spool_submit), so the journal keeps sequence order. Replay
 * starts once the queue is empty.
 */
void store_spool_overflow(struct store *st)
{
    LOG_WARN("store.queue_full", "writer=%s events=%zu max_queued_events=%zu "
             "hint=\"Redis applies events slower than they arrive; the journal "
             "takes them until it catches up\"",
             st->writer, st->n_queued, st->opts.max_queued_events);
    set_spooling(st, true);
    st->drop_requested = true;
    event_active(st->spool_event, 0, 0);
}

/* Journals the oldest queued events, a sixteenth of max_queued_events and
 * at most OVERFLOW_SLICE_MAX, and runs the spool again while some are
 * left. The next slice waits for a timer of 0 s rather than event_active,
 * because libevent runs an event activated from a callback in the same
 * pass, before polling the sockets again. */
static void journal_queue_slice(struct store *st)
{
    static const struct timeval next_turn = {0, 0};
    size_t n = st->opts.max_queued_events / 16;
    struct store_op *op;

    if (n < 1)
        n = 1;
    if (n > OVERFLOW_SLICE_MAX)
        n = OVERFLOW_SLICE_MAX;
    while (n-- > 0 && (op = store_queue_pop(st)) != NULL)
        journal_op(st, op);
    update_journal_bytes(st);
    if (st->queue_head != NULL)
        event_add(st->spool_event, &next_turn);
}

void store_spool_submit(struct store_op *op)
{
    struct store *st = op->st;

    /* Behind a queue that an overflow left, which the spool journals. */
    if (st->queue_head != NULL) {
        store_queue_append(op);
        return;
    }
    /* Behind failed events not yet journaled, the flush sorts it in. */
    if (st->n_failed > 0) {
        push_failed(st, op);
        return;
    }
    journal_op(st, op);
    update_journal_bytes(st);
}

static int by_touch_seq(const void *a, const void *b)
{
    const struct store_op *x = *(struct store_op *const *)a;
    const struct store_op *y = *(struct store_op *const *)b;

    return x->touch_seq < y->touch_seq ? -1 : x->touch_seq > y->touch_seq;
}

static bool is_touch(const struct store_op *op)
{
    return op->ev.kind == EVENT_OPEN || op->ev.kind == EVENT_CLICK;
}

/* Journals the failed events in campaign sequence order, renumbering those
 * whose campaign write certainly did not run (see the top of the file). */
static void write_failed(struct store *st)
{
    size_t n = st->n_failed;
    uint64_t first_new = st->next_seq;

    if (n == 0)
        return;
    qsort(st->failed, n, sizeof(st->failed[0]), by_touch_seq);
    for (size_t i = 0; i < n; i++) {
        struct store_op *op = st->failed[i];

        if (is_touch(op) && !op->touch_pending && op->touch_seq <= st->touch_sent_max) {
            memcpy(op->touch_writer, st->writer_bytes, EVENT_WRITER_LEN);
            strcpy(op->touch_writer_hex, st->writer);
            op->touch_seq = st->next_seq++;
        }
    }
    qsort(st->failed, n, sizeof(st->failed[0]), by_touch_seq);

    /* journal_op may call the drain callback, so the list is emptied
     * before the first write. A renumbered event comes after every queued
     * one. So while an overflow's queue waits for the journal, it joins the
     * end of that queue. Journaled now, it would be replayed before the
     * queued events, and the replay would skip them as applied. */
    st->n_failed = 0;
    for (size_t i = 0; i < n; i++) {
        struct store_op *op = st->failed[i];

        if (op->touch_seq >= first_new && st->queue_head != NULL)
            store_queue_append(op);
        else
            journal_op(st, op);
    }
    update_journal_bytes(st);
}

void store_spool_flush(struct store *st)
{
    if (st->drop_requested) {
        st->drop_requested = false;
        store_drop_connection(st);
    }
    write_failed(st);
    if (st->spooling && st->queue_head != NULL)
        journal_queue_slice(st);
    store_replay_kick(st);
}

static void on_spool(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    store_spool_flush(arg);
}

/* ---- replay ---------------------------------------------------------- */

/* Returns the journal to replay next, closing adopted ones that are done. */
static struct journal *next_source(struct store *st)
{
    while (st->n_adopted > 0) {
        struct journal *j = st->adopted[0];

        if (journal_pending(j) > 0)
            return j;
        LOG_NOTICE("journal.replayed", "path=%s", journal_path(j));
        journal_close(j, true);
        st->n_adopted--;
        memmove(st->adopted, st->adopted + 1, (size_t)st->n_adopted * sizeof(st->adopted[0]));
        update_journal_bytes(st);
    }
    if (st->journal != NULL && journal_pending(st->journal) > 0)
        return st->journal;
    return NULL;
}

/* Ends spooling once this writer's journal is empty and nothing failed
 * waits to be written. */
static void finish_spooling(struct store *st)
{
    if (!st->spooling || st->n_failed > 0)
        return;
    if (st->journal != NULL && journal_reset(st->journal) != 0)
        return;
    set_spooling(st, false);
    update_journal_bytes(st);
    LOG_NOTICE("store.journal_drained", "writer=%s", st->writer);
}

static struct store_op *op_from_record(struct store *st, const struct event_record *rec)
{
    struct store_op *op = store_op_alloc(st, rec->ev.kind);

    if (op == NULL)
        return NULL;
    op->replay = true;
    op->ev = rec->ev;
    memcpy(op->writer, rec->writer, EVENT_WRITER_LEN);
    ident_hex(rec->writer, EVENT_WRITER_LEN, op->writer_hex);
    op->seq = rec->seq;
    memcpy(op->touch_writer, rec->touch_writer, EVENT_WRITER_LEN);
    ident_hex(rec->touch_writer, EVENT_WRITER_LEN, op->touch_writer_hex);
    op->touch_seq = rec->touch_seq;
    snprintf(op->event_id, sizeof(op->event_id), "%s-%llu", op->writer_hex,
             (unsigned long long)op->seq);
    return op;
}

/* Reads up to a window of records from src. Undecodable records at the
 * front are consumed on the spot. Returns the number read. */
static int fill_window(struct store *st, struct journal *src)
{
    uint64_t cursor = journal_head(src);
    struct event_record rec;
    uint64_t frames;

    while (st->window_len < STORE_REPLAY_WINDOW) {
        int got = journal_read(src, &cursor, &rec, &frames);
        struct store_op *op;

        if (got <= 0) {
            if (got == 0 && st->window_len == 0 && frames > 0) {
                journal_consume_to(src, cursor, frames);
                STAT_ADD(st->stats.journal_skipped, frames);
                STAT_ADD(st->stats.failed, frames);
            }
            break;
        }
        op = op_from_record(st, &rec);
        if (op == NULL)
            break;
        st->window[st->window_len] = op;
        st->window_end[st->window_len] = cursor;
        st->window_frames[st->window_len] = frames;
        st->window_len++;
    }
    return st->window_len;
}

static void process_window(struct store *st);

/* Sets each touch record's touch_pred to the previous record of the same
 * writer and campaign in the window. Records before the window are all
 * settled, so the first of each pair names none. */
static void link_window_preds(struct store *st)
{
    for (int i = 0; i < st->window_len; i++) {
        struct store_op *op = st->window[i];

        op->touch_pred = 0;
        if (!is_touch(op))
            continue;
        for (int k = i - 1; k >= 0; k--) {
            const struct store_op *prev = st->window[k];

            if (is_touch(prev) &&
                memcmp(prev->touch_writer, op->touch_writer, EVENT_WRITER_LEN) == 0 &&
                strcmp(prev->ev.u.touch.campaign, op->ev.u.touch.campaign) == 0) {
                op->touch_pred = prev->touch_seq;
                break;
            }
        }
    }
}

void store_replay_kick(struct store *st)
{
    struct journal *src;

    if (st->window_len > 0 || st->ac == NULL || !st->stats.connected || st->closing ||
        st->n_failed > 0 || st->queue_head != NULL)
        return;

    while ((src = next_source(st)) != NULL && fill_window(st, src) == 0) {
        if (journal_pending(src) > 0)
            return; /* a read error, logged; the tick tries again */
    }
    if (src == NULL) {
        finish_spooling(st);
        return;
    }

    link_window_preds(st);
    st->replay_source = src;
    st->window_done = 0;
    st->window_starting = true;
    for (int i = 0; i < st->window_len; i++)
        store_op_start(st->window[i]);
    st->window_starting = false;
    if (st->window_done == st->window_len)
        process_window(st);
}

void store_replay_done(struct store_op *op, bool ok)
{
    struct store *st = op->st;

    op->succeeded = ok;
    st->window_done++;
    if (st->window_done == st->window_len && !st->window_starting)
        process_window(st);
}

/* Tells whether window[i] failed with an error reply before its campaign
 * write ran while a later record of the same campaign writer succeeded or
 * sent its campaign write (which may have run although its reply was
 * lost). That writer's high-water mark may then be above it for good, so
 * a retry with the same identity would be skipped. */
static bool is_shadowed(const struct store *st, int i)
{
    const struct store_op *op = st->window[i];

    if (!is_touch(op) || op->touch_pending || op->failure == STORE_FAIL_LOST)
        return false;
    for (int k = i + 1; k < st->window_len; k++) {
        const struct store_op *later = st->window[k];

        if ((later->succeeded || later->touch_pending) && is_touch(later) &&
            memcmp(later->touch_writer, op->touch_writer, EVENT_WRITER_LEN) == 0)
            return true;
    }
    return false;
}

/* Hands a shadowed record to the spool as a failed live event with no
 * campaign identity, so write_failed gives it a new one. */
static void renumber(struct store *st, struct store_op *op)
{
    LOG_LIMITED(LOG_LEVEL_NOTICE, "journal.event_renumbered", "event=%s", op->event_id);
    op->replay = false;
    op->touch_seq = 0;
    st->in_flight++;
    store_spool_failed(op);
}

/* Gives the first failed record up when Redis keeps rejecting it for a
 * reason other than being unavailable, so one bad record cannot block the
 * journal. */
static bool give_up(struct store *st, const struct store_op *op)
{
    if (op->failure != STORE_FAIL_PERMANENT ||
        st->replay_attempts < REPLAY_PERMANENT_ATTEMPTS)
        return false;
    LOG_ERROR("journal.record_skipped", "path=%s event=%s attempts=%d "
              "reason=\"rejected by redis\"", journal_path(st->replay_source),
              op->event_id, st->replay_attempts);
    STAT_ADD(st->stats.journal_skipped, 1);
    STAT_ADD(st->stats.failed, 1);
    return true;
}

/* Settles a finished window: consumes the records that were applied (or
 * renumbered) up to the first one that must be sent again, which is then
 * retried after a reconnect. Later records go again too, and the scripts
 * skip the ones already applied. */
static void process_window(struct store *st)
{
    struct journal *src = st->replay_source;
    uint64_t offset = journal_head(src);
    uint64_t frames = 0;
    int blocked = -1;
    bool retry = false;

    for (int i = 0; i < st->window_len; i++) {
        struct store_op *op = st->window[i];

        if (!op->succeeded && !is_shadowed(st, i)) {
            blocked = i;
            break;
        }
        if (op->succeeded)
            STAT_ADD(st->stats.replayed, 1);
        else {
            renumber(st, op);
            st->window[i] = NULL;
        }
        STAT_ADD(st->stats.journal_skipped, st->window_frames[i] - 1);
        offset = st->window_end[i];
        frames += st->window_frames[i];
    }

    if (blocked >= 0) {
        st->replay_attempts++;
        if (give_up(st, st->window[blocked])) {
            offset = st->window_end[blocked];
            frames += st->window_frames[blocked];
            st->replay_attempts = 0;
        } else {
            LOG_LIMITED(LOG_LEVEL_WARN, "journal.replay_failed", "event=%s attempt=%d",
                        st->window[blocked]->event_id, st->replay_attempts);
            retry = true;
        }
    } else {
        st->replay_attempts = 0;
    }
    journal_consume_to(src, offset, frames);

    for (int i = 0; i < st->window_len; i++)
        store_op_free(st->window[i]);
    st->window_len = 0;
    st->window_done = 0;

    if (retry) {
        /* Reconnect with backoff before the next attempt: that reloads the
         * scripts after NOSCRIPT and waits out LOADING or BUSY. */
        st->drop_requested = true;
        if (!st->closing)
            event_active(st->spool_event, 0, 0);
        return;
    }
    store_replay_kick(st);
}

/* ---- timeouts and fsync ---------------------------------------------- */

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct store *st = arg;
    int64_t now = store_now_ms();

    (void)fd;
    (void)what;
    if (st->ops_head != NULL && now - st->ops_head->sent_ms > st->opts.redis_timeout_ms) {
        /* hiredis has no command timeout: dropping the connection fails
         * every op on it over to the journal, and the scripts make a
         * second run of any that did reach Redis harmless. */
        LOG_WARN("redis.timeout", "writer=%s event=%s waited_ms=%lld", st->writer,
                 st->ops_head->event_id, (long long)(now - st->ops_head->sent_ms));
        STAT_ADD(st->stats.timeouts, 1);
        st->drop_requested = true;
        store_spool_flush(st);
    }

    if (st->opts.journal_fsync == JOURNAL_FSYNC_EVERYSEC &&
        now - st->last_sync_ms >= FSYNC_EVERYSEC_MS) {
        if (st->journal != NULL)
            journal_sync(st->journal);
        st->last_sync_ms = now;
    }
    store_replay_kick(st);
}

/* ---- adoption and shutdown ------------------------------------------- */

int store_adopt_journal(struct store *st, const char *path)
{
    struct journal *j;
    char err[1400];

    if (st->n_adopted >= STORE_ADOPTED_MAX) {
        LOG_WARN("journal.adopt_failed", "path=%s error=\"this loop already replays %d "
                 "journals; the file waits for the next start\"", path, STORE_ADOPTED_MAX);
        return -1;
    }
    /* The file is never appended to, so it gets no size limit. */
    j = journal_open(path, st->opts.journal_fsync, SIZE_MAX, err, sizeof(err));
    if (j == NULL) {
        LOG_WARN("journal.adopt_failed", "path=%s error=\"%s\"", path, err);
        return -1;
    }
    if (journal_pending(j) == 0) {
        journal_close(j, true);
        return 0;
    }
    LOG_NOTICE("journal.adopted", "path=%s records=%llu writer=%s", path,
               (unsigned long long)journal_pending(j), st->writer);
    st->adopted[st->n_adopted++] = j;
    update_journal_bytes(st);
    return 0;
}

void store_spool_close(struct store *st)
{
    write_failed(st);
    journal_close(st->journal, true);
    st->journal = NULL;
    for (int i = 0; i < st->n_adopted; i++)
        journal_close(st->adopted[i], true);
    st->n_adopted = 0;
    free(st->failed);
    st->failed = NULL;
    if (st->spool_event != NULL)
        event_free(st->spool_event);
    if (st->tick != NULL)
        event_free(st->tick);
}
