/*
 * test_classify.c - request-only verdicts, data file lines, the Purpose
 * header, reader sets, and machine clicks in touchpoint members.
 *
 * Addresses come from the documentation ranges (RFC 5737, RFC 3849).
 */
#include <fnmatch.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "classify.h"
#include "readerset.h"
#include "touch.h"

#define APPLE_UA "Mozilla/5.0"
#define SAFARI_UA "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) " \
                  "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15"
#define GMAIL_UA "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 " \
                 "(via ggpht.com GoogleImageProxy)"

static void add_line(struct classify_tables *t, enum classify_list list,
                     bool is_range, const char *line)
{
    assert_int_equal(classify_tables_add_line(t, list, is_range, line, strlen(line)), 0);
}

/* Tables as the test data files describe them. */
static int setup_tables(void **state)
{
    static struct classify_tables t;

    classify_tables_init(&t);
    add_line(&t, CLASSIFY_LIST_PRIVACY_PROXY, true, "192.0.2.0/25");
    add_line(&t, CLASSIFY_LIST_PRIVACY_PROXY, true, "2001:db8:a::/48");
    add_line(&t, CLASSIFY_LIST_PRIVACY_PROXY, false, APPLE_UA);
    add_line(&t, CLASSIFY_LIST_IMAGE_PROXY, false, "*GoogleImageProxy*");
    add_line(&t, CLASSIFY_LIST_IMAGE_PROXY, true, "198.51.100.0/24");
    add_line(&t, CLASSIFY_LIST_SCANNER, true, "203.0.113.0/24 # a gateway");
    add_line(&t, CLASSIFY_LIST_SCANNER, false, "*ScanBot/*");
    classify_tables_finish(&t);
    *state = &t;
    return 0;
}

static int teardown_tables(void **state)
{
    classify_tables_free(*state);
    return 0;
}

static struct classify_input request(bool is_click, const char *addr,
                                     const char *ua)
{
    struct classify_input in;

    memset(&in, 0, sizeof(in));
    in.is_click = is_click;
    if (addr != NULL) {
        assert_int_equal(netaddr_parse(addr, strlen(addr), &in.addr), 0);
        in.has_addr = true;
    }
    in.user_agent = ua;
    in.user_agent_len = ua != NULL ? strlen(ua) : 0;
    in.now = 1000000;
    in.issued = 1000000 - 3600;
    in.link = 1;
    return in;
}

static void classify_human_by_default(void **state)
{
    struct classify_input in = request(false, "192.0.2.200", SAFARI_UA);

    assert_int_equal(classify(*state, 0, &in), VERDICT_HUMAN);
    in = request(true, NULL, NULL);
    assert_int_equal(classify(*state, 0, &in), VERDICT_HUMAN);
}

static void classify_privacy_proxy_needs_both(void **state)
{
    struct classify_input in = request(false, "192.0.2.7", APPLE_UA);

    assert_int_equal(classify(*state, 0, &in), VERDICT_PRIVACY_PROXY);
    in = request(false, "2001:db8:a::1", "mozilla/5.0");
    assert_int_equal(classify(*state, 0, &in), VERDICT_PRIVACY_PROXY);
    /* iCloud Private Relay: Apple's address, a person's full agent. */
    in = request(false, "192.0.2.7", SAFARI_UA);
    assert_int_equal(classify(*state, 0, &in), VERDICT_HUMAN);
    /* The generic agent from elsewhere. */
    in = request(false, "192.0.2.200", APPLE_UA);
    assert_int_equal(classify(*state, 0, &in), VERDICT_HUMAN);
    /* The glob is the whole agent, not a prefix. */
    in = request(false, "192.0.2.7", "Mozilla/5.0 X");
    assert_int_equal(classify(*state, 0, &in), VERDICT_HUMAN);
}

static void classify_image_proxy_on_opens(void **state)
{
    struct classify_input in = request(false, NULL, GMAIL_UA);

    assert_int_equal(classify(*state, 0, &in), VERDICT_IMAGE_PROXY);
    in = request(false, "198.51.100.9", SAFARI_UA);
    assert_int_equal(classify(*state, 0, &in), VERDICT_IMAGE_PROXY);
    in = request(true, "198.51.100.9", GMAIL_UA);
    assert_int_equal(classify(*state, 0, &in), VERDICT_HUMAN);
}

