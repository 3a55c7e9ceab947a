/*
 * store_open.c - a repeated open written with two plain commands.
 *
 * Most opens in a burst are a reader opening an email again. READER_TOUCH
 * then only moves the time of the message's open touchpoint, yet the
 * script machinery makes it cost Redis about 5.9 us (docs/benchmarks.md).
 * So a live open first sends, in one round trip,
 *
 *   ZADD r:{R}:t GT XX CH <score> <member>
 *   HMGET r:{R}:u o|C|M h|C|M e
 *
 * which cost Redis about 1.2 us together. The member is the one
 * READER_TOUCH would write, "o|C|M" for a person and "o|C|M|<verdict>"
 * for a machine. The ZADD moves the time of that touchpoint and adds
 * nothing (XX), so it cannot bring back a forgotten reader's keys. The
 * HMGET's reply shows whether that was the whole write, which takes four
 * conditions. The ZADD moved a time. The message's mark exists, so this is
 * not the reader's first open of it. The keys were renewed in the open's
 * renewal period. And no honeypot click of the message lies within the
 * honeypot window of a person's open. The open then joins its campaign batch with
 * no unique mask and its verdict unchanged, which is what READER_TOUCH
 * would have returned.
 *
 * When renewal_cache.h has recorded the keys renewed in the open's
 * period, the ZADD goes alone and its reply decides, because the member it
 * moved implies the other two conditions. Only READER_TOUCH creates an
 * open's member, and it sets the message's mark in the same call. Marks
 * are never deleted one by one, and forgetting a reader deletes both keys
 * in one DEL. And after a honeypot click of the message no person's open
 * is under "o|C|M" (see READER_TOUCH), so a ZADD XX of it that moved a
 * time ran before any honeypot click. A click that runs after it moves
 * the open as the script would have done had the open come first.
 * NOTE: a tallyd built before 2026-12-05 09:25 UTC (commit bcc6a18) left
 * a person's open as "o|C|M" beside the honeypot time. Against keys it
 * wrote, or beside such a tallyd, renewal_cache must be 0, or an open near
 * that honeypot click counts human (docs/redis-schema.md).
 *
 * Otherwise READER_TOUCH follows and does the whole write. What the ZADD
 * did is then part of it: a later ZADD GT of the same score changes
 * nothing, and a renewal or a first open reads state the ZADD did not
 * touch. Once a message has a honeypot click, READER_TOUCH keeps a
 * person's opens of it as "o|C|M|human", so the ZADD finds no member and
 * every later open takes the script, which decides the honeypot verdict.
 * A honeypot click on another connection may still run between the ZADD
 * and the script and move the member the ZADD just moved. The script gets
 * the ZADD's score to recognise that (see READER_TOUCH) and keeps the open
 * human, as if it had come just before the click.
 *
 * Order: this loop's later events of the reader wait until the plain
 * commands have decided (store_join.c), so none runs between them and the
 * script. Replays always take the script, which recognises events already
 * applied.
 */
#include "store_internal.h"

#include <string.h>

#include "classify.h"
#include "log.h"
#include "renewal_cache.h"
#include "resp.h"
#include "schema.h"
#include "touch.h"

bool store_open_plain_eligible(const struct store_op *op)
{
    /* Without slack (short retentions) every event renews the keys, which
     * only the script does. */
    return op->ev.kind == EVENT_OPEN && !op->replay &&
           touch_ttl_slack(op->st->opts.reader_retention_s) > 0;
}

/* Ends an open whose ZADD failed, or leaves that to the HMGET's callback
 * when one follows. */
static void plain_zadd_failed(struct store_op *op)
{
    if (op->plain_renewed)
        store_op_finish(op, false);
    else
        op->plain_failed = true;
}

static void on_plain_zadd(redisAsyncContext *ac, void *r, void *privdata)
{
    struct store_op *op = privdata;
    const redisReply *reply = r;

    /* When an HMGET follows, its callback runs too, also when the
     * connection is lost, and ends the op; this one only records what
     * happened. When the HMGET could not be queued, no callback follows
     * and this one ends the op. */
    (void)ac;
    if (op->plain_failed) {
        store_op_finish(op, false);
        return;
    }
    if (store_reply_failed(op, reply, "open_zadd")) {
        plain_zadd_failed(op);
        return;
    }
    if (reply->type != REDIS_REPLY_INTEGER) {
        LOG_ERROR("store.event_failed", "step=open_zadd event=%s "
                  "error=\"unexpected reply type %d\"", op->event_id, reply->type);
        op->failure = STORE_FAIL_PERMANENT;
        plain_zadd_failed(op);
        return;
    }
    op->plain_updated = reply->integer == 1;

    if (op->plain_renewed) {
        if (op->plain_updated) {
            STAT_ADD(op->st->stats.opens_plain, 1);
            STAT_ADD(op->st->stats.opens_one_command, 1);
        }
        store_plain_finish(op, op->plain_updated);
    }
}

/* Parses the decimal Unix time READER_TOUCH stores; returns -1 for
 * anything else, which sends the event to the script. */
