/*
 * store_forget.c - forgetting one reader in Redis, by the steps of
 * forget.h, on the store's connection.
 *
 * Not an event: nothing is counted, and the caller waits for the outcome.
 * All commands after the link set's SMEMBERS leave in one pipeline, so the
 * DEL of the reader's own keys runs after every link is gone.
 */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

#include "forget.h"
#include "ident.h"
#include "log.h"
#include "store_scripts.h"

struct forget_op {
    struct store *st;
    char reader_hex[2 * TOKEN_READER_LEN + 1];
    char keys[SCHEMA_READER_KEYS][SCHEMA_KEY_MAX]; /* link set last */
    long deleted;
    int pending;
    bool failed;
    void (*done)(void *arg, long deleted);
    void *arg;
};

/* Counts one reply; the last one reports and frees op. */
static void reply_done(struct forget_op *op, const redisReply *reply)
{
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        if (!op->failed)
            LOG_WARN("forget.failed", "error=\"%s\"",
                     reply == NULL ? "connection lost" : reply->str);
        op->failed = true;
    } else if (reply->type == REDIS_REPLY_INTEGER) {
        op->deleted += reply->integer;
    }
    if (--op->pending > 0)
        return;
    op->done(op->arg, op->failed ? -1 : op->deleted);
    free(op);
}

static void on_step_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    (void)ac;
    reply_done(privdata, r);
}

static int send_args(struct forget_op *op, struct store_args *a)
{
    if (op->st->ac == NULL ||
        redisAsyncCommandArgv(op->st->ac, on_step_reply, op, a->argc, a->argv,
                              a->lens) != REDIS_OK)
        return -1;
    op->pending++;
    return 0;
}

static void on_links(redisAsyncContext *ac, void *r, void *privdata)
{
    struct forget_op *op = privdata;
    const redisReply *reply = r;
    struct store_args a;
    bool sent_all = true;

    (void)ac;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        reply_done(op, reply);
        return;
    }

    /* This reply's own count is released last, after the sends below. */
    for (size_t i = 0; i < reply->elements && sent_all; i++) {
        const redisReply *key = reply->element[i];

        if (key->type != REDIS_REPLY_STRING)
            continue;
        store_args_init(&a);
        store_args_evalsha(&a, SCRIPT_FORGET_LINK, 1);
        store_args_buf(&a, key->str, key->len);
        store_args_str(&a, op->reader_hex);
        sent_all = send_args(op, &a) == 0;
    }
    store_args_init(&a);
    store_args_str(&a, "DEL");
    for (int k = 0; k < SCHEMA_READER_KEYS; k++)
        store_args_str(&a, op->keys[k]);
    if (!sent_all || send_args(op, &a) != 0)
        op->failed = true;

    /* SMEMBERS deleted nothing itself. */
    op->pending--;
    if (op->pending == 0) {
        op->done(op->arg, op->failed ? -1 : op->deleted);
        free(op);
    }
}

void store_forget(struct store *st, const uint8_t reader[TOKEN_READER_LEN],
                  void (*done)(void *arg, long deleted), void *arg)
{
    struct forget_op *op = calloc(1, sizeof(*op));
    struct store_args a;

    if (op == NULL || st->ac == NULL) {
        free(op);
        done(arg, -1);
        return;
    }
    op->st = st;
    op->done = done;
    op->arg = arg;
    ident_hex(reader, TOKEN_READER_LEN, op->reader_hex);
    schema_reader_all(op->keys, reader);

    store_args_init(&a);
    store_args_str(&a, "SMEMBERS");
    store_args_str(&a, op->keys[SCHEMA_READER_KEYS - 1]);
    if (redisAsyncCommandArgv(st->ac, on_links, op, a.argc, a.argv, a.lens) != REDIS_OK) {
        free(op);
        done(arg, -1);
        return;
    }
    op->pending = 1;
}
