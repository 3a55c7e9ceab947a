/*
 * keys_edit.h - changing a keys file in place for key rotation: adding a
 * signing key, making one active and giving a retired key an end date.
 *
 * Each change keeps every existing line and comment and checks the result
 * with keys_file_load before it replaces the file. The replacement is
 * atomic (a new file in the same directory, mode 600, fsync, rename), so
 * tallyd never reads a half-written file on SIGHUP.
 */
#ifndef TALLY_KEYS_EDIT_H
#define TALLY_KEYS_EDIT_H

#include <stdbool.h>
#include <stddef.h>

/* Appends a new random signing key under the lowest unused id above every
 * present one, and makes it active when activate is set. *new_id receives
 * its id. Returns 0, or -1 with a one-line reason in err (never a secret). */
int keys_edit_add(const char *path, bool activate, int *new_id, char *err,
                  size_t errsize);

/* Makes signing key id the one that signs new links. Returns 0, or -1 with
 * a reason in err: an unknown key, or one with an end date, whose new
 * links would not count. */
int keys_edit_activate(const char *path, int id, char *err, size_t errsize);

/* Sets signing_key.<id>.count_until = until (YYYY-MM-DD or
 * YYYY-MM-DDTHH:MM:SSZ), replacing an earlier end date of that key.
 * Returns 0, or -1 with a reason in err: an unknown key, the active key,
 * a malformed date. */
int keys_edit_count_until(const char *path, int id, const char *until,
                          char *err, size_t errsize);

#endif
