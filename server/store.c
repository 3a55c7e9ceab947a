/*
 * store.c - the Redis connection of one event loop, and the writes of opens
 * and clicks. Identifies, checkouts and refunds have their own files.
 *
 * An open or a click takes two steps: READER_TOUCH in the reader's slot,
 * whose reply reports whether it was the reader's first and gives the final
 * verdict (burst and honeypot are decided there), then CAMPAIGN_TOUCH in
 * the campaign's slot. A repeated open usually replaces the script with
 * two plain commands (store_open.c). Both steps are sent on this store's
 * one connection. The event joins its campaign's batch (store_batch.c)
 * once its reader step is done and every event started before it has
 * joined (store_join.c), so the campaign writes leave in sequence order,
 * which CAMPAIGN_TOUCH's replay check relies on.
 *
 * At most STORE_PIPELINE_MAX live events are started at once; the rest
 * wait in a FIFO queue, which store_spool_failed moves to the journal
 * when the store starts spooling.
 */
#include "store_internal.h"

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "ident.h"
#include "log.h"
#include "renewal_cache.h"
#include "reply_arena.h"
#include "resp.h"
#include "store_scripts.h"
#include "touch.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

static void connect_redis(struct store *st);

/* ---- command building ---------------------------------------------- */

void store_args_init(struct store_args *a)
{
    a->argc = 0;
}

void store_args_buf(struct store_args *a, const char *s, size_t len)
{
    if (a->argc >= STORE_ARGS_MAX)
        abort(); /* a programming error: the scripts take fewer */
    a->argv[a->argc] = s;
    a->lens[a->argc] = len;
    a->argc++;
}

void store_args_str(struct store_args *a, const char *s)
{
    store_args_buf(a, s, strlen(s));
}

void store_args_u64(struct store_args *a, uint64_t v)
{
    char *slot = a->text[a->argc];

    store_args_buf(a, slot, resp_u64_text(v, slot));
}

void store_args_i64(struct store_args *a, int64_t v)
{
    char *slot = a->text[a->argc];
    uint64_t magnitude = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    size_t sign = v < 0 ? 1 : 0;

    slot[0] = '-';
    store_args_buf(a, slot, sign + resp_u64_text(magnitude, slot + sign));
}

void store_args_evalsha(struct store_args *a, int script, int numkeys)
{
    store_args_str(a, "EVALSHA");
    store_args_str(a, store_script_sha((enum store_script)script));
    store_args_u64(a, (uint64_t)numkeys);
}

/* ---- op lifecycle -------------------------------------------------- */

static void unlink_op(struct store_op *op)
{
    struct store *st = op->st;

    if (op->prev != NULL)
        op->prev->next = op->next;
    else if (st->ops_head == op)
        st->ops_head = op->next;
    if (op->next != NULL)
        op->next->prev = op->prev;
    else if (st->ops_tail == op)
        st->ops_tail = op->prev;
    op->prev = op->next = NULL;
}

struct store_op *store_op_alloc(struct store *st, enum event_kind kind)
{
    struct store_op *op = st->free_ops;

    if (op != NULL) {
        st->free_ops = op->next_queued;
        st->n_free_ops--;
        memset(op, 0, sizeof(*op));
    } else {
        op = calloc(1, sizeof(*op));
        if (op == NULL)
            return NULL;
    }
    op->st = st;
    if (kind == EVENT_IDENTIFY || kind == EVENT_CHECKOUT) {
        op->steps = calloc(1, sizeof(*op->steps));
        if (op->steps == NULL) {
            free(op);
            return NULL;
        }
    }
    return op;
}

/* Drops what a checkout built from its replies. A failed checkout that is
 * replayed reads its journey again. */
static void clear_steps(struct step_state *steps)
{
    json_decref(steps->journey);
    steps->journey = NULL;
    free(steps->record_json);
    steps->record_json = NULL;
    json_decref(steps->early_refunds);
    steps->early_refunds = NULL;
}

