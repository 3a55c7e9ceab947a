/*
 * test_rewrite.c - the HTML scanner, the link rules and the output of
 * tracking/rewrite.c and tracking/html_scan.c.
 *
 * Each rendering test renders with fixed stand-in URLs ("https://t.example
 * /c/L<id>" and a fixed pixel URL) and compares the whole output with the
 * expected bytes, so that any change outside the rewritten values and the
 * pixel fails the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "html_scan.h"
#include "rewrite.h"

#define PIXEL_URL "https://t.example/o/P.gif"
#define PIXEL REWRITE_PIXEL_BEFORE PIXEL_URL REWRITE_PIXEL_AFTER
#define MAX_DESTS 16

struct output {
    char bytes[16384];
    size_t len;
};

static int collect(void *arg, const char *bytes, size_t n)
{
    struct output *out = arg;

    if (out->len + n >= sizeof out->bytes)
        return -1;
    memcpy(out->bytes + out->len, bytes, n);
    out->len += n;
    out->bytes[out->len] = '\0';
    return 0;
}

/* Builds a plan of html with opts (NULL for the defaults); fails the test
 * on an error. */
static void build(const char *html, const struct rewrite_options *opts,
                  struct rewrite_plan *plan)
{
    struct rewrite_error err;
    int rc = rewrite_plan_build(html, strlen(html), opts, plan, &err);

    if (rc != 0)
        fail_msg("rewrite_plan_build failed: %s", err.message);
}

/* Renders plan over html with click URL ".../c/L<id>" per destination. */
static void render(const struct rewrite_plan *plan, const char *html,
                   struct output *out)
{
    static char urls[MAX_DESTS][64];
    const char *ptrs[MAX_DESTS];
    size_t lens[MAX_DESTS];

    assert_true(plan->n_dests <= MAX_DESTS);
    for (size_t i = 0; i < plan->n_dests; i++) {
        snprintf(urls[i], sizeof urls[i], "https://t.example/c/L%zu", i + 1);
        ptrs[i] = urls[i];
        lens[i] = strlen(urls[i]);
    }
    out->len = 0;
    out->bytes[0] = '\0';
    assert_int_equal(rewrite_render(plan, html, strlen(html), ptrs, lens,
                                    PIXEL_URL, strlen(PIXEL_URL), collect, out),
                     0);
    assert_int_equal(out->len, rewrite_render_len(plan, strlen(html), lens,
                                                  strlen(PIXEL_URL)));
}

/* Rewrites html with opts and checks the whole output. */
static void check_rewrite(const char *html, const struct rewrite_options *opts,
                          const char *expected)
{
    struct rewrite_plan plan;
    static struct output out;

    build(html, opts, &plan);
    render(&plan, html, &out);
    assert_string_equal(out.bytes, expected);
    rewrite_plan_free(&plan);
}

static void check_error(const char *html, const struct rewrite_options *opts,
                        enum rewrite_status status, unsigned line,
                        const char *fragment)
{
    struct rewrite_plan plan;
    struct rewrite_error err;

    assert_int_equal(rewrite_plan_build(html, strlen(html), opts, &plan, &err), -1);
    assert_int_equal(err.status, status);
    assert_int_equal(err.line, line);
    if (strstr(err.message, fragment) == NULL)
        fail_msg("message '%s' lacks '%s'", err.message, fragment);
    assert_int_equal(plan.n_links, 0);
    assert_null(plan.links);
}

static void rewrite_double_quotes_and_pixel(void **state)
{
    (void)state;
    check_rewrite("<html><body><a href=\"https://s.example/a\">A</a></body></html>",
                  NULL,
                  "<html><body><a href=\"https://t.example/c/L1\">A</a>" PIXEL
                  "</body></html>");
}

static void rewrite_single_and_no_quotes(void **state)
{
    (void)state;
    check_rewrite("<a href='https://s.example/a'>A</a>"
                  "<a class=x href=https://s.example/b>B</a>",
                  NULL,
                  "<a href='https://t.example/c/L1'>A</a>"
                  "<a class=x href=https://t.example/c/L2>B</a>" PIXEL);
}

