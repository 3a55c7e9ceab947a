/*
 * test_ident.c - email normalisation and hashing, hex parsing, and the
 * reader and customer id derivations.
 *
 * Expected digests were computed with sha256sum on the normalised address,
 * e.g. printf %s 'jane.doe@example.com' | sha256sum.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ident.h"
#include "keyring.h"
#include "signer.h"

#define JANE_SHA256 "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d"

struct fixture {
    struct keyring ring;
    struct signer *signer;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);

    assert_non_null(f);
    for (size_t i = 0; i < KEYRING_KEY_LEN; i++) {
        f->ring.reader_secret[i] = (uint8_t)(0x40 + i);
        f->ring.keys[1].secret[i] = (uint8_t)(0x90 + i);
    }
    f->ring.keys[1].present = true;
    f->ring.active_id = 1;
    f->signer = signer_new(&f->ring);
    assert_non_null(f->signer);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    signer_free(f->signer);
    keyring_wipe(&f->ring);
    free(f);
    return 0;
}

/* Hashes addr and returns the hex digest in a static buffer. */
static const char *email_hex(const char *addr, size_t len)
{
    static char hex[2 * IDENT_SHA256_LEN + 1];
    uint8_t digest[IDENT_SHA256_LEN];

    assert_int_equal(ident_email_sha256(addr, len, digest), 0);
    ident_hex(digest, sizeof digest, hex);
    return hex;
}

static const char *email_hex_str(const char *addr)
{
    return email_hex(addr, strlen(addr));
}

static void ident_email_known_vectors(void **state)
{
    (void)state;
    assert_string_equal(email_hex_str("jane.doe@example.com"), JANE_SHA256);
    assert_string_equal(email_hex_str("user@example.com"),
        "b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514");
    assert_string_equal(email_hex_str("a"),
        "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb");
}

static void ident_email_trims_whitespace(void **state)
{
    (void)state;
    assert_string_equal(email_hex_str("  jane.doe@example.com\r\n"), JANE_SHA256);
    assert_string_equal(email_hex_str("\t\v\fjane.doe@example.com \t"), JANE_SHA256);
    /* Whitespace inside the address is kept. */
    assert_string_not_equal(email_hex_str("jane .doe@example.com"), JANE_SHA256);
}

static void ident_email_lowercases_ascii(void **state)
{
    (void)state;
    assert_string_equal(email_hex_str("Jane.Doe@EXAMPLE.com"), JANE_SHA256);
    assert_string_equal(email_hex_str("JANE.DOE@EXAMPLE.COM"), JANE_SHA256);
}

static void ident_email_keeps_non_ascii(void **state)
{
    (void)state;
    /* "müller@example.de" in UTF-8. */
    assert_string_equal(email_hex_str("m\xc3\xbcller@example.de"),
        "eb2f85748266705ba113bc5c4ee633d9c2a7cc769d5f6d9f9767b854584b3c88");
    /* "MÜLLER": only the ASCII letters are lower-cased, so Ü stays. */
    assert_string_equal(email_hex_str("M\xc3\x9cLLER@example.de"),
        "4fc237af4d5c363114c3afecae5b1dbb856be441098dc06d713a52a048721104");
    /* A non-breaking space (0xC2 0xA0) is not whitespace here. */
    assert_string_not_equal(email_hex_str("\xc2\xa0jane.doe@example.com"),
                            JANE_SHA256);
}

static void ident_email_rejects_blank(void **state)
{
    uint8_t digest[IDENT_SHA256_LEN];

    (void)state;
    assert_int_equal(ident_email_sha256("", 0, digest), -1);
    assert_int_equal(ident_email_sha256(" \t\r\n\v\f", 6, digest), -1);
}

static void ident_email_hashes_embedded_nul(void **state)
{
    char with_nul[2 * IDENT_SHA256_LEN + 1];

    /* The length, not a NUL, ends the address. */
    (void)state;
    strcpy(with_nul, email_hex("a\0b", 3));
    assert_string_not_equal(with_nul, email_hex("a", 1));
}

