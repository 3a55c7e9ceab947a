/*
 * test_keys_file.c - unit tests of server/keys_file.c: generate and load
 * round trip, a hand-written file with several keys, and every error of the
 * strict parser, each checked for naming file:line and never the secret.
 * Files are written to a fresh temporary directory per test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "keys_file.h"

/* A secret whose hex must never appear in an error message. */
#define HEX_A "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define HEX_B "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"
#define HEX_C "C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3"

struct fixture {
    char dir[64];
    char path[128];
    struct keyring ring;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_keys_file.XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/keys.conf", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void write_file(const struct fixture *f, const char *text, mode_t mode)
{
    FILE *out = fopen(f->path, "w");

    assert_non_null(out);
    assert_int_equal(fputs(text, out) >= 0, 1);
    assert_int_equal(fclose(out), 0);
    assert_int_equal(chmod(f->path, mode), 0);
}

/* Loads text and expects failure with an error holding want (and the file
 * name, and no secret). */
static void load_bad(struct fixture *f, const char *text, const char *want)
{
    char err[512] = "";

    write_file(f, text, 0600);
    assert_int_equal(keys_file_load(f->path, &f->ring, err, sizeof(err)), -1);
    if (strstr(err, want) == NULL)
        fail_msg("error '%s' lacks '%s'", err, want);
    if (strstr(err, f->path) == NULL)
        fail_msg("error '%s' does not name the file", err);
    if (strstr(err, "a1a1a1") != NULL || strstr(err, "b2b2b2") != NULL)
        fail_msg("error '%s' shows a secret", err);
    assert_false(f->ring.keys[1].present);
}

static void generate_load_roundtrip(void **state)
{
    struct fixture *f = *state;
    char err[512] = "";
    FILE *out = fopen(f->path, "w");
    static const uint8_t zero[KEYRING_KEY_LEN];

    assert_non_null(out);
    assert_int_equal(keys_file_generate(out), 0);
    assert_int_equal(fclose(out), 0);
    assert_int_equal(chmod(f->path, 0600), 0);

    if (keys_file_load(f->path, &f->ring, err, sizeof(err)) != 0)
        fail_msg("generated file rejected: %s", err);
    assert_int_equal(f->ring.active_id, 1);
    assert_true(f->ring.keys[1].present);
    assert_false(f->ring.keys[2].present);
    assert_memory_not_equal(f->ring.reader_secret, zero, KEYRING_KEY_LEN);
    assert_memory_not_equal(f->ring.keys[1].secret, zero, KEYRING_KEY_LEN);
    assert_memory_not_equal(f->ring.keys[1].secret, f->ring.reader_secret,
                            KEYRING_KEY_LEN);
}

static void generate_fresh_secrets(void **state)
{
    struct fixture *f = *state;
    char first[2048] = "";
    char second[2048] = "";
    FILE *out;

    for (int round = 0; round < 2; round++) {
        out = fopen(f->path, "w+");
        assert_non_null(out);
        assert_int_equal(keys_file_generate(out), 0);
        rewind(out);
        size_t n = fread(round == 0 ? first : second, 1, sizeof(first) - 1, out);
        assert_true(n > 0);
        fclose(out);
    }
    assert_string_not_equal(first, second);
    assert_non_null(strstr(first, "reader_secret = "));
    assert_non_null(strstr(first, "signing_key.1 = "));
    assert_non_null(strstr(first, "active_signing_key = 1"));
}

static void load_several_keys(void **state)
{
    struct fixture *f = *state;
    char err[512] = "";

    write_file(f,
               "# comment\n"
               "\n"
               "  reader_secret =   " HEX_A "  \n"
               "signing_key.1=" HEX_B "\n"
               "\tsigning_key.255 = " HEX_C "\r\n"
               "active_signing_key = 255\n",
               0600);
    if (keys_file_load(f->path, &f->ring, err, sizeof(err)) != 0)
        fail_msg("rejected: %s", err);
    assert_int_equal(f->ring.active_id, 255);
    assert_true(f->ring.keys[1].present);
    assert_true(f->ring.keys[255].present);
    assert_false(f->ring.keys[2].present);
    assert_int_equal(f->ring.reader_secret[0], 0xa1);
    assert_int_equal(f->ring.keys[1].secret[31], 0xb2);
    assert_int_equal(f->ring.keys[255].secret[0], 0xc3);
}

static void load_group_readable(void **state)
{
    struct fixture *f = *state;
    char err[512] = "";

    /* Loads, with a warning line on standard error. */
    write_file(f,
               "reader_secret = " HEX_A "\nsigning_key.1 = " HEX_B
               "\nactive_signing_key = 1\n",
               0644);
    assert_int_equal(keys_file_load(f->path, &f->ring, err, sizeof(err)), 0);
    assert_true(f->ring.keys[1].present);
}

static void load_missing_file(void **state)
{
    struct fixture *f = *state;
    char err[512] = "";

    assert_int_equal(keys_file_load(f->path, &f->ring, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot open keys file"));
    assert_non_null(strstr(err, f->path));
}

static void error_unknown_key(void **state)
{
    load_bad(*state,
             "reader_secret = " HEX_A "\nsigning_key.1 = " HEX_B
             "\nactive_signing_key = 1\nsalt = " HEX_A "\n",
             ":4: unknown key 'salt'");
}

static void error_duplicate_reader(void **state)
{
    load_bad(*state,
             "reader_secret = " HEX_A "\nreader_secret = " HEX_B "\n",
             ":2: reader_secret is set twice (first on line 1)");
}

static void error_duplicate_key(void **state)
{
    load_bad(*state,
             "signing_key.7 = " HEX_A "\n\nsigning_key.7 = " HEX_B "\n",
             ":3: signing_key.7 is set twice (first on line 1)");
}

static void error_duplicate_active(void **state)
{
    load_bad(*state, "active_signing_key = 1\nactive_signing_key = 2\n",
             ":2: active_signing_key is set twice");
}

static void error_bad_hex(void **state)
{
    load_bad(*state,
             "reader_secret = "
             "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1zz\n",
             ":1: reader_secret must be 64 hex digits");
}

static void error_short_hex(void **state)
{
    load_bad(*state, "reader_secret = " HEX_A "\nsigning_key.1 = b2b2\n",
             ":2: signing_key.1 must be 64 hex digits");
}

static void error_long_hex(void **state)
{
    load_bad(*state, "signing_key.1 = " HEX_B "00\n",
             ":1: signing_key.1 must be 64 hex digits");
}

static void error_key_id_zero(void **state)
{
    load_bad(*state, "signing_key.0 = " HEX_B "\n",
             ":1: key id of 'signing_key.0' is invalid");
}

static void error_key_id_too_big(void **state)
{
    load_bad(*state, "signing_key.256 = " HEX_B "\n",
             ":1: key id of 'signing_key.256' is invalid");
    load_bad(*state, "signing_key.x = " HEX_B "\n",
             ":1: key id of 'signing_key.x' is invalid");
    load_bad(*state, "signing_key. = " HEX_B "\n",
             ":1: key id of 'signing_key.' is invalid");
}

static void error_active_out_of_range(void **state)
{
    load_bad(*state, "active_signing_key = 0\n",
             ":1: active_signing_key '0' is invalid");
    load_bad(*state, "active_signing_key = 300\n",
             ":1: active_signing_key '300' is invalid");
}

static void error_missing_reader(void **state)
{
    load_bad(*state,
             "signing_key.1 = " HEX_B "\nactive_signing_key = 1\n",
             "reader_secret is missing");
}

static void error_missing_active(void **state)
{
    load_bad(*state, "reader_secret = " HEX_A "\nsigning_key.1 = " HEX_B "\n",
             "active_signing_key is missing");
}

static void error_active_absent(void **state)
{
    load_bad(*state,
             "reader_secret = " HEX_A "\nsigning_key.1 = " HEX_B
             "\nactive_signing_key = 2\n",
             ":3: active_signing_key = 2 but signing_key.2 is not in the file");
}

static void error_no_equals(void **state)
{
    load_bad(*state, "reader_secret " HEX_A "\n",
             ":1: expected 'name = value'");
}

static void error_empty_file(void **state)
{
    load_bad(*state, "", "reader_secret is missing");
}

#define VALID_BASE "reader_secret = " HEX_A "\nsigning_key.1 = " HEX_B \
                   "\nactive_signing_key = 1\n"

static void load_api_tokens(void **state)
{
    struct fixture *f = *state;
    static struct auth_tokens tokens;
    char err[512] = "";

    write_file(f, VALID_BASE "api_token.dash = read " HEX_C "\n"
                  "api_token.ops-1 = read,admin " HEX_A "\n", 0600);
    if (keys_file_load_all(f->path, &f->ring, &tokens, err, sizeof(err)) != 0)
        fail_msg("rejected: %s", err);
    assert_int_equal(tokens.count, 2);
    assert_string_equal(tokens.tokens[0].name, "dash");
    assert_int_equal(tokens.tokens[0].scopes, AUTH_SCOPE_READ);
    assert_int_equal(tokens.tokens[0].secret[0], 0xc3);
    assert_string_equal(tokens.tokens[1].name, "ops-1");
    assert_int_equal(tokens.tokens[1].scopes, AUTH_SCOPE_READ | AUTH_SCOPE_ADMIN);

    /* keys_file_load accepts the same file and keeps only the keyring. */
    assert_int_equal(keys_file_load(f->path, &f->ring, err, sizeof(err)), 0);
}

/* Shop secrets (POST /v1/conversions) and API tokens share the file. */
static void load_shop_secrets_and_tokens(void **state)
{
    struct fixture *f = *state;
    static struct auth_tokens tokens;
    char err[512] = "";

    write_file(f, VALID_BASE "shop_secret.default = " HEX_C "\n"
                  "api_token.dash = read " HEX_B "\n"
                  "shop_secret.eu-shop = " HEX_A "\n", 0600);
    if (keys_file_load_all(f->path, &f->ring, &tokens, err, sizeof(err)) != 0)
        fail_msg("rejected: %s", err);
    assert_int_equal(f->ring.n_shops, 2);
    assert_non_null(keyring_shop_secret(f->ring.shops, f->ring.n_shops, "default"));
    assert_int_equal(keyring_shop_secret(f->ring.shops, f->ring.n_shops, "eu-shop")[0],
                     0xa1);
    assert_null(keyring_shop_secret(f->ring.shops, f->ring.n_shops, "other"));
    assert_int_equal(tokens.count, 1);
    assert_string_equal(tokens.tokens[0].name, "dash");

    assert_int_equal(keys_file_load(f->path, &f->ring, err, sizeof(err)), 0);
    assert_int_equal(f->ring.n_shops, 2);
}

static void error_token_bad_scope(void **state)
{
    load_bad(*state, VALID_BASE "api_token.x = write " HEX_A "\n",
             ":4: api_token.x: scope list 'write' is invalid");
}

static void error_token_bad_hex(void **state)
{
    load_bad(*state, VALID_BASE "api_token.x = read a1a1\n",
             ":4: api_token.x: token must be 64 hex digits");
}

static void error_token_duplicate(void **state)
{
    load_bad(*state, VALID_BASE "api_token.x = read " HEX_A "\napi_token.x = read " HEX_B "\n",
             ":5: api_token.x is set twice (first on line 4)");
}

static void error_token_bad_name(void **state)
{
    load_bad(*state, VALID_BASE "api_token.a/b = read " HEX_A "\n",
             ":4: name of 'api_token.a/b' is invalid");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(generate_load_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(generate_fresh_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(load_several_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(load_group_readable, setup, teardown),
        cmocka_unit_test_setup_teardown(load_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(error_unknown_key, setup, teardown),
        cmocka_unit_test_setup_teardown(error_duplicate_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(error_duplicate_key, setup, teardown),
        cmocka_unit_test_setup_teardown(error_duplicate_active, setup, teardown),
        cmocka_unit_test_setup_teardown(error_bad_hex, setup, teardown),
        cmocka_unit_test_setup_teardown(error_short_hex, setup, teardown),
        cmocka_unit_test_setup_teardown(error_long_hex, setup, teardown),
        cmocka_unit_test_setup_teardown(error_key_id_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(error_key_id_too_big, setup, teardown),
        cmocka_unit_test_setup_teardown(error_active_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(error_missing_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(error_missing_active, setup, teardown),
        cmocka_unit_test_setup_teardown(error_active_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(error_no_equals, setup, teardown),
        cmocka_unit_test_setup_teardown(error_empty_file, setup, teardown),
        cmocka_unit_test_setup_teardown(load_api_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(load_shop_secrets_and_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(error_token_bad_scope, setup, teardown),
        cmocka_unit_test_setup_teardown(error_token_bad_hex, setup, teardown),
        cmocka_unit_test_setup_teardown(error_token_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(error_token_bad_name, setup, teardown),
    };

    return cmocka_run_group_tests_name("keys_file", tests, NULL, NULL);
}
