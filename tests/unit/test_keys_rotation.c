/*
 * test_keys_rotation.c - the rotation parts of the keys file: end dates
 * (signing_key.N.count_until) next to API token lines, and the in-place
 * edits of server/keys_edit.c. Files go to a fresh temporary
 * directory per test.
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

#include "auth.h"
#include "keys_edit.h"
#include "keys_file.h"
#include "signer.h"

#define HEX_A "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define HEX_B "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"
#define BASE_FILE "reader_secret = " HEX_A "\nsigning_key.1 = " HEX_B "\n"

struct fixture {
    char dir[64];
    char path[128];
    char err[512];
    struct keyring ring;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/test_keys_rotation.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/keys.conf", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[160];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void write_keys(const struct fixture *f, const char *text)
{
    FILE *out = fopen(f->path, "w");

    assert_non_null(out);
    fputs(text, out);
    fclose(out);
    chmod(f->path, 0600);
}

static int load(struct fixture *f)
{
    return keys_file_load(f->path, &f->ring, f->err, sizeof(f->err));
}

static void count_until_parsed(void **state)
{
    struct fixture *f = *state;
    struct signer *s;

    write_keys(f, BASE_FILE "signing_key.1.count_until = 2027-01-01\n"
                  "signing_key.2 = " HEX_A "\nactive_signing_key = 2\n"
                  "signing_key.3.count_until = 2030-06-01T12:00:00Z\n"
                  "signing_key.3 = " HEX_B "\n");
    assert_int_equal(load(f), 0);
    assert_int_equal(f->ring.keys[1].count_until, 1798761600);
    assert_int_equal(f->ring.keys[3].count_until, 1906545600);
    assert_int_equal(f->ring.keys[2].count_until, 0);

    s = signer_new(&f->ring);
    assert_non_null(s);
    assert_true(signer_key_counts(s, 1, 1798761599));
    assert_false(signer_key_counts(s, 1, 1798761600));
    assert_true(signer_key_counts(s, 2, 4000000000u));
    signer_free(s);
}

static void count_until_rejected(void **state)
{
    static const struct {
        const char *extra;
        const char *fragment;
    } cases[] = {
        {"signing_key.1.count_until = 2027-02-31\nactive_signing_key = 2\n"
         "signing_key.2 = " HEX_A "\n", "is invalid: use a UTC date"},
        {"signing_key.1.count_until = tomorrow\nactive_signing_key = 2\n"
         "signing_key.2 = " HEX_A "\n", "is invalid"},
        {"signing_key.1.count_until = 2027-01-01\nactive_signing_key = 1\n",
         "key 1 is active"},
        {"signing_key.7.count_until = 2027-01-01\nactive_signing_key = 1\n",
         "signing_key.7 is not in the file"},
        {"signing_key.1.count_until = 2027-01-01\n"
         "signing_key.1.count_until = 2028-01-01\nactive_signing_key = 1\n",
         "set twice"},
    };
    struct fixture *f = *state;
    char text[1024];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(text, sizeof(text), "%s%s", BASE_FILE, cases[i].extra);
        write_keys(f, text);
        assert_int_equal(load(f), -1);
        if (strstr(f->err, cases[i].fragment) == NULL)
            fail_msg("case %zu: '%s' lacks '%s'", i, f->err, cases[i].fragment);
    }
}

static void end_dates_beside_api_tokens(void **state)
{
    struct fixture *f = *state;
    static struct auth_tokens tokens;

    write_keys(f, BASE_FILE "api_token.sender = sign " HEX_A "\n"
                  "signing_key.2 = " HEX_A "\nactive_signing_key = 2\n"
                  "signing_key.1.count_until = 2027-01-01\n");
    assert_int_equal(load(f), 0);
    assert_int_equal(f->ring.keys[1].count_until, 1798761600);

    assert_int_equal(keys_file_load_all(f->path, &f->ring, &tokens, f->err,
                                        sizeof(f->err)), 0);
    assert_int_equal(tokens.count, 1);
    assert_string_equal(tokens.tokens[0].name, "sender");
    assert_int_equal(f->ring.keys[1].count_until, 1798761600);
    auth_tokens_wipe(&tokens);
}

static void edit_add_and_retire(void **state)
{
    struct fixture *f = *state;
    int id = 0;
    struct stat st;

    write_keys(f, "# my comment\n" BASE_FILE "active_signing_key = 1\n");
    assert_int_equal(keys_edit_add(f->path, true, &id, f->err, sizeof(f->err)), 0);
    assert_int_equal(id, 2);
    assert_int_equal(load(f), 0);
    assert_int_equal(f->ring.active_id, 2);
    assert_true(f->ring.keys[1].present);
    assert_memory_not_equal(f->ring.keys[1].secret, f->ring.keys[2].secret,
                            KEYRING_KEY_LEN);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    assert_int_equal(keys_edit_add(f->path, false, &id, f->err, sizeof(f->err)), 0);
    assert_int_equal(id, 3);
    assert_int_equal(load(f), 0);
    assert_int_equal(f->ring.active_id, 2);

    assert_int_equal(keys_edit_count_until(f->path, 1, "2027-01-01", f->err,
                                           sizeof(f->err)), 0);
    assert_int_equal(keys_edit_count_until(f->path, 1, "2028-01-01", f->err,
                                           sizeof(f->err)), 0);
    assert_int_equal(load(f), 0);
    assert_int_equal(f->ring.keys[1].count_until, 1830297600);

    assert_int_equal(keys_edit_count_until(f->path, 2, "2027-01-01", f->err,
                                           sizeof(f->err)), -1);
    assert_non_null(strstr(f->err, "is active"));
    assert_int_equal(keys_edit_count_until(f->path, 9, "2027-01-01", f->err,
                                           sizeof(f->err)), -1);
    assert_int_equal(keys_edit_count_until(f->path, 1, "2027-13-01", f->err,
                                           sizeof(f->err)), -1);
    assert_int_equal(load(f), 0);
    assert_int_equal(f->ring.keys[1].count_until, 1830297600);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(count_until_parsed, setup, teardown),
        cmocka_unit_test_setup_teardown(count_until_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(end_dates_beside_api_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(edit_add_and_retire, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