static void ident_email_hashes_long_address(void **state)
{
    char addr[1000];
    uint8_t direct[IDENT_SHA256_LEN];
    uint8_t digest[IDENT_SHA256_LEN];
    unsigned len = 0;

    (void)state;
    for (size_t i = 0; i < sizeof addr; i++)
        addr[i] = (char)('a' + i % 26);
    assert_int_equal(EVP_Digest(addr, sizeof addr, direct, &len, EVP_sha256(), NULL), 1);

    for (size_t i = 0; i < sizeof addr; i += 3)
        addr[i] = (char)(addr[i] - 'a' + 'A');
    assert_int_equal(ident_email_sha256(addr, sizeof addr, digest), 0);
    assert_memory_equal(digest, direct, IDENT_SHA256_LEN);
}

static void ident_hex_parse_either_case(void **state)
{
    uint8_t lower[IDENT_SHA256_LEN];
    uint8_t upper[IDENT_SHA256_LEN];
    uint8_t expected[IDENT_SHA256_LEN];
    char upper_hex[] = JANE_SHA256;
    char back[2 * IDENT_SHA256_LEN + 1];

    (void)state;
    for (size_t i = 0; upper_hex[i] != '\0'; i++) {
        if (upper_hex[i] >= 'a' && upper_hex[i] <= 'f')
            upper_hex[i] = (char)(upper_hex[i] - 'a' + 'A');
    }

    assert_int_equal(ident_email_sha256("jane.doe@example.com", 20, expected), 0);
    assert_int_equal(ident_parse_sha256_hex(JANE_SHA256, 64, lower), 0);
    assert_int_equal(ident_parse_sha256_hex(upper_hex, 64, upper), 0);
    assert_memory_equal(lower, expected, IDENT_SHA256_LEN);
    assert_memory_equal(upper, expected, IDENT_SHA256_LEN);

    ident_hex(upper, IDENT_SHA256_LEN, back);
    assert_string_equal(back, JANE_SHA256);
}

static void ident_hex_parse_rejects_bad_input(void **state)
{
    uint8_t out[IDENT_SHA256_LEN];
    char hex[] = JANE_SHA256;

    (void)state;
    assert_int_equal(ident_parse_sha256_hex(hex, 63, out), -1);
    assert_int_equal(ident_parse_sha256_hex(hex, 0, out), -1);
    assert_int_equal(ident_parse_sha256_hex(JANE_SHA256 "0", 65, out), -1);

    const char bad[] = {'g', 'G', ' ', '-', 'x', '\0', ':'};
    for (size_t i = 0; i < sizeof bad; i++) {
        hex[10] = bad[i];
        assert_int_equal(ident_parse_sha256_hex(hex, 64, out), -1);
    }
}

static void ident_hex_formats_bytes(void **state)
{
    const uint8_t bytes[] = {0x00, 0x0f, 0xa0, 0xff};
    char out[9];

    (void)state;
    ident_hex(bytes, sizeof bytes, out);
    assert_string_equal(out, "000fa0ff");
    ident_hex(bytes, 0, out);
    assert_string_equal(out, "");
}

/* Computes the expected id: HMAC-SHA256 under the reader secret of msg. */
static void expected_id(struct fixture *f, const uint8_t *msg, size_t len,
                        uint8_t out[TOKEN_READER_LEN])
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;

    assert_non_null(HMAC(EVP_sha256(), f->ring.reader_secret, KEYRING_KEY_LEN,
                         msg, len, mac, &mac_len));
    memcpy(out, mac, TOKEN_READER_LEN);
}

static void ident_reader_id_derivation(void **state)
{
    struct fixture *f = *state;
    uint8_t digest[IDENT_SHA256_LEN];
    uint8_t msg[16 + IDENT_SHA256_LEN];
    uint8_t expected[TOKEN_READER_LEN];
    uint8_t got[TOKEN_READER_LEN];

    assert_int_equal(ident_parse_sha256_hex(JANE_SHA256, 64, digest), 0);
    memcpy(msg, "tally/reader/v1", 15);
    msg[15] = 0;
    memcpy(msg + 16, digest, IDENT_SHA256_LEN);
    expected_id(f, msg, sizeof msg, expected);

    assert_int_equal(ident_reader_id(f->signer, digest, got), 0);
    assert_memory_equal(got, expected, TOKEN_READER_LEN);
}

