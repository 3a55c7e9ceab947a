/*
 * store_links.c - identity links: identify beacons, the LINK_ADD and
 * LINK_LOOKUP helpers checkouts share, and the shop counters of identify
 * beacons.
 *
 * An identify is a short chain, each step in one Redis Cluster slot:
 *
 *   1. without a reader from a token or an email hash: LINK_LOOKUP of the
 *      device, whose latest reader becomes the customer's (unless the
 *      device is shared);
 *   2. LINK_ADD of the customer to the reader;
 *   3. LINK_ADD of the device to the reader, only when a valid token named
 *      the reader.
 *
 * Every LINK_ADD follows a READER_LINK in the reader's slot that adds the
 * link's key name to the reader's link set, for forgetting (forget.h).
 * Lookups only read, and READER_LINK and LINK_ADD are idempotent, so a
 * replay links nothing twice.
 */
#include "store_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "log.h"
#include "store_scripts.h"

enum identify_step {
    IDENTIFY_COUNT = 0,
    IDENTIFY_LOOKUP_DEVICE,
    IDENTIFY_LINK_CUSTOMER,
    IDENTIFY_LINK_DEVICE,
    IDENTIFY_DONE,
};

static void identify_next(struct store_op *op);

static size_t identifier_key(char *out, const uint8_t id[TOKEN_READER_LEN],
                             bool is_device)
{
    return is_device ? schema_device(out, id) : schema_customer(out, id);
}

static void on_reader_linked(redisAsyncContext *ac, void *r, void *privdata)
{
    struct store_op *op = privdata;
    char key[SCHEMA_KEY_MAX];
    char reader_hex[2 * TOKEN_READER_LEN + 1];
    struct store_args a;

    (void)ac;
    if (store_reply_failed(op, r, "reader_link")) {
        store_op_finish(op, false);
        return;
    }
    identifier_key(key, op->steps->link.id, op->steps->link.is_device);
    ident_hex(op->steps->link.reader, TOKEN_READER_LEN, reader_hex);

    store_args_init(&a);
    store_args_evalsha(&a, SCRIPT_LINK_ADD, 1);
    store_args_str(&a, key);
    store_args_str(&a, reader_hex);
    store_args_u64(&a, op->ev.time);
    store_args_u64(&a, op->st->opts.reader_retention_s);
    store_args_u64(&a, op->st->opts.max_readers_per_identifier);
    store_send(op, op->steps->link.done, &a);
}

/* The reader's link set learns of the link before the link exists, so
 * forgetting the reader can never miss it. */
void store_link_send(struct store_op *op, const uint8_t id[TOKEN_READER_LEN],
                     bool is_device, const uint8_t reader[TOKEN_READER_LEN],
                     redisCallbackFn *cb)
{
    char links[SCHEMA_KEY_MAX], key[SCHEMA_KEY_MAX];
    struct store_args a;

    memcpy(op->steps->link.id, id, TOKEN_READER_LEN);
    memcpy(op->steps->link.reader, reader, TOKEN_READER_LEN);
    op->steps->link.is_device = is_device;
    op->steps->link.done = cb;
    schema_reader_links(links, reader);
    identifier_key(key, id, is_device);

    store_args_init(&a);
    store_args_evalsha(&a, SCRIPT_READER_LINK, 1);
    store_args_str(&a, links);
    store_args_str(&a, key);
    store_args_u64(&a, op->st->opts.reader_retention_s);
    store_send(op, on_reader_linked, &a);
}

static void on_shared_added(redisAsyncContext *ac, void *r, void *privdata)
{
    const redisReply *reply = r;

    (void)ac;
    (void)privdata;
    if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
        LOG_LIMITED(LOG_LEVEL_ERROR, "redis.command_failed",
                    "command=SADD error=\"%.*s\"", (int)reply->len, reply->str);
}

bool store_link_check_shared(struct store_op *op, const redisReply *reply,
                             const char *shop, const uint8_t id[TOKEN_READER_LEN],
                             bool is_device)
{
    char set[SCHEMA_KEY_MAX], key[SCHEMA_KEY_MAX];

    if (store_reply_failed(op, reply, "link_add"))
        return false;
    if (reply->type != REDIS_REPLY_INTEGER ||
        reply->integer <= (long long)op->st->opts.max_readers_per_identifier)
        return true;

    STAT_ADD(op->st->stats.identifiers_shared, 1);
    LOG_LIMITED(LOG_LEVEL_INFO, "link.shared", "shop=%s kind=%s readers=%lld",
                shop, is_device ? "device" : "customer", reply->integer);
    if (op->st->ac == NULL)
        return true;
    schema_shop_shared(set, shop);
    identifier_key(key, id, is_device);
    redisAsyncCommand(op->st->ac, on_shared_added, NULL, "SADD %s %s", set, key);
    return true;
}

void store_lookup_send(struct store_op *op, const uint8_t id[TOKEN_READER_LEN],
                       bool is_device, redisCallbackFn *cb)
{
    char key[SCHEMA_KEY_MAX];
    uint32_t now = op->ev.time;
    uint32_t retention = op->st->opts.reader_retention_s;
    struct store_args a;

    identifier_key(key, id, is_device);
    store_args_init(&a);
    store_args_evalsha(&a, SCRIPT_LINK_LOOKUP, 1);
    store_args_str(&a, key);
    store_args_u64(&a, now > retention ? now - retention : 0);
    store_send(op, cb, &a);
}

