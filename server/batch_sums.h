/*
 * batch_sums.h - the counter increments of a batch of opens and clicks,
 * added up before they are sent.
 *
 * A live campaign batch (store_batch.c) is applied all at once or not at
 * all, so its events need not reach Redis one by one: the store adds their
 * counts up here and CAMPAIGN_SUMS applies one HINCRBY per key and field.
 * That keeps the per-event work (11 arguments and a Lua loop turn each)
 * out of Redis. Keys are named by their index in the command's KEYS, from
 * 1; fields by kind and column, so a sum is found by indexing, not by
 * comparing field names.
 */
#ifndef TALLY_BATCH_SUMS_H
#define TALLY_BATCH_SUMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classify.h"
#include "resp.h"
#include "token.h"

/* Columns of a kind ("opens" or "clicks") in a counter hash: the total,
 * the unique count, then one per verdict ("opens:human", ...). */
enum sum_column {
    SUM_TOTAL = 0,
    SUM_UNIQUE,
    SUM_VERDICT, /* + verdict */
    SUM_COLUMNS = SUM_VERDICT + VERDICT_COUNT,
};

/* Keys a batch can name: as many as CAMPAIGN_TOUCH's KEYS hold. */
#define BATCH_SUMS_KEYS 60
/* Distinct links a batch can click: one per event at most. */
#define BATCH_SUMS_LINKS 256

/* Every (key, kind, column) a batch can name. */
#define BATCH_SUMS_MAX ((BATCH_SUMS_KEYS + 1) * 2 * SUM_COLUMNS)

struct batch_sums {
    int32_t n[BATCH_SUMS_KEYS + 1][2][SUM_COLUMNS];
    /* 0 when unused, else 1 + the position in used. Reset and encoding
     * walk used only, because a batch of opens of a few messages in one
     * hour uses a few dozen of the 1,220 sums. */
    uint16_t position[BATCH_SUMS_KEYS + 1][2][SUM_COLUMNS];
    struct {
        uint8_t key, kind, column;
    } used[BATCH_SUMS_MAX];
    size_t n_used;
    struct {
        const char *message; /* points into the event; lives as long as the batch */
        uint32_t link;
        int32_t n;
    } links[BATCH_SUMS_LINKS];
    size_t n_links;
};

/* Empties s, which must be zeroed before its first use. */
void batch_sums_reset(struct batch_sums *s);

/* Adds n to column of the opens (is_click false) or clicks of KEYS[key].
 * key is from 1 to BATCH_SUMS_KEYS. A sum that ends at 0 is still sent, as
 * an HINCRBY by 0, so the field exists as it would after the events one by
 * one. */
void batch_sums_add(struct batch_sums *s, size_t key, bool is_click,
                    enum sum_column column, int32_t n);

/* Counts one click on link of message, for the links hash. Returns -1 when
 * the table is full, which a batch with one link per event cannot reach. */
int batch_sums_add_link(struct batch_sums *s, const char *message, uint32_t link);

/* Returns the number of (key, field, increment) triples batch_sums_encode
 * writes: links count as triples of the links key. */
size_t batch_sums_triples(const struct batch_sums *s);

/* Writes each sum as three bulk strings, in the order they were first
 * added: the key's index, the field and the signed increment. Links go to
 * KEYS[links_key] as "message:link". */
void batch_sums_encode(const struct batch_sums *s, size_t links_key, struct resp_buf *out);

#endif
