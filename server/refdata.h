/*
 * refdata.h - the reference data tallyd judges events by: the address
 * ranges and user-agent patterns that classify opens and clicks, and the
 * suppression list of readers who opted out.
 *
 * Loaded at start and again on SIGHUP. A load builds a new, read-only
 * struct refdata; each worker holds a counted reference to the one it
 * uses and swaps to a newer one in its own thread, between requests, so a
 * reload drops no connection and no request ever sees half a table.
 *
 * Layout of the classification directory (classify_data), where VERDICT
 * is privacy_proxy, image_proxy or scanner and each file is optional:
 *
 *   DIR/ranges/VERDICT.txt   one CIDR block per line
 *   DIR/agents/VERDICT.txt   one fnmatch glob per line, whole user agent
 *
 * '#' starts a comment in every file. The suppression file holds one
 * email_sha256 (64 hex digits) per line.
 */
#ifndef TALLY_REFDATA_H
#define TALLY_REFDATA_H

#include <stdatomic.h>
#include <stddef.h>

#include "classify.h"
#include "readerset.h"

struct signer;

struct refdata {
    atomic_uint refs;
    struct classify_tables classify;
    struct readerset suppressed; /* reader ids of the suppression list */
};

/* Reads the classification directory dir and the suppression file (NULL
 * or "" for none), deriving each listed reader id with s. Returns a new
 * refdata holding one reference, or NULL with a one-line reason naming
 * the file and line in err. A missing data file counts as empty (logged);
 * a missing suppression file is an error, because silently recording
 * readers who opted out is worse than refusing to start. */
struct refdata *refdata_load(const char *dir, const char *suppression_file,
                             struct signer *s, char *err, size_t errsize);

/* Adds a reference. Any thread. */
void refdata_retain(struct refdata *d);

/* Drops a reference and frees d with the last one. NULL is ignored. */
void refdata_release(struct refdata *d);

#endif
