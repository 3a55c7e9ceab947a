/*
 * fuzz_rewrite.c - libFuzzer target for the HTML scanner and the rewriter.
 *
 * The input is a template. For every input that builds a plan, the target
 * checks four things. Links lie inside the input in increasing order
 * without overlap. Every tracked link names an existing destination that
 * passes url_check_destination. Rendering writes exactly
 * rewrite_render_len bytes. Putting the original values back and removing
 * the pixel gives the input byte for byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rewrite.h"
#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CLICK "https://t.example/c/X"
#define PIXEL "https://t.example/o/P.gif"

struct sink {
    char *bytes;
    size_t len;
    size_t cap;
};

static int collect(void *arg, const char *bytes, size_t n)
{
    struct sink *s = arg;

    if (s->len + n > s->cap)
        abort();
    memcpy(s->bytes + s->len, bytes, n);
    s->len += n;
    return 0;
}

/* Rebuilds the input from the output: pixel out, original values back. */
static void check_round_trip(const struct rewrite_plan *plan, const char *in,
                             size_t size, const struct sink *out)
{
    const size_t click_len = sizeof CLICK - 1;
    const size_t pixel_len = sizeof REWRITE_PIXEL_BEFORE - 1 + sizeof PIXEL - 1 +
                             sizeof REWRITE_PIXEL_AFTER - 1;
    size_t in_pos = 0;
    size_t out_pos = 0;
    bool pixel_done = false;

    for (size_t i = 0; i <= plan->n_links; i++) {
        const struct rewrite_link *l = i < plan->n_links ? &plan->links[i] : NULL;
        size_t upto = l != NULL ? l->value_start : size;

        if (l != NULL && l->action != REWRITE_TRACKED)
            continue;
        if (!pixel_done && plan->pixel_at <= upto) {
            size_t n = plan->pixel_at - in_pos;
            if (memcmp(out->bytes + out_pos, in + in_pos, n) != 0)
                abort();
            out_pos += n + pixel_len;
            in_pos = plan->pixel_at;
            pixel_done = true;
        }
        if (memcmp(out->bytes + out_pos, in + in_pos, upto - in_pos) != 0)
            abort();
        out_pos += upto - in_pos;
        if (l == NULL)
            break;
        if (memcmp(out->bytes + out_pos, CLICK, click_len) != 0)
            abort();
        out_pos += click_len;
        in_pos = l->value_end;
    }
    if (out_pos != out->len)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    struct rewrite_options opts = {.tracked_base = "https://t.example",
                                   .utm = size % 2 == 0, .utm_source = "s",
                                   .utm_medium = "m", .utm_campaign = "c"};
    struct rewrite_plan plan;
    struct rewrite_error err;
    const char **urls;
    size_t *lens;
    struct sink out = {0};
    size_t prev_end = 0;

    if (rewrite_plan_build(in, size, &opts, &plan, &err) != 0)
        return 0;

    for (size_t i = 0; i < plan.n_links; i++) {
        const struct rewrite_link *l = &plan.links[i];

        if (l->value_start < prev_end || l->value_end < l->value_start ||
            l->value_end > size)
            abort();
        prev_end = l->value_end;
        if (l->action == REWRITE_TRACKED &&
            (l->link_id == 0 || l->link_id > plan.n_dests))
            abort();
    }
    for (size_t i = 0; i < plan.n_dests; i++) {
        if (url_check_destination(plan.dests[i].url, plan.dests[i].len, "tly") != URL_OK)
            abort();
    }

    urls = calloc(plan.n_dests + 1, sizeof *urls);
    lens = calloc(plan.n_dests + 1, sizeof *lens);
    if (urls == NULL || lens == NULL)
        abort();
    for (size_t i = 0; i < plan.n_dests; i++) {
        urls[i] = CLICK;
        lens[i] = sizeof CLICK - 1;
    }
    out.cap = rewrite_render_len(&plan, size, lens, sizeof PIXEL - 1);
    out.bytes = malloc(out.cap + 1);
    if (out.bytes == NULL ||
        rewrite_render(&plan, in, size, urls, lens, PIXEL, sizeof PIXEL - 1,
                       collect, &out) != 0 ||
        out.len != out.cap)
        abort();
    check_round_trip(&plan, in, size, &out);

    free(out.bytes);
    free(urls);
    free(lens);
    rewrite_plan_free(&plan);
    return 0;
}
