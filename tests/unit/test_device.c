/*
 * test_device.c - unit tests of tracking/device.c and tracking/utc.c: the
 * User-Agent classes that journeys show, and the times the stats API takes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "device.h"
#include "schema.h"
#include "utc.h"

struct ua_case {
    const char *ua;
    enum device_class device;
    enum client_family client;
};

static const struct ua_case cases[] = {
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Mobile/15E148", DEVICE_MOBILE, CLIENT_APPLE_MAIL},
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1", DEVICE_MOBILE, CLIENT_BROWSER},
    {"Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15", DEVICE_TABLET,
     CLIENT_APPLE_MAIL},
    {"Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
     DEVICE_TABLET, CLIENT_BROWSER},
    {"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120.0 Mobile "
     "Safari/537.36", DEVICE_MOBILE, CLIENT_BROWSER},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
     DEVICE_DESKTOP, CLIENT_BROWSER},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Microsoft Outlook 16.0", DEVICE_DESKTOP,
     CLIENT_OUTLOOK},
    {"Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.0",
     DEVICE_DESKTOP, CLIENT_THUNDERBIRD},
    {"Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com "
     "GoogleImageProxy)", DEVICE_PROXY, CLIENT_GMAIL},
    {"YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
     DEVICE_PROXY, CLIENT_YAHOO},
    {"curl/8.0", DEVICE_UNKNOWN, CLIENT_UNKNOWN},
};

static void classes_of_agents(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct ua_case *c = &cases[i];
        size_t len = strlen(c->ua);

        if (device_class_of(c->ua, len) != c->device)
            fail_msg("device of '%s' is %s", c->ua,
                     device_class_name(device_class_of(c->ua, len)));
        if (device_client_of(c->ua, len) != c->client)
            fail_msg("client of '%s' is %s", c->ua,
                     device_client_name(device_client_of(c->ua, len)));
    }
}

static void missing_agent_is_unknown(void **state)
{
    (void)state;
    assert_int_equal(device_class_of(NULL, 0), DEVICE_UNKNOWN);
    assert_int_equal(device_client_of("", 0), CLIENT_UNKNOWN);
    assert_string_equal(device_class_name(DEVICE_UNKNOWN), "unknown");
    assert_string_equal(device_client_name(CLIENT_APPLE_MAIL), "apple_mail");
}

static void utc_parse_forms(void **state)
{
    uint32_t t = 0;
    char hour[21];

    (void)state;
    assert_int_equal(utc_parse("1796417173", &t), 0);
    assert_int_equal(t, 1796417173u);
    assert_int_equal(utc_parse("2026-12-04", &t), 0);
    assert_int_equal(t, 1796342400u);
    assert_int_equal(utc_parse("2026-12-04T14", &t), 0);
    assert_int_equal(t, 1796342400u + 14 * 3600);
    assert_int_equal(utc_parse("2026-12-04T14:30Z", &t), 0);
    assert_int_equal(t, 1796342400u + 14 * 3600 + 1800);
    assert_int_equal(utc_parse("2026-12-04T14:30:15", &t), 0);
    assert_int_equal(t, 1796342400u + 14 * 3600 + 1815);
    utc_format_hour(t, hour);
    assert_string_equal(hour, "2026-12-04T14:00:00Z");
}

static void utc_parse_rejects(void **state)
{
    static const char *const bad[] = {
        "", "yesterday", "2026-13-01", "2026-12-32", "2026-12-04T24", "2026-12-04T1:61",
        "2026-12-04 14:00", "1969-12-31", "99999999999", "12abc", "2026-12-04Tx",
    };
    uint32_t t;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (utc_parse(bad[i], &t) == 0)
            fail_msg("'%s' was accepted", bad[i]);
    }
}

static void ttc_bucket_bounds(void **state)
{
    (void)state;
    assert_string_equal(schema_ttc_field(0), "lt_5m");
    assert_string_equal(schema_ttc_field(299), "lt_5m");
    assert_string_equal(schema_ttc_field(300), "5m_1h");
    assert_string_equal(schema_ttc_field(86399), "6h_1d");
    assert_string_equal(schema_ttc_field(7 * 86400 - 1), "3d_7d");
    assert_string_equal(schema_ttc_field(7 * 86400), "ge_7d");
    assert_string_equal(schema_ttc_field(UINT32_MAX), "ge_7d");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(classes_of_agents),
        cmocka_unit_test(missing_agent_is_unknown),
        cmocka_unit_test(utc_parse_forms),
        cmocka_unit_test(utc_parse_rejects),
        cmocka_unit_test(ttc_bucket_bounds),
    };

    return cmocka_run_group_tests_name("device", tests, NULL, NULL);
}
