/*
 * journal.h - an append-only file of event records that Redis could not
 * take yet.
 *
 * The file starts with the 8-byte magic "TALLYJ1\n". Each record follows
 * as a 4-byte big-endian payload length, a 4-byte big-endian CRC-32 (zlib's
 * crc32) of the length bytes and the payload, and the payload: one record
 * in the form of event_codec.h. Records are read back in the order they
 * were appended, and consumed from the front as Redis accepts them.
 *
 * One journal belongs to one event loop, which is the only thread that
 * touches it; an exclusive flock keeps a second tallyd out of it.
 */
#ifndef TALLY_JOURNAL_H
#define TALLY_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event_codec.h"

#define JOURNAL_SUFFIX ".journal"

/* When appended records are forced to disk, as Redis's appendfsync. */
enum journal_fsync {
    JOURNAL_FSYNC_ALWAYS = 0, /* fdatasync after every append */
    JOURNAL_FSYNC_EVERYSEC,   /* journal_sync from a 1-second timer */
    JOURNAL_FSYNC_NO,         /* never; the kernel writes back on its own */
};

enum journal_result {
    JOURNAL_OK = 0,
    JOURNAL_FULL,     /* the record would take the file past max_bytes */
    JOURNAL_IO_ERROR, /* the write failed (logged) */
    JOURNAL_INVALID,  /* the record does not encode */
    /* Under JOURNAL_FSYNC_ALWAYS: written, and read back like any other
     * record, but fdatasync failed (logged), so a crash of the machine may
     * lose it. */
    JOURNAL_NOT_SYNCED,
};

struct journal;

/* Opens the journal at path, creating it when missing, and locks it.
 * Checks the magic, then reads every record to find the end of the valid
 * part: a torn or damaged tail is cut off and logged with its offset and
 * size. Returns the journal, or NULL with a reason in err when the file
 * cannot be created, locked (another process holds it), read or is not a
 * journal. */
struct journal *journal_open(const char *path, enum journal_fsync fsync,
                             size_t max_bytes, char *err, size_t errsize);

/* Tells whether another open file holds the lock of the journal at path
 * (journal_open's): 1 when it does, 0 when it is free, -1 when the file
 * is gone or cannot be opened (errno set). */
int journal_lock_state(const char *path);

/* Appends rec, and forces it to disk under JOURNAL_FSYNC_ALWAYS. On
 * JOURNAL_FULL, JOURNAL_IO_ERROR and JOURNAL_INVALID the file is left as it
 * was before the call; on JOURNAL_NOT_SYNCED the record stays. */
enum journal_result journal_append(struct journal *j, const struct event_record *rec);

/* Returns the offset of the first record not yet consumed: where a
 * reading cursor starts. */
uint64_t journal_head(const struct journal *j);

/* Reads the record at *cursor into *rec and moves *cursor past it, without
 * consuming anything. *frames counts every record the cursor passed, at
 * least 1 on success. A record whose checksum matches but which does not
 * decode (written by a newer version, or damaged in a way the checksum
 * missed) is logged and stepped over. Returns 1 with a record, 0 at the
 * end, or -1 after logging a read error. */
int journal_read(struct journal *j, uint64_t *cursor, struct event_record *rec,
                 uint64_t *frames);

/* Consumes the records before offset, a cursor position; frames is how
 * many records that is. */
void journal_consume_to(struct journal *j, uint64_t offset, uint64_t frames);

/* Number of records appended or found at open and not yet consumed. */
uint64_t journal_pending(const struct journal *j);

/* Bytes of the file: magic plus records, consumed ones included until
 * journal_reset. */
uint64_t journal_size(const struct journal *j);

/* Empties the file when every record is consumed, so it does not grow
 * across outages. Returns 0, or -1 after logging a failure. */
int journal_reset(struct journal *j);

/* Forces appended records to disk if any were appended since the last
 * sync. Returns 0, or -1 after logging a failure. */
int journal_sync(struct journal *j);

/* Syncs, unlocks and closes j. With remove_if_empty, a journal whose
 * records are all consumed is also deleted. NULL is a no-op. */
void journal_close(struct journal *j, bool remove_if_empty);

/* Returns the path the journal was opened with. */
const char *journal_path(const struct journal *j);

#endif
