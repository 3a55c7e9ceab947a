/*
 * test_device.c - unit tests of tracking/device.c and tracking/utc.c: the
 * User-Agent classes that journeys show, and the times the stats API takes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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
    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
     DEVICE_DESKTOP, CLIENT_APPLE_MAIL},
    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.1 Safari/605.1.15", DEVICE_DESKTOP, CLIENT_BROWSER},
    {"Mozilla/5.0 (iPod touch; CPU iPhone OS 15_0 like Mac OS X) AppleWebKit/605.1.15",
     DEVICE_MOBILE, CLIENT_APPLE_MAIL},
    {"Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) Mobile Safari/537.36",
     DEVICE_MOBILE, CLIENT_BROWSER},
    {"Mozilla/5.0 (X11; CrOS x86_64 15633.69.0) AppleWebKit/537.36 Chrome/119.0 Safari/537.36",
     DEVICE_DESKTOP, CLIENT_BROWSER},
    {"Mozilla/4.0 (compatible; ms-office; MSOffice 16)", DEVICE_UNKNOWN, CLIENT_OUTLOOK},
    {"Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029; Pro)",
     DEVICE_DESKTOP, CLIENT_OUTLOOK},
    {"Mozilla/5.0 (Android 14; Tablet; rv:121.0) Gecko/121.0 Firefox/121.0", DEVICE_TABLET,
     CLIENT_BROWSER},
    {"Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0", DEVICE_MOBILE,
     CLIENT_BROWSER},
    {"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", DEVICE_DESKTOP,
     CLIENT_BROWSER},
};

/* The rules of device.c written with one memmem call per substring. The
 * one-pass matcher must return the same as this reference. */
static bool has(const char *ua, size_t len, const char *needle)
{
    return memmem(ua, len, needle, strlen(needle)) != NULL;
}

static enum device_class reference_class(const char *ua, size_t len)
{
    if (has(ua, len, "GoogleImageProxy") || has(ua, len, "YahooMailProxy") ||
        has(ua, len, "via ggpht.com"))
        return DEVICE_PROXY;
    if (has(ua, len, "iPad") || has(ua, len, "Tablet") ||
        (has(ua, len, "Android") && !has(ua, len, "Mobile")))
        return DEVICE_TABLET;
    if (has(ua, len, "iPhone") || has(ua, len, "iPod") || has(ua, len, "Android") ||
        has(ua, len, "Mobile") || has(ua, len, "Windows Phone"))
        return DEVICE_MOBILE;
    if (has(ua, len, "Windows NT") || has(ua, len, "Macintosh") || has(ua, len, "X11") ||
        has(ua, len, "CrOS") || has(ua, len, "Linux"))
        return DEVICE_DESKTOP;
    return DEVICE_UNKNOWN;
}

static enum client_family reference_client(const char *ua, size_t len)
{
    if (has(ua, len, "GoogleImageProxy") || has(ua, len, "via ggpht.com"))
        return CLIENT_GMAIL;
    if (has(ua, len, "YahooMailProxy"))
        return CLIENT_YAHOO;
    if (has(ua, len, "Outlook") || has(ua, len, "ms-office") ||
        has(ua, len, "Microsoft Office"))
        return CLIENT_OUTLOOK;
    if (has(ua, len, "Thunderbird"))
        return CLIENT_THUNDERBIRD;
    if (has(ua, len, "AppleWebKit") && !has(ua, len, "Safari/") &&
        !has(ua, len, "Version/") &&
        (has(ua, len, "iPhone") || has(ua, len, "iPad") || has(ua, len, "Macintosh")))
        return CLIENT_APPLE_MAIL;
    if (has(ua, len, "Firefox/") || has(ua, len, "Chrome/") || has(ua, len, "Safari/"))
        return CLIENT_BROWSER;
    return CLIENT_UNKNOWN;
}

/* Every substring the rules test, and pieces that almost match one. */
static const char *const pieces[] = {
    "GoogleImageProxy", "YahooMailProxy", "via ggpht.com", "iPad", "Tablet", "Android",
    "Mobile", "iPhone", "iPod", "Windows Phone", "Windows NT", "Macintosh", "X11", "CrOS",
    "Linux", "Outlook", "ms-office", "Microsoft Office", "Thunderbird", "AppleWebKit",
    "Safari/", "Version/", "Firefox/", "Chrome/",
    "", " ", "GoogleImageProx", "ahooMailProxy", "via ggpht", "iPa", "Androi", "Mobil",
    "iPhon", "Windows ", "Window NT", "Macintos", "X1", "Cr", "Linu", "Outloo", "ms-offic",
    "Microsoft", "Thunderbir", "AppleWebKi", "Safari", "Version", "Firefox", "Chrome",
    "mobile", "ANDROID", "i", "M", "W", "\\0",
};

