/*
 * refdata.c - reading the data files of refdata.h.
 */
#include "refdata.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "log.h"
#include "errmsg.h"

/* Feeds every line of one data file to list. A missing file adds nothing
 * and counts in *missing. */
static int load_list(struct classify_tables *t, const char *dir,
                     enum classify_list list, bool is_range, int *missing,
                     char *err, size_t errsize)
{
    char path[1200];
    FILE *f;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int number = 0;
    int rc = 0;

    snprintf(path, sizeof(path), "%s/%s/%s.txt", dir, is_range ? "ranges" : "agents",
             classify_list_name(list));
    f = fopen(path, "r");
    if (f == NULL && errno == ENOENT) {
        LOG_NOTICE("refdata.file_missing", "path=%s hint=\"treated as empty\"", path);
        (*missing)++;
        return 0;
    }
    if (f == NULL)
        return errmsg_set(err, errsize, "cannot read %s: %s", path, strerror(errno));

    while (rc == 0 && (len = getline(&line, &cap, f)) != -1) {
        number++;
        rc = classify_tables_add_line(t, list, is_range, line, (size_t)len);
        if (rc == -1)
            errmsg_set(err, errsize, "%s:%d: invalid %s", path, number,
                 is_range ? "CIDR block (use ADDR/PREFIX with the host bits zero)"
                          : "pattern (longer than 1024 bytes or a control byte)");
        else if (rc == -2)
            errmsg_set(err, errsize, "%s:%d: out of memory", path, number);
    }
    if (rc == 0 && ferror(f))
        rc = errmsg_set(err, errsize, "cannot read %s: %s", path, strerror(errno));
    free(line);
    fclose(f);
    return rc;
}

/* Parses one line of the suppression file into a reader id. Returns 1 for
 * an id, 0 for a blank or comment line, -1 for anything else. */
static int suppression_line(struct signer *s, char *line, uint8_t reader[TOKEN_READER_LEN])
{
    uint8_t hash[IDENT_SHA256_LEN];
    char *hash_mark = strchr(line, '#');
    size_t start = 0, end;

    if (hash_mark != NULL)
        *hash_mark = '\0';
    end = strlen(line);
    while (start < end && strchr(" \t\r\n", line[start]) != NULL)
        start++;
    while (end > start && strchr(" \t\r\n", line[end - 1]) != NULL)
        end--;
    if (start == end)
        return 0;
    if (ident_parse_sha256_hex(line + start, end - start, hash) != 0 ||
        ident_reader_id(s, hash, reader) != 0)
        return -1;
    return 1;
}

static int load_suppression(struct readerset *set, const char *path,
                            struct signer *s, char *err, size_t errsize)
{
    uint8_t reader[TOKEN_READER_LEN];
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    int number = 0;
    int rc = 0;

    if (f == NULL)
        return errmsg_set(err, errsize, "cannot read suppression_file %s: %s", path,
                    strerror(errno));
    while (rc == 0 && getline(&line, &cap, f) != -1) {
        int found;

        number++;
        found = suppression_line(s, line, reader);
        if (found < 0)
            rc = errmsg_set(err, errsize, "%s:%d: expected an email_sha256 of 64 hex digits",
                      path, number);
        else if (found > 0 && readerset_add(set, reader) != 0)
            rc = errmsg_set(err, errsize, "%s:%d: out of memory", path, number);
    }
    if (rc == 0 && ferror(f))
        rc = errmsg_set(err, errsize, "cannot read %s: %s", path, strerror(errno));
    free(line);
    fclose(f);
    readerset_finish(set);
    return rc;
}

struct refdata *refdata_load(const char *dir, const char *suppression_file,
                             struct signer *s, char *err, size_t errsize)
{
    struct refdata *d = calloc(1, sizeof(*d));
    int missing = 0;

    if (d == NULL) {
        errmsg_set(err, errsize, "out of memory loading the reference data");
        return NULL;
    }
    atomic_init(&d->refs, 1);
    classify_tables_init(&d->classify);
    readerset_init(&d->suppressed);

    for (int list = 0; list < CLASSIFY_LIST_COUNT; list++) {
        if (load_list(&d->classify, dir, (enum classify_list)list, true, &missing, err,
                      errsize) != 0 ||
            load_list(&d->classify, dir, (enum classify_list)list, false, &missing, err,
                      errsize) != 0)
            goto failed;
    }
    classify_tables_finish(&d->classify);
    /* One missing list may be deliberate; none found at all is most likely
     * a relative default (./data) read from another directory. */
    if (missing == 2 * CLASSIFY_LIST_COUNT)
        LOG_WARN("refdata.classify_data_missing",
                 "dir=%s hint=\"no classification file found, so every open and "
                 "click counts as a person's; set classify_data to the data "
                 "directory of tally's source tree or installation\"", dir);

    if (suppression_file != NULL && suppression_file[0] != '\0' &&
        load_suppression(&d->suppressed, suppression_file, s, err, errsize) != 0)
        goto failed;

    LOG_NOTICE("refdata.loaded",
               "dir=%s privacy_proxy_ranges=%zu privacy_proxy_agents=%zu "
               "image_proxy_ranges=%zu image_proxy_agents=%zu scanner_ranges=%zu "
               "scanner_agents=%zu suppressed_readers=%zu",
               dir, d->classify.ranges[CLASSIFY_LIST_PRIVACY_PROXY].n,
               d->classify.agents[CLASSIFY_LIST_PRIVACY_PROXY].n,
               d->classify.ranges[CLASSIFY_LIST_IMAGE_PROXY].n,
               d->classify.agents[CLASSIFY_LIST_IMAGE_PROXY].n,
               d->classify.ranges[CLASSIFY_LIST_SCANNER].n,
               d->classify.agents[CLASSIFY_LIST_SCANNER].n, d->suppressed.n);
    return d;

failed:
    refdata_release(d);
    return NULL;
}

void refdata_retain(struct refdata *d)
{
    atomic_fetch_add_explicit(&d->refs, 1, memory_order_relaxed);
}

void refdata_release(struct refdata *d)
{
    if (d == NULL)
        return;
    /* acq_rel: the thread that frees must see every other thread's reads
     * of the tables finished. */
    if (atomic_fetch_sub_explicit(&d->refs, 1, memory_order_acq_rel) != 1)
        return;
    classify_tables_free(&d->classify);
    readerset_free(&d->suppressed);
    free(d);
}