void store_op_free(struct store_op *op)
{
    if (op == NULL)
        return;
    if (op->steps != NULL) {
        clear_steps(op->steps);
        free(op->steps);
        free(op);
        return;
    }
#if STORE_FREE_OPS_MAX > 0
    if (op->st->n_free_ops < STORE_FREE_OPS_MAX) {
        op->next_queued = op->st->free_ops;
        op->st->free_ops = op;
        op->st->n_free_ops++;
        return;
    }
#endif
    free(op);
}

void store_op_finish(struct store_op *op, bool ok)
{
    struct store *st = op->st;

    if (op->steps != NULL)
        clear_steps(op->steps);
    unlink_op(op);
    store_join_leave(op);
    if (op->started) {
        op->started = false;
        st->started--;
    }
    if (ok)
        st->backoff_ms = BACKOFF_MIN_MS;
    if (op->replay) {
        store_replay_done(op, ok);
        return;
    }
    if (!ok) {
        store_spool_failed(op);
        return;
    }
    STAT_ADD(st->stats.written, 1);
    store_op_free(op);
    store_send_queued(st);
    store_event_done(st);
}

void store_event_done(struct store *st)
{
    st->in_flight--;
    if (st->in_flight == 0 && st->drained != NULL) {
        void (*done)(void *) = st->drained;
        st->drained = NULL;
        done(st->drained_arg);
    }
}

/* Error replies that say Redis cannot take writes right now, as opposed
 * to ones about the command itself. */
static bool error_is_transient(const redisReply *reply)
{
    static const char *const prefixes[] = {
        "LOADING", "BUSY", "OOM", "READONLY", "NOSCRIPT", "MASTERDOWN", "TRYAGAIN",
        "CLUSTERDOWN", "MISCONF", "NOREPLICAS", "NOAUTH", "WRONGPASS", "NOPERM",
        "GAP", /* CAMPAIGN_TOUCH: an earlier write has not been applied yet */
    };

    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t n = strlen(prefixes[i]);

        if (reply->len >= n && memcmp(reply->str, prefixes[i], n) == 0 &&
            (reply->len == n || reply->str[n] == ' '))
            return true;
    }
    return false;
}

bool store_reply_failed(struct store_op *op, const redisReply *reply,
                        const char *step)
{
    if (reply == NULL) {
        /* The command may or may not have run: the op is retried from the
         * journal with the same ids. */
        op->failure = STORE_FAIL_LOST;
        LOG_LIMITED(LOG_LEVEL_WARN, "store.event_failed",
                    "step=%s event=%s error=\"connection lost\"", step,
                    op->event_id);
        return true;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        /* An error reply means the command did not run, so a
         * CAMPAIGN_TOUCH that failed certainly did not count. */
        op->touch_pending = false;
        op->failure = error_is_transient(reply) ? STORE_FAIL_TRANSIENT
                                                : STORE_FAIL_PERMANENT;
        LOG_LIMITED(LOG_LEVEL_ERROR, "store.event_failed",
                    "step=%s event=%s error=\"%.*s\"", step, op->event_id,
                    (int)reply->len, reply->str);
        return true;
    }
    if (strcmp(step, "campaign_touch") == 0)
        op->touch_pending = false;
    return false;
}

int store_send_args(struct store *st, redisCallbackFn *cb, void *privdata,
                    const struct store_args *a)
{
    resp_reset(&st->resp);
    resp_array(&st->resp, (size_t)a->argc);
    for (int i = 0; i < a->argc; i++)
        resp_bulk(&st->resp, a->argv[i], a->lens[i]);

    if (st->ac == NULL || st->resp.failed ||
        redisAsyncFormattedCommand(st->ac, cb, privdata, st->resp.data,
                                   st->resp.len) != REDIS_OK)
        return -1;
    return 0;
}

int store_send(struct store_op *op, redisCallbackFn *cb, struct store_args *a)
{
    if (store_send_args(op->st, cb, op, a) != 0) {
        LOG_LIMITED(LOG_LEVEL_WARN, "store.event_failed",
                    "event=%s error=\"not connected to redis\"", op->event_id);
        op->failure = STORE_FAIL_LOST;
        store_op_finish(op, false);
        return -1;
    }
    return 0;
}

/* ---- connection ---------------------------------------------------- */

/* Replies that nothing waits for (AUTH, SELECT, SCRIPT LOAD, SADD): an
 * error there is tally's or the operator's fault, so it is logged. */
