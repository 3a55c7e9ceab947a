/*
 * test_conversion_auth.c - signatures of POST /v1/conversions, and the
 * shop origins of CORS.
 *
 * The expected MAC was computed with Python:
 *   hmac.new(bytes(range(32)), b"1700000000.{}", hashlib.sha256).hexdigest()
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "conversion_auth.h"
#include "origin.h"

#define TS "1700000000"
#define NOW 1700000000u
#define EXPECTED_MAC "964e2b26140befacf0aaa228f3e88a10c4eb5e3e46d8877482e44d7ee8f35c2c"

static uint8_t secret[CONVERSION_SECRET_LEN];

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < CONVERSION_SECRET_LEN; i++)
        secret[i] = (uint8_t)i;
    return 0;
}

static enum conversion_auth_status check(const char *ts, const char *sig,
                                         const char *body, uint32_t now)
{
    return conversion_auth_check(secret, ts, strlen(ts), sig, strlen(sig), body,
                                 strlen(body), now, 300);
}

static void test_sign_matches_reference(void **state)
{
    char sig[72];

    (void)state;
    assert_int_equal(conversion_auth_sign(secret, TS, 10, "{}", 2, sig), 0);
    assert_string_equal(sig, "sha256=" EXPECTED_MAC);
    assert_int_equal(check(TS, sig, "{}", NOW), CONVERSION_AUTH_OK);
}

static void test_upper_case_hex_accepted(void **state)
{
    char sig[72];

    (void)state;
    conversion_auth_sign(secret, TS, 10, "{}", 2, sig);
    for (char *p = sig + 7; *p != '\0'; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    assert_int_equal(check(TS, sig, "{}", NOW), CONVERSION_AUTH_OK);
}

static void test_bad_mac_and_body(void **state)
{
    char sig[72];

    (void)state;
    conversion_auth_sign(secret, TS, 10, "{}", 2, sig);
    assert_int_equal(check(TS, sig, "{ }", NOW), CONVERSION_AUTH_BAD_MAC);
    sig[10] = sig[10] == '0' ? '1' : '0';
    assert_int_equal(check(TS, sig, "{}", NOW), CONVERSION_AUTH_BAD_MAC);
}

static void test_timestamp_inside_mac(void **state)
{
    char sig[72];

    (void)state;
    conversion_auth_sign(secret, TS, 10, "{}", 2, sig);
    assert_int_equal(check("1700000001", sig, "{}", NOW), CONVERSION_AUTH_BAD_MAC);
}

static void test_stale_both_ways(void **state)
{
    char sig[72];

    (void)state;
    conversion_auth_sign(secret, TS, 10, "{}", 2, sig);
    assert_int_equal(check(TS, sig, "{}", NOW + 300), CONVERSION_AUTH_OK);
    assert_int_equal(check(TS, sig, "{}", NOW + 301), CONVERSION_AUTH_STALE);
    assert_int_equal(check(TS, sig, "{}", NOW - 301), CONVERSION_AUTH_STALE);
}

static void test_malformed_headers(void **state)
{
    char sig[72];

    (void)state;
    conversion_auth_sign(secret, TS, 10, "{}", 2, sig);
    assert_int_equal(check("", sig, "{}", NOW), CONVERSION_AUTH_MALFORMED);
    assert_int_equal(check("17e8", sig, "{}", NOW), CONVERSION_AUTH_MALFORMED);
    assert_int_equal(check("17000000000", sig, "{}", NOW), CONVERSION_AUTH_MALFORMED);
    assert_int_equal(check(TS, sig + 7, "{}", NOW), CONVERSION_AUTH_MALFORMED);
    sig[20] = 'g';
    assert_int_equal(check(TS, sig, "{}", NOW), CONVERSION_AUTH_MALFORMED);
    assert_string_equal(conversion_auth_status_name(CONVERSION_AUTH_STALE), "stale");
}

static void test_origins_parse_and_match(void **state)
{
    struct origin_list l;

    (void)state;
    assert_int_equal(origin_list_parse("https://Shop.Example, http://127.0.0.1:8081,"
                                       "https://[::1]:443", &l), 0);
    assert_int_equal(l.n, 3);
    assert_true(origin_list_allows(&l, "https://shop.example", 20));
    assert_true(origin_list_allows(&l, "HTTPS://SHOP.EXAMPLE", 20));
    assert_true(origin_list_allows(&l, "http://127.0.0.1:8081", 21));
    assert_false(origin_list_allows(&l, "https://shop.example.evil", 25));
    assert_false(origin_list_allows(&l, "https://shop.exampl", 19));
    assert_false(origin_list_allows(&l, "http://shop.example", 19));
    assert_false(origin_list_allows(&l, "null", 4));
    assert_int_equal(origin_list_parse("", &l), 0);
    assert_int_equal(l.n, 0);
}

static void test_origins_rejected(void **state)
{
    struct origin_list l;
    static const char *const bad[] = {
        "shop.example", "https://shop.example/", "https://shop.example/p",
        "ftp://shop.example", "https://", "https://shop.example:", "null",
        "https://sh op.example", "https://shop.example:123456",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(origin_list_parse(bad[i], &l), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_matches_reference),
        cmocka_unit_test(test_upper_case_hex_accepted),
        cmocka_unit_test(test_bad_mac_and_body),
        cmocka_unit_test(test_timestamp_inside_mac),
        cmocka_unit_test(test_stale_both_ways),
        cmocka_unit_test(test_malformed_headers),
        cmocka_unit_test(test_origins_parse_and_match),
        cmocka_unit_test(test_origins_rejected),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
