/*
 * touch.h - touchpoints as stored in a reader's Redis sorted set.
 *
 * Each member names one email touch; its score is the time (Unix s):
 *
 *   o|<campaign>|<message>                   the latest open of a message
 *   o|<campaign>|<message>|<verdict>         the latest machine open of a
 *                                            message with that verdict
 *   c|<campaign>|<message>|<link>|<click id> one click (click id: 16 hex)
 *   c|<campaign>|<message>|<link>|<click id>|<verdict>
 *                                            one click by a machine
 *
 * Opens of one message share a member per verdict, so a reader who opens
 * an email ten times costs one entry (two when a privacy proxy fetched it
 * too); clicks stay apart because a beacon's tly token names a single
 * click. docs/redis-schema.md documents the same format.
 */
#ifndef TALLY_TOUCH_H
#define TALLY_TOUCH_H

#include <stddef.h>

#include "attribution.h"
#include "event.h"

/* Room for the longest member and its NUL. */
#define TOUCH_MEMBER_MAX (2 + TOKEN_ID_MAX + 1 + TOKEN_ID_MAX + 1 + 10 + 1 \
                          + 2 * TOKEN_CLICK_ID_LEN + 1 + TOUCH_VERDICT_MAX)

/* Room for a "|<verdict>" suffix; the longest name is "privacy_proxy". */
#define TOUCH_VERDICT_MAX 16

/* Writes the member of an open (is_click false) or a click to out and
 * returns its length. out has TOUCH_MEMBER_MAX bytes. */
size_t touch_member(const struct event_touch *t, bool is_click, char *out);

/* Parses the member of a person's click with its score into *out (reader
 * left zero). Returns 0, or -1 when member is not a well-formed click
 * member or carries a verdict: a machine's click is never credited here. */
int touch_parse_click(const char *member, size_t len, double score,
                      struct event_touch *out);

/* Same as touch_parse_click, but also accepts a machine's click and sets
 * out->verdict from its suffix (classify.h); -1 for an unknown verdict. */
int touch_parse_click_any(const char *member, size_t len, double score,
                          struct event_touch *out);

/* Parses the member of an open or a click, a person's or a machine's,
 * with its score into *out: kind tells which, touch.verdict whose (reader
 * left zero). Returns 0, or -1 when member is neither or names an unknown
 * verdict. Attribution decides whether a machine's touch may be credited. */
int touch_parse(const char *member, size_t len, double score,
                struct attr_touch *out);

#endif
