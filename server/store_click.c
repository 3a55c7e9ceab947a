/*
 * store_click.c - a person's click written with plain commands.
 *
 * READER_TOUCH cost Redis about 38 us per click under `make bench` on the
 * slow machine of docs/benchmarks.md. Its four calls from Lua took about
 * 8 us of that, and the script machinery the rest. So a live click whose
 * verdict is human first sends, in one round trip,
 *
 *   ZADD r:{R}:t NX <score> <member>
 *   ZCARD r:{R}:t
 *   ZRANGEBYSCORE r:{R}:t <t - burst window> <t + burst window>
 *   HMGET r:{R}:u c|C|M h|C|M e
 *
 * The member carries the click id, so the ZADD adds it (NX: a member that
 * exists is left alone and sends the click to the script). The range shows
 * the clicks around it and the HMGET the marks. The ZADD was the click's
 * whole write when four conditions hold. Fewer than burst_links different
 * links of the email lie in the burst window. No honeypot time of the
 * email lies within the honeypot window. The message mark exists, so this
 * is not the reader's first click of the message. And the keys were
 * renewed in the click's renewal period. The click then joins its
 * campaign batch as a person's, with no unique mask, which is what
 * READER_TOUCH would have returned. When ZCARD showed more than
 * max_touches members, ZREMRANGEBYRANK trims the set as the script would.
 * The trim waits for the decision, because the script must still see the
 * oldest clicks of the burst window. Most sets are far below
 * max_touches, and under loadtest/bench.py's click load ZCARD took Redis
 * 0.13 to 0.19 us per click where the trim of every click took 0.7 to
 * 1.0 us (INFO commandstats).
 *
 * Otherwise READER_TOUCH follows, with ARGV 14 set to say that the member
 * may be in the set. It takes the member out and does the whole write, so the
 * result is the script's. A replay after a lost connection does the same,
 * because the ZADD may have run. Another loop's click can run its script
 * between the ZADD and that script, see this click as a person's and move
 * it to "|burst" or "|honeypot", counting the move. READER_TOUCH then
 * finds the member under that name and keeps this click human, as if it
 * had come just before the other one. When the move comes after the
 * range, the plain path counts the click human too, with the same
 * result.
 *
 * Order: this loop's later events of the reader wait until the plain
 * commands have decided (store_join.c). Replays always take the script.
 */
#include "store_internal.h"

#include <string.h>

#include "classify.h"
#include "log.h"
#include "schema.h"
#include "touch.h"

/* The commands of the round trip, in the order of their replies. */
enum click_reply {
    CLICK_ADDED = 0,
    CLICK_SIZE,
    CLICK_NEAR,
    CLICK_MARKS,
    CLICK_REPLIES
};

bool store_click_plain_eligible(const struct store_op *op)
{
    const struct store_options *o = &op->st->opts;

    /* With burst_links of 1 or less every click is a burst, and a
     * burst_links above what links_near counts leaves the check to the
     * script. Without slack every event renews the keys, which only the
     * script does. */
    return op->ev.kind == EVENT_CLICK && !op->replay &&
           op->ev.u.touch.verdict == VERDICT_HUMAN &&
           (o->burst_window_s == 0 ||
            (o->burst_links >= 2 && o->burst_links <= STORE_CLICK_LINKS_MAX)) &&
           touch_ttl_slack(o->reader_retention_s) > 0;
}

/* Finds the link field of a click member of the email whose prefix
 * "c|C|M|" is prefix: sets *link and *link_len and returns true, or
 * returns false when member is something else. The same test as
 * READER_TOUCH's link_of: a link is followed by '|'. */
static bool link_of(const char *member, size_t len, const char *prefix,
                    size_t prefix_len, const char **link, size_t *link_len)
{
    const char *end;

    if (len <= prefix_len || memcmp(member, prefix, prefix_len) != 0)
        return false;
    end = memchr(member + prefix_len, '|', len - prefix_len);
    if (end == NULL)
        return false;
    *link = member + prefix_len;
    *link_len = (size_t)(end - *link);
    return true;
}