static void rewrite_upper_case_tags(void **state)
{
    (void)state;
    check_rewrite("<BODY><A HREF=\"https://s.example/a\" TARGET=_blank>A</A></BODY>",
                  NULL,
                  "<BODY><A HREF=\"https://t.example/c/L1\" TARGET=_blank>A</A>"
                  PIXEL "</BODY>");
}

static void rewrite_spaces_around_equals(void **state)
{
    (void)state;
    check_rewrite("<a href = \"https://s.example/a\">A</a>", NULL,
                  "<a href = \"https://t.example/c/L1\">A</a>" PIXEL);
}

static void rewrite_decodes_entities(void **state)
{
    struct rewrite_plan plan;
    const char *html =
        "<a href=\"https://s.example/p?a=1&amp;b=2&#38;c=3&#x26;d=&quot;\">x</a>";

    (void)state;
    build(html, NULL, &plan);
    assert_int_equal(plan.n_dests, 1);
    assert_string_equal(plan.dests[0].url, "https://s.example/p?a=1&b=2&c=3&d=\"");
    rewrite_plan_free(&plan);
}

static void rewrite_same_destination_same_id(void **state)
{
    struct rewrite_plan plan;
    const char *html =
        "<a href=\"https://s.example/a\">1</a>"
        "<a href=\"https://s.example/b\">2</a>"
        "<a href=\"https://s.example/a?x=1&amp;y=2\">3</a>"
        "<a href=\"https://s.example/a?x=1&y=2\">4</a>"
        "<a href=\"https://s.example/a\">5</a>";

    (void)state;
    build(html, NULL, &plan);
    assert_int_equal(plan.n_links, 5);
    assert_int_equal(plan.n_dests, 3);
    assert_int_equal(plan.links[0].link_id, 1);
    assert_int_equal(plan.links[1].link_id, 2);
    assert_int_equal(plan.links[2].link_id, 3);
    assert_int_equal(plan.links[3].link_id, 3);
    assert_int_equal(plan.links[4].link_id, 1);
    rewrite_plan_free(&plan);
}

static void rewrite_area_and_vml(void **state)
{
    (void)state;
    check_rewrite(
        "<map><area shape=rect coords=0,0,9,9 href=\"https://s.example/m\"></map>\n"
        "<!--[if mso]><v:roundrect xmlns:v=\"urn:schemas-microsoft-com:vml\" "
        "href=\"https://s.example/b\" arcsize=\"10%\"><w:anchorlock/>"
        "</v:roundrect><![endif]-->\n"
        "<!--[if !mso]><!--><a href=\"https://s.example/b\">Buy</a><!--<![endif]-->",
        NULL,
        "<map><area shape=rect coords=0,0,9,9 href=\"https://t.example/c/L1\"></map>\n"
        "<!--[if mso]><v:roundrect xmlns:v=\"urn:schemas-microsoft-com:vml\" "
        "href=\"https://t.example/c/L2\" arcsize=\"10%\"><w:anchorlock/>"
        "</v:roundrect><![endif]-->\n"
        "<!--[if !mso]><!--><a href=\"https://t.example/c/L2\">Buy</a>"
        "<!--<![endif]-->" PIXEL);
}

static void rewrite_skips_comments_and_style(void **state)
{
    const char *html =
        "<!-- <a href=\"https://s.example/c\">old</a> -->"
        "<style>a[href^=\"http\"] > b { color: red } /* <a href=x> */</style>"
        "<script>var s = '<a href=\"https://s.example/js\">';</script>"
        "<title>A <a href=x> B</title>"
        "<a href=\"https://s.example/a\">A</a>";
    struct rewrite_plan plan;

    (void)state;
    build(html, NULL, &plan);
    assert_int_equal(plan.n_links, 1);
    rewrite_plan_free(&plan);
}

