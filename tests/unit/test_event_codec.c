/*
 * test_event_codec.c - event records survive encode and decode unchanged,
 * and every truncation, stray byte and out-of-range field is rejected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "device.h"
#include "event_codec.h"
#include "money.h"

static void fill_touch(struct event_touch *t, const char *campaign)
{
    strcpy(t->campaign, campaign);
    strcpy(t->message, "msg-a_1.0");
    t->link = 7;
    memset(t->reader, 0xab, sizeof(t->reader));
    memset(t->click_id, 0x5c, sizeof(t->click_id));
    t->time = 1796000000;
    t->verdict = 3;
}

static void base_record(struct event_record *rec, enum event_kind kind)
{
    memset(rec, 0, sizeof(*rec));
    memcpy(rec->writer, "\x01\x02\x03\x04\x05\x06\x07\x08", EVENT_WRITER_LEN);
    memcpy(rec->touch_writer, rec->writer, EVENT_WRITER_LEN);
    rec->seq = 42;
    rec->touch_seq = 42;
    rec->ev.kind = kind;
    rec->ev.time = 1796000100;
    rec->ev.device = DEVICE_TABLET;
    rec->ev.client = CLIENT_APPLE_MAIL;
}

static void open_record(struct event_record *rec)
{
    base_record(rec, EVENT_OPEN);
    fill_touch(&rec->ev.u.touch, "spring");
    memset(rec->ev.u.touch.click_id, 0, TOKEN_CLICK_ID_LEN);
}

static void checkout_record(struct event_record *rec)
{
    struct event_checkout *co = &rec->ev.u.checkout;

    base_record(rec, EVENT_CHECKOUT);
    strcpy(co->shop, "default");
    strcpy(co->order_id, "order #1001 / \"x\"");
    co->revenue_minor = 8995;
    strcpy(co->currency, "EUR");
    co->has_visit = true;
    fill_touch(&co->visit, "summer");
    co->has_customer = true;
    memset(co->customer, 0x11, sizeof(co->customer));
    co->has_email_reader = true;
    memset(co->email_reader, 0x22, sizeof(co->email_reader));
}

/* Encodes rec, decodes the bytes and checks the result equals rec. */
static size_t assert_round_trip(const struct event_record *rec, uint8_t *buf)
{
    struct event_record back;
    size_t len = event_record_encode(rec, buf, EVENT_RECORD_MAX);

    assert_true(len > 0);
    assert_int_equal(event_record_decode(buf, len, &back), EVENT_CODEC_OK);
    assert_memory_equal(&back, rec, sizeof(back));
    return len;
}

static void codec_round_trips_open_and_click(void **state)
{
    struct event_record rec;
    uint8_t buf[EVENT_RECORD_MAX];

    (void)state;
    open_record(&rec);
    assert_round_trip(&rec, buf);

    base_record(&rec, EVENT_CLICK);
    fill_touch(&rec.ev.u.touch, "A.b_c-9");
    memset(rec.touch_writer, 0x77, EVENT_WRITER_LEN);
    rec.touch_seq = 99;
    rec.seq = UINT64_MAX;
    assert_round_trip(&rec, buf);
}

static void codec_round_trips_identify(void **state)
{
    struct event_record rec;
    uint8_t buf[EVENT_RECORD_MAX];

    (void)state;
    base_record(&rec, EVENT_IDENTIFY);
    strcpy(rec.ev.u.identify.shop, "default");
    memset(rec.ev.u.identify.customer, 0x01, TOKEN_READER_LEN);
    memset(rec.ev.u.identify.reader, 0xfe, TOKEN_READER_LEN);
    assert_round_trip(&rec, buf);
}