static void on_setup_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    const redisReply *reply = r;
    const char *what = privdata;

    (void)ac;
    if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
        LOG_LIMITED(LOG_LEVEL_ERROR, "redis.command_failed", "command=%s error=\"%.*s\"",
                    what, (int)reply->len, reply->str);
}

static void schedule_reconnect(struct store *st)
{
    struct timeval delay = {st->backoff_ms / 1000, (st->backoff_ms % 1000) * 1000};

    if (st->closing)
        return;
    evtimer_add(st->reconnect_timer, &delay);
    st->backoff_ms = st->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                        : st->backoff_ms * 2;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct store *st = ac->data;
    char where[512];

    redis_url_describe(&st->target, where, sizeof(where));
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback returns. */
        LOG_LIMITED(LOG_LEVEL_WARN, "redis.connect_failed", "redis=%s error=\"%s\"",
                    where, ac->errstr);
        st->ac = NULL;
        STAT_SET(st->stats.connected, false);
        schedule_reconnect(st);
        return;
    }
    LOG_NOTICE("redis.connected", "redis=%s writer=%s", where, st->writer);
    STAT_SET(st->stats.connected, true);
    /* The backoff resets on the first successful write, not here: a Redis
     * that accepts connections but answers LOADING is not back yet. */
    store_replay_kick(st);
    store_send_queued(st);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct store *st = ac->data;

    /* hiredis frees the context after this callback returns; pending
     * callbacks have already run with a NULL reply. */
    st->ac = NULL;
    STAT_SET(st->stats.connected, false);
    if (st->closing)
        return;
    LOG_WARN("redis.disconnected", "status=%d error=\"%s\"", status,
             ac->errstr[0] != '\0' ? ac->errstr : "closed by server");
    STAT_ADD(st->stats.reconnects, 1);
    schedule_reconnect(st);
}

/* Queues AUTH, SELECT and SCRIPT LOAD: hiredis sends them first once the
 * socket connects, ahead of any event. */
static void send_setup(struct store *st)
{
    const struct redis_target *t = &st->target;

    if (t->password[0] != '\0') {
        if (t->user[0] != '\0')
            redisAsyncCommand(st->ac, on_setup_reply, (void *)"AUTH", "AUTH %s %s",
                              t->user, t->password);
        else
            redisAsyncCommand(st->ac, on_setup_reply, (void *)"AUTH", "AUTH %s",
                              t->password);
    }
    if (t->db != 0)
        redisAsyncCommand(st->ac, on_setup_reply, (void *)"SELECT", "SELECT %d", t->db);
    for (int i = 0; i < SCRIPT_COUNT; i++)
        redisAsyncCommand(st->ac, on_setup_reply, (void *)"SCRIPT LOAD",
                          "SCRIPT LOAD %s", store_script_source((enum store_script)i));
    memset(st->seen, 0, sizeof(st->seen));
}

static void connect_redis(struct store *st)
{
    redisAsyncContext *ac;

    if (st->target.is_unix)
        ac = redisAsyncConnectUnix(st->target.path);
    else
        ac = redisAsyncConnect(st->target.host, st->target.port);
    if (ac == NULL || ac->err) {
        LOG_LIMITED(LOG_LEVEL_WARN, "redis.connect_failed", "error=\"%s\"",
                    ac != NULL ? ac->errstr : "out of memory");
        if (ac != NULL)
            redisAsyncFree(ac);
        schedule_reconnect(st);
        return;
    }

    ac->data = st;
    st->ac = ac;
    /* This connection may reach another Redis, or one restarted from an
     * older snapshot, whose keys were not renewed when the table recorded. */
    renewal_cache_forget_all(st->opts.renewals);
    reply_arena_attach(st->arena, ac->c.reader);
    store_batch_preds_reset(st);
    redisLibeventAttach(ac, st->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    send_setup(st);
}

void store_drop_connection(struct store *st)
{
    redisAsyncContext *ac = st->ac;

    /* The events waiting in a batch fail too, so the spool gets every
     * started event at once, whether or not a connection is left. */
    store_batch_fail_pending(st);
    if (ac == NULL)
        return;
    st->ac = NULL;
    STAT_SET(st->stats.connected, false);
    /* Fails every pending command with a NULL reply, then calls
     * on_disconnect if the socket had connected. */
    redisAsyncFree(ac);
    if (!evtimer_pending(st->reconnect_timer, NULL))
        schedule_reconnect(st);
}

static void on_reconnect_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    connect_redis(arg);
}

