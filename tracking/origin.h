/*
 * origin.h - the shop origins allowed to send browser beacons (CORS).
 *
 * An origin is scheme://host[:port] as a browser sends it in the Origin
 * header (RFC 6454): no path, no trailing slash, no user info. The list is
 * the shop_origins setting, origins separated by commas with optional
 * spaces. Scheme and host compare without regard to ASCII case; "null"
 * (sandboxed frames, file: pages) is never allowed.
 */
#ifndef TALLY_ORIGIN_H
#define TALLY_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>

#define ORIGIN_LIST_MAX 16
#define ORIGIN_MAX 256 /* bytes of one origin with its NUL */

struct origin_list {
    char origins[ORIGIN_LIST_MAX][ORIGIN_MAX]; /* lower-cased */
    size_t n;
};

/* Parses the comma-separated list text into *out. An empty text gives an
 * empty list. Returns 0, or -1 when an entry is not an http or https
 * origin, is longer than ORIGIN_MAX - 1 bytes, or there are more than
 * ORIGIN_LIST_MAX entries. */
int origin_list_parse(const char *text, struct origin_list *out);

/* Tells whether origin[0..len) is in the list. */
bool origin_list_allows(const struct origin_list *list, const char *origin,
                        size_t len);

#endif
