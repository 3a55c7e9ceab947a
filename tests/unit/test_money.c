/*
 * test_money.c - ISO 4217 exponents, and decimal amounts to and from minor
 * units at every edge: exponents 0 to 4, the maximum, signs and notations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "money.h"

static int exponent_of(const char *code)
{
    return money_currency_exponent(code, strlen(code));
}

/* Parses dec and returns the minor units, or -1 when it is rejected. */
static int64_t parse(const char *dec, int exponent)
{
    int64_t minor = -1;

    if (money_parse(dec, strlen(dec), exponent, &minor) != 0)
        return -1;
    return minor;
}

static void money_exponents_of_common_codes(void **state)
{
    (void)state;
    assert_int_equal(exponent_of("EUR"), 2);
    assert_int_equal(exponent_of("USD"), 2);
    assert_int_equal(exponent_of("GBP"), 2);
    assert_int_equal(exponent_of("CHF"), 2);
    assert_int_equal(exponent_of("HUF"), 2);
    assert_int_equal(exponent_of("JPY"), 0);
    assert_int_equal(exponent_of("KRW"), 0);
    assert_int_equal(exponent_of("ISK"), 0);
    assert_int_equal(exponent_of("CLP"), 0);
    assert_int_equal(exponent_of("VND"), 0);
    assert_int_equal(exponent_of("XOF"), 0);
    assert_int_equal(exponent_of("KWD"), 3);
    assert_int_equal(exponent_of("BHD"), 3);
    assert_int_equal(exponent_of("TND"), 3);
    assert_int_equal(exponent_of("OMR"), 3);
    assert_int_equal(exponent_of("JOD"), 3);
    assert_int_equal(exponent_of("IQD"), 3);
    assert_int_equal(exponent_of("LYD"), 3);
    assert_int_equal(exponent_of("CLF"), 4);
    assert_int_equal(exponent_of("UYW"), 4);
}

static void money_table_edges_found(void **state)
{
    (void)state;
    assert_int_equal(exponent_of("AED"), 2); /* first */
    assert_int_equal(exponent_of("ZWL"), 2); /* last */
    assert_int_equal(exponent_of("XCG"), 2);
    assert_int_equal(exponent_of("ZWG"), 2);
}

static void money_rejects_bad_codes(void **state)
{
    (void)state;
    assert_int_equal(exponent_of("eur"), -1);
    assert_int_equal(exponent_of("Eur"), -1);
    assert_int_equal(exponent_of("EU"), -1);
    assert_int_equal(exponent_of("EURO"), -1);
    assert_int_equal(exponent_of(""), -1);
    assert_int_equal(exponent_of("E1R"), -1);
    assert_int_equal(exponent_of("AAA"), -1);
    assert_int_equal(exponent_of("ZZZ"), -1);
    assert_int_equal(exponent_of("HRK"), -1); /* withdrawn in 2023 */
    assert_int_equal(exponent_of("XAU"), -1); /* no minor unit */
    assert_int_equal(exponent_of("XXX"), -1);
    assert_int_equal(money_currency_exponent("EURX", 3), 2);
}

/* Every three-letter code is looked up, so a table out of order (which
 * would hide some codes from the binary search) shows as a wrong count. */
static void money_table_complete_and_sorted(void **state)
{
    char code[3];
    int found = 0;
    int by_exponent[5] = {0};

    (void)state;
    for (char a = 'A'; a <= 'Z'; a++) {
        for (char b = 'A'; b <= 'Z'; b++) {
            for (char c = 'A'; c <= 'Z'; c++) {
                code[0] = a;
                code[1] = b;
                code[2] = c;
                int e = money_currency_exponent(code, 3);
                if (e < 0)
                    continue;
                assert_true(e <= 4);
                found++;
                by_exponent[e]++;
            }
        }
    }
    assert_int_equal(found, 169);
    assert_int_equal(by_exponent[0], 17);
    assert_int_equal(by_exponent[1], 0);
    assert_int_equal(by_exponent[3], 7);
    assert_int_equal(by_exponent[4], 2);
}

static void money_parse_plain_amounts(void **state)
{
    (void)state;
    assert_int_equal(parse("89.95", 2), 8995);
    assert_int_equal(parse("90", 2), 9000);
    assert_int_equal(parse("0.5", 2), 50);
    assert_int_equal(parse("0", 2), 0);
    assert_int_equal(parse("0.00", 2), 0);
    assert_int_equal(parse("1200", 0), 1200);
    assert_int_equal(parse("12.345", 3), 12345);
    assert_int_equal(parse("12.3", 3), 12300);
    assert_int_equal(parse("1.2345", 4), 12345);
}

static void money_parse_exponent_zero(void **state)
{
    (void)state;
    assert_int_equal(parse("1500", 0), 1500);
    assert_int_equal(parse("1500.", 0), -1);
    assert_int_equal(parse("1500.0", 0), -1);
    assert_int_equal(parse("1500.00", 0), -1);
}

static void money_parse_too_many_digits(void **state)
{
    (void)state;
    assert_int_equal(parse("1.999", 2), -1);
    assert_int_equal(parse("1.0000", 3), -1);
    assert_int_equal(parse("1.00000", 4), -1);
}

