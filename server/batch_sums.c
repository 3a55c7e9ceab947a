/*
 * batch_sums.c - adds up the counter increments of a live campaign batch.
 */
#include "batch_sums.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const kind_names[2] = {"opens", "clicks"};

void batch_sums_reset(struct batch_sums *s)
{
    memset(s->used, 0, sizeof(s->used));
    s->n_used = 0;
    s->n_links = 0;
}

void batch_sums_add(struct batch_sums *s, size_t key, bool is_click,
                    enum sum_column column, int32_t n)
{
    int kind = is_click ? 1 : 0;

    if (!s->used[key][kind][column]) {
        s->used[key][kind][column] = true;
        s->n[key][kind][column] = 0;
        s->n_used++;
    }
    s->n[key][kind][column] += n;
}

int batch_sums_add_link(struct batch_sums *s, const char *message, uint32_t link)
{
    for (size_t i = 0; i < s->n_links; i++) {
        if (s->links[i].link == link && strcmp(s->links[i].message, message) == 0) {
            s->links[i].n++;
            return 0;
        }
    }
    if (s->n_links == BATCH_SUMS_LINKS)
        return -1;
    s->links[s->n_links].message = message;
    s->links[s->n_links].link = link;
    s->links[s->n_links].n = 1;
    s->n_links++;
    return 0;
}

size_t batch_sums_triples(const struct batch_sums *s)
{
    return s->n_used + s->n_links;
}

static void bulk_i32(struct resp_buf *out, int32_t n)
{
    char text[16];
    int len = snprintf(text, sizeof(text), "%" PRId32, n);

    resp_bulk(out, text, (size_t)len);
}

/* Writes the field name of column of a kind: "opens", "unique_opens",
 * "opens:human". */
static void bulk_field(struct resp_buf *out, int kind, enum sum_column column)
{
    char field[48];
    int len;

    if (column == SUM_TOTAL)
        len = snprintf(field, sizeof(field), "%s", kind_names[kind]);
    else if (column == SUM_UNIQUE)
        len = snprintf(field, sizeof(field), "unique_%s", kind_names[kind]);
    else
        len = snprintf(field, sizeof(field), "%s:%s", kind_names[kind],
                       verdict_name((enum verdict)(column - SUM_VERDICT)));
    resp_bulk(out, field, (size_t)len);
}

void batch_sums_encode(const struct batch_sums *s, size_t links_key, struct resp_buf *out)
{
    for (size_t key = 1; key <= BATCH_SUMS_KEYS; key++) {
        for (int kind = 0; kind < 2; kind++) {
            for (int column = 0; column < SUM_COLUMNS; column++) {
                if (!s->used[key][kind][column])
                    continue;
                resp_bulk_u64(out, key);
                bulk_field(out, kind, (enum sum_column)column);
                bulk_i32(out, s->n[key][kind][column]);
            }
        }
    }
    for (size_t i = 0; i < s->n_links; i++) {
        char field[TOKEN_ID_MAX + 1 + RESP_U64_MAX];
        size_t len = strlen(s->links[i].message);

        memcpy(field, s->links[i].message, len);
        field[len++] = ':';
        len += resp_u64_text(s->links[i].link, field + len);
        resp_bulk_u64(out, links_key);
        resp_bulk(out, field, len);
        bulk_i32(out, s->links[i].n);
    }
}
