/*
 * keys_file.h - loading and generating the keys file.
 *
 *   # comments and blank lines are ignored
 *   reader_secret = <64 hex digits>
 *   signing_key.1 = <64 hex digits>
 *   signing_key.2 = <64 hex digits>
 *   active_signing_key = 2
 *   shop_secret.default = <64 hex digits>
 *
 * Key ids are 1..255. The active key must be present. A shop_secret.<shop>
 * line (shop: 1 to 32 of A-Z a-z 0-9 . _ -, at most KEYRING_MAX_SHOPS of
 * them) lets that shop's backend sign POST /v1/conversions. The reader secret is
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
