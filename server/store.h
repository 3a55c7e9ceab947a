/*
 * store.h - the Redis side of one event loop: hiredis async on libevent.
 *
 * Handlers do not wait for Redis: they hand a struct event to
 * store_submit, which copies it and writes it to Redis in the background
 * with pipelined EVALSHA calls, never blocking the loop. Each store owns one
 * connection and reconnects with backoff after losing it.
 *
 * Exactly-once: every event carries a writer id (random per store) and a
 * sequence number, and every script is idempotent for a repeated event (see
 * store_scripts.c), so an event that is sent again after a lost reply counts
 * once.
 *
 * Durability: an event whose write fails (no connection, an error reply,
 * no reply within redis_timeout) goes to the store's journal under
 * state_dir, and so does every later event, in order, until the journal
 * has been replayed into Redis (store_spool.c).
 */
#ifndef TALLY_STORE_H
#define TALLY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "token.h"
#include "journal.h"
#include "redis_url.h"

struct event_base;
struct renewal_cache;
struct store;

struct store_options {
    uint32_t click_window_s;
    uint32_t open_window_s;
    bool attribute_opens;
    int attribution_model;           /* enum attr_model */
    unsigned max_readers_per_identifier;
    uint32_t reader_retention_s;
    uint32_t campaign_retention_s;
    unsigned max_touches; /* touchpoints kept per reader, oldest dropped */
    uint32_t burst_window_s;    /* 0: no burst check */
    unsigned burst_links;       /* different links of one email in a burst */
    uint32_t honeypot_window_s; /* clicks this close to a honeypot click */
    bool attribute_machine_events; /* credit orders to machine clicks too */
    const char *state_dir; /* journal directory; must outlive the store */
    enum journal_fsync journal_fsync;
    size_t journal_max_bytes; /* of this store's journal file */
    int redis_timeout_ms;  /* a write unanswered this long counts as failed */
    size_t max_queued_events; /* live events waiting in memory for Redis */
    /* Shared by the stores of one process, or NULL. It must outlive them. */
    struct renewal_cache *renewals;
};

struct store_stats {
    uint64_t submitted;
    uint64_t written;      /* events fully applied (or found already applied) */
    uint64_t failed;       /* events lost: journal_dropped + journal_skipped */
    uint64_t orders_repeated;
    uint64_t orders_unattributed;
    uint64_t refunds_unknown_order;  /* refund before its order: held in Redis */
    uint64_t refunds_currency_mismatch; /* refund in another currency: dropped */
    uint64_t identifiers_shared;     /* links that found an identifier shared */
    uint64_t reconnects;
    bool connected;
    uint64_t journaled;       /* events written to the journal */
    uint64_t replayed;        /* journal records applied to Redis */
    uint64_t journal_dropped; /* events not journaled: journal full or failing */
    uint64_t journal_skipped; /* records given up: undecodable, or refused
                                 by Redis on every attempt */
    uint64_t timeouts;        /* connections dropped after redis_timeout */
    uint64_t opens_plain;     /* repeated opens written without READER_TOUCH */
    uint64_t clicks_plain;    /* a person's clicks written without READER_TOUCH */
    uint64_t opens_one_command; /* opens_plain with the ZADD alone (renewal_cache.h) */
    uint64_t journal_bytes;   /* size of this store's journal files now */
    bool spooling;            /* new events go to the journal */
};

/* Creates a store on base and starts connecting. target and opts are
 * copied. Returns NULL when memory runs out. */
struct store *store_new(struct event_base *base, const struct redis_target *target,
                        const struct store_options *opts);

/* Disconnects and frees. Events still in flight go to the journal. */
void store_free(struct store *st);

/* Copies ev and writes it to Redis in the background. While the store
 * spools, ev is in the journal when this returns. So handlers call it
 * before http_respond, which usually sends the response at once, and an
 * event whose response was sent survives a crash of tallyd. Only the
 * queue of an overflow keeps events in memory a little longer
 * (store_spool_overflow). Must not be called from a hiredis callback. */
void store_submit(struct store *st, const struct event *ev);

#define STORE_SENT_BATCH_MAX 1000 /* reader ids per store_count_sent call */

/* Counts n (at most STORE_SENT_BATCH_MAX) minted emails of one message as
 * sent, in the background: the readers[i] are reader ids. Idempotent, so a
 * repeat counts once (see docs/redis-schema.md). Counted as one event in
 * the store's stats and drained like one. */
void store_count_sent(struct store *st, const char *campaign,
                      const char *message,
                      const uint8_t (*readers)[TOKEN_READER_LEN], size_t n);

/* Number of events submitted but not yet written or failed. */
size_t store_in_flight(const struct store *st);

/* Calls done(arg) once no event is in flight (possibly at once). */
void store_drain(struct store *st, void (*done)(void *), void *arg);

const struct store_stats *store_stats(const struct store *st);

/* Returns the number of replies st's connections have had from Redis, one
 * per command Redis ran: the commands the store's writes cost. Call it on
 * st's own thread. */
uint64_t store_replies(const struct store *st);

/* Removes every per-reader key of reader and each link that points at it
 * (forget.h). Calls done(arg, deleted) once, with the number of keys
 * deleted (0 when the reader left no trace), or -1 when Redis is not
 * connected or a command failed; done may run before store_forget
 * returns. */
void store_forget(struct store *st, const uint8_t reader[TOKEN_READER_LEN],
                  void (*done)(void *arg, long deleted), void *arg);
/* Takes over a journal file left by an earlier run, to replay it into
 * Redis alongside this store's own events. Call before the loop runs or
 * from its thread; the next tick starts the replay. Returns 0, or -1
 * after logging why (the file is then left alone). */
int store_adopt_journal(struct store *st, const char *path);

#endif
