/*
 * touch.h - touchpoints as stored in a reader's Redis sorted set.
 *
 * Each member names one email touch; its score is the time (Unix s):
 *
 *   o|<campaign>|<message>                   the latest open of a message
 *   c|<campaign>|<message>|<link>|<click id> one click (click id: 16 hex)
 *
 * Opens of one message share a member, so a reader who opens an email ten
 * times costs one entry; clicks stay apart because a beacon's tly token names
 * a single click. docs/redis-schema.md documents the same format.
 */
#ifndef TALLY_TOUCH_H
#define TALLY_TOUCH_H

#include <stddef.h>

#include "attribution.h"
#include "event.h"

/* Room for the longest member and its NUL. */
#define TOUCH_MEMBER_MAX (2 + TOKEN_ID_MAX + 1 + TOKEN_ID_MAX + 1 + 10 + 1 \
                          + 2 * TOKEN_CLICK_ID_LEN + 1)

/* Writes the member of an open (is_click false) or a click to out and
 * returns its length. out has TOUCH_MEMBER_MAX bytes. */
size_t touch_member(const struct event_touch *t, bool is_click, char *out);

/* Parses the member of a click with its score into *out (reader left zero).
 * Returns 0, or -1 when member is not a well-formed click member. */
int touch_parse_click(const char *member, size_t len, double score,
                      struct event_touch *out);

/* Parses the member of an open or a click with its score into *out, whose
 * kind tells which (reader left zero). Returns 0, or -1 when member is
 * neither. */
int touch_parse(const char *member, size_t len, double score,
                struct attr_touch *out);

#endif