static void classify_scanner_on_clicks_only(void **state)
{
    struct classify_input in = request(true, "203.0.113.50", SAFARI_UA);

    assert_int_equal(classify(*state, 0, &in), VERDICT_SCANNER);
    in = request(true, NULL, "Mozilla/5.0 ScanBot/2.1");
    assert_int_equal(classify(*state, 0, &in), VERDICT_SCANNER);
    in = request(false, "203.0.113.50", SAFARI_UA);
    assert_int_equal(classify(*state, 0, &in), VERDICT_HUMAN);
}

static void classify_prefetch_by_method_and_header(void **state)
{
    struct classify_input in = request(true, NULL, SAFARI_UA);

    in.is_head = true;
    assert_int_equal(classify(*state, 0, &in), VERDICT_PREFETCH);
    in = request(false, "203.0.113.50", SAFARI_UA);
    in.purpose_prefetch = true;
    assert_int_equal(classify(*state, 0, &in), VERDICT_PREFETCH);
}

static void classify_too_early_only_when_set(void **state)
{
    struct classify_input in = request(true, NULL, SAFARI_UA);

    in.issued = in.now - 5;
    assert_int_equal(classify(*state, 0, &in), VERDICT_HUMAN);
    assert_int_equal(classify(*state, 10, &in), VERDICT_TOO_EARLY);
    in.issued = in.now - 10;
    assert_int_equal(classify(*state, 10, &in), VERDICT_HUMAN);
    /* Minted "after" now by a clock ahead of ours. */
    in.issued = in.now + 3;
    assert_int_equal(classify(*state, 10, &in), VERDICT_HUMAN);
}

static void classify_honeypot_wins(void **state)
{
    struct classify_input in = request(true, "192.0.2.7", APPLE_UA);

    in.link = CLASSIFY_HONEYPOT_LINK;
    in.is_head = true;
    assert_int_equal(classify(*state, 0, &in), VERDICT_HONEYPOT);
    in = request(false, NULL, SAFARI_UA);
    in.link = CLASSIFY_HONEYPOT_LINK;
    assert_int_equal(classify(*state, 0, &in), VERDICT_HUMAN);
}

static void classify_empty_tables_judge_requests(void **state)
{
    struct classify_tables empty;
    struct classify_input in = request(true, "203.0.113.50", GMAIL_UA);

    (void)state;
    classify_tables_init(&empty);
    classify_tables_finish(&empty);
    assert_int_equal(classify(&empty, 0, &in), VERDICT_HUMAN);
    in.is_head = true;
    assert_int_equal(classify(&empty, 0, &in), VERDICT_PREFETCH);
    classify_tables_free(&empty);
}

static void classify_lines_skip_comments(void **state)
{
    struct classify_tables t;
    static const char *const bad[] = {"192.0.2.1/33", "not-an-address",
                                      "10.0.0.1/8"};

    (void)state;
    classify_tables_init(&t);
    add_line(&t, CLASSIFY_LIST_SCANNER, true, "   # only a comment");
    add_line(&t, CLASSIFY_LIST_SCANNER, true, "");
    add_line(&t, CLASSIFY_LIST_SCANNER, false, "\t*Bot*  # trailing\r\n");
    assert_int_equal(t.ranges[CLASSIFY_LIST_SCANNER].n, 0);
    assert_int_equal(t.agents[CLASSIFY_LIST_SCANNER].n, 1);
    assert_string_equal(t.agents[CLASSIFY_LIST_SCANNER].patterns[0], "*Bot*");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(classify_tables_add_line(&t, CLASSIFY_LIST_SCANNER, true,
                                                  bad[i], strlen(bad[i])), -1);
    assert_int_equal(classify_tables_add_line(&t, CLASSIFY_LIST_SCANNER, false,
                                              "a\x01b", 3), -1);
    classify_tables_free(&t);
}

static void classify_agent_rejects_nul_and_long(void **state)
{
    char long_ua[CLASSIFY_AGENT_MAX + 2];

    memset(long_ua, 'A', sizeof(long_ua));
    long_ua[0] = 'S';
    memcpy(long_ua + 1, "canBot/", 7);
    assert_true(classify_agent_matches(*state, CLASSIFY_LIST_SCANNER,
                                       "x ScanBot/1", 11));
    assert_false(classify_agent_matches(*state, CLASSIFY_LIST_SCANNER,
                                        "x ScanBot/1\0", 12));
    assert_false(classify_agent_matches(*state, CLASSIFY_LIST_SCANNER, long_ua,
                                        sizeof(long_ua)));
    assert_false(classify_agent_matches(*state, CLASSIFY_LIST_SCANNER, NULL, 0));
}

