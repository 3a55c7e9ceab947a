/*
 * device_cache.h - remembers the device class and client family of the
 * User-Agent values an event loop has seen lately.
 *
 * device_classify scans the whole User-Agent for dozens of markers, which
 * cost more instructions per pixel request than parsing the request
 * (callgrind under loadtest/bench.py's pixel load). Opens come in runs of
 * the same few values: an image proxy (Gmail's, Apple's) fetches pixels
 * for many readers with one User-Agent. The classification depends on the
 * value alone, so a cached result never goes stale.
 *
 * One cache belongs to one event loop thread.
 */
#ifndef TALLY_DEVICE_CACHE_H
#define TALLY_DEVICE_CACHE_H

#include <stddef.h>

#include "device.h"

struct device_cache;

/* Returns a new, empty cache, or NULL when memory runs out. */
struct device_cache *device_cache_new(void);

void device_cache_free(struct device_cache *cache);

/* Sets *device and *client as device_classify(ua, len, ...) does, from the
 * cache when it contains ua, and stores the result otherwise. */
void device_cache_classify(struct device_cache *cache, const char *ua, size_t len,
                           enum device_class *device, enum client_family *client);

#endif
