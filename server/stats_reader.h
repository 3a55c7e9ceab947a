/*
 * stats_reader.h - the Redis connection a worker reads stats through.
 *
 * It is a second connection per worker, apart from the store's, so that a
 * stats read never waits behind a backlog of event writes, and a slow or
 * large stats reply never delays the writes. It connects on demand: the
 * first command after start or after a lost connection opens a new one, so
 * a worker that serves no stats holds no extra connection, and there is no
 * reconnect timer. Commands given while it connects are queued by hiredis
 * and sent once connected.
 */
#ifndef TALLY_STATS_READER_H
#define TALLY_STATS_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/async.h>

#include "redis_url.h"

struct event_base;
struct stats_reader;

struct stats_reader_stats {
    uint64_t connects; /* connections opened, the first one included */
    uint64_t timeouts; /* connections dropped because no reply came */
    bool connected;
};

/* Creates a reader on base; target is copied. No connection is made yet.
 * When commands are pending and no reply comes for timeout_ms, the
 * connection is dropped and their callbacks run with NULL. Returns NULL
 * when memory runs out. */
struct stats_reader *stats_reader_new(struct event_base *base,
                                      const struct redis_target *target,
                                      int timeout_ms);

/* Closes the connection; pending callbacks run with a NULL reply first. */
void stats_reader_free(struct stats_reader *r);

/*
 * Sends one command (argv, lens as for redisAsyncCommandArgv), connecting
 * first when there is no connection. cb runs once with the reply, or with
 * NULL when the connection fails or is lost; the reply is freed when cb
 * returns. Returns 0, or -1 (cb will not run) when no connection could be
 * started.
 */
int stats_reader_send(struct stats_reader *r, redisCallbackFn *cb, void *privdata,
                      int argc, const char **argv, const size_t *lens);

const struct stats_reader_stats *stats_reader_stats(const struct stats_reader *r);

#endif
