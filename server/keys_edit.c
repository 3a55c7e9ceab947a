/*
 * keys_edit.c - rewriting the keys file for rotation. The file is small
 * (at most 255 keys and 64 tokens), so it is read whole, changed as text
 * line by line, checked by loading the new text from memory, written to a
 * temporary file and renamed over the old one.
 *
 * An edit replaces a line in place or appends lines. So every line it
 * keeps has the same number in the old file and in the new text, and a
 * message about the new text can name the old file's path and line.
 */
#include "keys_edit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "errmsg.h"
#include "ident.h"
#include "keyring.h"
#include "keys_file.h"

#define KEYS_FILE_MAX (256 * 1024)

/* A growing text buffer. It is wiped when freed, because it contains
 * secrets. */
struct text {
    char *bytes;
    size_t len;
    size_t cap;
};

static int text_append(struct text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2;
        char *bigger = malloc(cap);

        if (bigger == NULL)
            return -1;
        if (t->bytes != NULL) {
            memcpy(bigger, t->bytes, t->len);
            OPENSSL_cleanse(t->bytes, t->cap);
            free(t->bytes);
        }
        t->bytes = bigger;
        t->cap = cap;
    }
    memcpy(t->bytes + t->len, s, n);
    t->len += n;
    t->bytes[t->len] = '\0';
    return 0;
}

static void text_free(struct text *t)
{
    if (t->bytes != NULL) {
        OPENSSL_cleanse(t->bytes, t->cap);
        free(t->bytes);
    }
    memset(t, 0, sizeof(*t));
}

static int read_file(const char *path, struct text *t, char *err, size_t errsize)
{
    char buf[4096];
    FILE *f = fopen(path, "r");
    size_t n;
    int rc = 0;

    if (f == NULL)
        return errmsg_set(err, errsize, "cannot open keys file %s: %s", path,
                    strerror(errno));
    while (rc == 0 && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
        if (t->len + n > KEYS_FILE_MAX || text_append(t, buf, n) != 0)
            rc = errmsg_set(err, errsize, "%s is larger than %d bytes or memory ran "
                      "out", path, KEYS_FILE_MAX);
    }
    if (rc == 0 && ferror(f))
        rc = errmsg_set(err, errsize, "%s: read failed: %s", path, strerror(errno));
    fclose(f);
    OPENSSL_cleanse(buf, sizeof(buf));
    if (rc == 0 && t->len > 0 && t->bytes[t->len - 1] != '\n')
        rc = text_append(t, "\n", 1);
    return rc;
}

/* Tells whether the line line[0..len) sets name, ignoring blanks. */
static bool line_sets(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);
    size_t i = 0;

    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (len - i < n || memcmp(line + i, name, n) != 0)
        return false;
    i += n;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    return i < len && line[i] == '=';
}

/* Copies old to out with the first line that sets name replaced by line
 * (which ends in a newline), in place. *replaced is set when there was
 * one. Returns 0, or -1 when memory runs out. */
static int copy_replacing(const struct text *old, const char *name,
                          const char *line, struct text *out, bool *replaced)
{
    size_t pos = 0;

    *replaced = false;
    while (pos < old->len) {
        const char *nl = memchr(old->bytes + pos, '\n', old->len - pos);
        size_t end = nl == NULL ? old->len : (size_t)(nl - old->bytes) + 1;
        int rc;

        if (!*replaced && line_sets(old->bytes + pos, end - pos, name)) {
            rc = text_append(out, line, strlen(line));
            *replaced = true;
        } else {
            rc = text_append(out, old->bytes + pos, end - pos);
        }
        if (rc != 0)
            return -1;
        pos = end;
    }
    return 0;
}

/* Checks the new text t by loading it from memory, then writes it to a new
 * file next to path and renames that over path. A message names path,
 * never the temporary file, which is gone by the time anyone reads it. */
static int replace_checked(const char *path, const struct text *t,
                           struct keyring *ring, char *err, size_t errsize)
{
    char tmp[4096];
    char load_err[512];
    int fd;
    int rc;

    rc = keys_file_load_text(path, t->bytes, t->len, ring, load_err, sizeof(load_err));
    keyring_wipe(ring);
    if (rc != 0)
        return errmsg_set(err, errsize, "%s is unchanged, because the change would "
                    "make it invalid: %s", path, load_err);

    rc = -1;
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.new.XXXXXX", path) >= sizeof(tmp))
        return errmsg_set(err, errsize, "keys file path is too long: %s", path);
    fd = mkstemp(tmp);
    if (fd < 0)
        return errmsg_set(err, errsize, "cannot create a temporary file next to "
                    "%s: %s", path, strerror(errno));

    if (fchmod(fd, S_IRUSR | S_IWUSR) != 0 ||
        write(fd, t->bytes, t->len) != (ssize_t)t->len || fsync(fd) != 0) {
        errmsg_set(err, errsize, "cannot write a temporary file next to %s, so "
             "%s is unchanged: %s", path, path, strerror(errno));
        close(fd);
        goto done;
    }
    close(fd);

    if (rename(tmp, path) != 0) {
        errmsg_set(err, errsize, "cannot replace %s: %s", path, strerror(errno));
        goto done;
    }
    rc = 0;

done:
    if (rc != 0)
        unlink(tmp);
    return rc;
}

