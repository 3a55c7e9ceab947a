/*
 * keys_edit.c - rewriting the keys file for rotation. The file is small
 * (at most 255 keys and 64 tokens), so it is read whole, changed as text
 * line by line, checked by loading the new text from a temporary file,
 * and renamed over the old one.
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

/* Copies old to out, leaving out every line that sets name. */
static int copy_without(const struct text *old, const char *name,
                        struct text *out)
{
    size_t pos = 0;

    while (pos < old->len) {
        const char *nl = memchr(old->bytes + pos, '\n', old->len - pos);
        size_t end = nl == NULL ? old->len : (size_t)(nl - old->bytes) + 1;

        if (!line_sets(old->bytes + pos, end - pos, name) &&
            text_append(out, old->bytes + pos, end - pos) != 0)
            return -1;
        pos = end;
    }
    return 0;
}

/* Checks text by loading it from a new file next to path, then renames
 * that file over path. */
static int replace_checked(const char *path, const struct text *t,
                           struct keyring *ring, char *err, size_t errsize)
{
    char tmp[4096];
    char load_err[512];
    int fd;
    int rc = -1;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.new.XXXXXX", path) >= sizeof(tmp))
        return errmsg_set(err, errsize, "keys file path is too long: %s", path);
    fd = mkstemp(tmp);
    if (fd < 0)
        return errmsg_set(err, errsize, "cannot create %s: %s", tmp, strerror(errno));

    if (fchmod(fd, S_IRUSR | S_IWUSR) != 0 ||
        write(fd, t->bytes, t->len) != (ssize_t)t->len || fsync(fd) != 0) {
        errmsg_set(err, errsize, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        goto done;
    }
    close(fd);

    if (keys_file_load(tmp, ring, load_err, sizeof(load_err)) != 0) {
        errmsg_set(err, errsize, "the changed keys file would not load, so %s is "
             "unchanged: %s", path, load_err);
        goto done;
    }
    if (rename(tmp, path) != 0) {
        errmsg_set(err, errsize, "cannot replace %s: %s", path, strerror(errno));
        goto done;
    }
    rc = 0;

done:
    if (rc != 0)
        unlink(tmp);
    keyring_wipe(ring);
    return rc;
}

int keys_edit_add(const char *path, bool activate, int *new_id, char *err,
                  size_t errsize)
{
    static struct keyring ring;
    struct text old = {0}, out = {0};
    uint8_t secret[KEYRING_KEY_LEN];
    char line[256];
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
    if (activate ? copy_without(&old, "active_signing_key", &out)
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
    if (activate) {
        snprintf(line, sizeof(line), "active_signing_key = %d\n", id);
        appended |= text_append(&out, line, strlen(line));
    }
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

int keys_edit_count_until(const char *path, int id, const char *until,
                          char *err, size_t errsize)
{
    static struct keyring ring;
    struct text old = {0}, out = {0};
    char name[64];
    char line[160];
    int rc = -1;

    if (id < 1 || id >= KEYRING_MAX_KEYS)
        return errmsg_set(err, errsize, "key id %d is invalid: use 1 to 255", id);
    if (strlen(until) > 40 || strpbrk(until, "\r\n") != NULL)
        return errmsg_set(err, errsize, "end date '%.40s' is invalid: use YYYY-MM-DD",
                    until);
    if (keys_file_load(path, &ring, err, errsize) != 0)
        return -1;
    if (!ring.keys[id].present) {
        keyring_wipe(&ring);
        return errmsg_set(err, errsize, "%s has no signing_key.%d", path, id);
    }
    keyring_wipe(&ring);

    snprintf(name, sizeof(name), "signing_key.%d.count_until", id);
    if (read_file(path, &old, err, errsize) != 0)
        goto done;
    snprintf(line, sizeof(line), "%s = %s\n", name, until);
    if (copy_without(&old, name, &out) != 0 ||
        text_append(&out, line, strlen(line)) != 0) {
        errmsg_set(err, errsize, "out of memory");
        goto done;
    }
    rc = replace_checked(path, &out, &ring, err, errsize);

done:
    text_free(&old);
    text_free(&out);
    return rc;
}
