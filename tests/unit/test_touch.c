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
    assert_int_equal(touch_parse_click(out, len, 1796396399.0, &parsed), 0);
    assert_string_equal(parsed.campaign, "spring");
    assert_string_equal(parsed.message, "a");
    assert_int_equal(parsed.link, 4242);
    assert_memory_equal(parsed.click_id, t.click_id, TOKEN_CLICK_ID_LEN);
    assert_int_equal(parsed.time, 1796396399u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(touch_open_member),
        cmocka_unit_test(touch_click_member),
        cmocka_unit_test(touch_longest_member_fits),
        cmocka_unit_test(touch_click_round_trip),
    };

    return cmocka_run_group_tests_name("touch", tests, NULL, NULL);
}