struct store *store_new(struct event_base *base, const struct redis_target *target,
                        const struct store_options *opts)
{
    struct store *st = calloc(1, sizeof(*st));
    uint8_t writer[8];

    if (st == NULL)
        return NULL;
    st->base = base;
    st->target = *target;
    st->opts = *opts;
    st->backoff_ms = BACKOFF_MIN_MS;
    st->next_seq = 1;
    st->reconnect_timer = evtimer_new(base, on_reconnect_timer, st);
    st->arena = reply_arena_new();
    if (st->reconnect_timer == NULL || st->arena == NULL || store_spool_init(st) != 0 ||
        store_batch_init(st) != 0 ||
        RAND_bytes(writer, sizeof(writer)) != 1) {
        store_free(st);
        return NULL;
    }
    ident_hex(writer, sizeof(writer), st->writer);
    memcpy(st->writer_bytes, writer, sizeof(writer));

    connect_redis(st);
    return st;
}

/* Hands every queued live event to the spool, in order. */
static void spill_queue(struct store *st)
{
    struct store_op *op;

    while ((op = store_queue_pop(st)) != NULL) {
        op->failure = STORE_FAIL_LOST;
        store_spool_failed(op);
    }
}

void store_free(struct store *st)
{
    if (st == NULL)
        return;
    st->closing = true;
    /* Runs pending callbacks with NULL replies, which hand their ops to
     * the spool; store_spool_close then journals them. */
    store_drop_connection(st);
    store_batch_free(st);
    spill_queue(st);
    store_spool_close(st);
    if (st->reconnect_timer != NULL)
        event_free(st->reconnect_timer);
    /* After store_drop_connection: freeing the reader frees its unfinished
     * reply in the arena. */
    reply_arena_free(st->arena);
    resp_free(&st->resp);
    while (st->free_ops != NULL) {
        struct store_op *op = st->free_ops;

        st->free_ops = op->next_queued;
        free(op);
    }
    free(st);
}

/* ---- opens, clicks, identifies ------------------------------------ */

static void register_campaign(struct store *st, const char *campaign)
{
    for (unsigned i = 0; i < STORE_SEEN_CAMPAIGNS; i++)
        if (strcmp(st->seen[i], campaign) == 0)
            return;
    if (st->ac == NULL)
        return;

    redisAsyncCommand(st->ac, on_setup_reply, (void *)"SADD", "SADD %s %s",
                      SCHEMA_CAMPAIGNS, campaign);
    strcpy(st->seen[st->seen_next], campaign);
    st->seen_next = (st->seen_next + 1) % STORE_SEEN_CAMPAIGNS;
}

/* Reads READER_TOUCH's reply {mask, verdict, N, N moved click times,
 * moved open times} into op. Returns 0, or -1 when it has another shape. */
static int take_reader_reply(struct store_op *op, const redisReply *reply)
{
    const redisReply *verdict;
    enum verdict v;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 ||
        reply->elements > 3 + STORE_MOVED_MAX ||
        reply->element[0]->type != REDIS_REPLY_INTEGER ||
        reply->element[2]->type != REDIS_REPLY_INTEGER ||
        reply->element[2]->integer < 0 ||
        (size_t)reply->element[2]->integer > reply->elements - 3)
        return -1;
    verdict = reply->element[1];
    if (verdict->type != REDIS_REPLY_STRING ||
        verdict_parse(verdict->str, verdict->len, &v) != 0)
        return -1;

    op->unique_mask = (unsigned)reply->element[0]->integer;
    op->ev.u.touch.verdict = (uint8_t)v;
    op->n_moved_clicks = (int)reply->element[2]->integer;
    op->n_moved = 0;
    for (size_t i = 3; i < reply->elements; i++) {
        if (reply->element[i]->type != REDIS_REPLY_INTEGER)
            return -1;
        op->moved[op->n_moved++] = (uint32_t)reply->element[i]->integer;
    }
    return 0;
}