static void ident_reader_id_same_for_same_email(void **state)
{
    struct fixture *f = *state;
    uint8_t a[IDENT_SHA256_LEN];
    uint8_t b[IDENT_SHA256_LEN];
    uint8_t id_a[TOKEN_READER_LEN];
    uint8_t id_b[TOKEN_READER_LEN];

    /* The journey of a guest checkout: the shop hashes what the reader
     * typed, tally the address it sent to. */
    assert_int_equal(ident_email_sha256(" Jane.Doe@Example.com ", 22, a), 0);
    assert_int_equal(ident_parse_sha256_hex(JANE_SHA256, 64, b), 0);
    assert_int_equal(ident_reader_id(f->signer, a, id_a), 0);
    assert_int_equal(ident_reader_id(f->signer, b, id_b), 0);
    assert_memory_equal(id_a, id_b, TOKEN_READER_LEN);
}

static void ident_customer_id_derivation(void **state)
{
    struct fixture *f = *state;
    const char label[] = "tally/customer/v1";
    uint8_t msg[64];
    uint8_t expected[TOKEN_READER_LEN];
    uint8_t got[TOKEN_READER_LEN];
    size_t n = 0;

    memcpy(msg, label, sizeof label - 1);
    n += sizeof label - 1;
    msg[n++] = 0;
    memcpy(msg + n, "shop-1", 6);
    n += 6;
    msg[n++] = 0;
    memcpy(msg + n, "C-1001", 6);
    n += 6;
    expected_id(f, msg, n, expected);

    assert_int_equal(ident_customer_id(f->signer, "shop-1", "C-1001", 6, got), 0);
    assert_memory_equal(got, expected, TOKEN_READER_LEN);
}

static void ident_customer_id_depends_on_shop(void **state)
{
    struct fixture *f = *state;
    uint8_t one[TOKEN_READER_LEN];
    uint8_t two[TOKEN_READER_LEN];

    assert_int_equal(ident_customer_id(f->signer, "shop-1", "42", 2, one), 0);
    assert_int_equal(ident_customer_id(f->signer, "shop-2", "42", 2, two), 0);
    assert_memory_not_equal(one, two, TOKEN_READER_LEN);
}

static void ident_customer_id_rejects_bad_input(void **state)
{
    struct fixture *f = *state;
    uint8_t out[TOKEN_READER_LEN];
    char cust[IDENT_CUSTOMER_MAX + 1];

    memset(cust, '7', sizeof cust);
    assert_int_equal(ident_customer_id(f->signer, "s", cust, IDENT_CUSTOMER_MAX, out), 0);
    assert_int_equal(ident_customer_id(f->signer, "s", cust, IDENT_CUSTOMER_MAX + 1, out), -1);
    assert_int_equal(ident_customer_id(f->signer, "s", cust, 0, out), -1);
    assert_int_equal(ident_customer_id(f->signer, "s", "a\tb", 3, out), -1);
    assert_int_equal(ident_customer_id(f->signer, "s", "a\0b", 3, out), -1);
    assert_int_equal(ident_customer_id(f->signer, "s", "a\x7f", 2, out), -1);
    /* Non-ASCII customer ids are fine. */
    assert_int_equal(ident_customer_id(f->signer, "s", "k\xc3\xa4", 3, out), 0);

    assert_int_equal(ident_customer_id(f->signer, "", "1", 1, out), -1);
    assert_int_equal(ident_customer_id(f->signer, "a:b", "1", 1, out), -1);
    assert_int_equal(ident_customer_id(f->signer, NULL, "1", 1, out), -1);
}

static void ident_reader_and_customer_differ(void **state)
{
    struct fixture *f = *state;
    uint8_t digest[IDENT_SHA256_LEN];
    uint8_t reader[TOKEN_READER_LEN];
    uint8_t customer[TOKEN_READER_LEN];

    /* Same bytes after the label: the labels keep the ids apart. */
    memset(digest, 'x', sizeof digest);
    assert_int_equal(ident_reader_id(f->signer, digest, reader), 0);
    assert_int_equal(ident_customer_id(f->signer, "x", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 30,
                                       customer), 0);
    assert_memory_not_equal(reader, customer, TOKEN_READER_LEN);
}

/* The device derivation is HMAC(reader secret, "tally/device/v1" 0x00
 * shop 0x00 device), cut to 12 bytes, and differs from the customer one. */
