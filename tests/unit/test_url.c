/*
 * test_url.c - click destinations: what may be signed, and where the
 * attribution parameter lands, byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keyring.h"
#include "signer.h"
#include "token.h"
#include "url.h"

static enum url_status check(const char *u)
{
    return url_check_destination(u, strlen(u), "tly");
}

/* Adds tly=V to u and compares the result with expected. */
static void assert_added(const char *u, const char *expected)
{
    char out[256];
    long n = url_add_param(u, strlen(u), "tly", "V", 1, out, sizeof out);

    assert_int_equal(n, strlen(expected));
    assert_memory_equal(out, expected, (size_t)n);
}

static void url_accepts_http_and_https(void **state)
{
    (void)state;
    assert_int_equal(check("https://shop.example/"), URL_OK);
    assert_int_equal(check("http://shop.example"), URL_OK);
    assert_int_equal(check("HTTPS://Shop.Example/P"), URL_OK);
    assert_int_equal(check("hTtP://shop.example:8080/a?b=c#d"), URL_OK);
    assert_int_equal(check("https://user@shop.example/"), URL_OK);
    assert_int_equal(check("https://[::1]:8443/"), URL_OK);
}

static void url_rejects_other_schemes(void **state)
{
    (void)state;
    assert_int_equal(check("javascript:alert(1)"), URL_BAD_SCHEME);
    assert_int_equal(check("JavaScript://shop.example/%0aalert(1)"), URL_BAD_SCHEME);
    assert_int_equal(check("ftp://shop.example/file"), URL_BAD_SCHEME);
    assert_int_equal(check("data:text/html,hi"), URL_BAD_SCHEME);
    assert_int_equal(check("//shop.example/p"), URL_BAD_SCHEME);
    assert_int_equal(check("/p/42"), URL_BAD_SCHEME);
    assert_int_equal(check("p/42"), URL_BAD_SCHEME);
    assert_int_equal(check("https:/shop.example"), URL_BAD_SCHEME);
    assert_int_equal(check("https:shop.example"), URL_BAD_SCHEME);
    assert_int_equal(check("httpss://shop.example"), URL_BAD_SCHEME);
    assert_int_equal(check(" https://shop.example"), URL_BAD_SCHEME);
}

static void url_rejects_missing_host(void **state)
{
    (void)state;
    assert_int_equal(check("https://"), URL_NO_HOST);
    assert_int_equal(check("http://"), URL_NO_HOST);
    assert_int_equal(check("https:///p"), URL_NO_HOST);
    assert_int_equal(check("https://?a=b"), URL_NO_HOST);
    assert_int_equal(check("https://#top"), URL_NO_HOST);
}

static void url_rejects_control_bytes(void **state)
{
    char u[] = "https://shop.example/p?q=1";
    const size_t at = 21;

    (void)state;
    assert_int_equal(check("https://shop.example/a b"), URL_BAD_BYTE);
    assert_int_equal(check("https://shop.example/a\tb"), URL_BAD_BYTE);
    assert_int_equal(check("https://shop.example/\r\nSet-Cookie:x"), URL_BAD_BYTE);
    assert_int_equal(check("https://shop.example/\x7f"), URL_BAD_BYTE);
    assert_int_equal(check("https://shop.example/ "), URL_BAD_BYTE);

    for (unsigned c = 0; c < 0x21; c++) {
        u[at] = (char)c;
        assert_int_equal(url_check_destination(u, strlen("https://shop.example/p?q=1"),
                                               "tly"), URL_BAD_BYTE);
    }
}

static void url_accepts_non_ascii_bytes(void **state)
{
    (void)state;
    /* "https://shop.example/größe?q=café" in UTF-8, and a lone 0xFF. */
    assert_int_equal(check("https://shop.example/gr\xc3\xb6\xc3\x9f" "e?q=caf\xc3\xa9"),
                     URL_OK);
    assert_int_equal(check("https://b\xc3\xbc" "cher.example/"), URL_OK);
    assert_int_equal(check("https://shop.example/\xff"), URL_OK);
}

static void url_rejects_empty_and_long(void **state)
{
    char *u = malloc(TOKEN_DEST_MAX + 2);

    (void)state;
    assert_non_null(u);
    assert_int_equal(url_check_destination("", 0, "tly"), URL_EMPTY);

    memcpy(u, "https://shop.example/", 21);
    memset(u + 21, 'a', TOKEN_DEST_MAX + 1 - 21);
    assert_int_equal(url_check_destination(u, TOKEN_DEST_MAX, "tly"), URL_OK);
    assert_int_equal(url_check_destination(u, TOKEN_DEST_MAX + 1, "tly"),
                     URL_TOO_LONG);
    free(u);
}