/* Counts the different links of the email among the clicks in range,
 * this click's own link included, as READER_TOUCH's burst check does.
 * Returns -1 for a reply of another shape. */
static int links_near(const struct store_op *op, const redisReply *range)
{
    const char *links[STORE_CLICK_LINKS_MAX];
    size_t lens[STORE_CLICK_LINKS_MAX];
    char member[TOUCH_MEMBER_MAX];
    size_t member_len = touch_member(&op->ev.u.touch, true, member);
    size_t prefix_len = 2 + strlen(op->ev.u.touch.campaign) + 1 +
                        strlen(op->ev.u.touch.message) + 1;
    int n = 1;

    if (range->type != REDIS_REPLY_ARRAY)
        return -1;
    /* This click's own member starts the list, so its link counts once. */
    if (!link_of(member, member_len, member, prefix_len, &links[0], &lens[0]))
        return -1;
    for (size_t i = 0; i < range->elements; i++) {
        const redisReply *m = range->element[i];
        const char *link;
        size_t len;
        int j;

        if (m->type != REDIS_REPLY_STRING)
            return -1;
        if (!link_of(m->str, m->len, member, prefix_len, &link, &len))
            continue;
        for (j = 0; j < n; j++)
            if (lens[j] == len && memcmp(links[j], link, len) == 0)
                break;
        if (j < n)
            continue;
        /* burst_links is at most this (store_click_plain_eligible). */
        if (n == STORE_CLICK_LINKS_MAX)
            return n;
        links[n] = link;
        lens[n] = len;
        n++;
    }
    return n;
}

/* Returns whether one reply allows the plain write. hiredis frees a
 * reply when its callback returns, so on_reply keeps only this result, in
 * op->plain_enough. */
static bool reply_allows_plain(const struct store_op *op, enum click_reply position,
                               const redisReply *reply)
{
    const struct store_options *o = &op->st->opts;
    int links;

    switch (position) {
    case CLICK_ADDED:
        return reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
    case CLICK_SIZE:
        return reply->type == REDIS_REPLY_INTEGER;
    case CLICK_NEAR:
        links = links_near(op, reply);
        return links >= 0 && (unsigned)links < o->burst_links;
    case CLICK_MARKS:
        return store_marks_allow_plain(op, reply);
    case CLICK_REPLIES:
        break;
    }
    return false;
}

/* The trim's reply concerns no event: a trim that failed leaves the set a
 * member longer than max_touches until the reader's next write trims it.
 * A lost connection (no reply) is logged where it is dropped. */
static void on_trimmed(redisAsyncContext *ac, void *r, void *privdata)
{
    const redisReply *reply = r;

    (void)ac;
    (void)privdata;
    if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
        LOG_LIMITED(LOG_LEVEL_WARN, "store.trim_failed", "error=\"%s\"", reply->str);
}

static void send_trim(struct store_op *op)
{
    struct store_args a;
    char touches[SCHEMA_KEY_MAX];
    size_t touches_len = schema_reader_touches(touches, op->ev.u.touch.reader);

    store_args_init(&a);
    store_args_str(&a, "ZREMRANGEBYRANK");
    store_args_buf(&a, touches, touches_len);
    store_args_str(&a, "0");
    store_args_i64(&a, -(int64_t)op->st->opts.max_touches - 1);
    if (store_send_args(op->st, on_trimmed, NULL, &a) != 0)
        LOG_LIMITED(LOG_LEVEL_WARN, "store.trim_failed", "error=\"could not queue the command\"");
}

/* Ends the plain step once every reply has come: fails op, finishes its
 * reader step as a person's click, or sends READER_TOUCH. */
