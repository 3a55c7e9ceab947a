/*
 * test_resp.c - RESP2 command encoding: headers, binary-safe arguments,
 * numbers at their limits, and buffer reuse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "resp.h"

static void check_buf(const struct resp_buf *b, const char *expected, size_t len)
{
    assert_false(b->failed);
    assert_int_equal(b->len, len);
    assert_memory_equal(b->data, expected, len);
}

static void resp_encodes_command(void **state)
{
    static const char expected[] = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$2\r\n42\r\n";
    struct resp_buf b = {0};

    (void)state;
    resp_array(&b, 3);
    resp_bulk_str(&b, "SET");
    resp_bulk(&b, "key", 3);
    resp_bulk_u64(&b, 42);
    check_buf(&b, expected, sizeof(expected) - 1);
    resp_free(&b);
}

static void resp_bulk_is_binary_safe(void **state)
{
    static const char expected[] = "$5\r\na\0\r\nb\r\n$0\r\n\r\n";
    struct resp_buf b = {0};

    (void)state;
    resp_bulk(&b, "a\0\r\nb", 5);
    resp_bulk(&b, "", 0);
    check_buf(&b, expected, sizeof(expected) - 1);
    resp_free(&b);
}

static void resp_header_lengths(void **state)
{
    struct resp_buf b = {0};
    char arg[100];

    (void)state;
    memset(arg, 'a', sizeof(arg));
    resp_array(&b, 10);
    resp_bulk(&b, arg, 99);
    assert_memory_equal(b.data, "*10\r\n$99\r\naa", 12);
    resp_reset(&b);
    resp_array(&b, 100);
    resp_bulk(&b, arg, 100);
    assert_memory_equal(b.data, "*100\r\n$100\r\naa", 14);
    assert_int_equal(b.len, 6 + 6 + 100 + 2);
    resp_free(&b);
}

static void resp_u64_limits(void **state)
{
    char out[RESP_U64_MAX];

    (void)state;
    assert_int_equal(resp_u64_text(0, out), 1);
    assert_string_equal(out, "0");
    assert_int_equal(resp_u64_text(10, out), 2);
    assert_string_equal(out, "10");
    assert_int_equal(resp_u64_text(UINT64_MAX, out), 20);
    assert_string_equal(out, "18446744073709551615");
}

static void resp_grows_and_reuses(void **state)
{
    struct resp_buf b = {0};
    char big[5000];
    size_t cap;

    (void)state;
    memset(big, 'z', sizeof(big));
    resp_bulk(&b, big, sizeof(big));
    assert_false(b.failed);
    assert_int_equal(b.len, strlen("$5000\r\n") + sizeof(big) + 2);
    assert_memory_equal(b.data, "$5000\r\nzz", 9);
    cap = b.cap;

    resp_reset(&b);
    assert_int_equal(b.len, 0);
    resp_array(&b, 1);
    check_buf(&b, "*1\r\n", 4);
    assert_int_equal(b.cap, cap);
    resp_free(&b);
    assert_null(b.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resp_encodes_command),
        cmocka_unit_test(resp_bulk_is_binary_safe),
        cmocka_unit_test(resp_header_lengths),
        cmocka_unit_test(resp_u64_limits),
        cmocka_unit_test(resp_grows_and_reuses),
    };

    return cmocka_run_group_tests_name("resp", tests, NULL, NULL);
}