static void codec_round_trips_checkouts(void **state)
{
    struct event_record rec;
    uint8_t buf[EVENT_RECORD_MAX];

    (void)state;
    checkout_record(&rec);
    assert_round_trip(&rec, buf);

    /* Each optional part alone, and none. */
    for (int flags = 0; flags < 8; flags++) {
        checkout_record(&rec);
        if (!(flags & 1)) {
            rec.ev.u.checkout.has_visit = false;
            memset(&rec.ev.u.checkout.visit, 0, sizeof(rec.ev.u.checkout.visit));
        }
        if (!(flags & 2)) {
            rec.ev.u.checkout.has_customer = false;
            memset(rec.ev.u.checkout.customer, 0, TOKEN_READER_LEN);
        }
        if (!(flags & 4)) {
            rec.ev.u.checkout.has_email_reader = false;
            memset(rec.ev.u.checkout.email_reader, 0, TOKEN_READER_LEN);
        }
        assert_round_trip(&rec, buf);
    }

    /* Extremes: a negative amount (a refund) and the longest order id. */
    checkout_record(&rec);
    rec.ev.u.checkout.revenue_minor = -MONEY_MINOR_MAX;
    memset(rec.ev.u.checkout.order_id, 'x', EVENT_ORDER_MAX);
    rec.ev.u.checkout.order_id[EVENT_ORDER_MAX] = '\0';
    assert_round_trip(&rec, buf);
}

static void codec_largest_record_fits(void **state)
{
    struct event_record rec;
    uint8_t buf[EVENT_RECORD_MAX];

    (void)state;
    checkout_record(&rec);
    memset(rec.ev.u.checkout.shop, 's', TOKEN_ID_MAX);
    memset(rec.ev.u.checkout.order_id, 'o', EVENT_ORDER_MAX);
    memset(rec.ev.u.checkout.visit.campaign, 'c', TOKEN_ID_MAX);
    memset(rec.ev.u.checkout.visit.message, 'm', TOKEN_ID_MAX);
    assert_true(assert_round_trip(&rec, buf) <= EVENT_RECORD_MAX);
}

static void codec_rejects_every_truncation(void **state)
{
    struct event_record rec, back;
    uint8_t buf[EVENT_RECORD_MAX];
    size_t len;

    (void)state;
    checkout_record(&rec);
    len = event_record_encode(&rec, buf, sizeof(buf));
    assert_true(len > 0);
    assert_int_equal(event_record_decode(buf, 0, &back), EVENT_CODEC_TRUNCATED);
    for (size_t cut = 1; cut < len; cut++)
        assert_int_not_equal(event_record_decode(buf, cut, &back), EVENT_CODEC_OK);
    for (size_t cut = 2; cut < 30; cut++)
        assert_int_equal(event_record_decode(buf, cut, &back), EVENT_CODEC_TRUNCATED);
}

static void codec_rejects_trailing_byte(void **state)
{
    struct event_record rec, back;
    uint8_t buf[EVENT_RECORD_MAX + 1];
    size_t len;

    (void)state;
    open_record(&rec);
    len = event_record_encode(&rec, buf, EVENT_RECORD_MAX);
    buf[len] = 0;
    assert_int_equal(event_record_decode(buf, len + 1, &back), EVENT_CODEC_MALFORMED);
}

static void codec_rejects_unknown_version(void **state)
{
    struct event_record rec, back;
    uint8_t buf[EVENT_RECORD_MAX];
    size_t len;

    (void)state;
    open_record(&rec);
    len = event_record_encode(&rec, buf, sizeof(buf));
    buf[0] = 2;
    assert_int_equal(event_record_decode(buf, len, &back), EVENT_CODEC_BAD_VERSION);
    buf[0] = 0;
    assert_int_equal(event_record_decode(buf, len, &back), EVENT_CODEC_BAD_VERSION);
}

