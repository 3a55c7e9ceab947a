/*
 * stats_reader.c - the on-demand read connection of stats_reader.h.
 *
 * Its replies are built in a reply arena (reply_arena.h), since a stats
 * request reads hundreds of hashes at once. Only one connection exists
 * at a time: a new one is opened after hiredis has freed the old one's
 * last reply.
 *
 * hiredis 0.14 has no timeout for an async command, so a Redis that stops
 * replying (paused, or its host gone without a reset) would hold every
 * stats request until the client gave up. A watchdog timer runs while
 * commands are pending. When no reply arrived for a whole timeout, it
 * frees the connection, which calls every pending callback with a NULL
 * reply, so each request gets 503.
 */
#include "stats_reader.h"

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "reply_arena.h"
#include "stat_counter.h"

struct stats_reader {
    struct event_base *base;
    struct redis_target target;
    redisAsyncContext *ac; /* NULL while there is no connection */
    struct reply_arena *arena; /* the replies of ac */
    bool closing;
    struct stats_reader_stats stats;

    struct event *watchdog;   /* timer, armed while commands are pending */
    struct timeval timeout;   /* redis_timeout */
    size_t pending;           /* commands sent whose callback has not run */
    uint64_t replies;         /* callbacks run since the reader was created */
    uint64_t replies_at_arm;  /* replies when the watchdog was armed */
};

/* One command sent by stats_reader_send, kept until its reply. */
struct pending_command {
    struct stats_reader *reader;
    redisCallbackFn *cb;
    void *privdata;
};

static void arm_watchdog(struct stats_reader *r)
{
    r->replies_at_arm = r->replies;
    event_add(r->watchdog, &r->timeout);
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
    struct stats_reader *r = arg;

    (void)fd;
    (void)what;
    if (r->pending == 0 || r->ac == NULL)
        return;
    if (r->replies != r->replies_at_arm) {
        arm_watchdog(r);
        return;
    }

    LOG_LIMITED(LOG_LEVEL_WARN, "stats.redis_timeout",
                "pending=%zu timeout_ms=%ld hint=\"the stats requests waiting "
                "on this connection answer 503\"", r->pending,
                (long)(r->timeout.tv_sec * 1000 + r->timeout.tv_usec / 1000));
    STAT_ADD(r->stats.timeouts, 1);
    /* Runs every pending callback with NULL, then on_disconnect. */
    redisAsyncFree(r->ac);
    r->ac = NULL;
    STAT_SET(r->stats.connected, false);
}

static void on_command_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct pending_command *p = privdata;
    struct stats_reader *r = p->reader;

    r->pending--;
    r->replies++;
    p->cb(ac, reply, p->privdata);
    free(p);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct stats_reader *r = ac->data;

    if (status != REDIS_OK) {
        /* hiredis frees the context, and fails its queued commands with
         * NULL replies, after this callback returns. */
        LOG_LIMITED(LOG_LEVEL_WARN, "stats.redis_connect_failed", "error=\"%s\"",
                    ac->errstr);
        r->ac = NULL;
        STAT_SET(r->stats.connected, false);
        return;
    }
    STAT_SET(r->stats.connected, true);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct stats_reader *r = ac->data;

    r->ac = NULL;
    STAT_SET(r->stats.connected, false);
    if (!r->closing && status != REDIS_OK)
        LOG_LIMITED(LOG_LEVEL_WARN, "stats.redis_disconnected", "error=\"%s\"",
                    ac->errstr);
}

/* Replies of AUTH and SELECT: an error is the operator's to fix. */
static void on_setup_reply(redisAsyncContext *ac, void *reply_ptr, void *privdata)
{
    const redisReply *reply = reply_ptr;

    (void)ac;
    if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
        LOG_LIMITED(LOG_LEVEL_ERROR, "stats.redis_command_failed",
                    "command=%s error=\"%.*s\"", (const char *)privdata,
                    (int)reply->len, reply->str);
}

static int connect_reader(struct stats_reader *r)
{
    const struct redis_target *t = &r->target;
    redisAsyncContext *ac;

    if (t->is_unix)
        ac = redisAsyncConnectUnix(t->path);
    else
        ac = redisAsyncConnect(t->host, t->port);
    if (ac == NULL || ac->err) {
        LOG_LIMITED(LOG_LEVEL_WARN, "stats.redis_connect_failed", "error=\"%s\"",
                    ac != NULL ? ac->errstr : "out of memory");
        if (ac != NULL)
            redisAsyncFree(ac);
        return -1;
    }

    ac->data = r;
    reply_arena_attach(r->arena, ac->c.reader);
    redisLibeventAttach(ac, r->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    if (t->password[0] != '\0' && t->user[0] != '\0')
        redisAsyncCommand(ac, on_setup_reply, (void *)"AUTH", "AUTH %s %s", t->user,
                          t->password);
    else if (t->password[0] != '\0')
        redisAsyncCommand(ac, on_setup_reply, (void *)"AUTH", "AUTH %s", t->password);
    if (t->db != 0)
        redisAsyncCommand(ac, on_setup_reply, (void *)"SELECT", "SELECT %d", t->db);

    r->ac = ac;
    STAT_ADD(r->stats.connects, 1);
    return 0;
}

struct stats_reader *stats_reader_new(struct event_base *base,
                                      const struct redis_target *target,
                                      int timeout_ms)
{
    struct stats_reader *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->arena = reply_arena_new();
    r->watchdog = evtimer_new(base, on_watchdog, r);
    if (r->arena == NULL || r->watchdog == NULL) {
        stats_reader_free(r);
        return NULL;
    }
    r->base = base;
    r->target = *target;
    r->timeout.tv_sec = timeout_ms / 1000;
    r->timeout.tv_usec = (timeout_ms % 1000) * 1000;
    return r;
}

void stats_reader_free(struct stats_reader *r)
{
    if (r == NULL)
        return;
    r->closing = true;
    if (r->ac != NULL)
        redisAsyncFree(r->ac);
    if (r->watchdog != NULL)
        event_free(r->watchdog);
    if (r->arena != NULL)
        reply_arena_free(r->arena);
    memset(&r->target, 0, sizeof(r->target)); /* drops the password */
    free(r);
}

int stats_reader_send(struct stats_reader *r, redisCallbackFn *cb, void *privdata,
                      int argc, const char **argv, const size_t *lens)
{
    struct pending_command *p;

    if (r->ac == NULL && connect_reader(r) != 0)
        return -1;
    p = malloc(sizeof(*p));
    if (p == NULL)
        return -1;
    p->reader = r;
    p->cb = cb;
    p->privdata = privdata;
    if (redisAsyncCommandArgv(r->ac, on_command_reply, p, argc, argv, lens) != REDIS_OK) {
        free(p);
        return -1;
    }

    if (r->pending++ == 0)
        arm_watchdog(r);
    return 0;
}

const struct stats_reader_stats *stats_reader_stats(const struct stats_reader *r)
{
    return &r->stats;
}
