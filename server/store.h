/*
 * store.h - the Redis side of one event loop: hiredis async on libevent.
 *
 * Handlers answer first and record after: they hand a struct event to
 * store_submit, which copies it and writes it to Redis in the background
 * with pipelined EVALSHA calls, never blocking the loop. Each store owns one
 * connection and reconnects with backoff after losing it.
 *
 * Exactly-once: every event carries a writer id (random per store) and a
 * sequence number, and every script is idempotent for a repeated event (see
 * store_scripts.c), so an event that is sent again after a lost reply counts
 * once.
 */
#ifndef TALLY_STORE_H
#define TALLY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "redis_url.h"

struct event_base;
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
};

struct store_stats {
    uint64_t submitted;
    uint64_t written;      /* events fully applied (or found already applied) */
    uint64_t failed;       /* events that could not be written */
    uint64_t orders_repeated;
    uint64_t orders_unattributed;
    uint64_t refunds_unknown_order;  /* refund for an order not claimed */
    uint64_t identifiers_shared;     /* links that found an identifier shared */
    uint64_t reconnects;
    bool connected;
};

/* Creates a store on base and starts connecting. target and opts are
 * copied. Returns NULL when memory runs out. */
struct store *store_new(struct event_base *base, const struct redis_target *target,
                        const struct store_options *opts);

/* Disconnects and frees. Events still in flight are counted as failed. */
void store_free(struct store *st);

/* Copies ev and writes it to Redis in the background. */
void store_submit(struct store *st, const struct event *ev);

/* Number of events submitted but not yet written or failed. */
size_t store_in_flight(const struct store *st);

/* Calls done(arg) once no event is in flight (possibly at once). */
void store_drain(struct store *st, void (*done)(void *), void *arg);

const struct store_stats *store_stats(const struct store *st);

#endif