/* Patterns of every shape classify.c compares directly, and globs that
 * must still go to fnmatch. */
static const char *const shape_patterns[] = {
    "Mozilla/5.0", "*GoogleImageProxy*", "*yahoomailproxy*", "Scan*", "*Bot", "*", "**",
    "***x**", "*a*b*", "?ozilla*", "[Mm]ozilla*", "*\\*x*", "x\\*", "*\\", "*[*",
    "*Proxy", "mozilla/5.0 (*", "*\xc3\xa9*", "*Ab1-_./ ;()*",
};

static const char *const shape_agents[] = {
    "", "x", "*x", "a*x", "Mozilla/5.0", "mozilla/5.0", "MOZILLA/5.0 ", "Mozilla/5.",
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    "GoogleImageProx", "googleimageproxy", "YahooMailProxy; https://help.yahoo.com",
    "ScanBot", "scan", "Sca", "AcmeBot", "Bot", "bot ", "ab", "b a", "xxax", "\\x",
    "caf\xc3\xa9", "CAF\xc3\x89", "zz ab1-_./ ;() zz", "AB1-_./ ;()", "Ab1-_./ ;(",
    "Proxy", "proxy", "Mozilla/5.0 (iPhone)",
};

/* Matches one pattern at a time against fnmatch with FNM_CASEFOLD, the
 * definition of a match, on a NUL-terminated copy of each agent. */
static void classify_agent_shapes_match_fnmatch(void **state)
{
    (void)state;
    for (size_t p = 0; p < sizeof(shape_patterns) / sizeof(shape_patterns[0]); p++) {
        struct classify_tables t;

        classify_tables_init(&t);
        add_line(&t, CLASSIFY_LIST_SCANNER, false, shape_patterns[p]);
        classify_tables_finish(&t);
        for (size_t a = 0; a < sizeof(shape_agents) / sizeof(shape_agents[0]); a++) {
            const char *ua = shape_agents[a];
            bool expected = fnmatch(shape_patterns[p], ua, FNM_CASEFOLD) == 0;
            bool got = classify_agent_matches(&t, CLASSIFY_LIST_SCANNER, ua, strlen(ua));

            if (got != expected)
                fail_msg("pattern '%s' on '%s': %s, fnmatch says %s", shape_patterns[p],
                         ua, got ? "match" : "no match", expected ? "match" : "no match");
        }
        classify_tables_free(&t);
    }
}

/* In a list that mixes direct and fnmatch patterns, each still matches. */
static void classify_agent_mixed_shapes(void **state)
{
    struct classify_tables t;

    (void)state;
    classify_tables_init(&t);
    add_line(&t, CLASSIFY_LIST_SCANNER, false, "*a*b*");
    add_line(&t, CLASSIFY_LIST_SCANNER, false, "Scan*");
    add_line(&t, CLASSIFY_LIST_SCANNER, false, "?ozilla*");
    classify_tables_finish(&t);
    assert_true(classify_agent_matches(&t, CLASSIFY_LIST_SCANNER, "xaxb", 4));
    assert_true(classify_agent_matches(&t, CLASSIFY_LIST_SCANNER, "scanner", 7));
    assert_true(classify_agent_matches(&t, CLASSIFY_LIST_SCANNER, "Mozilla", 7));
    assert_false(classify_agent_matches(&t, CLASSIFY_LIST_SCANNER, "ozilla", 6));
    /* The length bounds the agent: "scanner" cut to "sca" matches nothing. */
    assert_false(classify_agent_matches(&t, CLASSIFY_LIST_SCANNER, "scanner", 3));
    assert_false(classify_agent_matches(&t, CLASSIFY_LIST_SCANNER, "Scan\0x", 6));
    classify_tables_free(&t);
}

static void purpose_header_forms(void **state)
{
    static const char *const yes[] = {"prefetch", "Prefetch",
                                      "prefetch;anonymous-client-ip",
                                      "preview, prefetch", " prefetch ;x"};
    static const char *const no[] = {"", "prefetcher", "preview", "pre fetch",
                                     "x;prefetch"};

    (void)state;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        assert_true(classify_purpose_is_prefetch(yes[i], strlen(yes[i])));
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_false(classify_purpose_is_prefetch(no[i], strlen(no[i])));
}