int keys_edit_add(const char *path, bool activate, int *new_id, char *err,
                  size_t errsize)
{
    static struct keyring ring;
    struct text old = {0}, out = {0};
    uint8_t secret[KEYRING_KEY_LEN];
    char line[256];
    char active[64];
    bool replaced = true;
    int id = 0;
    int appended;
    int rc = -1;

    if (keys_file_load(path, &ring, err, errsize) != 0)
        return -1;
    for (int i = 1; i < KEYRING_MAX_KEYS; i++) {
        if (ring.keys[i].present)
            id = i;
    }
    keyring_wipe(&ring);
    if (++id >= KEYRING_MAX_KEYS)
        return errmsg_set(err, errsize, "%s already uses key id 255; remove retired "
                    "keys whose emails no longer matter instead", path);

    if (read_file(path, &old, err, errsize) != 0)
        goto done;
    snprintf(active, sizeof(active), "active_signing_key = %d\n", id);
    if (activate ? copy_replacing(&old, "active_signing_key", active, &out, &replaced)
                 : text_append(&out, old.bytes, old.len)) {
        errmsg_set(err, errsize, "out of memory");
        goto done;
    }

    if (RAND_bytes(secret, sizeof(secret)) != 1) {
        errmsg_set(err, errsize, "RAND_bytes failed: no randomness for the new key");
        goto done;
    }
    snprintf(line, sizeof(line), "\n# added by 'tallyctl keys add'\nsigning_key.%d = ", id);
    appended = text_append(&out, line, strlen(line));
    ident_hex(secret, sizeof(secret), line);
    appended |= text_append(&out, line, strlen(line));
    appended |= text_append(&out, "\n", 1);
    /* A file that loads has an active_signing_key line, so this appends
     * only when line_sets missed it. The check then rejects the repeat. */
    if (!replaced)
        appended |= text_append(&out, active, strlen(active));
    if (appended != 0) {
        errmsg_set(err, errsize, "out of memory");
        goto done;
    }

    if (replace_checked(path, &out, &ring, err, errsize) == 0) {
        *new_id = id;
        rc = 0;
    }

done:
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(line, sizeof(line));
    text_free(&old);
    text_free(&out);
    return rc;
}

/* Replaces the line of the keys file at path that sets name by line (which
 * ends in a newline), in place, or appends line when no line sets name.
 * The result is checked and written as replace_checked does. Returns 0, or
 * -1 with a reason in err. */
static int set_line(const char *path, const char *name, const char *line, char *err,
                    size_t errsize)
{
    static struct keyring ring;
    struct text old = {0}, out = {0};
    bool replaced;
    int rc = -1;

    if (read_file(path, &old, err, errsize) != 0)
        goto done;
    if (copy_replacing(&old, name, line, &out, &replaced) != 0 ||
        (!replaced && text_append(&out, line, strlen(line)) != 0)) {
        errmsg_set(err, errsize, "out of memory");
        goto done;
    }
    rc = replace_checked(path, &out, &ring, err, errsize);

done:
    text_free(&old);
    text_free(&out);
    return rc;
}

int keys_edit_activate(const char *path, int id, char *err, size_t errsize)
{
    static struct keyring ring;
    char line[64];
    bool present;
    bool retired;

    if (id < 1 || id >= KEYRING_MAX_KEYS)
        return errmsg_set(err, errsize, "key id %d is invalid: use 1 to 255", id);
    if (keys_file_load(path, &ring, err, errsize) != 0)
        return -1;
    present = ring.keys[id].present;
    retired = ring.keys[id].count_until != 0;
    keyring_wipe(&ring);
    if (!present)
        return errmsg_set(err, errsize, "%s has no signing_key.%d", path, id);
    if (retired)
        return errmsg_set(err, errsize, "key %d has an end date in %s, so its new "
                    "links would stop counting: add a new key with tallyctl keys "
                    "add", id, path);

    snprintf(line, sizeof(line), "active_signing_key = %d\n", id);
    return set_line(path, "active_signing_key", line, err, errsize);
}

int keys_edit_count_until(const char *path, int id, const char *until,
                          char *err, size_t errsize)
{
    static struct keyring ring;
    char name[64];
    char line[160];
    uint32_t until_s;
    bool active;
    bool present;

    if (id < 1 || id >= KEYRING_MAX_KEYS)
        return errmsg_set(err, errsize, "key id %d is invalid: use 1 to 255", id);
    /* Checked here rather than by loading the result, whose line for the
     * date may be a new one that the file does not have yet. */
    if (strlen(until) > 40 || keys_file_parse_count_until(until, &until_s) != 0)
        return errmsg_set(err, errsize, "end date '%.40s' is invalid: use a UTC "
                    "date YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ", until);
    if (keys_file_load(path, &ring, err, errsize) != 0)
        return -1;
    present = ring.keys[id].present;
    active = id == ring.active_id;
    keyring_wipe(&ring);
    if (!present)
        return errmsg_set(err, errsize, "%s has no signing_key.%d", path, id);
    if (active)
        return errmsg_set(err, errsize, "key %d is active in %s, so its new links "
                    "would stop counting: activate another key first with "
                    "tallyctl keys activate --id N", id, path);

    snprintf(name, sizeof(name), "signing_key.%d.count_until", id);
    snprintf(line, sizeof(line), "%s = %s\n", name, until);
    return set_line(path, name, line, err, errsize);
}
