/*
 * test_b64url.c - canonical base64url: RFC 4648 vectors, and every way a
 * text can fail to be the one spelling of its bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "b64url.h"

/* RFC 4648, section 10, without padding. */
static const struct {
    const char *bytes;
    const char *text;
} vectors[] = {
    {"", ""},
    {"f", "Zg"},
    {"fo", "Zm8"},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg"},
    {"fooba", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy"},
};

static long decode_str(const char *text, uint8_t *out, size_t outsize)
{
    return b64url_decode(text, strlen(text), out, outsize);
}

static void b64url_encodes_rfc_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        char out[16];
        size_t n = strlen(vectors[i].bytes);
        size_t len = b64url_encode((const uint8_t *)vectors[i].bytes, n, out);

        assert_int_equal(len, strlen(vectors[i].text));
        assert_int_equal(len, B64URL_ENCODED_LEN(n));
        assert_memory_equal(out, vectors[i].text, len);
    }
}

static void b64url_decodes_rfc_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        uint8_t out[16];
        long n = decode_str(vectors[i].text, out, sizeof out);

        assert_int_equal(n, strlen(vectors[i].bytes));
        assert_memory_equal(out, vectors[i].bytes, (size_t)n);
    }
}

static void b64url_uses_url_alphabet(void **state)
{
    const uint8_t bytes[] = {0xFB, 0xFF, 0xBF};
    char text[8];
    uint8_t back[3];

    (void)state;
    assert_int_equal(b64url_encode(bytes, 3, text), 4);
    assert_memory_equal(text, "-_-_", 4);
    assert_int_equal(decode_str("-_-_", back, sizeof back), 3);
    assert_memory_equal(back, bytes, 3);
}

static void b64url_round_trips_all_lengths(void **state)
{
    uint8_t bytes[256];
    char text[B64URL_ENCODED_LEN(256)];
    uint8_t back[256];

    (void)state;
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (uint8_t)(i * 37 + 11);

    for (size_t n = 0; n <= sizeof bytes; n++) {
        size_t len = b64url_encode(bytes, n, text);
        long m = b64url_decode(text, len, back, sizeof back);

        assert_int_equal(m, n);
        assert_memory_equal(back, bytes, n);
        assert_true(B64URL_DECODED_MAX(len) >= n);
    }
}

static void b64url_rejects_padding(void **state)
{
    uint8_t out[16];

    (void)state;
    assert_int_equal(decode_str("Zg==", out, sizeof out), -1);
    assert_int_equal(decode_str("Zm8=", out, sizeof out), -1);
    assert_int_equal(decode_str("Zg=", out, sizeof out), -1);
}

static void b64url_rejects_standard_alphabet(void **state)
{
    uint8_t out[16];

    (void)state;
    assert_int_equal(decode_str("+/+/", out, sizeof out), -1);
    assert_int_equal(decode_str("Zm9+", out, sizeof out), -1);
    assert_int_equal(decode_str("Zm9/", out, sizeof out), -1);
}

static void b64url_rejects_whitespace(void **state)
{
    uint8_t out[16];

    (void)state;
    assert_int_equal(decode_str("Zm9v Yg", out, sizeof out), -1);
    assert_int_equal(decode_str("Zm9v\nYg", out, sizeof out), -1);
    assert_int_equal(decode_str(" Zm9v", out, sizeof out), -1);
    assert_int_equal(decode_str("Zm9v\r", out, sizeof out), -1);
}

static void b64url_rejects_length_one_mod_four(void **state)
{
    uint8_t out[16];

    (void)state;
    assert_int_equal(decode_str("Z", out, sizeof out), -1);
    assert_int_equal(decode_str("Zm9vY", out, sizeof out), -1);
}