static void on_reader_touch(redisAsyncContext *ac, void *r, void *privdata)
{
    struct store_op *op = privdata;
    const redisReply *reply = r;
    uint32_t slack;

    (void)ac;
    if (store_reply_failed(op, reply, "reader_touch")) {
        store_op_finish(op, false);
        return;
    }
    if (take_reader_reply(op, reply) != 0) {
        LOG_ERROR("store.event_failed", "step=reader_touch event=%s "
                  "error=\"unexpected reply type %d\"", op->event_id, reply->type);
        store_op_finish(op, false);
        return;
    }
    /* The script leaves the keys renewed in the event's period. A replay
     * may instead return the reply it saved, without renewing. */
    slack = touch_ttl_slack(op->st->opts.reader_retention_s);
    if (!op->replay && slack > 0)
        renewal_cache_put(op->st->opts.renewals, op->ev.u.touch.reader,
                          op->ev.u.touch.time / slack);
    store_reader_done(op);
}

int store_reader_touch_send(struct store_op *op)
{
    const struct event_touch *t = &op->ev.u.touch;
    bool is_click = op->ev.kind == EVENT_CLICK;
    char touches[SCHEMA_KEY_MAX], marks[SCHEMA_KEY_MAX];
    char member[TOUCH_MEMBER_MAX];
    char event_mark[TOUCH_MARK_LEN + 1];
    size_t touches_len, marks_len, member_len, campaign_len;
    uint32_t slack = touch_ttl_slack(op->st->opts.reader_retention_s);
    struct store_args a;

    touches_len = schema_reader_touches(touches, t->reader);
    marks_len = schema_reader_marks(marks, t->reader);
    member_len = touch_member(t, is_click, member);
    touch_event_mark(op->writer, op->seq, event_mark);

    /* The marks are prefixes of the member. An open's member "o|C|M" is
     * its message mark and "o|C|" the prefix of its campaign's marks. A
     * click's "c|C|M" and "c|C|" start its member. */
    campaign_len = 2 + strlen(t->campaign) + 1;

    store_args_init(&a);
    store_args_evalsha(&a, SCRIPT_READER_TOUCH, 2);
    store_args_buf(&a, touches, touches_len);
    store_args_buf(&a, marks, marks_len);
    store_args_buf(&a, member, member_len);
    store_args_u64(&a, touch_score(t->time, op->ev.device, op->ev.client));
    store_args_buf(&a, member, campaign_len);
    store_args_buf(&a, member, campaign_len + strlen(t->message));
    store_args_str(&a, event_mark);
    store_args_u64(&a, (uint64_t)op->st->opts.reader_retention_s + slack);
    store_args_u64(&a, op->st->opts.max_touches);
    store_args_str(&a, verdict_name((enum verdict)t->verdict));
    store_args_str(&a, is_click ? "1" : "0");
    store_args_u64(&a, op->st->opts.burst_window_s);
    store_args_u64(&a, op->st->opts.burst_links);
    store_args_u64(&a, op->st->opts.honeypot_window_s);
    if (slack > 0)
        store_args_u64(&a, t->time / slack);
    else
        store_args_str(&a, "");
    /* ARGV 14 of READER_TOUCH: the event's score when a plain ZADD moved
     * an open's time, or may have added a click's member. A replayed
     * click's earlier attempt may have added it too. */
    if (op->plain_updated || (is_click && op->replay))
        store_args_u64(&a, touch_score(t->time, op->ev.device, op->ev.client));
    else
        store_args_str(&a, "");
    return store_send(op, on_reader_touch, &a);
}

void store_op_start(struct store_op *op)
{
    struct store *st = op->st;

    op->sent_ms = store_now_ms();
    op->prev = st->ops_tail;
    op->next = NULL;
    if (st->ops_tail != NULL)
        st->ops_tail->next = op;
    else
        st->ops_head = op;
    st->ops_tail = op;
    op->started = true;
    st->started++;

    switch (op->ev.kind) {
    case EVENT_OPEN:
    case EVENT_CLICK:
        register_campaign(st, op->ev.u.touch.campaign);
        store_reader_step_start(op);
        break;
    case EVENT_IDENTIFY:
        store_identify_start(op);
        break;
    case EVENT_CHECKOUT:
        store_checkout_start(op);
        break;
    case EVENT_REFUND:
        store_refund_start(op);
        break;
    }
}