static void url_rejects_existing_param(void **state)
{
    (void)state;
    assert_int_equal(check("https://s.example/?tly=x"), URL_HAS_PARAM);
    assert_int_equal(check("https://s.example/?a=1&tly=x"), URL_HAS_PARAM);
    assert_int_equal(check("https://s.example/?a=1&tly"), URL_HAS_PARAM);
    assert_int_equal(check("https://s.example/?tly=&b"), URL_HAS_PARAM);
    assert_int_equal(check("https://s.example/?tly#top"), URL_HAS_PARAM);
}

static void url_allows_similar_params(void **state)
{
    (void)state;
    assert_int_equal(check("https://s.example/?tlyx=1"), URL_OK);
    assert_int_equal(check("https://s.example/?xtly=1"), URL_OK);
    assert_int_equal(check("https://s.example/?TLY=1"), URL_OK);
    assert_int_equal(check("https://s.example/?t%6Cy=1"), URL_OK);
    assert_int_equal(check("https://s.example/?a=tly"), URL_OK);
    assert_int_equal(check("https://s.example/tly?a=1"), URL_OK);
    /* In the fragment, not the query. */
    assert_int_equal(check("https://s.example/#tly=1"), URL_OK);
    assert_int_equal(check("https://s.example/#x?tly=1"), URL_OK);
    assert_int_equal(check("https://s.example/?a=1#&tly=1"), URL_OK);
    /* Without a name, the check is skipped. */
    assert_int_equal(url_check_destination("https://s.example/?tly=1", 24, NULL),
                     URL_OK);
}

static void url_add_without_query(void **state)
{
    (void)state;
    assert_added("https://s.example", "https://s.example?tly=V");
    assert_added("https://s.example/p/42", "https://s.example/p/42?tly=V");
}

static void url_add_to_existing_query(void **state)
{
    (void)state;
    assert_added("https://s.example/p?a=1", "https://s.example/p?a=1&tly=V");
    assert_added("https://s.example/p?a=1&b", "https://s.example/p?a=1&b&tly=V");
    assert_added("https://s.example/p?a=b?c", "https://s.example/p?a=b?c&tly=V");
}

static void url_add_after_trailing_separator(void **state)
{
    (void)state;
    assert_added("https://s.example/p?", "https://s.example/p?tly=V");
    assert_added("https://s.example/p?a=1&", "https://s.example/p?a=1&tly=V");
    assert_added("https://s.example/p?#f", "https://s.example/p?tly=V#f");
    assert_added("https://s.example/p?a&#f", "https://s.example/p?a&tly=V#f");
    /* A '?' inside the query is data, not a separator. */
    assert_added("https://s.example/p?a=b?", "https://s.example/p?a=b?&tly=V");
    assert_added("https://s.example/p??", "https://s.example/p??&tly=V");
}

static void url_add_before_fragment(void **state)
{
    (void)state;
    assert_added("https://s.example/p#top", "https://s.example/p?tly=V#top");
    assert_added("https://s.example/p?a=1#top", "https://s.example/p?a=1&tly=V#top");
    assert_added("https://s.example/p#", "https://s.example/p?tly=V#");
    assert_added("https://s.example/#a#b", "https://s.example/?tly=V#a#b");
}

static void url_add_ignores_query_in_fragment(void **state)
{
    (void)state;
    /* The '?' after '#' belongs to the fragment (single-page app routes). */
    assert_added("https://s.example/#/cart?step=2",
                 "https://s.example/?tly=V#/cart?step=2");
    assert_added("https://s.example/p?a=1#/r?x=1&y",
                 "https://s.example/p?a=1&tly=V#/r?x=1&y");
}

static void url_add_keeps_encoding(void **state)
{
    (void)state;
    assert_added("https://s.example/a%20b?q=%26%3D%23&r=a+b#x%2Fy",
                 "https://s.example/a%20b?q=%26%3D%23&r=a+b&tly=V#x%2Fy");
    assert_added("https://s.example/%E4%BD%A0?q=%e4",
                 "https://s.example/%E4%BD%A0?q=%e4&tly=V");
}

static void url_add_keeps_non_ascii(void **state)
{
    (void)state;
    assert_added("https://s.example/gr\xc3\xb6\xc3\x9f" "e?q=caf\xc3\xa9#\xe2\x9c\x93",
                 "https://s.example/gr\xc3\xb6\xc3\x9f" "e?q=caf\xc3\xa9&tly=V#\xe2\x9c\x93");
}

static void url_add_rejects_small_out(void **state)
{
    const char *u = "https://s.example/p?a=1#f";
    const char *expected = "https://s.example/p?a=1&tly=VV#f";
    char out[64];
    size_t need = strlen(expected);

    (void)state;
    for (size_t size = 0; size < need; size++) {
        memset(out, '*', sizeof out);
        assert_int_equal(url_add_param(u, strlen(u), "tly", "VV", 2, out, size), -1);
        assert_int_equal(out[0], '*');
    }
    memset(out, '*', sizeof out);
    assert_int_equal(url_add_param(u, strlen(u), "tly", "VV", 2, out, need), need);
    assert_memory_equal(out, expected, need);
    assert_int_equal(out[need], '*');
}

