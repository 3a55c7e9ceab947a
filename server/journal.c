/*
 * journal.c - the journal file: framing, checksums, crash recovery.
 *
 * Appends go straight to the file with one write(2) each and no user-space
 * buffer. A record that journal_append accepted therefore survives a crash
 * of tallyd itself, and fsync only matters for a crash of the machine.
 * Reads use pread at the consumed offset, so appending and replaying share
 * one descriptor without seeking.
 */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "log.h"

#define MAGIC "TALLYJ1\n"
#define MAGIC_LEN 8
#define FRAME_LEN 8 /* length and CRC-32 */

struct journal {
    int fd;
    char path[1024];
    enum journal_fsync fsync;
    uint64_t max_bytes;
    uint64_t read_off; /* first record not consumed */
    uint64_t end_off;  /* end of the last valid record */
    uint64_t pending;
    bool dirty;        /* appended since the last sync */
};

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The CRC covers the length bytes too, so a damaged length is caught
 * before its payload is trusted. */
static uint32_t frame_crc(const uint8_t *len_bytes, const uint8_t *payload, size_t len)
{
    uLong crc = crc32(0L, Z_NULL, 0);

    crc = crc32(crc, len_bytes, 4);
    crc = crc32(crc, payload, (uInt)len);
    return (uint32_t)crc;
}

/* Reads exactly n bytes at off. Returns n, fewer at the end of the file,
 * or -1 on a read error. */