static void verdict_names_round_trip(void **state)
{
    enum verdict v;

    (void)state;
    for (int i = 0; i < VERDICT_COUNT; i++) {
        const char *name = verdict_name((enum verdict)i);

        assert_int_equal(verdict_parse(name, strlen(name), &v), 0);
        assert_int_equal(v, i);
    }
    assert_string_equal(verdict_name(VERDICT_COUNT), "unknown");
    assert_int_equal(verdict_parse("humans", 6, &v), -1);
    assert_false(verdict_is_machine(VERDICT_HUMAN));
    assert_false(verdict_is_machine(VERDICT_IMAGE_PROXY));
    assert_true(verdict_is_machine(VERDICT_SCANNER));
    assert_true(verdict_is_machine(VERDICT_BURST));
    assert_string_equal(classify_list_name(CLASSIFY_LIST_SCANNER), "scanner");
}

static void readerset_finds_members(void **state)
{
    struct readerset set;
    uint8_t ids[3][TOKEN_READER_LEN];

    (void)state;
    memset(ids, 0, sizeof(ids));
    ids[0][0] = 9;
    ids[1][11] = 1;
    ids[2][5] = 7;
    readerset_init(&set);
    readerset_finish(&set);
    assert_false(readerset_contains(&set, ids[0]));
    assert_int_equal(readerset_add(&set, ids[0]), 0);
    assert_int_equal(readerset_add(&set, ids[1]), 0);
    assert_int_equal(readerset_add(&set, ids[0]), 0);
    readerset_finish(&set);
    assert_int_equal(set.n, 2);
    assert_true(readerset_contains(&set, ids[0]));
    assert_true(readerset_contains(&set, ids[1]));
    assert_false(readerset_contains(&set, ids[2]));
    readerset_free(&set);
}

static void touch_machine_click_parsing(void **state)
{
    static const char human[] = "c|spring|a|3|0102030405060708";
    static const char machine[] = "c|spring|a|3|0102030405060708|scanner";
    static const char unknown[] = "c|spring|a|3|0102030405060708|robot";
    struct event_touch t;

    (void)state;
    assert_int_equal(touch_parse_click(human, strlen(human), 5.0, &t), 0);
    assert_int_equal(t.verdict, VERDICT_HUMAN);
    assert_int_equal(touch_parse_click(machine, strlen(machine), 5.0, &t), -1);
    assert_int_equal(touch_parse_click_any(machine, strlen(machine), 5.0, &t), 0);
    assert_int_equal(t.verdict, VERDICT_SCANNER);
    assert_int_equal(t.link, 3);
    assert_int_equal(touch_parse_click_any(unknown, strlen(unknown), 5.0, &t), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(classify_human_by_default, setup_tables,
                                        teardown_tables),
        cmocka_unit_test_setup_teardown(classify_privacy_proxy_needs_both,
                                        setup_tables, teardown_tables),
        cmocka_unit_test_setup_teardown(classify_image_proxy_on_opens,
                                        setup_tables, teardown_tables),
        cmocka_unit_test_setup_teardown(classify_scanner_on_clicks_only,
                                        setup_tables, teardown_tables),
        cmocka_unit_test_setup_teardown(classify_prefetch_by_method_and_header,
                                        setup_tables, teardown_tables),
        cmocka_unit_test_setup_teardown(classify_too_early_only_when_set,
                                        setup_tables, teardown_tables),
        cmocka_unit_test_setup_teardown(classify_honeypot_wins, setup_tables,
                                        teardown_tables),
        cmocka_unit_test(classify_empty_tables_judge_requests),
        cmocka_unit_test(classify_lines_skip_comments),
        cmocka_unit_test_setup_teardown(classify_agent_rejects_nul_and_long,
                                        setup_tables, teardown_tables),
        cmocka_unit_test(classify_agent_shapes_match_fnmatch),
        cmocka_unit_test(classify_agent_mixed_shapes),
        cmocka_unit_test(purpose_header_forms),
        cmocka_unit_test(verdict_names_round_trip),
        cmocka_unit_test(readerset_finds_members),
        cmocka_unit_test(touch_machine_click_parsing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
