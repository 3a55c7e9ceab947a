/*
 * test_ua_cache.c - the User-Agent cache gives what device_classify and
 * classify_agent_lists give, on a miss, on a hit, after slots have been
 * reused and after the classification data has changed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ua_cache.h"

static const char *const agents[] = {
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    "Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)",
    "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029; Pro)",
    "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
    "short",
    "",
};

static void add(struct classify_tables *t, enum classify_list list, const char *line)
{
    assert_int_equal(classify_tables_add_line(t, list, false, line, strlen(line)), 0);
}

/* Tables where the Gmail proxy is an image proxy and Outlook a scanner. */
static void load_tables(struct classify_tables *t)
{
    classify_tables_init(t);
    add(t, CLASSIFY_LIST_IMAGE_PROXY, "*GoogleImageProxy*");
    add(t, CLASSIFY_LIST_SCANNER, "*Outlook*");
    classify_tables_finish(t);
}

static void assert_as_classify(struct ua_cache *cache, const struct classify_tables *t,
                               const char *ua, size_t len)
{
    enum device_class device;
    enum client_family client;
    struct ua_traits got;

    device_classify(ua, len, &device, &client);
    ua_cache_lookup(cache, t, ua, len, &got);
    assert_int_equal(got.device, device);
    assert_int_equal(got.client, client);
    assert_int_equal(got.agents, classify_agent_lists(t, ua, len));
}

static void cache_matches_classify(void **state)
{
    struct ua_cache *cache = ua_cache_new();
    struct classify_tables t;

    (void)state;
    assert_non_null(cache);
    load_tables(&t);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < sizeof(agents) / sizeof(agents[0]); i++)
            assert_as_classify(cache, &t, agents[i], strlen(agents[i]));
    }
    assert_int_equal(classify_agent_lists(&t, agents[1], strlen(agents[1])),
                     1u << CLASSIFY_LIST_IMAGE_PROXY);
    classify_tables_free(&t);
    ua_cache_free(cache);
}

/* Many more values than slots: every slot is reused, and values that
 * differ only after a cached prefix are not mistaken for it. */
static void cache_reuses_slots(void **state)
{
    struct ua_cache *cache = ua_cache_new();
    struct classify_tables t;
    char ua[300];

    (void)state;
    assert_non_null(cache);
    load_tables(&t);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 500; i++) {
            const char *base = agents[(size_t)i % 7];
            int n = snprintf(ua, sizeof(ua), "%s %d", base, i);

            assert_as_classify(cache, &t, ua, (size_t)n);
            assert_as_classify(cache, &t, base, strlen(base));
        }
    }
    classify_tables_free(&t);
    ua_cache_free(cache);
}

/* After the classification data changes, list matches come from the new
 * tables, not from the cache. */
static void cache_forgets_agents(void **state)
{
    struct ua_cache *cache = ua_cache_new();
    struct classify_tables before, after;
    const char *outlook = agents[5];
    struct ua_traits got;

    (void)state;
    assert_non_null(cache);
    load_tables(&before);
    classify_tables_init(&after);
    classify_tables_finish(&after);

    ua_cache_lookup(cache, &before, outlook, strlen(outlook), &got);
    assert_int_equal(got.agents, 1u << CLASSIFY_LIST_SCANNER);
    ua_cache_forget_agents(cache);
    ua_cache_lookup(cache, &after, outlook, strlen(outlook), &got);
    assert_int_equal(got.agents, 0);
    assert_as_classify(cache, &after, outlook, strlen(outlook));

    classify_tables_free(&before);
    classify_tables_free(&after);
    ua_cache_free(cache);
}

static void cache_skips_long_values(void **state)
{
    struct ua_cache *cache = ua_cache_new();
    struct classify_tables t;
    char ua[600];

    (void)state;
    assert_non_null(cache);
    load_tables(&t);
    memset(ua, 'x', sizeof(ua));
    memcpy(ua, "Mozilla/5.0 (iPhone;", 20);
    assert_as_classify(cache, &t, ua, sizeof(ua));
    assert_as_classify(cache, &t, ua, sizeof(ua));
    classify_tables_free(&t);
    ua_cache_free(cache);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cache_matches_classify),
        cmocka_unit_test(cache_reuses_slots),
        cmocka_unit_test(cache_forgets_agents),
        cmocka_unit_test(cache_skips_long_values),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