static ssize_t read_at(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = pread(fd, (uint8_t *)buf + got, n - got, (off_t)(off + got));

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

enum frame_status { FRAME_OK, FRAME_END, FRAME_TORN, FRAME_READ_ERROR };

/* Reads the frame at off into payload (EVENT_RECORD_MAX bytes) and sets
 * *len. FRAME_END means the file ends exactly at off. */
static enum frame_status read_frame(int fd, uint64_t off, uint8_t *payload, size_t *len)
{
    uint8_t frame[FRAME_LEN];
    ssize_t got = read_at(fd, frame, FRAME_LEN, off);
    uint32_t n;

    if (got < 0)
        return FRAME_READ_ERROR;
    if (got == 0)
        return FRAME_END;
    if (got < FRAME_LEN)
        return FRAME_TORN;

    n = get_be32(frame);
    if (n == 0 || n > EVENT_RECORD_MAX)
        return FRAME_TORN;
    got = read_at(fd, payload, n, off + FRAME_LEN);
    if (got < 0)
        return FRAME_READ_ERROR;
    if ((size_t)got < n || frame_crc(frame, payload, n) != get_be32(frame + 4))
        return FRAME_TORN;
    *len = n;
    return FRAME_OK;
}

/* Walks the records from the magic on, counting them, and cuts the file
 * after the last one whose frame is whole and whose checksum matches. */
static int recover(struct journal *j, uint64_t file_size, char *err, size_t errsize)
{
    uint8_t payload[EVENT_RECORD_MAX];
    uint64_t off = MAGIC_LEN;
    size_t len;
    enum frame_status status;

    while ((status = read_frame(j->fd, off, payload, &len)) == FRAME_OK) {
        off += FRAME_LEN + len;
        j->pending++;
    }
    if (status == FRAME_READ_ERROR) {
        snprintf(err, errsize, "cannot read journal %s: %s", j->path, strerror(errno));
        return -1;
    }
    if (off < file_size) {
        /* NOTE: a damaged record in the middle also ends the valid part,
         * so the records behind it are cut off with the tail. */
        LOG_WARN("journal.torn_tail", "path=%s offset=%llu bytes_dropped=%llu records_kept=%llu",
                 j->path, (unsigned long long)off,
                 (unsigned long long)(file_size - off), (unsigned long long)j->pending);
        if (ftruncate(j->fd, (off_t)off) != 0) {
            snprintf(err, errsize, "cannot truncate journal %s: %s", j->path,
                     strerror(errno));
            return -1;
        }
    }
    j->read_off = MAGIC_LEN;
    j->end_off = off;
    return 0;
}

/* Writes the magic into an empty file, or checks it in an existing one. */
static int check_magic(struct journal *j, uint64_t file_size, char *err, size_t errsize)
{
    char magic[MAGIC_LEN];

    if (file_size == 0) {
        if (write(j->fd, MAGIC, MAGIC_LEN) != MAGIC_LEN || fdatasync(j->fd) != 0) {
            snprintf(err, errsize, "cannot write journal %s: %s", j->path, strerror(errno));
            return -1;
        }
        return 0;
    }
    if (file_size < MAGIC_LEN || read_at(j->fd, magic, MAGIC_LEN, 0) != MAGIC_LEN ||
        memcmp(magic, MAGIC, MAGIC_LEN) != 0) {
        snprintf(err, errsize, "%s is not a tally journal (wrong magic); move it away",
                 j->path);
        return -1;
    }
    return 0;
}

struct journal *journal_open(const char *path, enum journal_fsync fsync,
                             size_t max_bytes, char *err, size_t errsize)
{
    struct journal *j = calloc(1, sizeof(*j));
    struct stat sb;

    if (j == NULL) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    j->fd = -1;
    j->fsync = fsync;
    j->max_bytes = max_bytes;
    if (strlen(path) >= sizeof(j->path)) {
        snprintf(err, errsize, "journal path is longer than %zu bytes", sizeof(j->path) - 1);
        goto fail;
    }
    strcpy(j->path, path);

    /* NOTE: a new file is visible, empty and unlocked between this open and
     * the flock below. A tallyd starting in that moment could adopt it,
     * find it empty and remove it, and this journal's events would then go
     * to a removed file. Creating it under a temporary name and renaming
     * it once locked would close that gap. */
    j->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (j->fd < 0) {
        snprintf(err, errsize, "cannot open journal %s: %s", path, strerror(errno));
        goto fail;
    }
    if (flock(j->fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errsize, "journal %s is locked by another process", path);
        goto fail;
    }
    if (fstat(j->fd, &sb) != 0) {
        snprintf(err, errsize, "cannot stat journal %s: %s", path, strerror(errno));
        goto fail;
    }
    if (check_magic(j, (uint64_t)sb.st_size, err, errsize) != 0 ||
        recover(j, sb.st_size == 0 ? MAGIC_LEN : (uint64_t)sb.st_size, err, errsize) != 0)
        goto fail;
    return j;

fail:
    if (j->fd >= 0)
        close(j->fd);
    free(j);
    return NULL;
}

int journal_lock_state(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int state;

    if (fd < 0)
        return -1;
    state = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK ? 1 : 0;
    close(fd); /* which also drops the shared lock */
    return state;
}

enum journal_result journal_append(struct journal *j, const struct event_record *rec)
{
    uint8_t buf[FRAME_LEN + EVENT_RECORD_MAX];
    size_t len = event_record_encode(rec, buf + FRAME_LEN, EVENT_RECORD_MAX);
    ssize_t written;

    if (len == 0)
        return JOURNAL_INVALID;
    if (j->end_off + FRAME_LEN + len > j->max_bytes)
        return JOURNAL_FULL;

    put_be32(buf, (uint32_t)len);
    put_be32(buf + 4, frame_crc(buf, buf + FRAME_LEN, len));
    do {
        written = write(j->fd, buf, FRAME_LEN + len);
    } while (written < 0 && errno == EINTR);

    if (written != (ssize_t)(FRAME_LEN + len)) {
        LOG_LIMITED(LOG_LEVEL_ERROR, "journal.write_failed", "path=%s error=\"%s\"",
                    j->path, written < 0 ? strerror(errno) : "short write");
        /* Cut a partial record off, so the next append starts clean. */
        if (written > 0 && ftruncate(j->fd, (off_t)j->end_off) != 0)
            LOG_LIMITED(LOG_LEVEL_ERROR, "journal.truncate_failed", "path=%s error=\"%s\"",
                        j->path, strerror(errno));
        return JOURNAL_IO_ERROR;
    }
    j->end_off += FRAME_LEN + len;
    j->pending++;
    j->dirty = true;

    /* The record stays after a failed fdatasync: this process reads it
     * back from the page cache, so only a crash of the machine could lose
     * it, while cutting it off would lose it for certain. */
    if (j->fsync == JOURNAL_FSYNC_ALWAYS && journal_sync(j) != 0)
        return JOURNAL_NOT_SYNCED;
    return JOURNAL_OK;
}

uint64_t journal_head(const struct journal *j)
{
    return j->read_off;
}

int journal_read(struct journal *j, uint64_t *cursor, struct event_record *rec,
                 uint64_t *frames)
{
    uint8_t payload[EVENT_RECORD_MAX];
    size_t len;

    *frames = 0;
    while (*cursor < j->end_off) {
        enum frame_status status = read_frame(j->fd, *cursor, payload, &len);
        enum event_codec_status decoded;

        if (status != FRAME_OK) {
            /* recover() checked every frame up to end_off. */
            LOG_LIMITED(LOG_LEVEL_ERROR, "journal.read_failed",
                        "path=%s offset=%llu error=\"%s\"", j->path,
                        (unsigned long long)*cursor,
                        status == FRAME_READ_ERROR ? strerror(errno) : "changed on disk");
            return -1;
        }
        decoded = event_record_decode(payload, len, rec);
        *cursor += FRAME_LEN + len;
        (*frames)++;
        if (decoded == EVENT_CODEC_OK)
            return 1;
        LOG_LIMITED(LOG_LEVEL_ERROR, "journal.record_undecodable",
                    "path=%s offset=%llu reason=%s", j->path,
                    (unsigned long long)(*cursor - FRAME_LEN - len),
                    event_codec_status_name(decoded));
    }
    return 0;
}

void journal_consume_to(struct journal *j, uint64_t offset, uint64_t frames)
{
    j->read_off = offset;
    j->pending -= frames;
}

uint64_t journal_pending(const struct journal *j)
{
    return j->pending;
}

uint64_t journal_size(const struct journal *j)
{
    return j->end_off;
}

int journal_reset(struct journal *j)
{
    if (j->pending != 0 || j->end_off == MAGIC_LEN)
        return 0;
    if (ftruncate(j->fd, MAGIC_LEN) != 0) {
        LOG_ERROR("journal.truncate_failed", "path=%s error=\"%s\"", j->path, strerror(errno));
        return -1;
    }
    j->read_off = MAGIC_LEN;
    j->end_off = MAGIC_LEN;
    j->dirty = true;
    return 0;
}

int journal_sync(struct journal *j)
{
    if (!j->dirty)
        return 0;
    if (fdatasync(j->fd) != 0) {
        LOG_LIMITED(LOG_LEVEL_ERROR, "journal.fsync_failed", "path=%s error=\"%s\"",
                    j->path, strerror(errno));
        return -1;
    }
    j->dirty = false;
    return 0;
}

void journal_close(struct journal *j, bool remove_if_empty)
{
    if (j == NULL)
        return;
    journal_sync(j);
    if (remove_if_empty && j->pending == 0 && unlink(j->path) != 0)
        LOG_ERROR("journal.remove_failed", "path=%s error=\"%s\"", j->path, strerror(errno));
    close(j->fd);
    free(j);
}

const char *journal_path(const struct journal *j)
{
    return j->path;
}