static void decide(struct store_op *op)
{
    if (op->plain_failed) {
        store_op_finish(op, false);
        return;
    }
    if (op->plain_enough) {
        STAT_ADD(op->st->stats.clicks_plain, 1);
        if (op->plain_oversized)
            send_trim(op);
    }
    store_plain_finish(op, op->plain_enough);
}

/* A reply of another shape than expected does not allow the plain write
 * and so sends the click to the script, which does the whole write. An
 * error reply or a lost connection fails the click. */
static void on_reply(struct store_op *op, enum click_reply position, const redisReply *reply)
{
    static const char *const steps[CLICK_REPLIES] = {
        "click_zadd", "click_size", "click_near", "click_marks",
    };

    if (!op->plain_failed) {
        if (store_reply_failed(op, reply, steps[position]))
            op->plain_failed = true;
        else if (!reply_allows_plain(op, position, reply))
            op->plain_enough = false;
        else if (position == CLICK_SIZE)
            op->plain_oversized = reply->integer > (long long)op->st->opts.max_touches;
    }
    if (--op->plain_due == 0)
        decide(op);
}

static void on_added(redisAsyncContext *ac, void *r, void *privdata)
{
    (void)ac;
    on_reply(privdata, CLICK_ADDED, r);
}

static void on_size(redisAsyncContext *ac, void *r, void *privdata)
{
    (void)ac;
    on_reply(privdata, CLICK_SIZE, r);
}

static void on_near(redisAsyncContext *ac, void *r, void *privdata)
{
    (void)ac;
    on_reply(privdata, CLICK_NEAR, r);
}

static void on_marks(redisAsyncContext *ac, void *r, void *privdata)
{
    (void)ac;
    on_reply(privdata, CLICK_MARKS, r);
}

/* Queues one command after the ZADD. When that fails, the commands queued
 * before still call back, and the last of them fails op. */
static bool queue_more(struct store_op *op, redisCallbackFn *cb, const struct store_args *a)
{
    if (store_send_args(op->st, cb, op, a) != 0) {
        LOG_LIMITED(LOG_LEVEL_WARN, "store.event_failed",
                    "step=click_plain event=%s error=\"could not queue the command\"",
                    op->event_id);
        op->failure = STORE_FAIL_LOST;
        op->plain_failed = true;
        return false;
    }
    op->plain_due++;
    return true;
}

void store_click_plain_send(struct store_op *op)
{
    const struct event_touch *t = &op->ev.u.touch;
    const struct store_options *o = &op->st->opts;
    struct plain_names n;
    struct store_args a;

    store_plain_names(op, true, &n);
    op->plain_enough = true;
    op->plain_due = 1;

    store_args_init(&a);
    store_args_str(&a, "ZADD");
    store_args_buf(&a, n.touches, n.touches_len);
    store_args_str(&a, "NX");
    store_args_u64(&a, touch_score(t->time, op->ev.device, op->ev.client));
    store_args_buf(&a, n.member, n.member_len);
    if (store_send(op, on_added, &a) != 0)
        return;
    /* From here the member may be in the set, which READER_TOUCH must
     * know (ARGV 14), also when the click fails and is replayed. */
    op->plain_updated = true;

    store_args_init(&a);
    store_args_str(&a, "ZCARD");
    store_args_buf(&a, n.touches, n.touches_len);
    if (!queue_more(op, on_size, &a))
        return;

    if (o->burst_window_s > 0) {
        uint32_t from = t->time > o->burst_window_s ? t->time - o->burst_window_s : 0;

        store_args_init(&a);
        store_args_str(&a, "ZRANGEBYSCORE");
        store_args_buf(&a, n.touches, n.touches_len);
        store_args_u64(&a, touch_score_min(from));
        store_args_u64(&a, touch_score_max(t->time + o->burst_window_s));
        if (!queue_more(op, on_near, &a))
            return;
    }

    store_marks_hmget(op, &n, &a);
    queue_more(op, on_marks, &a);
}