static void b64url_rejects_nonzero_unused_bits(void **state)
{
    uint8_t out[16];

    (void)state;
    /* "Zg" is 'f'; "Zh" to "Zv" carry the same byte plus set unused bits. */
    assert_int_equal(decode_str("Zg", out, sizeof out), 1);
    assert_int_equal(decode_str("Zh", out, sizeof out), -1);
    assert_int_equal(decode_str("Zv", out, sizeof out), -1);
    assert_int_equal(decode_str("Zm8", out, sizeof out), 2);
    assert_int_equal(decode_str("Zm9", out, sizeof out), -1);
    assert_int_equal(decode_str("Zm-", out, sizeof out), -1);
}

static void b64url_rejects_nul_and_high_bytes(void **state)
{
    uint8_t out[16];
    const char with_nul[4] = {'Z', 'm', '\0', 'v'};
    const char high[4] = {'Z', 'm', (char)0xC3, 'v'};

    (void)state;
    assert_int_equal(b64url_decode(with_nul, 4, out, sizeof out), -1);
    assert_int_equal(b64url_decode(high, 4, out, sizeof out), -1);
}

static const char url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Puts byte x at position pos of text[0..len), whose other characters are
 * 'A' (all bits zero), and decodes it. The text must be accepted exactly
 * when x is in the alphabet and leaves the unused bits zero. An accepted
 * text must encode back to itself. */
static void check_byte_at(int x, size_t pos, size_t len)
{
    char text[4] = {'A', 'A', 'A', 'A'};
    char again[4];
    uint8_t out[3];
    const char *in_alphabet = x != 0 ? memchr(url_alphabet, x, 64) : NULL;
    unsigned sextet = in_alphabet != NULL ? (unsigned)(in_alphabet - url_alphabet) : 0;
    unsigned unused_mask = 0; /* bits of the last character that no byte uses */
    bool unused_zero;
    long n;

    if (len == 2)
        unused_mask = 0x0F;
    else if (len == 3)
        unused_mask = 0x03;
    unused_zero = pos != len - 1 || (sextet & unused_mask) == 0;

    text[pos] = (char)x;
    n = b64url_decode(text, len, out, sizeof out);
    if (in_alphabet == NULL || !unused_zero) {
        if (n != -1)
            fail_msg("byte 0x%02x at %zu of %zu was accepted", x, pos, len);
        return;
    }
    if (n != (long)(len - 1))
        fail_msg("byte 0x%02x at %zu of %zu decoded to %ld bytes", x, pos, len, n);
    assert_int_equal(b64url_encode(out, (size_t)n, again), len);
    assert_memory_equal(again, text, len);
}

static void b64url_decodes_each_byte_value(void **state)
{
    (void)state;
    for (int x = 0; x < 256; x++) {
        for (size_t len = 2; len <= 4; len++) {
            for (size_t pos = 0; pos < len; pos++)
                check_byte_at(x, pos, len);
        }
    }
}

static void b64url_rejects_small_output(void **state)
{
    uint8_t out[6];

    (void)state;
    assert_int_equal(decode_str("Zm9vYmFy", out, 5), -1);
    assert_int_equal(decode_str("Zm9vYmFy", out, 6), 6);
    assert_int_equal(decode_str("Zm9vYmE", out, 4), -1);
    assert_int_equal(decode_str("", out, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(b64url_encodes_rfc_vectors),
        cmocka_unit_test(b64url_decodes_rfc_vectors),
        cmocka_unit_test(b64url_uses_url_alphabet),
        cmocka_unit_test(b64url_round_trips_all_lengths),
        cmocka_unit_test(b64url_rejects_padding),
        cmocka_unit_test(b64url_rejects_standard_alphabet),
        cmocka_unit_test(b64url_rejects_whitespace),
        cmocka_unit_test(b64url_rejects_length_one_mod_four),
        cmocka_unit_test(b64url_rejects_nonzero_unused_bits),
        cmocka_unit_test(b64url_rejects_nul_and_high_bytes),
        cmocka_unit_test(b64url_rejects_small_output),
        cmocka_unit_test(b64url_decodes_each_byte_value),
    };

    return cmocka_run_group_tests_name("b64url", tests, NULL, NULL);
}