static void rewrite_leaves_other_schemes(void **state)
{
    const char *html =
        "<a href=\"mailto:help@s.example\">1</a>"
        "<a href=\"tel:+4930123\">2</a>"
        "<a href=\"sms:+4930123\">3</a>"
        "<a href=\"JavaScript:void(0)\">4</a>"
        "<a href=\"java\tscript:alert(1)\">5</a>"
        "<a href=\"#top\">6</a>"
        "<a href=\"\">7</a>"
        "<a href=\"ftp://files.example/x\">8</a>";
    const enum rewrite_action expected[] = {
        REWRITE_SKIP_SCHEME, REWRITE_SKIP_SCHEME, REWRITE_SKIP_SCHEME,
        REWRITE_SKIP_SCHEME, REWRITE_SKIP_SCHEME, REWRITE_SKIP_ANCHOR,
        REWRITE_SKIP_EMPTY,  REWRITE_SKIP_SCHEME,
    };
    struct rewrite_plan plan;

    (void)state;
    build(html, NULL, &plan);
    assert_int_equal(plan.n_links, 8);
    assert_int_equal(plan.n_dests, 0);
    for (size_t i = 0; i < plan.n_links; i++)
        assert_int_equal(plan.links[i].action, expected[i]);
    rewrite_plan_free(&plan);

    char unchanged[1024];
    snprintf(unchanged, sizeof unchanged, "%s%s", html, PIXEL);
    check_rewrite(html, NULL, unchanged);
}

static void rewrite_leaves_marked_and_unsubscribe(void **state)
{
    const char *html =
        "<a data-tally=\"off\" href=\"https://s.example/a\">1</a>"
        "<a href=\"https://s.example/a\" DATA-TALLY=OFF>2</a>"
        "<a href=\"https://s.example/Unsubscribe?u=1\">3</a>"
        "<a href=\"https://s.example/email-preferences\">4</a>"
        "<a href=\"https://s.example/a\" data-tally=\"on\">5</a>";
    struct rewrite_plan plan;

    (void)state;
    build(html, NULL, &plan);
    assert_int_equal(plan.n_links, 5);
    assert_int_equal(plan.links[0].action, REWRITE_SKIP_OFF);
    assert_int_equal(plan.links[1].action, REWRITE_SKIP_OFF);
    assert_int_equal(plan.links[2].action, REWRITE_SKIP_PATTERN);
    assert_int_equal(plan.links[3].action, REWRITE_SKIP_PATTERN);
    assert_int_equal(plan.links[4].action, REWRITE_TRACKED);
    rewrite_plan_free(&plan);
}

static void rewrite_skip_patterns_configurable(void **state)
{
    const char *pats[] = {"/leave"};
    struct rewrite_options opts = {.skip_patterns = pats, .n_skip_patterns = 1};
    struct rewrite_plan plan;

    (void)state;
    build("<a href=\"https://s.example/unsubscribe\">1</a>"
          "<a href=\"https://s.example/LEAVE/now\">2</a>", &opts, &plan);
    assert_int_equal(plan.links[0].action, REWRITE_TRACKED);
    assert_int_equal(plan.links[1].action, REWRITE_SKIP_PATTERN);
    rewrite_plan_free(&plan);
}

static void rewrite_leaves_merge_tags(void **state)
{
    const char *html =
        "<a href=\"https://s.example/u/{{ user.id }}\">1</a>"
        "<a href=\"*|ARCHIVE|*\">2</a>"
        "<a href=\"https://s.example/?e=%%emailaddr%%\">3</a>"
        "<a href=\"{$unsubscribe_url}\">4</a>"
        "<a href=\"https://s.example/[[id]]\">5</a>"
        "<a href=\"https://s.example/p?q=%25%25\">6</a>";
    struct rewrite_plan plan;

    (void)state;
    build(html, NULL, &plan);
    assert_int_equal(plan.n_links, 6);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(plan.links[i].action, REWRITE_SKIP_MERGE_TAG);
    assert_int_equal(plan.links[5].action, REWRITE_TRACKED);
    rewrite_plan_free(&plan);
}