#define N_PIECES (sizeof(pieces) / sizeof(pieces[0]))
#define N_SUBSTRINGS 24 /* the first entries of pieces */

/* Checks the three entry points against the reference on ua[0..len). */
static void check_against_reference(const char *ua, size_t len)
{
    enum device_class device;
    enum client_family client;

    device_classify(ua, len, &device, &client);
    if (device != reference_class(ua, len) || device_class_of(ua, len) != device)
        fail_msg("device of '%.*s' is %s, expected %s", (int)len, ua,
                 device_class_name(device), device_class_name(reference_class(ua, len)));
    if (client != reference_client(ua, len) || device_client_of(ua, len) != client)
        fail_msg("client of '%.*s' is %s, expected %s", (int)len, ua,
                 device_client_name(client), device_client_name(reference_client(ua, len)));
}

/* Appends piece to buf at *len. The piece "\\0" is one NUL byte. */
static void append_piece(char *buf, size_t *len, const char *piece)
{
    if (strcmp(piece, "\\0") == 0) {
        buf[(*len)++] = '\0';
        return;
    }
    memcpy(buf + *len, piece, strlen(piece));
    *len += strlen(piece);
}

static void matcher_agrees_on_substring_triples(void **state)
{
    char ua[128];

    (void)state;
    for (size_t a = 0; a < N_SUBSTRINGS + 1; a++) {
        for (size_t b = 0; b < N_SUBSTRINGS + 1; b++) {
            for (size_t c = 0; c < N_SUBSTRINGS + 1; c++) {
                size_t len = 0;

                /* Index N_SUBSTRINGS is the empty piece, so this also
                 * covers single substrings and pairs. */
                append_piece(ua, &len, pieces[a]);
                append_piece(ua, &len, pieces[b]);
                append_piece(ua, &len, pieces[c]);
                check_against_reference(ua, len);
            }
        }
    }
}

static void matcher_agrees_on_mixed_pieces(void **state)
{
    char ua[512];
    uint32_t seed = 12345;

    (void)state;
    for (int round = 0; round < 50000; round++) {
        size_t len = 0;
        size_t n = 1 + round % 8;

        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            append_piece(ua, &len, pieces[(seed >> 16) % N_PIECES]);
        }
        check_against_reference(ua, len);
    }
}

static void matcher_respects_length(void **state)
{
    static const char ua[] = "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 Mobile/15E148";

    (void)state;
    /* Every prefix, so that a substring cut by the length never matches. */
    for (size_t len = 0; len <= sizeof(ua) - 1; len++)
        check_against_reference(ua, len);
    for (size_t i = 0; i < N_SUBSTRINGS; i++) {
        size_t len = strlen(pieces[i]);

        check_against_reference(pieces[i], len - 1);
        check_against_reference(pieces[i] + 1, len - 1);
    }
}

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
    /* leap days */
    assert_int_equal(utc_parse("2028-02-29", &t), 0);
    assert_int_equal(t, 1835395200u);
    assert_int_equal(utc_parse("2000-02-29T23:59:59Z", &t), 0);
    assert_int_equal(t, 951868799u);
}

static void utc_parse_rejects(void **state)
{
    static const char *const bad[] = {
        "", "yesterday", "2026-13-01", "2026-12-32", "2026-12-04T24", "2026-12-04T1:61",
        "2026-12-04 14:00", "1969-12-31", "99999999999", "12abc", "2026-12-04Tx",
        /* impossible days, which timegm would move into the next month */
        "2026-02-29", "2026-04-31", "2026-02-30T10", "2100-02-29",
        /* short or signed fields, which sscanf would take */
        "2026-1-5", "2026-01-05T10:5", "2026-01-05T1", "2026-+1-05", "2026-01- 5",
        "2026-01-05T10:", "2026-01-05T10:00:",
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
        cmocka_unit_test(matcher_agrees_on_substring_triples),
        cmocka_unit_test(matcher_agrees_on_mixed_pieces),
        cmocka_unit_test(matcher_respects_length),
        cmocka_unit_test(utc_parse_forms),
        cmocka_unit_test(utc_parse_rejects),
        cmocka_unit_test(ttc_bucket_bounds),
    };

    return cmocka_run_group_tests_name("device", tests, NULL, NULL);
}