static int parse_time(const redisReply *r, uint32_t *out)
{
    uint64_t v = 0;

    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 10)
        return -1;
    for (size_t i = 0; i < r->len; i++) {
        if (r->str[i] < '0' || r->str[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(r->str[i] - '0');
    }
    if (v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

bool store_marks_allow_plain(const struct store_op *op, const redisReply *marks)
{
    const struct event_touch *t = &op->ev.u.touch;
    const redisReply *mark, *honeypot, *renewed;
    uint32_t slack = touch_ttl_slack(op->st->opts.reader_retention_s);
    char period[RESP_U64_MAX];
    size_t period_len;
    uint32_t h;

    if (marks->type != REDIS_REPLY_ARRAY || marks->elements != 3)
        return false;
    mark = marks->element[0];
    honeypot = marks->element[1];
    renewed = marks->element[2];

    period_len = resp_u64_text(t->time / slack, period);
    if (renewed->type != REDIS_REPLY_STRING || renewed->len != period_len ||
        memcmp(renewed->str, period, period_len) != 0)
        return false;
    renewal_cache_put(op->st->opts.renewals, t->reader, t->time / slack);

    if (mark->type != REDIS_REPLY_STRING)
        return false;
    if (honeypot->type != REDIS_REPLY_NIL && t->verdict == VERDICT_HUMAN) {
        if (parse_time(honeypot, &h) != 0)
            return false;
        if ((t->time > h ? t->time - h : h - t->time) <= op->st->opts.honeypot_window_s)
            return false;
    }
    return true;
}

static void on_plain_marks(redisAsyncContext *ac, void *r, void *privdata)
{
    struct store_op *op = privdata;
    const redisReply *reply = r;

    (void)ac;
    if (op->plain_failed) {
        store_op_finish(op, false);
        return;
    }
    if (store_reply_failed(op, reply, "open_marks")) {
        store_op_finish(op, false);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) {
        LOG_ERROR("store.event_failed", "step=open_marks event=%s "
                  "error=\"unexpected reply type %d\"", op->event_id, reply->type);
        op->failure = STORE_FAIL_PERMANENT;
        store_op_finish(op, false);
        return;
    }

    if (op->plain_updated && store_marks_allow_plain(op, reply)) {
        STAT_ADD(op->st->stats.opens_plain, 1);
        store_plain_finish(op, true);
        return;
    }
    store_plain_finish(op, false);
}

void store_plain_names(const struct store_op *op, bool is_click, struct plain_names *n)
{
    const struct event_touch *t = &op->ev.u.touch;

    n->touches_len = schema_reader_touches(n->touches, t->reader);
    n->member_len = touch_member(t, is_click, n->member);
    n->mark_len = 2 + strlen(t->campaign) + 1 + strlen(t->message);
}

void store_marks_hmget(const struct store_op *op, struct plain_names *n, struct store_args *a)
{
    n->marks_len = schema_reader_marks(n->marks, op->ev.u.touch.reader);
    memcpy(n->honeypot, n->member, n->mark_len);
    n->honeypot[0] = 'h';

    store_args_init(a);
    store_args_str(a, "HMGET");
    store_args_buf(a, n->marks, n->marks_len);
    store_args_buf(a, n->member, n->mark_len);
    store_args_buf(a, n->honeypot, n->mark_len);
    store_args_str(a, "e");
}

void store_open_plain_send(struct store_op *op)
{
    const struct event_touch *t = &op->ev.u.touch;
    uint32_t slack = touch_ttl_slack(op->st->opts.reader_retention_s);
    struct plain_names n;
    struct store_args a;

    store_plain_names(op, false, &n);
    /* READER_TOUCH stores a machine's open as "o|C|M|<verdict>". */
    if (t->verdict != VERDICT_HUMAN) {
        const char *name = verdict_name((enum verdict)t->verdict);
        size_t name_len = strlen(name);

        n.member[n.member_len++] = '|';
        memcpy(n.member + n.member_len, name, name_len);
        n.member_len += name_len;
    }

    store_args_init(&a);
    store_args_str(&a, "ZADD");
    store_args_buf(&a, n.touches, n.touches_len);
    store_args_str(&a, "GT");
    store_args_str(&a, "XX");
    store_args_str(&a, "CH");
    store_args_u64(&a, touch_score(t->time, op->ev.device, op->ev.client));
    store_args_buf(&a, n.member, n.member_len);
    op->plain_renewed = renewal_cache_has(op->st->opts.renewals, t->reader,
                                          t->time / slack);
    if (store_send(op, on_plain_zadd, &a) != 0 || op->plain_renewed)
        return;

    store_marks_hmget(op, &n, &a);
    if (store_send_args(op->st, on_plain_marks, op, &a) != 0) {
        /* The ZADD is queued, so its callback still runs and ends the op.
         * The ZADD may have run; the replay's READER_TOUCH completes it. */
        LOG_LIMITED(LOG_LEVEL_WARN, "store.event_failed",
                    "step=open_marks event=%s error=\"could not queue the command\"",
                    op->event_id);
        op->failure = STORE_FAIL_LOST;
        op->plain_failed = true;
    }
}