/* The whole journey of a long destination: checked, signed into a click
 * token, verified, and given the tly parameter by the redirect. */
static void url_long_destination_round_trip(void **state)
{
    struct keyring ring;
    struct signer *s;
    struct token t;
    struct token got;
    uint8_t *scratch = malloc(TOKEN_BINARY_MAX);
    char *dest = malloc(TOKEN_DEST_MAX);
    char *text = malloc(TOKEN_TEXT_MAX + 1);
    char *out = malloc(TOKEN_DEST_MAX + 64);
    const char head[] = "https://shop.example/p/\xc3\xa9t\xc3\xa9?q=%41%42";
    const char tail[] = "#frag?x=1";
    size_t len = 0;

    (void)state;
    assert_non_null(scratch);
    assert_non_null(dest);
    assert_non_null(text);
    assert_non_null(out);

    memset(&ring, 0, sizeof ring);
    ring.keys[1].present = true;
    memset(ring.keys[1].secret, 7, KEYRING_KEY_LEN);
    ring.active_id = 1;
    s = signer_new(&ring);
    assert_non_null(s);

    memcpy(dest, head, sizeof head - 1);
    len = sizeof head - 1;
    while (len < TOKEN_DEST_MAX - (sizeof tail - 1) - 8) {
        memcpy(dest + len, "&k=%7E\xe2\x82\xac", 9);
        len += 9;
    }
    memcpy(dest + len, tail, sizeof tail - 1);
    len += sizeof tail - 1;
    assert_true(len >= 8184 && len <= TOKEN_DEST_MAX);
    assert_int_equal(url_check_destination(dest, len, "tly"), URL_OK);

    memset(&t, 0, sizeof t);
    t.kind = TOKEN_CLICK;
    strcpy(t.campaign, "spring-sale");
    strcpy(t.message, "a");
    t.link = 1;
    t.dest = dest;
    t.dest_len = len;
    long text_len = token_encode(s, &t, text, TOKEN_TEXT_MAX + 1);
    assert_true(text_len > 0);
    assert_int_equal(token_decode(s, text, (size_t)text_len, TOKEN_CLICK, scratch, &got),
                     TOKEN_OK);
    assert_int_equal(got.dest_len, len);
    assert_memory_equal(got.dest, dest, len);

    long n = url_add_param(got.dest, got.dest_len, "tly", "VISIT", 5, out,
                           TOKEN_DEST_MAX + 64);
    size_t cut = len - (sizeof tail - 1);
    assert_int_equal(n, len + 10);
    assert_memory_equal(out, dest, cut);
    assert_memory_equal(out + cut, "&tly=VISIT", 10);
    assert_memory_equal(out + cut + 10, tail, sizeof tail - 1);

    signer_free(s);
    keyring_wipe(&ring);
    free(scratch);
    free(dest);
    free(text);
    free(out);
}

static void url_status_messages(void **state)
{
    (void)state;
    for (int st = URL_OK; st <= URL_HAS_PARAM; st++) {
        const char *m = url_status_message((enum url_status)st);
        assert_non_null(m);
        assert_true(strlen(m) > 0);
    }
    assert_string_equal(url_status_message(URL_BAD_SCHEME),
                        "destination URL must start with http:// or https://");
    assert_non_null(url_status_message((enum url_status)99));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(url_accepts_http_and_https),
        cmocka_unit_test(url_rejects_other_schemes),
        cmocka_unit_test(url_rejects_missing_host),
        cmocka_unit_test(url_rejects_control_bytes),
        cmocka_unit_test(url_accepts_non_ascii_bytes),
        cmocka_unit_test(url_rejects_empty_and_long),
        cmocka_unit_test(url_rejects_existing_param),
        cmocka_unit_test(url_allows_similar_params),
        cmocka_unit_test(url_add_without_query),
        cmocka_unit_test(url_add_to_existing_query),
        cmocka_unit_test(url_add_after_trailing_separator),
        cmocka_unit_test(url_add_before_fragment),
        cmocka_unit_test(url_add_ignores_query_in_fragment),
        cmocka_unit_test(url_add_keeps_encoding),
        cmocka_unit_test(url_add_keeps_non_ascii),
        cmocka_unit_test(url_add_rejects_small_out),
        cmocka_unit_test(url_long_destination_round_trip),
        cmocka_unit_test(url_status_messages),
    };

    return cmocka_run_group_tests_name("url", tests, NULL, NULL);
}
