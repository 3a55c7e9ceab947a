/*
 * store_batch.c - campaign counters of opens and clicks, written in batches.
 *
 * Once READER_TOUCH has replied for an open or a click, the event joins
 * the pending batch of its campaign. The batches are sent at the end of the
 * loop iteration, or earlier when one is full: one CAMPAIGN_TOUCH call then
 * counts every event of the batch, so the campaign side costs one command
 * for many events instead of one each. All keys of a batch are in the
 * campaign's slot, as before.
 *
 * Ordering: READER_TOUCH replies arrive in sequence order (one connection),
 * events join their batch in that order, and batches are sent in the order
 * they are closed, so each campaign still receives a writer's events in
 * sequence order. CAMPAIGN_TOUCH checks every event's sequence number
 * against the highest one applied for the writer, so an event sent again,
 * alone or in a batch of a different make-up, counts once.
 */
#include "store_internal.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_scripts.h"

/* Keys before the message and hour keys: totals, applied marks, links. */
#define FIXED_KEYS 3
/* Arguments per event: seq, counter, unique mask, message key, hour key,
 * link field. */
#define EVENT_ARGS 6

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

static bool batch_fits(const struct campaign_batch *b, const struct event_touch *t)
{
    return b->n_ops < STORE_BATCH_EVENTS &&
           (find_message(b, t->message) >= 0 || b->n_messages < STORE_BATCH_MESSAGES) &&
           (find_hour(b, t->time) >= 0 || b->n_hours < STORE_BATCH_HOURS);
}

static void batch_release(struct campaign_batch *b)
{
    struct store *st = b->st;

    b->next_free = st->free_batches;
    st->free_batches = b;
}

/* Ends every event of b as written or failed and releases b. */
static void batch_finish(struct campaign_batch *b, bool ok)
{
    size_t n = b->n_ops;

    b->n_ops = 0;
    batch_release(b);
    for (size_t i = 0; i < n; i++)
        store_op_finish(b->ops[i], ok);
}

static void on_campaign_touch(redisAsyncContext *ac, void *r, void *privdata)
{
    struct campaign_batch *b = privdata;

    (void)ac;
    /* The log line names the batch's first event. */
    batch_finish(b, !store_reply_failed(b->ops[0], r, "campaign_touch"));
}

static void encode_event(struct resp_buf *out, const struct campaign_batch *b,
                         const struct store_op *op)
{
    const struct event_touch *t = &op->ev.u.touch;
    bool is_click = op->ev.kind == EVENT_CLICK;
    size_t message_key = FIXED_KEYS + 1 + (size_t)find_message(b, t->message);
    size_t hour_key = FIXED_KEYS + 1 + b->n_messages + (size_t)find_hour(b, t->time);
    char link_field[TOKEN_ID_MAX + 1 + RESP_U64_MAX];
    size_t link_len = 0;

    if (is_click) {
        link_len = strlen(t->message);
        memcpy(link_field, t->message, link_len);
        link_field[link_len++] = ':';
        link_len += resp_u64_text(t->link, link_field + link_len);
    }

    resp_bulk_u64(out, op->seq);
    resp_bulk_str(out, is_click ? "clicks" : "opens");
    resp_bulk_u64(out, op->unique_mask);
    resp_bulk_u64(out, message_key);
    resp_bulk_u64(out, hour_key);
    resp_bulk(out, link_field, link_len);
}

/* Removes b from the pending batches and sends it. */
static void batch_send(struct campaign_batch *b)
{
    struct store *st = b->st;
    struct resp_buf *out = &st->resp;
    size_t n_keys = FIXED_KEYS + b->n_messages + b->n_hours;
    char key[SCHEMA_KEY_MAX];

    for (size_t i = 0; i < st->n_batches; i++) {
        if (st->batches[i] == b) {
            st->batches[i] = st->batches[--st->n_batches];
            break;
        }
    }

    resp_reset(out);
    resp_array(out, 3 + n_keys + 2 + EVENT_ARGS * b->n_ops);
    resp_bulk_str(out, "EVALSHA");
    resp_bulk_str(out, store_script_sha(SCRIPT_CAMPAIGN_TOUCH));
    resp_bulk_u64(out, n_keys);
    resp_bulk(out, key, schema_campaign(key, b->campaign));
    resp_bulk(out, key, schema_applied(key, b->campaign));
    resp_bulk(out, key, schema_links(key, b->campaign));
    for (size_t i = 0; i < b->n_messages; i++)
        resp_bulk(out, key, schema_message(key, b->campaign, b->messages[i]));
    for (size_t i = 0; i < b->n_hours; i++)
        resp_bulk(out, key, schema_hour(key, b->campaign, b->hours[i]));
    resp_bulk_str(out, st->writer);
    resp_bulk_u64(out, st->opts.campaign_retention_s);
    for (size_t i = 0; i < b->n_ops; i++)
        encode_event(out, b, b->ops[i]);

    if (st->ac == NULL || out->failed ||
        redisAsyncFormattedCommand(st->ac, on_campaign_touch, b, out->data,
                                   out->len) != REDIS_OK) {
        LOG_LIMITED(LOG_LEVEL_WARN, "store.event_failed",
                    "step=campaign_touch campaign=%s events=%zu "
                    "error=\"not connected to redis\"", b->campaign, b->n_ops);
        batch_finish(b, false);
    }
}

void store_batch_flush(struct store *st)
{
    while (st->n_batches > 0)
        batch_send(st->batches[0]);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    struct store *st = arg;

    (void)fd;
    (void)what;
    st->flush_scheduled = false;
    store_batch_flush(st);
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
    st->batches[st->n_batches++] = b;
    return b;
}

void store_batch_add(struct store_op *op)
{
    struct store *st = op->st;
    const struct event_touch *t = &op->ev.u.touch;
    struct campaign_batch *b = NULL;

    for (size_t i = 0; i < st->n_batches && b == NULL; i++)
        if (strcmp(st->batches[i]->campaign, t->campaign) == 0)
            b = st->batches[i];
    if (b != NULL && !batch_fits(b, t)) {
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
    if (find_message(b, t->message) < 0)
        b->messages[b->n_messages++] = t->message;
    if (find_hour(b, t->time) < 0)
        b->hours[b->n_hours++] = t->time;

    if (!st->flush_scheduled) {
        /* Runs after the callbacks already active in this loop iteration,
         * so one batch collects every reply read in it. */
        event_active(st->flush_event, 0, 0);
        st->flush_scheduled = true;
    }
}

int store_batch_init(struct store *st)
{
    st->flush_event = event_new(st->base, -1, 0, on_flush, st);
    return st->flush_event != NULL ? 0 : -1;
}

void store_batch_free(struct store *st)
{
    struct campaign_batch *b;

    /* Batches not sent yet: their events are lost, like those in flight. */
    while (st->n_batches > 0) {
        b = st->batches[--st->n_batches];
        batch_finish(b, false);
    }
    while ((b = st->free_batches) != NULL) {
        st->free_batches = b->next_free;
        free(b);
    }
    if (st->flush_event != NULL)
        event_free(st->flush_event);
    st->flush_event = NULL;
}
