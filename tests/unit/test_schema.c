/*
 * test_schema.c - every key name of schema.h, byte for byte as
 * docs/redis-schema.md documents it, and the cut at SCHEMA_KEY_MAX.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "schema.h"

static const uint8_t reader[TOKEN_READER_LEN] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xff,
};

/* Checks that a builder wrote expected and returned its length. */
static void check_key(const char *out, size_t len, const char *expected)
{
    assert_string_equal(out, expected);
    assert_int_equal(len, strlen(expected));
}

static void schema_campaign_keys(void **state)
{
    char out[SCHEMA_KEY_MAX];

    (void)state;
    check_key(out, schema_campaign(out, "spring"), "c:{spring}");
    check_key(out, schema_message(out, "spring", "a"), "c:{spring}:m:a");
    check_key(out, schema_links(out, "spring"), "c:{spring}:l");
    check_key(out, schema_applied(out, "spring"), "c:{spring}:w");
    check_key(out, schema_message_set(out, "spring"), "c:{spring}:m");
    check_key(out, schema_campaign_sent(out, "spring"), "c:{spring}:sent");
    check_key(out, schema_message_sent(out, "spring", "a"), "c:{spring}:m:a:sent");
    check_key(out, schema_message_paths(out, "spring", "a"), "c:{spring}:m:a:p");
    check_key(out, schema_message_conversion_times(out, "spring", "a"),
              "c:{spring}:m:a:ttc");
    check_key(out, schema_paths(out, "spring"), "c:{spring}:p");
    check_key(out, schema_conversion_times(out, "spring"), "c:{spring}:ttc");
    check_key(out, schema_recent_conversions(out, "spring"), "c:{spring}:r");
    check_key(out, schema_campaign_order(out, "spring", "shop-1", "1001"),
              "c:{spring}:o:shop-1:1001");
}

static void schema_hour_is_utc(void **state)
{
    char out[SCHEMA_KEY_MAX];

    (void)state;
    /* 2026-12-04 14:59:59 UTC and one second later. */
    check_key(out, schema_hour(out, "spring", 1796396399u), "c:{spring}:h:2026120414");
    check_key(out, schema_hour(out, "spring", 1796396400u), "c:{spring}:h:2026120415");
    check_key(out, schema_hour(out, "x", 0), "c:{x}:h:1970010100");
    check_key(out, schema_message_hour(out, "spring", "b-2", 1796396399u),
              "c:{spring}:m:b-2:h:2026120414");
    check_key(out, schema_message_hour(out, "spring", "b-2", 1796396400u),
              "c:{spring}:m:b-2:h:2026120415");
}

static void schema_reader_keys(void **state)
{
    char out[SCHEMA_KEY_MAX];

    (void)state;
    check_key(out, schema_reader_touches(out, reader), "r:{00112233445566778899aaff}:t");
    check_key(out, schema_reader_marks(out, reader), "r:{00112233445566778899aaff}:u");
    check_key(out, schema_customer(out, reader), "k:{00112233445566778899aaff}");
}

static void schema_order_keys(void **state)
{
    char out[SCHEMA_KEY_MAX];

    (void)state;
    check_key(out, schema_order(out, "default", "A-1/2"), "o:{default}:A-1/2");
    check_key(out, schema_shop(out, "default"), "s:{default}");
    check_key(out, schema_early_refunds(out, "default", "A-1/2"),
              "s:{default}:early:A-1/2");
}

static void schema_cuts_long_name(void **state)
{
    char out[SCHEMA_KEY_MAX];
    char order[400];
    size_t len;

    (void)state;
    memset(order, 'x', sizeof(order) - 1);
    order[sizeof(order) - 1] = '\0';
    len = schema_order(out, "default", order);
    assert_int_equal(len, SCHEMA_KEY_MAX - 1);
    assert_int_equal(strlen(out), SCHEMA_KEY_MAX - 1);
    assert_memory_equal(out, "o:{default}:xxx", 15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(schema_campaign_keys),
        cmocka_unit_test(schema_hour_is_utc),
        cmocka_unit_test(schema_reader_keys),
        cmocka_unit_test(schema_order_keys),
        cmocka_unit_test(schema_cuts_long_name),
    };

    return cmocka_run_group_tests_name("schema", tests, NULL, NULL);
}
