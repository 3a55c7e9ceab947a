/*
 * readerset.c - the sorted array of readerset.h.
 */
#include "readerset.h"

#include <stdlib.h>
#include <string.h>

void readerset_init(struct readerset *set)
{
    memset(set, 0, sizeof(*set));
}

void readerset_free(struct readerset *set)
{
    free(set->ids);
    memset(set, 0, sizeof(*set));
}

int readerset_add(struct readerset *set, const uint8_t id[TOKEN_READER_LEN])
{
    if (set->n == set->cap) {
        size_t cap = set->cap == 0 ? 16 : 2 * set->cap;
        uint8_t (*grown)[TOKEN_READER_LEN] = realloc(set->ids, cap * sizeof(*grown));

        if (grown == NULL)
            return -1;
        set->ids = grown;
        set->cap = cap;
    }
    memcpy(set->ids[set->n++], id, TOKEN_READER_LEN);
    return 0;
}

static int compare_ids(const void *a, const void *b)
{
    return memcmp(a, b, TOKEN_READER_LEN);
}

void readerset_finish(struct readerset *set)
{
    size_t kept = 0;

    if (set->n == 0)
        return;
    qsort(set->ids, set->n, sizeof(set->ids[0]), compare_ids);
    for (size_t i = 1; i < set->n; i++) {
        if (memcmp(set->ids[i], set->ids[kept], TOKEN_READER_LEN) != 0)
            memcpy(set->ids[++kept], set->ids[i], TOKEN_READER_LEN);
    }
    set->n = kept + 1;
}

bool readerset_contains(const struct readerset *set,
                        const uint8_t id[TOKEN_READER_LEN])
{
    if (set->n == 0)
        return false;
    return bsearch(id, set->ids, set->n, sizeof(set->ids[0]), compare_ids) != NULL;
}
