/*
 * keys_file.h - loading and generating the keys file.
 *
 *   # comments and blank lines are ignored
 *   reader_secret = <64 hex digits>
 *   signing_key.1 = <64 hex digits>
 *   signing_key.2 = <64 hex digits>
 *   active_signing_key = 2
 *   api_token.NAME = SCOPES <64 hex digits>   (read by auth.h)
 *
 * Key ids are 1..255. The active key must be present. The reader secret is
 * never rotated casually: changing it gives every reader a new id.
 */
#ifndef TALLY_KEYS_FILE_H
#define TALLY_KEYS_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "keyring.h"

/* Loads path into *ring (wiped first). Returns 0, or -1 with a one-line reason
 * in err that names the file and line but never a secret. A file readable by
 * group or others loads, with a warning log line. */
int keys_file_load(const char *path, struct keyring *ring, char *err,
                   size_t errsize);

/* Writes a new keys file with fresh random secrets (RAND_bytes) and signing
 * key 1 active to out. Returns 0, or -1 when randomness or writing fails. */
int keys_file_generate(FILE *out);

#endif
