/*
 * test_device_cache.c - the User-Agent cache gives what device_classify
 * gives, on a miss, on a hit and after slots have been reused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "device_cache.h"

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

static void assert_as_classify(struct device_cache *cache, const char *ua, size_t len)
{
    enum device_class want_device, got_device;
    enum client_family want_client, got_client;

    device_classify(ua, len, &want_device, &want_client);
    device_cache_classify(cache, ua, len, &got_device, &got_client);
    assert_int_equal(got_device, want_device);
    assert_int_equal(got_client, want_client);
}

static void cache_matches_classify(void **state)
{
    struct device_cache *cache = device_cache_new();

    (void)state;
    assert_non_null(cache);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < sizeof(agents) / sizeof(agents[0]); i++)
            assert_as_classify(cache, agents[i], strlen(agents[i]));
    }
    device_cache_free(cache);
}

/* Many more values than slots: every slot is reused, and values that
 * differ only after a cached prefix are not mistaken for it. */
static void cache_reuses_slots(void **state)
{
    struct device_cache *cache = device_cache_new();
    char ua[300];

    (void)state;
    assert_non_null(cache);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 500; i++) {
            const char *base = agents[(size_t)i % 7];
            int n = snprintf(ua, sizeof(ua), "%s %d", base, i);

            assert_as_classify(cache, ua, (size_t)n);
            assert_as_classify(cache, base, strlen(base));
        }
    }
    device_cache_free(cache);
}

static void cache_skips_long_values(void **state)
{
    struct device_cache *cache = device_cache_new();
    char ua[600];

    (void)state;
    assert_non_null(cache);
    memset(ua, 'x', sizeof(ua));
    memcpy(ua, "Mozilla/5.0 (iPhone;", 20);
    assert_as_classify(cache, ua, sizeof(ua));
    assert_as_classify(cache, ua, sizeof(ua));
    device_cache_free(cache);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cache_matches_classify),
        cmocka_unit_test(cache_reuses_slots),
        cmocka_unit_test(cache_skips_long_values),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
