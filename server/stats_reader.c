/*
 * stats_reader.c - the on-demand read connection of stats_reader.h.
 *
 * Its replies are built in a reply arena (reply_arena.h), since a stats
 * request reads hundreds of hashes at once. Only one connection exists
 * at a time: a new one is opened after hiredis has freed the old one's
 * last reply.
 */
#include "stats_reader.h"

#include <hiredis/adapters/libevent.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "reply_arena.h"

struct stats_reader {
    struct event_base *base;
    struct redis_target target;
    redisAsyncContext *ac; /* NULL while there is no connection */
    struct reply_arena *arena; /* the replies of ac */
    bool closing;
    struct stats_reader_stats stats;
};

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct stats_reader *r = ac->data;

    if (status != REDIS_OK) {
        /* hiredis frees the context, and fails its queued commands with
         * NULL replies, after this callback returns. */
        LOG_LIMITED(LOG_LEVEL_WARN, "stats.redis_connect_failed", "error=\"%s\"",
                    ac->errstr);
        r->ac = NULL;
        r->stats.connected = false;
        return;
    }
    r->stats.connected = true;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct stats_reader *r = ac->data;

    r->ac = NULL;
    r->stats.connected = false;
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
    r->stats.connects++;
    return 0;
}

struct stats_reader *stats_reader_new(struct event_base *base,
                                      const struct redis_target *target)
{
    struct stats_reader *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->arena = reply_arena_new();
    if (r->arena == NULL) {
        free(r);
        return NULL;
    }
    r->base = base;
    r->target = *target;
    return r;
}

void stats_reader_free(struct stats_reader *r)
{
    if (r == NULL)
        return;
    r->closing = true;
    if (r->ac != NULL)
        redisAsyncFree(r->ac);
    reply_arena_free(r->arena);
    memset(&r->target, 0, sizeof(r->target)); /* drops the password */
    free(r);
}

int stats_reader_send(struct stats_reader *r, redisCallbackFn *cb, void *privdata,
                      int argc, const char **argv, const size_t *lens)
{
    if (r->ac == NULL && connect_reader(r) != 0)
        return -1;
    if (redisAsyncCommandArgv(r->ac, cb, privdata, argc, argv, lens) != REDIS_OK)
        return -1;
    return 0;
}

const struct stats_reader_stats *stats_reader_stats(const struct stats_reader *r)
{
    return &r->stats;
}
