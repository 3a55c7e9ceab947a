/*
 * test_ratelimit.c - unit tests of server/ratelimit.c: burst, refill,
 * Retry-After, the /64 grouping of IPv6 clients, eviction within the
 * fixed table, and the switch-off at rate 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ratelimit.h"

static struct netaddr addr(const char *text)
{
    struct netaddr a;

    assert_int_equal(netaddr_parse(text, strlen(text), &a), 0);
    return a;
}

static void ratelimit_allows_burst_then_limits(void **state)
{
    struct ratelimit *rl = ratelimit_new(2, 5);
    struct netaddr a = addr("198.51.100.7");
    uint32_t retry = 0;

    (void)state;
    assert_non_null(rl);
    for (int i = 0; i < 5; i++)
        assert_true(ratelimit_take(rl, &a, 1000, &retry));
    assert_false(ratelimit_take(rl, &a, 1000, &retry));
    assert_int_equal(retry, 1); /* one token takes 500 ms at 2/s */
    ratelimit_free(rl);
}

static void ratelimit_refills_at_rate(void **state)
{
    struct ratelimit *rl = ratelimit_new(2, 2);
    struct netaddr a = addr("198.51.100.7");
    uint32_t retry = 0;

    (void)state;
    assert_true(ratelimit_take(rl, &a, 1000, &retry));
    assert_true(ratelimit_take(rl, &a, 1000, &retry));
    assert_false(ratelimit_take(rl, &a, 1499, &retry));
    assert_true(ratelimit_take(rl, &a, 1500, &retry));
    assert_false(ratelimit_take(rl, &a, 1500, &retry));

    /* A long pause refills to the burst and no further. */
    assert_true(ratelimit_take(rl, &a, 100000, &retry));
    assert_true(ratelimit_take(rl, &a, 100000, &retry));
    assert_false(ratelimit_take(rl, &a, 100000, &retry));
    ratelimit_free(rl);
}

static void ratelimit_retry_after_rounds_up(void **state)
{
    struct ratelimit *rl = ratelimit_new(1, 1);
    struct netaddr a = addr("2001:db8::1");
    uint32_t retry = 0;

    (void)state;
    assert_true(ratelimit_take(rl, &a, 5000, &retry));
    assert_false(ratelimit_take(rl, &a, 5001, &retry));
    assert_int_equal(retry, 1);
    ratelimit_free(rl);
}

static void ratelimit_groups_ipv6_by_64(void **state)
{
    struct ratelimit *rl = ratelimit_new(1, 1);
    struct netaddr a = addr("2001:db8:1:2::1");
    struct netaddr same64 = addr("2001:db8:1:2:ffff::9");
    struct netaddr other64 = addr("2001:db8:1:3::1");
    struct netaddr v4 = addr("198.51.100.7");
    struct netaddr v4_next = addr("198.51.100.8");
    uint32_t retry = 0;

    (void)state;
    assert_true(ratelimit_take(rl, &a, 1000, &retry));
    assert_false(ratelimit_take(rl, &same64, 1000, &retry));
    assert_true(ratelimit_take(rl, &other64, 1000, &retry));
    assert_true(ratelimit_take(rl, &v4, 1000, &retry));
    assert_true(ratelimit_take(rl, &v4_next, 1000, &retry)); /* IPv4 is /32 */
    ratelimit_free(rl);
}

static void ratelimit_table_stays_fixed_and_evicts(void **state)
{
    struct ratelimit *rl = ratelimit_new(1, 1);
    struct netaddr a;
    uint32_t retry = 0;
    uint64_t clients = 4 * (uint64_t)RATELIMIT_SLOTS;

    (void)state;
    /* Four times as many clients as slots, each new: all pass, and the
     * table must have evicted at least the surplus. */
    for (uint64_t i = 0; i < clients; i++) {
        memset(&a, 0, sizeof(a));
        a.bytes[0] = 0x20;
        memcpy(a.bytes + 1, &i, sizeof(i));
        assert_true(ratelimit_take(rl, &a, 1000 + i, &retry));
    }
    assert_true(ratelimit_evictions(rl) >= clients - RATELIMIT_SLOTS);

    /* The most recent client is still remembered. */
    assert_false(ratelimit_take(rl, &a, 1000 + clients, &retry));
    ratelimit_free(rl);
}

static void ratelimit_zero_rate_is_off(void **state)
{
    struct ratelimit *rl = ratelimit_new(0, 1);
    struct netaddr a = addr("198.51.100.7");
    uint32_t retry = 0;

    (void)state;
    for (int i = 0; i < 1000; i++)
        assert_true(ratelimit_take(rl, &a, 1000, &retry));
    ratelimit_free(rl);
}

static void ratelimit_clock_going_back_refills_nothing(void **state)
{
    struct ratelimit *rl = ratelimit_new(1, 1);
    struct netaddr a = addr("198.51.100.7");
    uint32_t retry = 0;

    (void)state;
    assert_true(ratelimit_take(rl, &a, 10000, &retry));
    assert_false(ratelimit_take(rl, &a, 2000, &retry));
    assert_false(ratelimit_take(rl, &a, 10500, &retry));
    assert_true(ratelimit_take(rl, &a, 11000, &retry));
    ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ratelimit_allows_burst_then_limits),
        cmocka_unit_test(ratelimit_refills_at_rate),
        cmocka_unit_test(ratelimit_retry_after_rounds_up),
        cmocka_unit_test(ratelimit_groups_ipv6_by_64),
        cmocka_unit_test(ratelimit_table_stays_fixed_and_evicts),
        cmocka_unit_test(ratelimit_zero_rate_is_off),
        cmocka_unit_test(ratelimit_clock_going_back_refills_nothing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
