/*
 * keys_file.h - loading and generating the keys file.
 *
 *   # comments and blank lines are ignored
 *   reader_secret = <64 hex digits>
 *   signing_key.1 = <64 hex digits>
 *   signing_key.2 = <64 hex digits>
 *   active_signing_key = 2
 *   signing_key.1.count_until = 2027-01-01
 *   shop_secret.default = <64 hex digits>
 *   api_token.dashboard = read <64 hex digits>
 *
 * Key ids are 1..255. The active key must be present and has no end date.
 * count_until (a UTC date, or YYYY-MM-DDTHH:MM:SSZ) is when a retired key's
 * links stop counting; they keep redirecting. A shop_secret.<shop> line
 * (shop: 1 to 32 of A-Z a-z 0-9 . _ -, at most KEYRING_MAX_SHOPS of them)
 * lets that shop's backend sign POST /v1/conversions. API tokens (see
 * auth.h) are optional; their names are 1 to 32 of A-Z a-z 0-9 . _ - and
 * each names its scopes. The reader secret is never rotated casually:
 * changing it gives every reader a new id.
 */
#ifndef TALLY_KEYS_FILE_H
#define TALLY_KEYS_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "auth.h"
#include "keyring.h"

/* Loads path into *ring (wiped first). Returns 0, or -1 with a one-line reason
 * in err that names the file and line but never a secret. A file readable by
 * group or others loads, with a warning log line. */
int keys_file_load(const char *path, struct keyring *ring, char *err,
                   size_t errsize);

/* Loads path like keys_file_load, and also its api_token lines into
 * *tokens (wiped first; both are wiped again on failure). keys_file_load
 * checks api_token lines just as strictly but keeps none of them. */
int keys_file_load_all(const char *path, struct keyring *ring,
                       struct auth_tokens *tokens, char *err, size_t errsize);

/* Loads the keys file text text[0..len) into *ring like keys_file_load,
 * naming name in its messages: the file that text is meant to replace, so
 * that a message points at a file the user can open. text stays the
 * caller's, and no copy of it is left behind. */
int keys_file_load_text(const char *name, const char *text, size_t len,
                        struct keyring *ring, char *err, size_t errsize);

/* Parses a signing_key.N.count_until value, YYYY-MM-DD (midnight UTC) or
 * YYYY-MM-DDTHH:MM:SSZ, into *out in Unix seconds. Returns 0, or -1 for
 * another form, a date that does not exist (2027-02-31) or a time that
 * does not fit in 32-bit Unix seconds after 1970-01-01T00:00:00Z. */
int keys_file_parse_count_until(const char *value, uint32_t *out);

/* Writes a new keys file with fresh random secrets (RAND_bytes), signing
 * key 1 active and a read-scope API token named "dashboard" to out. Returns 0, or -1 when randomness or writing fails. */
int keys_file_generate(FILE *out);

#endif