static void rewrite_merge_tags_configurable(void **state)
{
    const struct rewrite_merge_tag tags[] = {{"<%", "%>"}};
    struct rewrite_options opts = {.merge_tags = tags, .n_merge_tags = 1};
    struct rewrite_plan plan;

    (void)state;
    build("<a href=\"https://s.example/{{x}}\">1</a>"
          "<a href=\"https://s.example/&lt;%= id %&gt;\">2</a>", &opts, &plan);
    assert_int_equal(plan.links[0].action, REWRITE_TRACKED);
    assert_int_equal(plan.links[1].action, REWRITE_SKIP_MERGE_TAG);
    rewrite_plan_free(&plan);
}

static void find_merge_tag_names_tag(void **state)
{
    const char *filled = "https://s.example/p?q=%25%25&a={b";
    const char *unclosed = "https://s.example/u?id={{id";
    const char *braces = "https://s.example/{{id}}";
    const char *pipes = "https://s.example/*|FNAME|*";
    const struct rewrite_merge_tag *tag;

    (void)state;
    assert_null(rewrite_find_merge_tag(filled, strlen(filled), NULL, 0));
    assert_null(rewrite_find_merge_tag(unclosed, strlen(unclosed), NULL, 0));
    /* Only the first len bytes count, and "}}" lies beyond them. */
    assert_null(rewrite_find_merge_tag(braces, strlen(braces) - 2, NULL, 0));

    tag = rewrite_find_merge_tag(pipes, strlen(pipes), NULL, 0);
    assert_non_null(tag);
    assert_string_equal(tag->open, "*|");
    assert_string_equal(tag->close, "|*");
}

static void rewrite_never_wraps_twice(void **state)
{
    struct rewrite_options opts = {.tracked_base = "https://t.example/"};
    struct rewrite_plan plan;

    (void)state;
    build("<a href=\"https://t.example/c/AAAA\">1</a>"
          "<a href=\"HTTPS://T.EXAMPLE/o/BBBB.gif\">2</a>"
          "<a href=\"https://t.example/other\">3</a>", &opts, &plan);
    assert_int_equal(plan.links[0].action, REWRITE_SKIP_TRACKED);
    assert_int_equal(plan.links[1].action, REWRITE_SKIP_TRACKED);
    assert_int_equal(plan.links[2].action, REWRITE_TRACKED);
    rewrite_plan_free(&plan);
}

static void rewrite_relative_is_error(void **state)
{
    (void)state;
    check_error("<p>\n<a href=\"https://s.example/a\">1</a>\n\n"
                "<a href=\"/sale\">2</a>", NULL, REWRITE_RELATIVE_URL, 4,
                "line 4: relative link '/sale'");
    check_error("<a href=\"//cdn.example/x\">1</a>", NULL,
                REWRITE_RELATIVE_URL, 1, "relative link");
    check_error("<a href=www.s.example>1</a>", NULL, REWRITE_RELATIVE_URL, 1,
                "www.s.example");
}

static void rewrite_relative_under_base(void **state)
{
    (void)state;
    check_error("<head><base href=\"https://s.example/\"></head>\n"
                "<a href=\"p/1\">1</a>", NULL, REWRITE_RELATIVE_URL, 2,
                "under a <base> element");
}

static void rewrite_bad_url_is_error(void **state)
{
    (void)state;
    check_error("\n\n<a href=\"https://s.example/a b\">1</a>", NULL,
                REWRITE_BAD_URL, 3, "control byte, space");
    check_error("<a href=\"https://s.example/?tly=1\">1</a>", NULL,
                REWRITE_BAD_URL, 1, "attribution parameter");
    check_error("<a href=\"https:///p\">1</a>", NULL, REWRITE_BAD_URL, 1,
                "no host");
}

