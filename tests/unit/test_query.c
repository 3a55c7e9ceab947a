/*
 * test_query.c - the tolerant query parser and beacons read from a query.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "beacon.h"
#include "query.h"

struct collected {
    char text[512];
    int pairs;
};

/* Appends "key=value;" to the collected text. */
static int collect(const char *key, size_t key_len, const char *value,
                   size_t value_len, void *arg)
{
    struct collected *c = arg;
    size_t used = strlen(c->text);

    snprintf(c->text + used, sizeof(c->text) - used, "%.*s=%.*s;", (int)key_len,
             key, (int)value_len, value);
    c->pairs++;
    return 0;
}

static long parse(const char *q, struct collected *c)
{
    char scratch[128];

    memset(c, 0, sizeof(*c));
    return query_parse(q, strlen(q), scratch, sizeof(scratch), collect, c);
}

static void test_query_plain_pairs(void **state)
{
    struct collected c;

    (void)state;
    assert_int_equal(parse("a=1&b=two&c=", &c), 0);
    assert_string_equal(c.text, "a=1;b=two;c=;");
}

static void test_query_decodes_escapes_and_plus(void **state)
{
    struct collected c;

    (void)state;
    assert_int_equal(parse("k%20ey=a+b%2Bc&x=%C3%A9", &c), 0);
    assert_string_equal(c.text, "k ey=a b+c;x=\xc3\xa9;");
}

static void test_query_skips_bad_pieces_only(void **state)
{
    struct collected c;

    (void)state;
    assert_int_equal(parse("flag&a=1&=x&b=%zz&c=%4&d=%00&e=%1F&f=2", &c), 6);
    assert_string_equal(c.text, "a=1;f=2;");
}

static void test_query_empty_pieces_ignored(void **state)
{
    struct collected c;

    (void)state;
    assert_int_equal(parse("", &c), 0);
    assert_int_equal(parse("&&a=1&&", &c), 0);
    assert_string_equal(c.text, "a=1;");
}

static void test_query_value_with_equals(void **state)
{
    struct collected c;

    (void)state;
    assert_int_equal(parse("t=abc==&u=1", &c), 0);
    assert_string_equal(c.text, "t=abc==;u=1;");
}

static void test_query_too_long_piece_skipped(void **state)
{
    char q[400];
    struct collected c;

    (void)state;
    snprintf(q, sizeof(q), "a=%0300d&b=1", 0);
    assert_int_equal(parse(q, &c), 1);
    assert_string_equal(c.text, "b=1;");
}

static int stop_at_b(const char *key, size_t key_len, const char *value,
                     size_t value_len, void *arg)
{
    (void)key_len;
    (void)value;
    (void)value_len;
    (void)arg;
    return strcmp(key, "b") == 0;
}

static void test_query_callback_stops(void **state)
{
    char scratch[64];

    (void)state;
    assert_int_equal(query_parse("a=1&b=2&c=3", 11, scratch, sizeof(scratch),
                                 stop_at_b, NULL), -1);
}

static void test_beacon_from_query(void **state)
{
    const char q[] = "stray&type=checkout&order_id=A+1&revenue=89.95&currency=EUR"
                     "&device_id=dev-0123456789abcdef&shop=web&order_id=ignored";
    struct beacon b;
    const char *reason = NULL;
    long skipped = -1;

    (void)state;
    assert_int_equal(beacon_parse_query(q, sizeof(q) - 1, &b, &reason, &skipped), 0);
    assert_int_equal(skipped, 1);
    assert_int_equal(b.type, BEACON_CHECKOUT);
    assert_string_equal(b.order_id, "A 1");
    assert_int_equal(b.revenue_minor, 8995);
    assert_string_equal(b.shop, "web");
    assert_true(b.has_device);
    assert_string_equal(b.device_id, "dev-0123456789abcdef");
}

static void test_beacon_query_rejects_like_json(void **state)
{
    struct beacon b;
    const char *reason = NULL;
    long skipped;

    (void)state;
    assert_int_equal(beacon_parse_query("type=checkout&order_id=1", 24, &b, &reason,
                                        &skipped), -1);
    assert_non_null(strstr(reason, "currency"));
    assert_int_equal(beacon_parse_query("", 0, &b, &reason, &skipped), -1);
    assert_non_null(strstr(reason, "type"));
}

static void test_beacon_refund_and_device_rules(void **state)
{
    struct beacon b;
    const char *reason = NULL;
    const char full[] = "{\"type\":\"refund\",\"order_id\":\"1\",\"currency\":\"JPY\"}";
    const char part[] = "{\"type\":\"refund\",\"order_id\":\"1\",\"currency\":\"JPY\","
                        "\"amount\":\"500\",\"refund_id\":\"r\"}";
    const char no_id[] = "{\"type\":\"refund\",\"order_id\":\"1\",\"currency\":\"JPY\","
                         "\"amount\":\"500\"}";
    const char bad_device[] = "{\"type\":\"identify\",\"customer_id\":\"c\","
                              "\"device_id\":\"short\"}";
    const char placeholder_device[] = "{\"type\":\"identify\",\"customer_id\":\"c\","
                                      "\"device_id\":\"undefined\"}";
    const char device_only[] = "{\"type\":\"identify\",\"device_id\":"
                               "\"0123456789abcdef\"}";

    (void)state;
    assert_int_equal(beacon_parse(full, sizeof(full) - 1, &b, &reason), 0);
    assert_int_equal(b.type, BEACON_REFUND);
    assert_false(b.has_amount);
    assert_int_equal(beacon_parse(part, sizeof(part) - 1, &b, &reason), 0);
    assert_int_equal(b.amount_minor, 500);
    assert_string_equal(b.refund_id, "r");
    assert_int_equal(beacon_parse(no_id, sizeof(no_id) - 1, &b, &reason), -1);
    assert_non_null(strstr(reason, "refund_id"));
    assert_int_equal(beacon_parse(bad_device, sizeof(bad_device) - 1, &b, &reason), -1);
    assert_non_null(strstr(reason, "device_id"));
    assert_int_equal(beacon_parse(placeholder_device, sizeof(placeholder_device) - 1,
                                  &b, &reason), 0);
    assert_true(b.has_device);
    assert_int_equal(beacon_parse(device_only, sizeof(device_only) - 1, &b, &reason), -1);
    assert_non_null(strstr(reason, "identify"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_plain_pairs),
        cmocka_unit_test(test_query_decodes_escapes_and_plus),
        cmocka_unit_test(test_query_skips_bad_pieces_only),
        cmocka_unit_test(test_query_empty_pieces_ignored),
        cmocka_unit_test(test_query_value_with_equals),
        cmocka_unit_test(test_query_too_long_piece_skipped),
        cmocka_unit_test(test_query_callback_stops),
        cmocka_unit_test(test_beacon_from_query),
        cmocka_unit_test(test_beacon_query_rejects_like_json),
        cmocka_unit_test(test_beacon_refund_and_device_rules),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
