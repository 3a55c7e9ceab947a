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

/* Returns line number (counted from 1) of the file at path, in a static
 * buffer. */
static const char *file_line(const char *path, int number)
{
    static char line[256];
    FILE *in = fopen(path, "r");

    assert_non_null(in);
    for (int i = 0; i < number; i++)
        assert_non_null(fgets(line, sizeof(line), in));
    fclose(in);
    return line;
}

/* Counts the entries of dir. */
static size_t files_in(const char *dir)
{
    char cmd[160];
    FILE *ls;
    char name[256];
    size_t n = 0;

    snprintf(cmd, sizeof(cmd), "ls -A '%s'", dir);
    ls = popen(cmd, "r");
    assert_non_null(ls);
    while (fgets(name, sizeof(name), ls) != NULL)
        n++;
    pclose(ls);
    return n;
}

/* Rotation without broken links adds a key, loads it everywhere, and only
 * then makes it active. A key with an end date cannot be made active. */
static void edit_activate(void **state)
{
    struct fixture *f = *state;
    int id = 0;

    write_keys(f, "# my comment\n" BASE_FILE "active_signing_key = 1\n");
    assert_int_equal(keys_edit_add(f->path, false, &id, f->err, sizeof(f->err)), 0);
    assert_int_equal(keys_edit_activate(f->path, id, f->err, sizeof(f->err)), 0);
    assert_int_equal(load(f), 0);
    assert_int_equal(f->ring.active_id, 2);
    assert_string_equal(file_line(f->path, 1), "# my comment\n");
    assert_string_equal(file_line(f->path, 4), "active_signing_key = 2\n");

    assert_int_equal(keys_edit_count_until(f->path, 1, "2027-01-01", f->err,
                                           sizeof(f->err)), 0);
    assert_int_equal(keys_edit_activate(f->path, 1, f->err, sizeof(f->err)), -1);
    assert_non_null(strstr(f->err, "key 1 has an end date"));
    assert_int_equal(keys_edit_activate(f->path, 7, f->err, sizeof(f->err)), -1);
    assert_non_null(strstr(f->err, "has no signing_key.7"));
    assert_int_equal(keys_edit_activate(f->path, 0, f->err, sizeof(f->err)), -1);
    assert_non_null(strstr(f->err, "key id 0 is invalid"));
    assert_int_equal(load(f), 0);
    assert_int_equal(f->ring.active_id, 2);
}

static void edit_errors_name_keys_file(void **state)
{
    struct fixture *f = *state;
    int id = 0;

    write_keys(f, BASE_FILE "active_signing_key = 1\n");
    assert_int_equal(keys_edit_add(f->path, true, &id, f->err, sizeof(f->err)), 0);

    assert_int_equal(keys_edit_count_until(f->path, 2, "2027-01-01", f->err,
                                           sizeof(f->err)), -1);
    assert_non_null(strstr(f->err, "key 2 is active"));
    assert_non_null(strstr(f->err, f->path));
    assert_null(strstr(f->err, ".new."));

    assert_int_equal(keys_edit_count_until(f->path, 1, "2027-02-31", f->err,
                                           sizeof(f->err)), -1);
    assert_non_null(strstr(f->err, "'2027-02-31' is invalid"));
    assert_null(strstr(f->err, ".new."));

    /* No temporary file is left next to the keys file. */
    assert_int_equal(files_in(f->dir), 1);
}

static void edit_keeps_line_numbers(void **state)
{
    struct fixture *f = *state;
    int id = 0;

    write_keys(f, BASE_FILE "signing_key.2 = " HEX_A "\n"
                  "signing_key.1.count_until = 2027-01-01\n"
                  "active_signing_key = 2\n"
                  "# last line\n");

    assert_int_equal(keys_edit_count_until(f->path, 1, "2028-01-01", f->err,
                                           sizeof(f->err)), 0);
    assert_string_equal(file_line(f->path, 4), "signing_key.1.count_until = 2028-01-01\n");
    assert_string_equal(file_line(f->path, 6), "# last line\n");

    assert_int_equal(keys_edit_add(f->path, true, &id, f->err, sizeof(f->err)), 0);
    assert_int_equal(id, 3);
    assert_string_equal(file_line(f->path, 5), "active_signing_key = 3\n");
    assert_string_equal(file_line(f->path, 6), "# last line\n");
    assert_int_equal(load(f), 0);
    assert_int_equal(f->ring.active_id, 3);
}

static void load_text_names_file(void **state)
{
    struct fixture *f = *state;
    static const char text[] = BASE_FILE "active_signing_key = 1\nno_such_key = 1\n";

    assert_int_equal(keys_file_load_text("keys.conf", text, sizeof(text) - 1, &f->ring,
                                         f->err, sizeof(f->err)), -1);
    assert_non_null(strstr(f->err, "keys.conf:4: unknown key 'no_such_key'"));
    assert_false(f->ring.keys[1].present);

    assert_int_equal(keys_file_load_text("keys.conf", text, sizeof(text) - 17, &f->ring,
                                         f->err, sizeof(f->err)), 0);
    assert_int_equal(f->ring.active_id, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(count_until_parsed, setup, teardown),
        cmocka_unit_test_setup_teardown(count_until_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(end_dates_beside_api_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(edit_add_and_retire, setup, teardown),
        cmocka_unit_test_setup_teardown(edit_activate, setup, teardown),
        cmocka_unit_test_setup_teardown(edit_errors_name_keys_file, setup, teardown),
        cmocka_unit_test_setup_teardown(edit_keeps_line_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(load_text_names_file, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
