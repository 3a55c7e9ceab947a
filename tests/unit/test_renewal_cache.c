/*
 * test_renewal_cache.c - the renewal cache returns true only for a reader
 * and period it was given, in the same generation. It keeps four readers
 * of one set and loses older ones when more arrive, and a cache of 0
 * entries is off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "renewal_cache.h"

/* A reader id whose first four bytes (the set) are set and the next
 * eight (the fingerprint) differ by n. */
static void reader_in_set(uint8_t reader[TOKEN_READER_LEN], uint32_t set, uint32_t n)
{
    memset(reader, 0, TOKEN_READER_LEN);
    memcpy(reader, &set, sizeof(set));
    memcpy(reader + 4, &n, sizeof(n));
    reader[11] = 0x5a;
}

static void remembers_reader_and_period(void **state)
{
    struct renewal_cache *c = renewal_cache_new(1024);
    uint8_t ann[TOKEN_READER_LEN], bob[TOKEN_READER_LEN];

    (void)state;
    assert_non_null(c);
    reader_in_set(ann, 7, 1);
    reader_in_set(bob, 8, 2);
    assert_false(renewal_cache_has(c, ann, 490000));

    renewal_cache_put(c, ann, 490000);
    assert_true(renewal_cache_has(c, ann, 490000));
    assert_false(renewal_cache_has(c, ann, 490001));
    assert_false(renewal_cache_has(c, ann, 489999));
    assert_false(renewal_cache_has(c, bob, 490000));

    /* The next period is a new entry, and the old one may stay. */
    renewal_cache_put(c, ann, 490001);
    assert_true(renewal_cache_has(c, ann, 490001));
    renewal_cache_put(c, ann, 490001);
    assert_true(renewal_cache_has(c, ann, 490001));
    renewal_cache_free(c);
}

static void forget_all_drops_every_entry(void **state)
{
    struct renewal_cache *c = renewal_cache_new(64);
    uint8_t r[TOKEN_READER_LEN];

    (void)state;
    assert_non_null(c);
    for (uint32_t i = 0; i < 8; i++) {
        reader_in_set(r, i, i);
        renewal_cache_put(c, r, 100);
    }
    renewal_cache_forget_all(c);
    for (uint32_t i = 0; i < 8; i++) {
        reader_in_set(r, i, i);
        assert_false(renewal_cache_has(c, r, 100));
    }

    /* Entries put after it count again. */
    reader_in_set(r, 3, 3);
    renewal_cache_put(c, r, 100);
    assert_true(renewal_cache_has(c, r, 100));
    renewal_cache_free(c);
}

/* Eight readers of one set: four fit, each later one replaces one, and
 * no reader that was never put is ever reported. */
static void full_set_loses_entries_never_invents(void **state)
{
    struct renewal_cache *c = renewal_cache_new(64);
    uint8_t r[TOKEN_READER_LEN];
    int remembered = 0;

    (void)state;
    assert_non_null(c);
    for (uint32_t i = 0; i < 4; i++) {
        reader_in_set(r, 5, i);
        renewal_cache_put(c, r, 42);
    }
    for (uint32_t i = 0; i < 4; i++) {
        reader_in_set(r, 5, i);
        assert_true(renewal_cache_has(c, r, 42));
    }

    for (uint32_t i = 4; i < 8; i++) {
        reader_in_set(r, 5, i);
        renewal_cache_put(c, r, 42);
        assert_true(renewal_cache_has(c, r, 42));
    }
    for (uint32_t i = 0; i < 8; i++) {
        reader_in_set(r, 5, i);
        remembered += renewal_cache_has(c, r, 42);
    }
    assert_in_range(remembered, 1, 4);
    for (uint32_t i = 8; i < 100; i++) {
        reader_in_set(r, 5, i);
        assert_false(renewal_cache_has(c, r, 42));
    }
    renewal_cache_free(c);
}

/* Sets are chosen by the low bits of the first four bytes: a cache of 64
 * entries has 16 sets, so set 5 and set 21 are one set. */
static void small_cache_shares_sets(void **state)
{
    struct renewal_cache *c = renewal_cache_new(64);
    uint8_t a[TOKEN_READER_LEN], b[TOKEN_READER_LEN];

    (void)state;
    assert_non_null(c);
    reader_in_set(a, 5, 1);
    reader_in_set(b, 21, 1);
    renewal_cache_put(c, a, 9);
    /* Same fingerprint bytes and same set: one entry by design, like two
     * reader ids that differ only in bits no set index uses. */
    assert_true(renewal_cache_has(c, b, 9));
    reader_in_set(b, 21, 2);
    assert_false(renewal_cache_has(c, b, 9));
    renewal_cache_free(c);
}

/* The default size, 8 MB: the table is aligned for huge pages, and a
 * prefetch before the lookup changes nothing it returns. */
static void default_size_on_huge_pages(void **state)
{
    struct renewal_cache *c = renewal_cache_new((size_t)1 << 20);
    uint8_t r[TOKEN_READER_LEN];

    (void)state;
    assert_non_null(c);
    for (uint32_t i = 0; i < 1000; i++) {
        reader_in_set(r, i * 2654435761u, i);
        renewal_cache_prefetch(c, r);
        renewal_cache_put(c, r, 7);
    }
    for (uint32_t i = 0; i < 1000; i++) {
        reader_in_set(r, i * 2654435761u, i);
        renewal_cache_prefetch(c, r);
        assert_true(renewal_cache_has(c, r, 7));
        assert_false(renewal_cache_has(c, r, 8));
    }
    renewal_cache_free(c);
}

static void zero_entries_is_off(void **state)
{
    uint8_t r[TOKEN_READER_LEN];

    (void)state;
    reader_in_set(r, 1, 1);
    assert_null(renewal_cache_new(0));
    renewal_cache_put(NULL, r, 1);
    renewal_cache_prefetch(NULL, r);
    assert_false(renewal_cache_has(NULL, r, 1));
    renewal_cache_forget_all(NULL);
    renewal_cache_free(NULL);

    /* Fewer entries than one set still make one set. */
    struct renewal_cache *c = renewal_cache_new(1);
    assert_non_null(c);
    renewal_cache_put(c, r, 1);
    assert_true(renewal_cache_has(c, r, 1));
    renewal_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(remembers_reader_and_period),
        cmocka_unit_test(forget_all_drops_every_entry),
        cmocka_unit_test(full_set_loses_entries_never_invents),
        cmocka_unit_test(small_cache_shares_sets),
        cmocka_unit_test(default_size_on_huge_pages),
        cmocka_unit_test(zero_entries_is_off),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
