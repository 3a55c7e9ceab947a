/*
 * test_http_fast.c - the request head scanner: which heads it takes, what
 * it yields for them, and which it leaves to http-parser (scan returns 0).
 * fuzz_http_fast checks the accepted heads against http-parser itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http_fast.h"

static size_t scan(const char *text, struct http_fast_head *head)
{
    return http_fast_scan(text, strlen(text), head);
}

static void assert_span(const char *text, struct http_fast_span span, const char *expected)
{
    assert_int_equal(span.len, strlen(expected));
    assert_memory_equal(text + span.off, expected, span.len);
}

static void fast_pixel_request(void **state)
{
    const char *req = "GET /o/abc.gif HTTP/1.1\r\n"
                      "Host: 127.0.0.1:8080\r\n"
                      "User-Agent: Mozilla/5.0 (iPhone; CPU iPhone OS 17_5)\r\n"
                      "\r\n";
    struct http_fast_head head;

    (void)state;
    assert_int_equal(scan(req, &head), strlen(req));
    assert_false(head.head);
    assert_span(req, head.target, "/o/abc.gif");
    assert_int_equal(head.n_headers, 2);
    assert_span(req, head.names[0], "Host");
    assert_span(req, head.values[0], "127.0.0.1:8080");
    assert_span(req, head.names[1], "User-Agent");
    assert_span(req, head.values[1], "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5)");
}

static void fast_head_query_and_whitespace(void **state)
{
    const char *req = "HEAD /c/x?a=1&b=%20 HTTP/1.1\r\n"
                      "Accept:\t */* \t\r\n"
                      "\r\n";
    struct http_fast_head head;

    (void)state;
    assert_int_equal(scan(req, &head), strlen(req));
    assert_true(head.head);
    assert_span(req, head.target, "/c/x?a=1&b=%20");
    assert_int_equal(head.n_headers, 1);
    /* Leading whitespace skipped, trailing kept, as http-parser does. */
    assert_span(req, head.values[0], "*/* \t");
}

static void fast_stops_after_first_head(void **state)
{
    const char *first = "GET / HTTP/1.1\r\n\r\n";
    char both[64];
    struct http_fast_head head;

    (void)state;
    snprintf(both, sizeof(both), "%sGET /next HTTP/1.1\r\n\r\n", first);
    assert_int_equal(scan(both, &head), strlen(first));
    assert_int_equal(head.n_headers, 0);
}

static void fast_leaves_incomplete_heads(void **state)
{
    static const char *const partial[] = {
        "", "GE", "GET /", "GET / HTTP/1.1", "GET / HTTP/1.1\r\n",
        "GET / HTTP/1.1\r\nHost: a", "GET / HTTP/1.1\r\nHost: a\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n\r",
    };
    struct http_fast_head head;

    (void)state;
    for (size_t i = 0; i < sizeof(partial) / sizeof(partial[0]); i++)
        assert_int_equal(scan(partial[i], &head), 0);
}

static void fast_leaves_other_forms(void **state)
{
    static const char *const other[] = {
        "POST /b HTTP/1.1\r\n\r\n",
        "get / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
        "GET http://host/ HTTP/1.1\r\n\r\n",
        "GET * HTTP/1.1\r\n\r\n",
        "GET /a#frag HTTP/1.1\r\n\r\n",
        "GET /a\x7f HTTP/1.1\r\n\r\n",
        "GET /\xc3\xa9 HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\n\n",
        "\r\nGET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        "GET / HTTP/1.1\r\nHo\"st: a\r\n\r\n",
        "GET / HTTP/1.1\r\n: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost:\r\n\r\n",
        "GET / HTTP/1.1\r\nHost:  \r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n",
    };
    struct http_fast_head head;

    (void)state;
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        if (scan(other[i], &head) != 0)
            fail_msg("took %s", other[i]);
    }
}

/* Headers that frame the message or the connection, and Expect, belong
 * to http-parser; so do names that merely start like them. */
static void fast_leaves_special_headers(void **state)
{
    static const char *const names[] = {
        "Connection", "connection", "Proxy-Connection", "Content-Length",
        "CONTENT-LENGTH", "Transfer-Encoding", "Transfer-Encoding-x", "Upgrade",
        "Expect",
    };
    struct http_fast_head head;
    char req[128];

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(req, sizeof(req), "GET / HTTP/1.1\r\n%s: x\r\n\r\n", names[i]);
        if (scan(req, &head) != 0)
            fail_msg("took %s", names[i]);
    }
    snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nContent-Type: x\r\n\r\n");
    assert_int_equal(scan(req, &head), strlen(req));
}

static void fast_leaves_many_headers(void **state)
{
    char req[HTTP_FAST_MAX_HEAD];
    size_t len = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\n");
    struct http_fast_head head;

    (void)state;
    for (int i = 0; i < HTTP_FAST_MAX_HEADERS; i++)
        len += (size_t)snprintf(req + len, sizeof(req) - len, "X-%d: v\r\n", i);
    memcpy(req + len, "\r\n", 3);
    assert_int_equal(scan(req, &head), len + 2);
    assert_int_equal(head.n_headers, HTTP_FAST_MAX_HEADERS);

    memcpy(req + len, "Y: v\r\n\r\n", 9);
    assert_int_equal(scan(req, &head), 0);
}

static void fast_leaves_long_heads(void **state)
{
    static char req[HTTP_FAST_MAX_HEAD + 64];
    size_t prefix = strlen("GET /");
    struct http_fast_head head;

    (void)state;
    memcpy(req, "GET /", prefix);
    memset(req + prefix, 'a', HTTP_FAST_MAX_HEAD);
    memcpy(req + prefix + HTTP_FAST_MAX_HEAD, " HTTP/1.1\r\n\r\n", 14);
    assert_int_equal(scan(req, &head), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fast_pixel_request),
        cmocka_unit_test(fast_head_query_and_whitespace),
        cmocka_unit_test(fast_stops_after_first_head),
        cmocka_unit_test(fast_leaves_incomplete_heads),
        cmocka_unit_test(fast_leaves_other_forms),
        cmocka_unit_test(fast_leaves_special_headers),
        cmocka_unit_test(fast_leaves_many_headers),
        cmocka_unit_test(fast_leaves_long_heads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
