/*
 * store.c - the Redis connection of one event loop, and the writes of opens
 * and clicks. Identifies, checkouts and refunds have their own files.
 *
 * An open or a click takes two scripts: READER_TOUCH in the reader's slot,
 * whose reply tells whether it was the reader's first, then CAMPAIGN_TOUCH in
 * the campaign's slot. Both are sent on this store's one connection, and the
 * second is sent from the first one's reply callback, so the campaign writes
 * leave in sequence order: what CAMPAIGN_TOUCH's replay check relies on.
 */
#include "store_internal.h"

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "log.h"
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
    int n = snprintf(slot, SCHEMA_KEY_MAX, "%llu", (unsigned long long)v);

    store_args_buf(a, slot, (size_t)n);
}

void store_args_i64(struct store_args *a, int64_t v)
{
    char *slot = a->text[a->argc];
    int n = snprintf(slot, SCHEMA_KEY_MAX, "%lld", (long long)v);

    store_args_buf(a, slot, (size_t)n);
}

void store_args_evalsha(struct store_args *a, int script, int numkeys)
{
    store_args_str(a, "EVALSHA");
    store_args_str(a, store_script_sha((enum store_script)script));
    store_args_u64(a, (uint64_t)numkeys);
}

/* ---- op lifecycle -------------------------------------------------- */

void store_op_finish(struct store_op *op, bool ok)
{
    struct store *st = op->st;

    if (ok)
        st->stats.written++;
    else
        st->stats.failed++;
    free(op);

    st->in_flight--;
    if (st->in_flight == 0 && st->drained != NULL) {
        void (*done)(void *) = st->drained;
        st->drained = NULL;
        done(st->drained_arg);
    }
}

bool store_reply_failed(struct store_op *op, const redisReply *reply,
                        const char *step)
{
    if (reply == NULL) {
        /* TODO: spool the event to the local journal and replay it once
         * Redis is back; until then an event in flight during a lost
         * connection is counted as failed. */
        LOG_LIMITED(LOG_LEVEL_WARN, "store.event_failed",
                    "step=%s event=%s error=\"connection lost\"", step,
                    op->event_id);
        return true;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        LOG_LIMITED(LOG_LEVEL_ERROR, "store.event_failed",
                    "step=%s event=%s error=\"%.*s\"", step, op->event_id,
                    (int)reply->len, reply->str);
        return true;
    }
    return false;
}

