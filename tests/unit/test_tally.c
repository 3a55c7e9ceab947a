/*
 * test_tally.c - the stable minting interface of tracking/tally.h: the URLs
 * it mints carry tokens that verify, name the recipient's reader id and
 * the link, and sign the destination byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ident.h"
#include "keyring.h"
#include "signer.h"
#include "tally.h"
#include "token.h"

#define BASE "https://t.shop.example"
#define EMAIL_HEX "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d"

static struct signer *new_signer(void)
{
    struct keyring ring;
    struct signer *s;

    memset(&ring, 0, sizeof ring);
    memset(ring.reader_secret, 0x5a, sizeof ring.reader_secret);
    ring.keys[3].present = true;
    memset(ring.keys[3].secret, 0x33, KEYRING_KEY_LEN);
    ring.active_id = 3;
    s = signer_new(&ring);
    assert_non_null(s);
    return s;
}

static void fill_email(struct signer *s, struct tally_email *e)
{
    long base_len = tally_base_check(BASE "/");

    assert_int_equal(base_len, strlen(BASE));
    memset(e, 0, sizeof *e);
    e->base = BASE;
    e->base_len = (size_t)base_len;
    e->campaign = "spring-sale";
    e->message = "a";
    e->issued = 1767225600;
    assert_int_equal(tally_reader_from_email(s, " Jane.Doe@Example.COM\n", 22,
                                             e->reader), 0);
}

static void tally_pixel_verifies(void **state)
{
    struct signer *s = new_signer();
    struct tally_email e;
    char url[TALLY_URL_MAX];
    uint8_t scratch[TOKEN_BINARY_MAX];
    struct token t;
    long n;
    size_t prefix = strlen(BASE "/o/");

    (void)state;
    fill_email(s, &e);
    n = tally_mint_pixel(s, &e, url, sizeof url);
    assert_true(n > 0);
    assert_int_equal(strlen(url), n);
    assert_memory_equal(url, BASE "/o/", prefix);
    assert_string_equal(url + n - 4, ".gif");

    assert_int_equal(token_decode(s, url + prefix, (size_t)n - prefix - 4,
                                  TOKEN_OPEN, scratch, &t), TOKEN_OK);
    assert_string_equal(t.campaign, "spring-sale");
    assert_string_equal(t.message, "a");
    assert_int_equal(t.key_id, 3);
    assert_int_equal(t.issued, 1767225600);
    assert_memory_equal(t.reader, e.reader, TOKEN_READER_LEN);
    signer_free(s);
}

static void tally_click_signs_destination(void **state)
{
    struct signer *s = new_signer();
    struct tally_email e;
    char url[TALLY_URL_MAX];
    uint8_t scratch[TOKEN_BINARY_MAX];
    struct token t;
    const char *dest = "https://shop.example/p/42?a=1&b=%C3%BC#top";
    size_t prefix = strlen(BASE "/c/");
    long n;

    (void)state;
    fill_email(s, &e);
    n = tally_mint_click(s, &e, 7, dest, strlen(dest), url, sizeof url);
    assert_true(n > 0);
    assert_int_equal(token_decode(s, url + prefix, (size_t)n - prefix,
                                  TOKEN_CLICK, scratch, &t), TOKEN_OK);
    assert_int_equal(t.link, 7);
    assert_int_equal(t.dest_len, strlen(dest));
    assert_memory_equal(t.dest, dest, t.dest_len);
    signer_free(s);
}

static void tally_reader_same_for_hash(void **state)
{
    struct signer *s = new_signer();
    struct tally_email e;
    uint8_t from_hex[TOKEN_READER_LEN];

    (void)state;
    fill_email(s, &e);
    assert_int_equal(tally_reader_from_sha256_hex(s, EMAIL_HEX, 64, from_hex), 0);
    assert_memory_equal(from_hex, e.reader, TOKEN_READER_LEN);
    assert_int_equal(tally_reader_from_sha256_hex(s, EMAIL_HEX, 63, from_hex), -1);
    assert_int_equal(tally_reader_from_email(s, "  \t", 3, from_hex), -1);
    signer_free(s);
}

static void tally_rejects_bad_input(void **state)
{
    struct signer *s = new_signer();
    struct tally_email e;
    char url[TALLY_URL_MAX];
    char small[40];

    (void)state;
    fill_email(s, &e);
    assert_int_equal(tally_mint_click(s, &e, 1, "javascript:x", 12, url, sizeof url), -1);
    assert_int_equal(tally_mint_click(s, &e, 1, "https://s.example/?tly=1", 24,
                                      url, sizeof url), -1);
    assert_int_equal(tally_mint_pixel(s, &e, small, sizeof small), -1);
    e.campaign = "has space";
    assert_int_equal(tally_mint_pixel(s, &e, url, sizeof url), -1);

    assert_int_equal(tally_base_check("ftp://t.example"), -1);
    assert_int_equal(tally_base_check("https://t.example/?q=1"), -1);
    assert_int_equal(tally_base_check("https://t.example/a&b"), -1);
    assert_int_equal(tally_base_check(""), -1);
    assert_int_equal(tally_base_check("http://127.0.0.1:8080"), 21);
    signer_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tally_pixel_verifies),
        cmocka_unit_test(tally_click_signs_destination),
        cmocka_unit_test(tally_reader_same_for_hash),
        cmocka_unit_test(tally_rejects_bad_input),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
