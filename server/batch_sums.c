/*
 * batch_sums.c - adds up the counter increments of a live campaign batch.
 */
#include "batch_sums.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static const char *const kind_names[2] = {"opens", "clicks"};

/* Field names by kind and column ("opens", "unique_opens", "opens:human"),
 * built once, because formatting them with snprintf for every sum cost
 * several thousand instructions per batch under callgrind. */
static char field_names[2][SUM_COLUMNS][32];
static size_t field_lens[2][SUM_COLUMNS];
static pthread_once_t field_names_once = PTHREAD_ONCE_INIT;

static void build_field_names(void)
{
    for (int kind = 0; kind < 2; kind++) {
        for (int column = 0; column < SUM_COLUMNS; column++) {
            char *out = field_names[kind][column];
            int len;

            if (column == SUM_TOTAL)
                len = snprintf(out, sizeof(field_names[0][0]), "%s", kind_names[kind]);
            else if (column == SUM_UNIQUE)
                len = snprintf(out, sizeof(field_names[0][0]), "unique_%s", kind_names[kind]);
            else
                len = snprintf(out, sizeof(field_names[0][0]), "%s:%s", kind_names[kind],
                               verdict_name((enum verdict)(column - SUM_VERDICT)));
            field_lens[kind][column] = (size_t)len;
        }
    }
}

void batch_sums_reset(struct batch_sums *s)
{
    pthread_once(&field_names_once, build_field_names);
    for (size_t i = 0; i < s->n_used; i++)
        s->position[s->used[i].key][s->used[i].kind][s->used[i].column] = 0;
    s->n_used = 0;
    s->n_links = 0;
}

void batch_sums_add(struct batch_sums *s, size_t key, bool is_click,
                    enum sum_column column, int32_t n)
{
    int kind = is_click ? 1 : 0;

    if (s->position[key][kind][column] == 0) {
        s->used[s->n_used].key = (uint8_t)key;
        s->used[s->n_used].kind = (uint8_t)kind;
        s->used[s->n_used].column = (uint8_t)column;
        s->n_used++;
        s->position[key][kind][column] = (uint16_t)s->n_used;
        s->n[key][kind][column] = 0;
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
    char text[1 + RESP_U64_MAX];
    uint64_t magnitude = n < 0 ? (uint64_t)-(int64_t)n : (uint64_t)n;
    size_t sign = n < 0 ? 1 : 0;

    text[0] = '-';
    resp_bulk(out, text, sign + resp_u64_text(magnitude, text + sign));
}

void batch_sums_encode(const struct batch_sums *s, size_t links_key, struct resp_buf *out)
{
    for (size_t i = 0; i < s->n_used; i++) {
        int key = s->used[i].key, kind = s->used[i].kind, column = s->used[i].column;

        resp_bulk_u64(out, (uint64_t)key);
        resp_bulk(out, field_names[kind][column], field_lens[kind][column]);
        bulk_i32(out, s->n[key][kind][column]);
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