int store_send(struct store_op *op, redisCallbackFn *cb, struct store_args *a)
{
    struct store *st = op->st;

    if (st->ac == NULL ||
        redisAsyncCommandArgv(st->ac, cb, op, a->argc, a->argv, a->lens) != REDIS_OK) {
        LOG_LIMITED(LOG_LEVEL_WARN, "store.event_failed",
                    "event=%s error=\"not connected to redis\"", op->event_id);
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
        st->stats.connected = false;
        schedule_reconnect(st);
        return;
    }
    LOG_NOTICE("redis.connected", "redis=%s writer=%s", where, st->writer);
    st->stats.connected = true;
    st->backoff_ms = BACKOFF_MIN_MS;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct store *st = ac->data;

    /* hiredis frees the context after this callback returns; pending
     * callbacks have already run with a NULL reply. */
    st->ac = NULL;
    st->stats.connected = false;
    if (st->closing)
        return;
    LOG_WARN("redis.disconnected", "status=%d error=\"%s\"", status,
             ac->errstr[0] != '\0' ? ac->errstr : "closed by server");
    st->stats.reconnects++;
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
    redisLibeventAttach(ac, st->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    send_setup(st);
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
    if (st->reconnect_timer == NULL || RAND_bytes(writer, sizeof(writer)) != 1) {
        store_free(st);
        return NULL;
    }
    ident_hex(writer, sizeof(writer), st->writer);

    connect_redis(st);
    return st;
}

void store_free(struct store *st)
{
    if (st == NULL)
        return;
    st->closing = true;
    if (st->ac != NULL) {
        /* Runs pending callbacks with NULL replies, which finish their ops. */
        redisAsyncFree(st->ac);
        st->ac = NULL;
    }
    if (st->reconnect_timer != NULL)
        event_free(st->reconnect_timer);
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

static void on_campaign_touch(redisAsyncContext *ac, void *r, void *privdata)
{
    struct store_op *op = privdata;

    (void)ac;
    store_op_finish(op, !store_reply_failed(op, r, "campaign_touch"));
}

static void send_campaign_touch(struct store_op *op)
{
    const struct event_touch *t = &op->ev.u.touch;
    bool is_click = op->ev.kind == EVENT_CLICK;
    char keys[5][SCHEMA_KEY_MAX];
    char link_field[TOKEN_ID_MAX + 12];
    struct store_args a;

    schema_campaign(keys[0], t->campaign);
    schema_message(keys[1], t->campaign, t->message);
    schema_hour(keys[2], t->campaign, t->time);
    schema_applied(keys[3], t->campaign);
    schema_links(keys[4], t->campaign);
    snprintf(link_field, sizeof(link_field), "%s:%u", t->message, (unsigned)t->link);

    store_args_init(&a);
    store_args_evalsha(&a, SCRIPT_CAMPAIGN_TOUCH, 5);
    for (int i = 0; i < 5; i++)
        store_args_str(&a, keys[i]);
    store_args_str(&a, is_click ? "clicks" : "opens");
    store_args_u64(&a, op->unique_mask);
    store_args_str(&a, op->st->writer);
    store_args_u64(&a, op->seq);
    store_args_u64(&a, op->st->opts.campaign_retention_s);
    store_args_str(&a, link_field);
    store_send(op, on_campaign_touch, &a);
}

static void on_reader_touch(redisAsyncContext *ac, void *r, void *privdata)
{
    struct store_op *op = privdata;
    const redisReply *reply = r;

    (void)ac;
    if (store_reply_failed(op, reply, "reader_touch")) {
        store_op_finish(op, false);
        return;
    }
    op->unique_mask = reply->type == REDIS_REPLY_INTEGER ? (unsigned)reply->integer : 0;
    send_campaign_touch(op);
}

static void send_reader_touch(struct store_op *op)
{
    const struct event_touch *t = &op->ev.u.touch;
    bool is_click = op->ev.kind == EVENT_CLICK;
    char touches[SCHEMA_KEY_MAX], marks[SCHEMA_KEY_MAX];
    char member[TOUCH_MEMBER_MAX];
    char campaign_mark[TOKEN_ID_MAX + 3];
    char message_mark[2 * TOKEN_ID_MAX + 4];
    size_t member_len;
    struct store_args a;

    schema_reader_touches(touches, t->reader);
    schema_reader_marks(marks, t->reader);
    member_len = touch_member(t, is_click, member);
    snprintf(campaign_mark, sizeof(campaign_mark), "%c|%s", is_click ? 'c' : 'o',
             t->campaign);
    snprintf(message_mark, sizeof(message_mark), "%c|%s|%s", is_click ? 'c' : 'o',
             t->campaign, t->message);

    store_args_init(&a);
    store_args_evalsha(&a, SCRIPT_READER_TOUCH, 2);
    store_args_str(&a, touches);
    store_args_str(&a, marks);
    store_args_buf(&a, member, member_len);
    store_args_u64(&a, t->time);
    store_args_str(&a, campaign_mark);
    store_args_str(&a, message_mark);
    store_args_str(&a, op->event_id);
    store_args_u64(&a, op->st->opts.reader_retention_s);
    store_args_u64(&a, op->st->opts.max_touches);
    store_send(op, on_reader_touch, &a);
}

void store_submit(struct store *st, const struct event *ev)
{
    struct store_op *op = calloc(1, sizeof(*op));

    if (op == NULL) {
        LOG_LIMITED(LOG_LEVEL_ERROR, "store.event_failed", "error=\"out of memory\"");
        st->stats.failed++;
        return;
    }
    op->st = st;
    op->ev = *ev;
    op->seq = st->next_seq++;
    snprintf(op->event_id, sizeof(op->event_id), "%s-%llu", st->writer,
             (unsigned long long)op->seq);
    st->in_flight++;
    st->stats.submitted++;

    switch (ev->kind) {
    case EVENT_OPEN:
    case EVENT_CLICK:
        register_campaign(st, ev->u.touch.campaign);
        send_reader_touch(op);
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