struct store_op *store_queue_pop(struct store *st)
{
    struct store_op *op = st->queue_head;

    if (op == NULL)
        return NULL;
    st->queue_head = op->next_queued;
    if (st->queue_head == NULL)
        st->queue_tail = NULL;
    op->next_queued = NULL;
    st->n_queued--;
    return op;
}

/* A start that fails finishes its event at once, which calls this again:
 * the flag stops that recursion. While the store spools the queue is
 * empty, because store_spool_failed moved it to the journal. */
void store_send_queued(struct store *st)
{
    if (st->sending_queued)
        return;
    st->sending_queued = true;
    while (st->queue_head != NULL && st->started < STORE_PIPELINE_MAX && !st->spooling)
        store_op_start(store_queue_pop(st));
    st->sending_queued = false;
}

/*
 * Queues a live event behind those already waiting and starts what the
 * pipeline bound allows. The queue fills only while Redis applies events
 * slower than they arrive. When Redis stops replying, the redis_timeout
 * watchdog drops the connection and the queue moves to the journal. While
 * Redis keeps replying, only slower, the queue grows by one store_op per
 * event (about 600 bytes for an open or a click). So at max_queued_events
 * it moves to the journal too, and the rest of the overload's events
 * follow it there.
 */
void store_queue_append(struct store_op *op)
{
    struct store *st = op->st;

    op->next_queued = NULL;
    if (st->queue_tail != NULL)
        st->queue_tail->next_queued = op;
    else
        st->queue_head = op;
    st->queue_tail = op;
    st->n_queued++;
}

static void queue_op(struct store_op *op)
{
    struct store *st = op->st;

    store_queue_append(op);
    store_send_queued(st);
    if (st->n_queued >= st->opts.max_queued_events)
        store_spool_overflow(st);
}

void store_submit(struct store *st, const struct event *ev)
{
    struct store_op *op;
    size_t writer_len = sizeof(st->writer) - 1;

    /* The plain open looks the reader up a few hundred instructions from
     * here, and the table is too large to stay in the CPU's caches. */
    if (ev->kind == EVENT_OPEN)
        renewal_cache_prefetch(st->opts.renewals, ev->u.touch.reader);

    op = store_op_alloc(st, ev->kind);

    if (op == NULL) {
        LOG_LIMITED(LOG_LEVEL_ERROR, "store.event_failed", "error=\"out of memory\"");
        STAT_ADD(st->stats.failed, 1);
        return;
    }
    op->ev = *ev;
    memcpy(op->writer, st->writer_bytes, EVENT_WRITER_LEN);
    strcpy(op->writer_hex, st->writer);
    op->seq = st->next_seq++;
    memcpy(op->touch_writer, st->writer_bytes, EVENT_WRITER_LEN);
    strcpy(op->touch_writer_hex, st->writer);
    op->touch_seq = op->seq;
    memcpy(op->event_id, st->writer, writer_len);
    op->event_id[writer_len] = '-';
    resp_u64_text(op->seq, op->event_id + writer_len + 1);
    st->in_flight++;
    STAT_ADD(st->stats.submitted, 1);

    if (st->spooling)
        store_spool_submit(op);
    else
        queue_op(op);

    /* An event that failed on the way, or waits behind failed ones, is
     * journaled now. The spool event would run after the handler has sent
     * the response, and a crash in between would lose the event. */
    if (st->n_failed > 0)
        store_spool_flush(st);
}

size_t store_in_flight(const struct store *st)
{
    return st->in_flight;
}

void store_drain(struct store *st, void (*done)(void *), void *arg)
{
    if (st->in_flight == 0) {
        done(arg);
        return;
    }
    st->drained = done;
    st->drained_arg = arg;
}

const struct store_stats *store_stats(const struct store *st)
{
    return &st->stats;
}

uint64_t store_replies(const struct store *st)
{
    return reply_arena_replies(st->arena);
}
