/*
 * test_touch.c - touchpoint members as docs/redis-schema.md documents
 * them, and parsing a click member back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "device.h"
#include "touch.h"

static struct event_touch sample(uint32_t link)
{
    struct event_touch t;
    static const uint8_t click_id[TOKEN_CLICK_ID_LEN] = {
        0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
    };

    memset(&t, 0, sizeof(t));
    strcpy(t.campaign, "spring");
    strcpy(t.message, "a");
    t.link = link;
    memcpy(t.click_id, click_id, sizeof(click_id));
    return t;
}

static void touch_open_member(void **state)
{
    struct event_touch t = sample(3);
    char out[TOUCH_MEMBER_MAX];

    (void)state;
    assert_int_equal(touch_member(&t, false, out), strlen("o|spring|a"));
    assert_string_equal(out, "o|spring|a");
}

static void touch_click_member(void **state)
{
    struct event_touch t = sample(3);
    char out[TOUCH_MEMBER_MAX];

    (void)state;
    assert_int_equal(touch_member(&t, true, out), strlen("c|spring|a|3|0123456789abcdef"));
    assert_string_equal(out, "c|spring|a|3|0123456789abcdef");

    t = sample(0);
    touch_member(&t, true, out);
    assert_string_equal(out, "c|spring|a|0|0123456789abcdef");
}

static void touch_longest_member_fits(void **state)
{
    struct event_touch t = sample(UINT32_MAX);
    char out[TOUCH_MEMBER_MAX];
    size_t len;

    (void)state;
    memset(t.campaign, 'C', TOKEN_ID_MAX);
    t.campaign[TOKEN_ID_MAX] = '\0';
    memset(t.message, 'M', TOKEN_ID_MAX);
    t.message[TOKEN_ID_MAX] = '\0';
    len = touch_member(&t, true, out);
    /* TOUCH_MEMBER_MAX also has room for a "|<verdict>" suffix. */
    assert_int_equal(len, TOUCH_MEMBER_MAX - 1 - TOUCH_VERDICT_MAX);
    assert_int_equal(strlen(out), len);
    assert_memory_equal(out + len - 28, "|4294967295|0123456789abcdef", 28);
}

static void touch_click_round_trip(void **state)
{
    struct event_touch t = sample(4242);
    struct event_touch parsed;
    char out[TOUCH_MEMBER_MAX];
    size_t len;

    (void)state;
    len = touch_member(&t, true, out);
    assert_int_equal(touch_parse_click(out, len,
                                       (double)touch_score(1796396399u, 0, 0), &parsed), 0);
    assert_string_equal(parsed.campaign, "spring");
    assert_string_equal(parsed.message, "a");
    assert_int_equal(parsed.link, 4242);
    assert_memory_equal(parsed.click_id, t.click_id, TOKEN_CLICK_ID_LEN);
    assert_int_equal(parsed.time, 1796396399u);
}

/* The score keeps the time and the request's device and client, and the
 * time range of a second covers every code. */
static void touch_score_round_trip(void **state)
{
    struct event_touch t = sample(7);
    struct attr_touch parsed;
    char out[TOUCH_MEMBER_MAX];
    size_t len = touch_member(&t, false, out);
    uint64_t score = touch_score(UINT32_MAX, DEVICE_PROXY, CLIENT_BROWSER);

    (void)state;
    assert_int_equal(touch_parse(out, len, (double)score, &parsed), 0);
    assert_int_equal(parsed.kind, ATTR_TOUCH_OPEN);
    assert_int_equal(parsed.touch.time, UINT32_MAX);
    assert_int_equal(parsed.device, DEVICE_PROXY);
    assert_int_equal(parsed.client, CLIENT_BROWSER);

    assert_true(touch_score_min(UINT32_MAX) <= score);
    assert_true(score <= touch_score_max(UINT32_MAX));
    assert_true(touch_score_max(41) < touch_score_min(42));
    assert_true(touch_score(42, DEVICE_MOBILE, CLIENT_GMAIL) <
                touch_score(43, DEVICE_UNKNOWN, CLIENT_UNKNOWN));
    /* Codes out of range are stored as unknown. */
    assert_int_equal(touch_score(5, 200, 200), touch_score(5, DEVICE_UNKNOWN, CLIENT_UNKNOWN));
}

static void touch_ttl_slack_bounds(void **state)
{
    (void)state;
    /* Short retentions get no slack, so every write renews the TTL. */
    assert_int_equal(touch_ttl_slack(0), 0);
    assert_int_equal(touch_ttl_slack(719), 0);
    assert_int_equal(touch_ttl_slack(720), 1);
    assert_int_equal(touch_ttl_slack(86400), 120);
    /* From 30 days on, an hour. */
    assert_int_equal(touch_ttl_slack(30 * 86400), 3600);
    assert_int_equal(touch_ttl_slack(UINT32_MAX), 3600);
}

static void touch_bad_scores_rejected(void **state)
{
    struct event_touch t = sample(7);
    struct attr_touch parsed;
    char out[TOUCH_MEMBER_MAX];
    size_t len = touch_member(&t, true, out);
    const double bad[] = {
        -64.0,
        64.5,                                                   /* not an integer */
        (double)((uint64_t)1 << 38),                            /* past the time */
        (double)touch_score(9, 0, 0) + 7.0,                     /* client code 7 */
        (double)(touch_score(9, 0, 0) | (uint64_t)7 << 3),      /* device code 7 */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(touch_parse(out, len, bad[i], &parsed), -1);
}

static void touch_event_marks(void **state)
{
    uint8_t writer[EVENT_WRITER_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
    char a[TOUCH_MARK_LEN + 1], b[TOUCH_MARK_LEN + 1], c[TOUCH_MARK_LEN + 1];

    (void)state;
    touch_event_mark(writer, 1, a);
    touch_event_mark(writer, 1, b);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), TOUCH_MARK_LEN);
    assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                               "0123456789-_"), TOUCH_MARK_LEN);

    touch_event_mark(writer, 2, b);
    writer[7] = 9;
    touch_event_mark(writer, 1, c);
    assert_string_not_equal(a, b);
    assert_string_not_equal(a, c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(touch_open_member),
        cmocka_unit_test(touch_click_member),
        cmocka_unit_test(touch_longest_member_fits),
        cmocka_unit_test(touch_click_round_trip),
        cmocka_unit_test(touch_score_round_trip),
        cmocka_unit_test(touch_ttl_slack_bounds),
        cmocka_unit_test(touch_bad_scores_rejected),
        cmocka_unit_test(touch_event_marks),
    };

    return cmocka_run_group_tests_name("touch", tests, NULL, NULL);
}