/* Parses the 24 hex digits of a stored reader id. Returns 0, or -1. */
static int parse_reader_hex(const char *hex, size_t len, uint8_t out[TOKEN_READER_LEN])
{
    if (len != 2 * TOKEN_READER_LEN)
        return -1;
    for (size_t i = 0; i < TOKEN_READER_LEN; i++) {
        char pair[3] = {hex[2 * i], hex[2 * i + 1], '\0'};

        if (!isxdigit((unsigned char)pair[0]) || !isxdigit((unsigned char)pair[1]))
            return -1;
        out[i] = (uint8_t)strtoul(pair, NULL, 16);
    }
    return 0;
}

int store_lookup_parse(const redisReply *reply, long long *n_readers,
                       uint8_t reader[TOKEN_READER_LEN])
{
    const redisReply *n, *top;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2)
        return -1;
    n = reply->element[0];
    top = reply->element[1];
    if (n->type != REDIS_REPLY_INTEGER || top->type != REDIS_REPLY_STRING)
        return -1;
    *n_readers = n->integer;
    if (top->len == 0)
        return 0;
    /* A member that is not 24 hex digits (edited by hand) counts as absent. */
    return parse_reader_hex(top->str, top->len, reader) == 0 ? 1 : 0;
}

void store_shop_count(struct store_op *op, const char *shop,
                      const char *const *fields, const long long *increments,
                      size_t n, redisCallbackFn *cb)
{
    char keys[2][SCHEMA_KEY_MAX];
    struct store_args a;

    schema_shop(keys[0], shop);
    schema_shop_applied(keys[1], shop);

    store_args_init(&a);
    store_args_evalsha(&a, SCRIPT_SHOP_COUNT, 2);
    store_args_str(&a, keys[0]);
    store_args_str(&a, keys[1]);
    store_args_str(&a, op->writer_hex);
    store_args_u64(&a, op->seq);
    store_args_u64(&a, op->st->opts.campaign_retention_s);
    for (size_t i = 0; i < n; i++) {
        store_args_str(&a, fields[i]);
        store_args_i64(&a, increments[i]);
    }
    store_send(op, cb, &a);
}

/* ---- identify ------------------------------------------------------ */

static void on_identify_link(redisAsyncContext *ac, void *r, void *privdata)
{
    struct store_op *op = privdata;
    const struct event_identify *id = &op->ev.u.identify;
    bool is_device = op->steps->step == IDENTIFY_LINK_DEVICE;

    (void)ac;
    if (!store_link_check_shared(op, r, id->shop, is_device ? id->device : id->customer,
                                 is_device)) {
        store_op_finish(op, false);
        return;
    }
    op->steps->step++;
    identify_next(op);
}

static void on_identify_counted(redisAsyncContext *ac, void *r, void *privdata)
{
    struct store_op *op = privdata;

    (void)ac;
    if (store_reply_failed(op, r, "shop_count")) {
        store_op_finish(op, false);
        return;
    }
    op->steps->step = IDENTIFY_LOOKUP_DEVICE;
    identify_next(op);
}

static void on_identify_lookup(redisAsyncContext *ac, void *r, void *privdata)
{
    struct store_op *op = privdata;
    struct event_identify *id = &op->ev.u.identify;
    long long n = 0;
    int found;

    (void)ac;
    if (store_reply_failed(op, r, "link_lookup")) {
        store_op_finish(op, false);
        return;
    }
    found = store_lookup_parse(r, &n, id->reader);
    if (found == 1 && n <= (long long)op->st->opts.max_readers_per_identifier)
        id->has_reader = true;
    op->steps->step = IDENTIFY_LINK_CUSTOMER;
    identify_next(op);
}

/* Runs the next step that applies, or finishes. */
static void identify_next(struct store_op *op)
{
    const struct event_identify *id = &op->ev.u.identify;

    for (;; op->steps->step++) {
        switch (op->steps->step) {
        case IDENTIFY_LOOKUP_DEVICE:
            if (id->has_reader || !id->has_device || !id->has_customer)
                continue;
            store_lookup_send(op, id->device, true, on_identify_lookup);
            return;
        case IDENTIFY_LINK_CUSTOMER:
            if (!id->has_reader || !id->has_customer)
                continue;
            store_link_send(op, id->customer, false, id->reader, on_identify_link);
            return;
        case IDENTIFY_LINK_DEVICE:
            if (!id->reader_from_token || !id->has_device)
                continue;
            store_link_send(op, id->device, true, id->reader, on_identify_link);
            return;
        default:
            store_op_finish(op, true);
            return;
        }
    }
}

void store_identify_start(struct store_op *op)
{
    const struct event_identify *id = &op->ev.u.identify;
    static const char *const fields[] = {"identifies", "ignored_placeholders"};
    long long increments[] = {1, (long long)id->placeholders};

    op->steps->step = IDENTIFY_COUNT;
    store_shop_count(op, id->shop, fields, increments, 2, on_identify_counted);
}
