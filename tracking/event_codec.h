/*
 * event_codec.h - the binary form of one event record, as the journal
 * stores it.
 *
 * A record is a struct event plus the ids that make its replay count once:
 * the writer id and sequence number that form its event id, and the writer
 * and sequence number that CAMPAIGN_TOUCH checks against that writer's
 * high-water mark. The two pairs are equal unless the store gave the event
 * a new campaign identity after a write that Redis rejected (see
 * store_spool.c).
 *
 * Version 1 layout, integers big-endian, strings as a length byte and
 * that many bytes (no NUL):
 *
 *   u8 version (1), u8 kind, writer[8], u64 seq, touch_writer[8],
 *   u64 touch_seq, u32 time, u8 device, u8 client (device.h)
 *   open, click:  touch
 *   identify:     str shop, u8 flags (1 customer, 2 reader, 4 reader from
 *                 token, 8 device), customer[12], reader[12], device[12],
 *                 u8 placeholders
 *   checkout:     str shop, str order_id, i64 revenue_minor, currency[3],
 *                 u8 source, u8 flags (1 visit, 2 customer, 4 email reader,
 *                 8 device, 16 token invalid, 32/64/128 customer/device/
 *                 email placeholder), then touch if visit, customer[12] if
 *                 customer, email_reader[12] if email reader, device[12]
 *                 if device
 *   refund:       str shop, str order_id, currency[3], u8 source,
 *                 u8 has_amount, i64 amount_minor, str refund_key
 *   touch:        str campaign, str message, u32 link, reader[12],
 *                 click_id[8], u32 time, u8 verdict
 *
 * No I/O here: the journal adds the length and checksum around it.
 */
#ifndef TALLY_EVENT_CODEC_H
#define TALLY_EVENT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

#define EVENT_CODEC_VERSION 1
#define EVENT_WRITER_LEN 8 /* random writer id, bytes */

/* Verdicts (enum verdict of classify.h) the decoder accepts: below this.
 * NOTE: a bound, not the list, so that adding a verdict does not make
 * journals undecodable; it must stay above classify.h's VERDICT_COUNT. */
#define EVENT_VERDICT_LIMIT 32

/* Upper bound of an encoded record: a checkout with every optional part. */
#define EVENT_RECORD_MAX 512

struct event_record {
    uint8_t writer[EVENT_WRITER_LEN];
    uint64_t seq;       /* with writer, the event id: "<writer hex>-<seq>" */
    uint8_t touch_writer[EVENT_WRITER_LEN];
    uint64_t touch_seq; /* what CAMPAIGN_TOUCH compares with touch_writer's
                           high-water mark; opens and clicks only */
    struct event ev;
};

enum event_codec_status {
    EVENT_CODEC_OK = 0,
    EVENT_CODEC_TRUNCATED,   /* the input ends inside a field */
    EVENT_CODEC_BAD_VERSION, /* a version this build does not read */
    EVENT_CODEC_MALFORMED,   /* a field out of range, or trailing bytes */
};

/* Writes rec to out, which has room for outsize bytes (EVENT_RECORD_MAX
 * always suffice). Returns the encoded length, or 0 when a field is invalid
 * (the same checks as event_record_decode) or out is too small. */
size_t event_record_encode(const struct event_record *rec, uint8_t *out,
                           size_t outsize);

/* Decodes exactly in[0..len) into *rec. Every string comes back
 * NUL-terminated and every unused byte of *rec zeroed, so a decoded record
 * compares equal to the one encoded. Returns EVENT_CODEC_OK, or the first
 * reason the input is rejected; *rec is then unspecified. */
enum event_codec_status event_record_decode(const uint8_t *in, size_t len,
                                            struct event_record *rec);

/* Returns a short lower-case name of a status, for logs. */
const char *event_codec_status_name(enum event_codec_status status);

#endif
