/*
 * test_journal.c - the journal file: records come back in order across a
 * reopen, a torn or damaged tail is cut off, a full journal rejects
 * appends, a record whose fdatasync failed stays, and a second opener is
 * locked out.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "journal.h"
#include "log.h"

#define LARGE (1u << 20)

/* The Makefile links this test with -Wl,--wrap=fdatasync, so journal.c's
 * calls come here; the names are the linker's. */
int __real_fdatasync(int fd);
int __wrap_fdatasync(int fd);
static bool fdatasync_fails;

int __wrap_fdatasync(int fd)
{
    if (fdatasync_fails) {
        errno = EIO;
        return -1;
    }
    return __real_fdatasync(fd);
}

static char dir[64];
static char path[128];

static int setup(void **state)
{
    (void)state;
    log_min_level = LOG_LEVEL_ERROR + 1; /* the torn-tail warnings are expected */
    strcpy(dir, "/tmp/tally-journal-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/test.journal", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    rmdir(dir);
    return 0;
}

static void make_record(struct event_record *rec, uint64_t seq)
{
    memset(rec, 0, sizeof(*rec));
    memset(rec->writer, 0xa5, EVENT_WRITER_LEN);
    memcpy(rec->touch_writer, rec->writer, EVENT_WRITER_LEN);
    rec->seq = seq;
    rec->touch_seq = seq;
    rec->ev.kind = EVENT_OPEN;
    rec->ev.time = 1796000000;
    snprintf(rec->ev.u.touch.campaign, sizeof(rec->ev.u.touch.campaign), "c%llu",
             (unsigned long long)seq);
    strcpy(rec->ev.u.touch.message, "a");
}

static struct journal *open_journal(size_t max_bytes)
{
    char err[256];
    struct journal *j = journal_open(path, JOURNAL_FSYNC_NO, max_bytes, err, sizeof(err));

    if (j == NULL)
        fail_msg("journal_open: %s", err);
    return j;
}

static void append_n(struct journal *j, uint64_t first, uint64_t n)
{
    struct event_record rec;

    for (uint64_t seq = first; seq < first + n; seq++) {
        make_record(&rec, seq);
        assert_int_equal(journal_append(j, &rec), JOURNAL_OK);
    }
}

/* Reads every record from the head and checks their seqs run from first
 * to first + n - 1. */
static void assert_records(struct journal *j, uint64_t first, uint64_t n)
{
    uint64_t cursor = journal_head(j);
    struct event_record rec, want;
    uint64_t frames;

    for (uint64_t seq = first; seq < first + n; seq++) {
        assert_int_equal(journal_read(j, &cursor, &rec, &frames), 1);
        assert_int_equal(frames, 1);
        make_record(&want, seq);
        assert_memory_equal(&rec, &want, sizeof(rec));
    }
    assert_int_equal(journal_read(j, &cursor, &rec, &frames), 0);
    assert_int_equal(journal_pending(j), n);
}

static off_t file_size(void)
{
    struct stat sb;

    assert_int_equal(stat(path, &sb), 0);
    return sb.st_size;
}

static void journal_keeps_order_across_reopen(void **state)
{
    struct journal *j = open_journal(LARGE);

    (void)state;
    append_n(j, 1, 50);
    assert_records(j, 1, 50);
    journal_close(j, false);

    /* Pending records keep the file even when removal is asked for. */
    j = open_journal(LARGE);
    assert_records(j, 1, 50);
    journal_close(j, true);
    assert_int_equal(access(path, F_OK), 0);
}

static void journal_consumes_from_front(void **state)
{
    struct journal *j = open_journal(LARGE);
    uint64_t cursor, frames;
    struct event_record rec;

    (void)state;
    append_n(j, 1, 10);
    cursor = journal_head(j);
    for (int i = 0; i < 4; i++)
        assert_int_equal(journal_read(j, &cursor, &rec, &frames), 1);
    journal_consume_to(j, cursor, 4);
    assert_records(j, 5, 6);

    /* A reset while records are pending changes nothing. */
    assert_int_equal(journal_reset(j), 0);
    assert_records(j, 5, 6);
    journal_close(j, true);

    /* Consumption lives in memory: a reopen replays from the start. */
    j = open_journal(LARGE);
    assert_records(j, 1, 10);
    journal_close(j, false);
}

static void journal_reset_empties_file(void **state)
{
    struct journal *j = open_journal(LARGE);
    uint64_t cursor, frames;
    struct event_record rec;

    (void)state;
    append_n(j, 1, 3);
    cursor = journal_head(j);
    while (journal_read(j, &cursor, &rec, &frames) == 1)
        ;
    journal_consume_to(j, cursor, 3);
    assert_int_equal(journal_reset(j), 0);
    assert_int_equal(journal_size(j), 8);
    assert_int_equal(file_size(), 8);

    append_n(j, 7, 2);
    assert_records(j, 7, 2);
    cursor = journal_head(j);
    while (journal_read(j, &cursor, &rec, &frames) == 1)
        ;
    journal_consume_to(j, cursor, 2);
    journal_close(j, true);
    assert_int_not_equal(access(path, F_OK), 0);
}

static void journal_cuts_torn_tail(void **state)
{
    struct journal *j = open_journal(LARGE);
    off_t whole;

    (void)state;
    append_n(j, 1, 5);
    whole = file_size();
    journal_close(j, false);

    /* Every cut inside the last record leaves the first four. */
    for (off_t cut = 1; cut < 40; cut += 3) {
        assert_int_equal(truncate(path, whole - cut), 0);
        j = open_journal(LARGE);
        assert_records(j, 1, 4);
        append_n(j, 5, 1);
        assert_int_equal(file_size(), whole);
        journal_close(j, false);
    }
}

static void journal_cuts_damaged_record(void **state)
{
    struct journal *j = open_journal(LARGE);
    off_t whole;
    FILE *f;
    int byte;

    (void)state;
    append_n(j, 1, 5);
    whole = file_size();
    journal_close(j, false);

    /* Flip a byte inside the payload of the last record. */
    f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, whole - 5, SEEK_SET), 0);
    byte = fgetc(f);
    assert_int_not_equal(byte, EOF);
    /* C requires a positioning call between a read and a write. */
    assert_int_equal(fseek(f, whole - 5, SEEK_SET), 0);
    assert_int_equal(fputc(byte ^ 0x5a, f), byte ^ 0x5a);
    assert_int_equal(fclose(f), 0);

    j = open_journal(LARGE);
    assert_records(j, 1, 4);
    journal_close(j, false);
}

