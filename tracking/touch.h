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
 * too). After a honeypot click of the message, a person's opens share
 * "o|C|M|human" instead (READER_TOUCH in server/store_scripts.c). Clicks
 * stay apart because a beacon's tly token names a single click. docs/redis-schema.md documents the same format.
 *
 * The score packs the time with the device class and client family of the
 * request that made the touch: time * 64 + class * 8 + client. A second
 * hash would repeat every member: it took about a quarter of a reader's
 * memory in loadtest/bench.py. Scores stay integers below 2^38, which a
 * double represents exactly, and sort by time first. A time window [a, b]
 * is the score range [a * 64, b * 64 + 63].
 */
#ifndef TALLY_TOUCH_H
#define TALLY_TOUCH_H

#include <stddef.h>

#include "attribution.h"
#include "event.h"
#include "event_codec.h"

/* Room for the longest member and its NUL. */
#define TOUCH_MEMBER_MAX (2 + TOKEN_ID_MAX + 1 + TOKEN_ID_MAX + 1 + 10 + 1 \
                          + 2 * TOKEN_CLICK_ID_LEN + 1 + TOUCH_VERDICT_MAX)

/* Room for a "|<verdict>" suffix; the longest name is "privacy_proxy". */
#define TOUCH_VERDICT_MAX 16

/* Bits of the score below the time. */
#define TOUCH_SCORE_SHIFT 6

/* Returns the score of a touch at time made by a request of device class
 * and client family (device.h); out-of-range codes are stored as unknown. */
uint64_t touch_score(uint32_t time, uint8_t device, uint8_t client);

/* Returns the lowest and highest score of second time. */
uint64_t touch_score_min(uint32_t time);
uint64_t touch_score_max(uint32_t time);

/* Returns the slack (s) a reader's keys get beyond their retention.
 * READER_TOUCH renews their TTL once per slack-long period, so a reader's
 * burst of events renews them once instead of on every write. The slack
 * is a 720th of the retention, at most an hour: the keys outlive the
 * retention by at most 0.14 %, and a retention under 12 minutes gets
 * none. */
uint32_t touch_ttl_slack(uint32_t retention_s);

/* Length of an event mark, without its NUL. */
#define TOUCH_MARK_LEN 8

/* Writes the mark that stands for event (writer, seq) in a reader's
 * first-touch marks to out (TOUCH_MARK_LEN base64url characters and a NUL):
 * 48 bits of a mix of both, so that a replayed event recognises its own
 * mark. The full event id would take three times the room in every mark;
 * two events of one reader share a mark with odds of 2^-48. */
void touch_event_mark(const uint8_t writer[EVENT_WRITER_LEN], uint64_t seq,
                      char out[TOUCH_MARK_LEN + 1]);

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
 * left zero), device and client the request's. Returns 0, or -1 when
 * member is neither or names an unknown verdict, or score is not one of
 * touch_score's. Attribution decides whether a machine's touch may be
 * credited. */
int touch_parse(const char *member, size_t len, double score,
                struct attr_touch *out);

#endif