static void codec_rejects_bad_fields(void **state)
{
    struct event_record rec, back;
    uint8_t buf[EVENT_RECORD_MAX];
    size_t len;
    /* Offsets in an open record: kind 1, seq 10, touch_writer 18,
     * touch_seq 26, time 34, device 38, client 39, campaign length 40,
     * campaign bytes from 41 ("spring", 6 bytes). */
    static const struct {
        size_t offset;
        uint8_t value;
        const char *what;
    } edits[] = {
        {1, 0, "kind 0"},
        {1, 5, "kind 5"},
        {38, DEVICE_CLASS_COUNT, "unknown device class"},
        {39, CLIENT_FAMILY_COUNT, "unknown client family"},
        {40, 0, "empty campaign"},
        {40, 33, "campaign length over 32"},
        {41, ':', "':' in campaign"},
        {41, '{', "brace in campaign"},
        {41, 0, "NUL in campaign"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        open_record(&rec);
        len = event_record_encode(&rec, buf, sizeof(buf));
        buf[edits[i].offset] = edits[i].value;
        if (event_record_decode(buf, len, &back) == EVENT_CODEC_OK)
            fail_msg("accepted %s", edits[i].what);
    }

    /* seq 0 */
    open_record(&rec);
    len = event_record_encode(&rec, buf, sizeof(buf));
    memset(buf + 10, 0, 8);
    assert_int_equal(event_record_decode(buf, len, &back), EVENT_CODEC_MALFORMED);

    /* A checkout's touch identity must equal its event id. */
    checkout_record(&rec);
    len = event_record_encode(&rec, buf, sizeof(buf));
    buf[33] ^= 1;
    assert_int_equal(event_record_decode(buf, len, &back), EVENT_CODEC_MALFORMED);
    buf[33] ^= 1;
    buf[18] ^= 1;
    assert_int_equal(event_record_decode(buf, len, &back), EVENT_CODEC_MALFORMED);
}

static void codec_rejects_unknown_verdict(void **state)
{
    struct event_record rec, back;
    uint8_t buf[EVENT_RECORD_MAX];
    size_t len;

    (void)state;
    open_record(&rec);
    rec.ev.u.touch.verdict = EVENT_VERDICT_LIMIT - 1;
    len = assert_round_trip(&rec, buf);

    /* The verdict is the last byte of an open record. */
    buf[len - 1] = EVENT_VERDICT_LIMIT;
    assert_int_equal(event_record_decode(buf, len, &back), EVENT_CODEC_MALFORMED);

    rec.ev.u.touch.verdict = EVENT_VERDICT_LIMIT;
    assert_int_equal(event_record_encode(&rec, buf, sizeof(buf)), 0);
}

static void codec_rejects_bad_checkout_fields(void **state)
{
    struct event_record rec;
    uint8_t buf[EVENT_RECORD_MAX];

    (void)state;
    checkout_record(&rec);
    strcpy(rec.ev.u.checkout.currency, "eur");
    assert_int_equal(event_record_encode(&rec, buf, sizeof(buf)), 0);

    checkout_record(&rec);
    rec.ev.u.checkout.revenue_minor = MONEY_MINOR_MAX + 1;
    assert_int_equal(event_record_encode(&rec, buf, sizeof(buf)), 0);

    checkout_record(&rec);
    rec.ev.u.checkout.order_id[3] = '\n';
    assert_int_equal(event_record_encode(&rec, buf, sizeof(buf)), 0);

    checkout_record(&rec);
    rec.ev.u.checkout.order_id[0] = '\0';
    assert_int_equal(event_record_encode(&rec, buf, sizeof(buf)), 0);

    checkout_record(&rec);
    strcpy(rec.ev.u.checkout.shop, "a:b");
    assert_int_equal(event_record_encode(&rec, buf, sizeof(buf)), 0);
}

static void codec_rejects_bad_checkout_flags(void **state)
{
    struct event_record rec, back;
    uint8_t buf[EVENT_RECORD_MAX];
    size_t len;
    size_t flags_at;

    (void)state;
    checkout_record(&rec);
    rec.ev.u.checkout.has_visit = false;
    memset(&rec.ev.u.checkout.visit, 0, sizeof(rec.ev.u.checkout.visit));
    rec.ev.u.checkout.has_customer = false;
    memset(rec.ev.u.checkout.customer, 0, TOKEN_READER_LEN);
    len = event_record_encode(&rec, buf, sizeof(buf));
    /* The flags byte comes before the email reader's 12 bytes, which are
     * last; the source byte comes just before the flags. */
    flags_at = len - TOKEN_READER_LEN - 1;
    assert_int_equal(buf[flags_at], 4);

    buf[flags_at] = 4 | 8; /* a device flag without the device's bytes */
    assert_int_not_equal(event_record_decode(buf, len, &back), EVENT_CODEC_OK);
    buf[flags_at] = 4;
    buf[flags_at - 1] = 2; /* no such source */
    assert_int_equal(event_record_decode(buf, len, &back), EVENT_CODEC_MALFORMED);
}

static void codec_encode_reports_small_buffer(void **state)
{
    struct event_record rec;
    uint8_t buf[EVENT_RECORD_MAX];
    size_t len;

    (void)state;
    open_record(&rec);
    len = event_record_encode(&rec, buf, sizeof(buf));
    assert_int_equal(event_record_encode(&rec, buf, len - 1), 0);
    assert_int_equal(event_record_encode(&rec, buf, len), len);
}

static void codec_round_trips_refund(void **state)
{
    struct event_record rec, back;
    struct event_refund *rf = &rec.ev.u.refund;
    uint8_t buf[EVENT_RECORD_MAX];
    size_t len;

    (void)state;
    base_record(&rec, EVENT_REFUND);
    strcpy(rf->shop, "default");
    strcpy(rf->order_id, "1001");
    strcpy(rf->currency, "KWD");
    rf->has_amount = true;
    rf->amount_minor = 1250;
    strcpy(rf->refund_key, "id:r-7");
    rf->source = EVENT_SOURCE_SERVER;
    len = event_record_encode(&rec, buf, sizeof(buf));
    assert_true(len > 0);
    assert_int_equal(event_record_decode(buf, len, &back), EVENT_CODEC_OK);
    assert_string_equal(back.ev.u.refund.refund_key, "id:r-7");
    assert_int_equal(back.ev.u.refund.amount_minor, 1250);
    assert_true(back.ev.u.refund.has_amount);
    assert_int_equal(back.ev.u.refund.source, EVENT_SOURCE_SERVER);
    assert_memory_equal(&back.ev.u.refund, rf, sizeof(*rf));

    rf->refund_key[0] = '\0';
    assert_int_equal(event_record_encode(&rec, buf, sizeof(buf)), 0);
}

static void codec_round_trips_identify_device(void **state)
{
    struct event_record rec, back;
    struct event_identify *id = &rec.ev.u.identify;
    uint8_t buf[EVENT_RECORD_MAX];
    size_t len;

    (void)state;
    base_record(&rec, EVENT_IDENTIFY);
    strcpy(id->shop, "shop-2");
    id->has_customer = true;
    id->has_device = true;
    memset(id->customer, 0xc1, TOKEN_READER_LEN);
    memset(id->device, 0xd1, TOKEN_READER_LEN);
    id->placeholders = 2;
    len = event_record_encode(&rec, buf, sizeof(buf));
    assert_true(len > 0);
    assert_int_equal(event_record_decode(buf, len, &back), EVENT_CODEC_OK);
    assert_memory_equal(&back.ev.u.identify, id, sizeof(*id));
}

static void codec_round_trips_checkout_flags(void **state)
{
    struct event_record rec, back;
    struct event_checkout *co = &rec.ev.u.checkout;
    uint8_t buf[EVENT_RECORD_MAX];
    size_t len;

    (void)state;
    checkout_record(&rec);
    co->has_device = true;
    memset(co->device, 0xde, TOKEN_READER_LEN);
    co->token_invalid = true;
    co->email_placeholder = true;
    co->source = EVENT_SOURCE_SERVER;
    len = event_record_encode(&rec, buf, sizeof(buf));
    assert_true(len > 0);
    assert_int_equal(event_record_decode(buf, len, &back), EVENT_CODEC_OK);
    assert_true(back.ev.u.checkout.has_device);
    assert_true(back.ev.u.checkout.token_invalid);
    assert_true(back.ev.u.checkout.email_placeholder);
    assert_false(back.ev.u.checkout.customer_placeholder);
    assert_int_equal(back.ev.u.checkout.source, EVENT_SOURCE_SERVER);
    assert_memory_equal(back.ev.u.checkout.device, co->device, TOKEN_READER_LEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codec_round_trips_open_and_click),
        cmocka_unit_test(codec_round_trips_identify),
        cmocka_unit_test(codec_round_trips_checkouts),
        cmocka_unit_test(codec_largest_record_fits),
        cmocka_unit_test(codec_rejects_every_truncation),
        cmocka_unit_test(codec_rejects_trailing_byte),
        cmocka_unit_test(codec_rejects_unknown_version),
        cmocka_unit_test(codec_rejects_bad_fields),
        cmocka_unit_test(codec_round_trips_refund),
        cmocka_unit_test(codec_round_trips_identify_device),
        cmocka_unit_test(codec_round_trips_checkout_flags),
        cmocka_unit_test(codec_rejects_unknown_verdict),
        cmocka_unit_test(codec_rejects_bad_checkout_fields),
        cmocka_unit_test(codec_rejects_bad_checkout_flags),
        cmocka_unit_test(codec_encode_reports_small_buffer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
