/*
 * test_pidfile.c - state_dir/tallyd.pid: written with this process's id,
 * a held file is not taken over, a stale one is, and a release removes
 * only the file it locks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pidfile.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/tally-pidfile-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/%s", dir, PIDFILE_NAME);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return rmdir(dir);
}

static void read_file(char *text, size_t size)
{
    FILE *f = fopen(path, "r");
    size_t n;

    assert_non_null(f);
    n = fread(text, 1, size - 1, f);
    text[n] = '\0';
    fclose(f);
}

static void write_file(const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Checks that the pid file contains this process's id and a newline. */
static void assert_own_pid_written(void)
{
    char text[32], want[32];

    snprintf(want, sizeof(want), "%ld\n", (long)getpid());
    read_file(text, sizeof(text));
    assert_string_equal(text, want);
}

static void pidfile_claim_writes_pid(void **state)
{
    char err[512] = "";
    int fd;

    (void)state;
    fd = pidfile_claim(dir, err, sizeof(err));
    assert_true(fd >= 0);
    assert_own_pid_written();

    pidfile_release(fd, dir);
    assert_int_equal(access(path, F_OK), -1);
}

static void pidfile_held_not_taken(void **state)
{
    char want[64], err[512] = "";
    int first, second;

    (void)state;
    first = pidfile_claim(dir, err, sizeof(err));
    assert_true(first >= 0);

    /* flock locks belong to an open file description, so a second claim
     * by this process finds the lock held like another tallyd would. */
    second = pidfile_claim(dir, err, sizeof(err));
    assert_int_equal(second, -1);
    snprintf(want, sizeof(want), "locked by the running tallyd pid %ld,",
             (long)getpid());
    if (strstr(err, want) == NULL)
        fail_msg("error '%s' lacks '%s'", err, want);
    assert_int_equal(access(path, F_OK), 0);
    pidfile_release(first, dir);
}

static void pidfile_stale_taken_over(void **state)
{
    char err[512] = "";
    int fd;

    (void)state;
    write_file("999999999\nleft by a tallyd that died\n");
    fd = pidfile_claim(dir, err, sizeof(err));
    assert_true(fd >= 0);
    assert_own_pid_written();
    pidfile_release(fd, dir);
}

static void pidfile_release_keeps_newer_file(void **state)
{
    char text[32];
    char err[512] = "";
    int fd;

    (void)state;
    fd = pidfile_claim(dir, err, sizeof(err));
    assert_true(fd >= 0);
    /* Another tallyd replaced the file after this one's drain began. */
    assert_int_equal(unlink(path), 0);
    write_file("4242\n");

    pidfile_release(fd, dir);
    read_file(text, sizeof(text));
    assert_string_equal(text, "4242\n");
    pidfile_release(-1, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(pidfile_claim_writes_pid, setup, teardown),
        cmocka_unit_test_setup_teardown(pidfile_held_not_taken, setup, teardown),
        cmocka_unit_test_setup_teardown(pidfile_stale_taken_over, setup, teardown),
        cmocka_unit_test_setup_teardown(pidfile_release_keeps_newer_file, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