static void rewrite_trims_whitespace_and_newlines(void **state)
{
    struct rewrite_plan plan;

    (void)state;
    build("<a href=\"  https://s.example/a\n/b?c=1\t&amp;d=2 \">1</a>", NULL, &plan);
    assert_int_equal(plan.n_dests, 1);
    assert_string_equal(plan.dests[0].url, "https://s.example/a/b?c=1&d=2");
    rewrite_plan_free(&plan);
}

static void rewrite_keeps_non_ascii(void **state)
{
    const char *html = "<a href=\"https://bücher.example/straße?q=größe#über\">ü</a>"
                       "<p>Grüße 👋</p>";
    struct rewrite_plan plan;

    (void)state;
    build(html, NULL, &plan);
    assert_string_equal(plan.dests[0].url,
                        "https://bücher.example/straße?q=größe#über");
    rewrite_plan_free(&plan);
    check_rewrite(html, NULL,
                  "<a href=\"https://t.example/c/L1\">ü</a><p>Grüße 👋</p>" PIXEL);
}

static void rewrite_pixel_before_last_body_end(void **state)
{
    (void)state;
    check_rewrite("<body>a</BODY>b</body >c", NULL, "<body>a</BODY>b" PIXEL "</body >c");
    check_rewrite("<p>no body</p>\n", NULL, "<p>no body</p>\n" PIXEL);
    check_rewrite("", NULL, PIXEL);
}

static void rewrite_link_after_body_end(void **state)
{
    (void)state;
    check_rewrite("</body><a href=\"https://s.example/a\">A</a>", NULL,
                  PIXEL "</body><a href=\"https://t.example/c/L1\">A</a>");
}

static void rewrite_adds_utm(void **state)
{
    struct rewrite_options opts = {.utm = true, .utm_source = "newsletter",
                                   .utm_medium = "email", .utm_campaign = "spring"};
    struct rewrite_plan plan;

    (void)state;
    build("<a href=\"https://s.example/a\">1</a>"
          "<a href=\"https://s.example/b?utm_source=x#frag\">2</a>"
          "<a href=\"https://s.example/c?utm_source=a&amp;utm_medium=b&amp;utm_campaign=c\">3</a>",
          &opts, &plan);
    assert_int_equal(plan.n_dests, 3);
    assert_string_equal(plan.dests[0].url,
                        "https://s.example/a?utm_source=newsletter&utm_medium=email"
                        "&utm_campaign=spring");
    assert_string_equal(plan.dests[1].url,
                        "https://s.example/b?utm_source=x&utm_medium=email"
                        "&utm_campaign=spring#frag");
    assert_string_equal(plan.dests[2].url,
                        "https://s.example/c?utm_source=a&utm_medium=b&utm_campaign=c");
    rewrite_plan_free(&plan);
}

static void rewrite_rejects_bad_utm_value(void **state)
{
    struct rewrite_options opts = {.utm = true, .utm_source = "a&b",
                                   .utm_medium = "email", .utm_campaign = "c"};

    (void)state;
    check_error("<a href=\"https://s.example/a\">1</a>", &opts,
                REWRITE_BAD_OPTION, 0, "UTM values");
}

static void rewrite_tolerates_broken_markup(void **state)
{
    struct rewrite_plan plan;

    (void)state;
    build("a < b <<a href=\"https://s.example/a\">x</a><a href=\"https://s.ex", NULL,
          &plan);
    assert_int_equal(plan.n_links, 1);
    rewrite_plan_free(&plan);
    build("<!-- never closed <a href=\"https://s.example/a\">", NULL, &plan);
    assert_int_equal(plan.n_links, 0);
    rewrite_plan_free(&plan);
    build("<a href=\"https://s.example/a\" title='>' >x</a><![CDATA[<a href=q>]]>",
          NULL, &plan);
    assert_int_equal(plan.n_links, 1);
    rewrite_plan_free(&plan);
}

static void rewrite_link_tag_is_not_a_link(void **state)
{
    (void)state;
    check_rewrite("<link rel=stylesheet href=\"/s.css\"><img src=\"/x.png\">"
                  "<a name=top>t</a><a href>e</a>",
                  NULL,
                  "<link rel=stylesheet href=\"/s.css\"><img src=\"/x.png\">"
                  "<a name=top>t</a><a href>e</a>" PIXEL);
}

