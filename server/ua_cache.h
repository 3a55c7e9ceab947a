/*
 * ua_cache.h - remembers what an event loop has worked out from the
 * User-Agent values it has seen lately: device class, client family and
 * the classification lists whose agent patterns match.
 *
 * device_classify scans the whole User-Agent for dozens of markers, and
 * classify_agent_lists tries every pattern of three lists. Under
 * loadtest/bench.py's pixel load that was about 2,900 instructions per
 * request (callgrind), more than parsing the request. Pixels come in runs
 * of the same few values: an image proxy (Gmail's, Apple's) fetches pixels
 * for many readers with one User-Agent. The device and client depend on
 * the value alone. The list matches also depend on the classification
 * data, so ua_cache_forget_agents drops them when that data is reloaded.
 *
 * One cache belongs to one event loop thread.
 */
#ifndef TALLY_UA_CACHE_H
#define TALLY_UA_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "classify.h"
#include "device.h"

/* The traits derived from one User-Agent value. */
struct ua_traits {
    enum device_class device;
    enum client_family client;
    uint8_t agents; /* classify_agent_lists of the value */
};

struct ua_cache;

/* Returns a new, empty cache, or NULL when memory runs out. */
struct ua_cache *ua_cache_new(void);

void ua_cache_free(struct ua_cache *cache);

/* Sets *out to the traits of ua[0..len), with the agent lists of tables,
 * from the cache when it contains ua, and stores them otherwise. */
void ua_cache_lookup(struct ua_cache *cache, const struct classify_tables *tables,
                     const char *ua, size_t len, struct ua_traits *out);

/* Drops every stored list match, for when the classification data changes.
 * Device classes and client families stay. */
void ua_cache_forget_agents(struct ua_cache *cache);

#endif