static void money_parse_rejects_syntax(void **state)
{
    (void)state;
    const char *bad[] = {
        "", ".", "-1", "+1", "-0", "1e3", "1E3", "1.5e2", " 1", "1 ", "1,50",
        "1.5.0", ".5", "5.", "0x10", "1_000", "inf", "nan", "\xef\xbc\x91",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(parse(bad[i], 2), -1);
    assert_int_equal(money_parse("1\0", 2, 2, &(int64_t){0}), -1);
}

static void money_parse_leading_zeros(void **state)
{
    (void)state;
    assert_int_equal(parse("007.50", 2), 750);
    assert_int_equal(parse("00", 2), 0);
    assert_int_equal(parse("0000000000000000000000001", 0), 1);
}

static void money_parse_max_and_overflow(void **state)
{
    (void)state;
    assert_int_equal(parse("1000000000000.00", 2), MONEY_MINOR_MAX);
    assert_int_equal(parse("1000000000000.01", 2), -1);
    assert_int_equal(parse("1000000000001", 2), -1);
    assert_int_equal(parse("100000000000000", 0), MONEY_MINOR_MAX);
    assert_int_equal(parse("100000000000001", 0), -1);
    assert_int_equal(parse("10000000000.0000", 4), MONEY_MINOR_MAX);
    assert_int_equal(parse("10000000000.0001", 4), -1);
    assert_int_equal(parse("9223372036854775807", 0), -1);
    assert_int_equal(parse("99999999999999999999999999999", 0), -1);
    assert_int_equal(parse("184467440737095516160", 2), -1);
}

static void money_parse_rejects_bad_exponent(void **state)
{
    int64_t minor = 7;

    (void)state;
    assert_int_equal(money_parse("1", 1, -1, &minor), -1);
    assert_int_equal(money_parse("1", 1, 5, &minor), -1);
    assert_int_equal(minor, 7);
}

static void money_parse_leaves_output_on_error(void **state)
{
    int64_t minor = 42;

    (void)state;
    assert_int_equal(money_parse("1.999", 5, 2, &minor), -1);
    assert_int_equal(minor, 42);
}

/* Formats minor and compares with expected. */
static void assert_formats(int64_t minor, int exponent, const char *expected)
{
    char out[24];
    int n = money_format(minor, exponent, out, sizeof out);

    assert_int_equal(n, strlen(expected));
    assert_string_equal(out, expected);
}

static void money_format_amounts(void **state)
{
    (void)state;
    assert_formats(8995, 2, "89.95");
    assert_formats(-50, 2, "-0.50");
    assert_formats(5, 2, "0.05");
    assert_formats(0, 2, "0.00");
    assert_formats(1200, 0, "1200");
    assert_formats(0, 0, "0");
    assert_formats(-7, 0, "-7");
    assert_formats(12345, 3, "12.345");
    assert_formats(1, 4, "0.0001");
    assert_formats(MONEY_MINOR_MAX, 2, "1000000000000.00");
}

static void money_format_int64_extremes(void **state)
{
    (void)state;
    assert_formats(INT64_MAX, 0, "9223372036854775807");
    assert_formats(INT64_MIN, 0, "-9223372036854775808");
    assert_formats(INT64_MIN, 4, "-922337203685477.5808");
}

static void money_format_rejects_small_out(void **state)
{
    char out[8];

    (void)state;
    /* "-0.50" needs 6 bytes with the NUL. */
    assert_int_equal(money_format(-50, 2, out, 5), -1);
    assert_int_equal(money_format(-50, 2, out, 6), 5);
    assert_int_equal(money_format(0, 0, out, 1), -1);
    assert_int_equal(money_format(0, 0, out, 2), 1);
    assert_int_equal(money_format(1, 5, out, sizeof out), -1);
    assert_int_equal(money_format(1, -1, out, sizeof out), -1);
}

static void money_format_parse_round_trip(void **state)
{
    const int64_t values[] = {0, 1, 9, 10, 99, 100, 8995, 123456789,
                              MONEY_MINOR_MAX - 1, MONEY_MINOR_MAX};
    char out[24];
    int64_t back = 0;

    (void)state;
    for (int e = 0; e <= 4; e++) {
        for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
            int n = money_format(values[i], e, out, sizeof out);
            assert_true(n > 0);
            assert_int_equal(money_parse(out, (size_t)n, e, &back), 0);
            assert_int_equal(back, values[i]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(money_exponents_of_common_codes),
        cmocka_unit_test(money_table_edges_found),
        cmocka_unit_test(money_rejects_bad_codes),
        cmocka_unit_test(money_table_complete_and_sorted),
        cmocka_unit_test(money_parse_plain_amounts),
        cmocka_unit_test(money_parse_exponent_zero),
        cmocka_unit_test(money_parse_too_many_digits),
        cmocka_unit_test(money_parse_rejects_syntax),
        cmocka_unit_test(money_parse_leading_zeros),
        cmocka_unit_test(money_parse_max_and_overflow),
        cmocka_unit_test(money_parse_rejects_bad_exponent),
        cmocka_unit_test(money_parse_leaves_output_on_error),
        cmocka_unit_test(money_format_amounts),
        cmocka_unit_test(money_format_int64_extremes),
        cmocka_unit_test(money_format_rejects_small_out),
        cmocka_unit_test(money_format_parse_round_trip),
    };

    return cmocka_run_group_tests_name("money", tests, NULL, NULL);
}