static void render_rejects_unsafe_url(void **state)
{
    struct rewrite_plan plan;
    const char *html = "<a href=\"https://s.example/a\">1</a>";
    const char *bad = "https://t.example/c/a\"b";
    size_t bad_len = strlen(bad);
    struct output out = {.len = 0};

    (void)state;
    build(html, NULL, &plan);
    assert_int_equal(rewrite_render(&plan, html, strlen(html), &bad, &bad_len,
                                    PIXEL_URL, strlen(PIXEL_URL), collect, &out),
                     -1);
    assert_int_equal(out.len, 0);
    rewrite_plan_free(&plan);
    assert_false(rewrite_attr_safe("a&b", 3));
    assert_false(rewrite_attr_safe("a b", 3));
    assert_true(rewrite_attr_safe("https://t.example/c/Ab-_9", 25));
}

static void decode_attr_references(void **state)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"&amp;&lt;&gt;&quot;&apos;", "&<>\"'"},
        {"&#65;&#x42;&#X43;", "ABC"},
        {"&#8364;", "\xE2\x82\xAC"},
        {"&#0;&#xD800;&#x110000;", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"&amp &copy; &#65 &#;&", "&amp &copy; &#65 &#;&"},
        {"&nbsp;", "\xC2\xA0"},
    };
    char out[64];

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = html_decode_attr(cases[i].in, strlen(cases[i].in), out);

        assert_true(n <= strlen(cases[i].in));
        out[n] = '\0';
        assert_string_equal(out, cases[i].out);
    }
}

static void action_names(void **state)
{
    (void)state;
    assert_string_equal(rewrite_action_name(REWRITE_TRACKED), "tracked");
    assert_string_equal(rewrite_action_name(REWRITE_SKIP_MERGE_TAG), "merge-tag");
    assert_string_equal(rewrite_action_name(REWRITE_SKIP_PATTERN), "unsubscribe");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rewrite_double_quotes_and_pixel),
        cmocka_unit_test(rewrite_single_and_no_quotes),
        cmocka_unit_test(rewrite_upper_case_tags),
        cmocka_unit_test(rewrite_spaces_around_equals),
        cmocka_unit_test(rewrite_decodes_entities),
        cmocka_unit_test(rewrite_same_destination_same_id),
        cmocka_unit_test(rewrite_area_and_vml),
        cmocka_unit_test(rewrite_skips_comments_and_style),
        cmocka_unit_test(rewrite_leaves_other_schemes),
        cmocka_unit_test(rewrite_leaves_marked_and_unsubscribe),
        cmocka_unit_test(rewrite_skip_patterns_configurable),
        cmocka_unit_test(rewrite_leaves_merge_tags),
        cmocka_unit_test(rewrite_merge_tags_configurable),
        cmocka_unit_test(find_merge_tag_names_tag),
        cmocka_unit_test(rewrite_never_wraps_twice),
        cmocka_unit_test(rewrite_relative_is_error),
        cmocka_unit_test(rewrite_relative_under_base),
        cmocka_unit_test(rewrite_bad_url_is_error),
        cmocka_unit_test(rewrite_trims_whitespace_and_newlines),
        cmocka_unit_test(rewrite_keeps_non_ascii),
        cmocka_unit_test(rewrite_pixel_before_last_body_end),
        cmocka_unit_test(rewrite_link_after_body_end),
        cmocka_unit_test(rewrite_adds_utm),
        cmocka_unit_test(rewrite_rejects_bad_utm_value),
        cmocka_unit_test(rewrite_tolerates_broken_markup),
        cmocka_unit_test(rewrite_link_tag_is_not_a_link),
        cmocka_unit_test(render_rejects_unsafe_url),
        cmocka_unit_test(decode_attr_references),
        cmocka_unit_test(action_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