static void journal_cuts_garbage_after_records(void **state)
{
    struct journal *j = open_journal(LARGE);
    FILE *f;

    (void)state;
    append_n(j, 1, 2);
    journal_close(j, false);

    f = fopen(path, "ab");
    assert_non_null(f);
    fputs("\xff\xff\xff\xffgarbage", f);
    fclose(f);

    j = open_journal(LARGE);
    assert_records(j, 1, 2);
    journal_close(j, false);
}

static void journal_rejects_foreign_file(void **state)
{
    char err[256];
    FILE *f = fopen(path, "wb");

    (void)state;
    assert_non_null(f);
    fputs("not a journal at all", f);
    fclose(f);
    assert_null(journal_open(path, JOURNAL_FSYNC_NO, LARGE, err, sizeof(err)));
    assert_non_null(strstr(err, "not a tally journal"));
}

static void journal_locks_out_second_opener(void **state)
{
    struct journal *j = open_journal(LARGE);
    char err[256];

    (void)state;
    assert_null(journal_open(path, JOURNAL_FSYNC_NO, LARGE, err, sizeof(err)));
    assert_non_null(strstr(err, "locked"));
    journal_close(j, false);

    j = open_journal(LARGE);
    journal_close(j, false);
}

static void journal_full_rejects_append(void **state)
{
    struct journal *j = open_journal(256);
    struct event_record rec;
    uint64_t n = 0;

    (void)state;
    for (;;) {
        make_record(&rec, n + 1);
        enum journal_result r = journal_append(j, &rec);

        if (r == JOURNAL_FULL)
            break;
        assert_int_equal(r, JOURNAL_OK);
        n++;
    }
    assert_true(n > 0);
    assert_true(journal_size(j) <= 256);
    assert_records(j, 1, n);
    journal_close(j, false);
}

static void journal_rejects_invalid_record(void **state)
{
    struct journal *j = open_journal(LARGE);
    struct event_record rec;

    (void)state;
    make_record(&rec, 1);
    strcpy(rec.ev.u.touch.campaign, "bad:id");
    assert_int_equal(journal_append(j, &rec), JOURNAL_INVALID);
    assert_int_equal(journal_pending(j), 0);
    journal_close(j, false);
}

static void journal_fsync_always_appends(void **state)
{
    char err[256];
    struct journal *j = journal_open(path, JOURNAL_FSYNC_ALWAYS, LARGE, err, sizeof(err));

    (void)state;
    assert_non_null(j);
    append_n(j, 1, 3);
    assert_int_equal(journal_sync(j), 0);
    assert_records(j, 1, 3);
    journal_close(j, false);
}

/* A failed fdatasync leaves the record in the file, where this process
 * reads it back: cutting it off would lose the event for certain, while
 * only a crash of the machine can lose a record not synced. */
static void journal_failed_fsync_keeps_record(void **state)
{
    char err[256];
    struct journal *j = journal_open(path, JOURNAL_FSYNC_ALWAYS, LARGE, err, sizeof(err));
    struct event_record rec;

    (void)state;
    assert_non_null(j);
    append_n(j, 1, 1);
    make_record(&rec, 2);
    fdatasync_fails = true;
    assert_int_equal(journal_append(j, &rec), JOURNAL_NOT_SYNCED);
    fdatasync_fails = false;
    assert_int_equal(journal_pending(j), 2);
    append_n(j, 3, 1);
    assert_records(j, 1, 3);
    journal_close(j, false);

    j = open_journal(LARGE);
    assert_records(j, 1, 3);
    journal_close(j, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(journal_keeps_order_across_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(journal_consumes_from_front, setup, teardown),
        cmocka_unit_test_setup_teardown(journal_reset_empties_file, setup, teardown),
        cmocka_unit_test_setup_teardown(journal_cuts_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(journal_cuts_damaged_record, setup, teardown),
        cmocka_unit_test_setup_teardown(journal_cuts_garbage_after_records, setup, teardown),
        cmocka_unit_test_setup_teardown(journal_rejects_foreign_file, setup, teardown),
        cmocka_unit_test_setup_teardown(journal_locks_out_second_opener, setup, teardown),
        cmocka_unit_test_setup_teardown(journal_full_rejects_append, setup, teardown),
        cmocka_unit_test_setup_teardown(journal_rejects_invalid_record, setup, teardown),
        cmocka_unit_test_setup_teardown(journal_fsync_always_appends, setup, teardown),
        cmocka_unit_test_setup_teardown(journal_failed_fsync_keeps_record, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
