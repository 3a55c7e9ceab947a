/*
 * readerset.h - a set of reader ids, built once and then only searched.
 *
 * Holds the readers on the suppression list (their events are answered
 * but never recorded). The list names readers by email_sha256; the server
 * derives each one's reader id when it loads the list, so a lookup per
 * event is a binary search over 12-byte ids.
 */
#ifndef TALLY_READERSET_H
#define TALLY_READERSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "token.h"

struct readerset {
    uint8_t (*ids)[TOKEN_READER_LEN];
    size_t n;
    size_t cap;
};

/* Empties *set; it needs no allocation until the first add. */
void readerset_init(struct readerset *set);
void readerset_free(struct readerset *set);

/* Adds a reader id. Returns 0, or -1 when memory runs out. Call
 * readerset_finish before the first readerset_contains. */
int readerset_add(struct readerset *set, const uint8_t id[TOKEN_READER_LEN]);

/* Sorts the ids and drops repeats. */
void readerset_finish(struct readerset *set);

/* Tells whether id is in the set (O(log n)). */
bool readerset_contains(const struct readerset *set,
                        const uint8_t id[TOKEN_READER_LEN]);

#endif
