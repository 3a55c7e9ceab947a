/*
 * test_netaddr.c - address parsing, truncation for logs, and range sets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "netaddr.h"

static struct netaddr addr(const char *text)
{
    struct netaddr a;

    assert_int_equal(netaddr_parse(text, strlen(text), &a), 0);
    return a;
}

static void add(struct netset *set, const char *cidr)
{
    assert_int_equal(netset_add(set, cidr, strlen(cidr)), 0);
}

static void netaddr_parses_both_families(void **state)
{
    struct netaddr a;

    (void)state;
    a = addr("203.0.113.7");
    assert_true(netaddr_is_v4(&a));
    assert_int_equal(a.bytes[12], 203);
    assert_int_equal(a.bytes[15], 7);
    a = addr("2001:db8::1");
    assert_false(netaddr_is_v4(&a));
    assert_int_equal(a.bytes[0], 0x20);
    assert_int_equal(a.bytes[15], 1);
}

static void netaddr_rejects_non_addresses(void **state)
{
    const char *bad[] = {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "[::1]",
                         "::1%eth0", "1.2.3.4:80", "example.com", " 1.2.3.4"};
    struct netaddr a;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(netaddr_parse(bad[i], strlen(bad[i]), &a), -1);
}

static void netaddr_from_sockaddr_maps_v4(void **state)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    struct netaddr a, expected = addr("198.51.100.20");

    (void)state;
    inet_pton(AF_INET, "198.51.100.20", &sin.sin_addr);
    assert_int_equal(netaddr_from_sockaddr((struct sockaddr *)&sin, sizeof(sin), &a), 0);
    assert_memory_equal(a.bytes, expected.bytes, 16);
}

static void netaddr_truncates_for_logs(void **state)
{
    char text[NETADDR_TEXT_MAX];
    struct netaddr a;

    (void)state;
    a = addr("203.0.113.77");
    netaddr_format_truncated(&a, text);
    assert_string_equal(text, "203.0.113.0/24");
    a = addr("2001:db8:1234:5678::9");
    netaddr_format_truncated(&a, text);
    assert_string_equal(text, "2001:db8:1234::/48");
}

static void netset_matches_ranges_and_edges(void **state)
{
    struct netset set;
    struct netaddr a;

    (void)state;
    netset_init(&set);
    add(&set, "10.0.0.0/8");
    add(&set, "192.0.2.1");
    add(&set, "2001:db8::/32");
    netset_finish(&set);

    a = addr("10.0.0.0");
    assert_true(netset_contains(&set, &a));
    a = addr("10.255.255.255");
    assert_true(netset_contains(&set, &a));
    a = addr("11.0.0.0");
    assert_false(netset_contains(&set, &a));
    a = addr("9.255.255.255");
    assert_false(netset_contains(&set, &a));
    a = addr("192.0.2.1");
    assert_true(netset_contains(&set, &a));
    a = addr("192.0.2.2");
    assert_false(netset_contains(&set, &a));
    a = addr("2001:db8:ffff::1");
    assert_true(netset_contains(&set, &a));
    a = addr("2001:db9::");
    assert_false(netset_contains(&set, &a));
    netset_free(&set);
}

static void netset_merges_overlaps(void **state)
{
    struct netset set;
    struct netaddr a;

    (void)state;
    netset_init(&set);
    add(&set, "198.51.100.128/25");
    add(&set, "198.51.100.0/24");
    add(&set, "198.51.101.0/24");
    add(&set, "0.0.0.0/0");
    add(&set, "::/0");
    netset_finish(&set);
    assert_int_equal(set.n, 1);
    a = addr("8.8.8.8");
    assert_true(netset_contains(&set, &a));
    netset_free(&set);
}

static void netset_rejects_bad_cidrs(void **state)
{
    const char *bad[] = {"10.0.0.1/8", "10.0.0.0/33", "::/129", "10.0.0.0/",
                         "10.0.0.0/08", "10.0.0.0/-1", "/8", "garbage/8"};
    struct netset set;

    (void)state;
    netset_init(&set);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(netset_add(&set, bad[i], strlen(bad[i])), -1);
    assert_int_equal(set.n, 0);
    netset_free(&set);
}

static void netset_empty_contains_nothing(void **state)
{
    struct netset set;
    struct netaddr a = addr("127.0.0.1");

    (void)state;
    netset_init(&set);
    netset_finish(&set);
    assert_false(netset_contains(&set, &a));
    netset_free(&set);
}

/* A list the size of Apple's egress list: lookups in the merged set agree
 * with a plain scan of the blocks added, for addresses inside blocks, at
 * their edges and between them. The blocks are /24s of 10.0.0.0/8 with
 * pseudo-random gaps, so many are adjacent and merge. */
static void netset_large_list_agrees_with_scan(void **state)
{
    enum { BLOCKS = 20000, PROBES = 4000 };
    static unsigned char present[1 << 16]; /* by the /24's middle bytes */
    struct netset set;
    unsigned seed = 7;
    char text[48];

    (void)state;
    netset_init(&set);
    memset(present, 0, sizeof(present));
    for (int i = 0; i < BLOCKS; i++) {
        unsigned block;

        seed = seed * 1103515245u + 12345u;
        block = (seed >> 8) & 0xffff;
        present[block] = 1;
        snprintf(text, sizeof(text), "10.%u.%u.0/24", block >> 8, block & 255);
        add(&set, text);
    }
    netset_finish(&set);
    assert_true(set.n < BLOCKS);

    for (int i = 0; i < PROBES; i++) {
        struct netaddr a;
        unsigned block, host;

        seed = seed * 1103515245u + 12345u;
        block = (seed >> 8) & 0xffff;
        if (i % 3 == 0)
            host = 0;
        else if (i % 3 == 1)
            host = 255;
        else
            host = seed & 255;
        snprintf(text, sizeof(text), "10.%u.%u.%u", block >> 8, block & 255, host);
        assert_int_equal(netaddr_parse(text, strlen(text), &a), 0);
        assert_int_equal(netset_contains(&set, &a), present[block] == 1);
    }
    netset_free(&set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(netaddr_parses_both_families),
        cmocka_unit_test(netaddr_rejects_non_addresses),
        cmocka_unit_test(netaddr_from_sockaddr_maps_v4),
        cmocka_unit_test(netaddr_truncates_for_logs),
        cmocka_unit_test(netset_matches_ranges_and_edges),
        cmocka_unit_test(netset_merges_overlaps),
        cmocka_unit_test(netset_rejects_bad_cidrs),
        cmocka_unit_test(netset_empty_contains_nothing),
        cmocka_unit_test(netset_large_list_agrees_with_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