static void ident_device_id_derivation(void **state)
{
    struct fixture *f = *state;
    static const char device[] = "0123456789abcdef";
    uint8_t expected[EVP_MAX_MD_SIZE], got[TOKEN_READER_LEN], customer[TOKEN_READER_LEN];
    unsigned len = 0;
    const char input[] = "tally/device/v1\0web\0" "0123456789abcdef";

    HMAC(EVP_sha256(), f->ring.reader_secret, KEYRING_KEY_LEN,
         (const unsigned char *)input, sizeof(input) - 1, expected, &len);
    assert_int_equal(ident_device_id(f->signer, "web", device, 16, got), 0);
    assert_memory_equal(got, expected, TOKEN_READER_LEN);
    assert_int_equal(ident_customer_id(f->signer, "web", device, 16, customer), 0);
    assert_memory_not_equal(got, customer, TOKEN_READER_LEN);
}

static void ident_device_id_rejects_bad_input(void **state)
{
    struct fixture *f = *state;
    uint8_t out[TOKEN_READER_LEN];
    char long_id[IDENT_DEVICE_MAX + 2];

    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    assert_int_equal(ident_device_id(f->signer, "web", "0123456789abcde", 15, out), -1);
    assert_int_equal(ident_device_id(f->signer, "web", long_id, IDENT_DEVICE_MAX + 1,
                                     out), -1);
    assert_int_equal(ident_device_id(f->signer, "web", "0123456789abcde!", 16, out), -1);
    assert_int_equal(ident_device_id(f->signer, "we:b", "0123456789abcdef", 16, out), -1);
    assert_int_equal(ident_device_id(f->signer, "web", long_id, IDENT_DEVICE_MAX, out), 0);
    assert_true(ident_device_valid("f47ac10b-58cc-4372-a567-0e02b2c3d479", 36));
}

static void ident_placeholders(void **state)
{
    static const char *const yes[] = {"", " ", "0", "-1", "null", "NULL", "Undefined",
                                      "anonymous", "ANONYMOUS", "guest", " Guest\t"};
    static const char *const no[] = {"00", "1", "-", "nul", "guests", "guest1",
                                     "c-42", "anonymous user"};

    (void)state;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        assert_true(ident_is_placeholder(yes[i], strlen(yes[i])));
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_false(ident_is_placeholder(no[i], strlen(no[i])));
}

static void ident_empty_email_hash_is_placeholder(void **state)
{
    uint8_t empty[IDENT_SHA256_LEN], jane[IDENT_SHA256_LEN];

    (void)state;
    assert_int_equal(ident_parse_sha256_hex(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 64, empty), 0);
    assert_true(ident_email_is_placeholder(empty));
    assert_int_equal(ident_parse_sha256_hex(JANE_SHA256, 64, jane), 0);
    assert_false(ident_email_is_placeholder(jane));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ident_email_known_vectors),
        cmocka_unit_test(ident_email_trims_whitespace),
        cmocka_unit_test(ident_email_lowercases_ascii),
        cmocka_unit_test(ident_email_keeps_non_ascii),
        cmocka_unit_test(ident_email_rejects_blank),
        cmocka_unit_test(ident_email_hashes_embedded_nul),
        cmocka_unit_test(ident_email_hashes_long_address),
        cmocka_unit_test(ident_hex_parse_either_case),
        cmocka_unit_test(ident_hex_parse_rejects_bad_input),
        cmocka_unit_test(ident_hex_formats_bytes),
        cmocka_unit_test(ident_reader_id_derivation),
        cmocka_unit_test(ident_reader_id_same_for_same_email),
        cmocka_unit_test(ident_customer_id_derivation),
        cmocka_unit_test(ident_customer_id_depends_on_shop),
        cmocka_unit_test(ident_customer_id_rejects_bad_input),
        cmocka_unit_test(ident_reader_and_customer_differ),
        cmocka_unit_test(ident_device_id_derivation),
        cmocka_unit_test(ident_device_id_rejects_bad_input),
        cmocka_unit_test(ident_placeholders),
        cmocka_unit_test(ident_empty_email_hash_is_placeholder),
    };

    return cmocka_run_group_tests_name("ident", tests, setup, teardown);
}
