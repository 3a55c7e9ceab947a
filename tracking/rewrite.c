/*
 * rewrite.c - the link rules, the plan and the per-recipient output of
 * rewrite.h.
 *
 * Each href of <a>, <area> and a VML element (v:roundrect, v:rect, ...)
 * goes through the checks of classify() in a fixed order; the first that
 * matches decides. The value is first decoded the way a browser would
 * read it: character references decoded, ASCII tab and newline removed,
 * leading and trailing whitespace cut.
 */
#include "rewrite.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "html_scan.h"
#include "token.h"
#include "url.h"

const struct rewrite_merge_tag rewrite_default_merge_tags[] = {
    {"{{", "}}"}, {"*|", "|*"}, {"%%", "%%"}, {"{$", "}"}, {"[[", "]]"},
};
const size_t rewrite_default_merge_tag_count =
    sizeof rewrite_default_merge_tags / sizeof rewrite_default_merge_tags[0];

const char *const rewrite_default_skip_patterns[] = {
    "unsubscribe", "optout", "opt-out", "opt_out", "preferences",
    "manage-subscription",
};
const size_t rewrite_default_skip_pattern_count =
    sizeof rewrite_default_skip_patterns / sizeof rewrite_default_skip_patterns[0];

const char *rewrite_action_name(enum rewrite_action action)
{
    switch (action) {
    case REWRITE_TRACKED:
        return "tracked";
    case REWRITE_SKIP_OFF:
        return "data-tally-off";
    case REWRITE_SKIP_EMPTY:
        return "empty";
    case REWRITE_SKIP_MERGE_TAG:
        return "merge-tag";
    case REWRITE_SKIP_ANCHOR:
        return "anchor";
    case REWRITE_SKIP_SCHEME:
        return "not-http";
    case REWRITE_SKIP_TRACKED:
        return "already-tracked";
    case REWRITE_SKIP_PATTERN:
        return "unsubscribe";
    }
    return "unknown";
}

/* State of one rewrite_plan_build run. */
struct builder {
    const struct rewrite_options *opts;
    const char *html;
    struct rewrite_plan *plan;
    struct rewrite_error *err;
    size_t links_cap;
    size_t dests_cap;
    size_t line_offset; /* line is the line number of this offset */
    unsigned line;
    char *scratch;      /* decoded value, then the UTM form */
    size_t scratch_cap;
};

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Finds needle (any case) in hay[0..len). */
static bool contains_nocase(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; n <= len && i <= len - n; i++) {
        size_t j = 0;

        while (j < n && lower(hay[i + j]) == lower(needle[j]))
            j++;
        if (j == n)
            return true;
    }
    return false;
}

static bool starts_nocase(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);

    if (len < n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (lower(s[i]) != lower(prefix[i]))
            return false;
    }
    return true;
}

static int fail(struct builder *b, enum rewrite_status status, unsigned line,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Fills b->err and returns -1. */
static int fail(struct builder *b, enum rewrite_status status, unsigned line,
                const char *fmt, ...)
{
    va_list ap;

    b->err->status = status;
    b->err->line = line;
    va_start(ap, fmt);
    vsnprintf(b->err->message, sizeof b->err->message, fmt, ap);
    va_end(ap);
    return -1;
}

/* Returns the line number of offset, counting forward from the last call:
 * tags arrive in input order, so each byte is counted once. */
static unsigned line_of(struct builder *b, size_t offset)
{
    for (; b->line_offset < offset; b->line_offset++) {
        if (b->html[b->line_offset] == '\n')
            b->line++;
    }
    return b->line;
}

/* Decodes the raw value into b->scratch as a browser reads it and returns
 * its length. */
static size_t decode_value(struct builder *b, const char *raw, size_t len)
{
    size_t n = html_decode_attr(raw, len, b->scratch);
    size_t start = 0;
    size_t o = 0;

    /* The URL standard removes tab and newline anywhere, and leading and
     * trailing C0 controls and spaces. */
    for (size_t i = 0; i < n; i++) {
        char c = b->scratch[i];
        if (c != '\t' && c != '\n' && c != '\r')
            b->scratch[o++] = c;
    }
    while (o > 0 && (unsigned char)b->scratch[o - 1] <= 0x20)
        o--;
    while (start < o && (unsigned char)b->scratch[start] <= 0x20)
        start++;
    memmove(b->scratch, b->scratch + start, o - start);
    return o - start;
}

const struct rewrite_merge_tag *rewrite_find_merge_tag(
    const char *url, size_t len, const struct rewrite_merge_tag *tags,
    size_t n_tags)
{
    if (tags == NULL) {
        tags = rewrite_default_merge_tags;
        n_tags = rewrite_default_merge_tag_count;
    }
    for (size_t i = 0; i < n_tags; i++) {
        const char *open = memmem(url, len, tags[i].open, strlen(tags[i].open));
        size_t after;

        if (open == NULL)
            continue;
        after = (size_t)(open - url) + strlen(tags[i].open);
        if (memmem(url + after, len - after, tags[i].close,
                   strlen(tags[i].close)) != NULL)
            return &tags[i];
    }
    return NULL;
}

/* Returns the length of the URL's scheme (before ':'), or 0 without one:
 * a letter, then letters, digits, '+', '-' or '.'. */
static size_t scheme_len(const char *u, size_t len)
{
    size_t i = 0;

    if (len == 0 || !((u[0] >= 'a' && u[0] <= 'z') || (u[0] >= 'A' && u[0] <= 'Z')))
        return 0;
    for (i = 1; i < len; i++) {
        char c = u[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
        if (!ok)
            break;
    }
    return i < len && u[i] == ':' ? i : 0;
}

static bool is_tally_url(const struct builder *b, const char *u, size_t len)
{
    const char *base = b->opts->tracked_base;
    size_t n;

    if (base == NULL || !starts_nocase(u, len, base))
        return false;
    n = strlen(base);
    if (n > 0 && base[n - 1] == '/')
        n--;
    return starts_nocase(u + n, len - n, "/c/") ||
           starts_nocase(u + n, len - n, "/o/");
}

static bool matches_skip_pattern(const struct builder *b, const char *u,
                                 size_t len)
{
    const char *const *pats = b->opts->skip_patterns;
    size_t n = b->opts->n_skip_patterns;

    if (pats == NULL) {
        pats = rewrite_default_skip_patterns;
        n = rewrite_default_skip_pattern_count;
    }
    for (size_t i = 0; i < n; i++) {
        if (pats[i][0] != '\0' && contains_nocase(u, len, pats[i]))
            return true;
    }
    return false;
}

/* Adds the UTM parameters the URL lacks, in b->scratch (len bytes, room
 * for scratch_cap). Returns the new length, or 0 when it does not fit. */
static size_t add_utm(struct builder *b, size_t len)
{
    const char *names[3] = {"utm_source", "utm_medium", "utm_campaign"};
    const char *values[3] = {b->opts->utm_source, b->opts->utm_medium,
                             b->opts->utm_campaign};
    char *tmp = b->scratch + b->scratch_cap / 2;

    for (size_t i = 0; i < 3; i++) {
        long n;

        if (url_check_destination(b->scratch, len, names[i]) == URL_HAS_PARAM)
            continue;
        n = url_add_param(b->scratch, len, names[i], values[i],
                          strlen(values[i]), tmp, b->scratch_cap / 2);
        if (n < 0)
            return 0;
        memcpy(b->scratch, tmp, (size_t)n);
        len = (size_t)n;
    }
    return len;
}

/* Returns the link id of the destination in b->scratch[0..len), adding it
 * when it is new, or 0 when memory runs out. */
static uint32_t dest_id(struct builder *b, size_t len)
{
    struct rewrite_plan *p = b->plan;
    char *copy;

    /* NOTE: a linear search, because a template has tens of links and at
     * most REWRITE_LINKS_MAX; it runs once per template, not per recipient. */
    for (size_t i = 0; i < p->n_dests; i++) {
        if (p->dests[i].len == len && memcmp(p->dests[i].url, b->scratch, len) == 0)
            return (uint32_t)(i + 1);
    }

    if (p->n_dests == b->dests_cap) {
        size_t cap = b->dests_cap == 0 ? 16 : 2 * b->dests_cap;
        struct rewrite_dest *d = realloc(p->dests, cap * sizeof *d);

        if (d == NULL)
            return 0;
        p->dests = d;
        b->dests_cap = cap;
    }
    copy = malloc(len + 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, b->scratch, len);
    copy[len] = '\0';
    p->dests[p->n_dests].url = copy;
    p->dests[p->n_dests].len = len;
    p->n_dests++;
    return (uint32_t)p->n_dests;
}

/* Decides what happens to one href value and fills link. Returns 0, or -1
 * with b->err filled. */
static int classify(struct builder *b, const struct html_attr *href,
                    bool tally_off, struct rewrite_link *link)
{
    const char *raw = b->html + href->value_start;
    size_t raw_len = href->value_end - href->value_start;
    size_t len;
    size_t scheme;
    enum url_status status;

    link->action = REWRITE_SKIP_OFF;
    if (tally_off)
        return 0;

    len = decode_value(b, raw, raw_len);
    link->action = REWRITE_SKIP_EMPTY;
    if (len == 0)
        return 0;
    link->action = REWRITE_SKIP_MERGE_TAG;
    if (rewrite_find_merge_tag(b->scratch, len, b->opts->merge_tags,
                               b->opts->n_merge_tags) != NULL)
        return 0;
    link->action = REWRITE_SKIP_ANCHOR;
    if (b->scratch[0] == '#')
        return 0;

    scheme = scheme_len(b->scratch, len);
    if (scheme == 0) {
        int shown = len < 80 ? (int)len : 80;

        if (b->plan->has_base)
            return fail(b, REWRITE_RELATIVE_URL, link->line,
                        "line %u: relative link '%.*s' under a <base> element: "
                        "mail clients resolve <base> inconsistently, so write "
                        "the absolute https:// URL", link->line, shown,
                        b->scratch);
        return fail(b, REWRITE_RELATIVE_URL, link->line,
                    "line %u: relative link '%.*s': write the absolute "
                    "https:// URL, because a click redirect needs one",
                    link->line, shown, b->scratch);
    }
    link->action = REWRITE_SKIP_SCHEME;
    if (!starts_nocase(b->scratch, len, "http:") &&
        !starts_nocase(b->scratch, len, "https:"))
        return 0;
    link->action = REWRITE_SKIP_TRACKED;
    if (is_tally_url(b, b->scratch, len))
        return 0;
    link->action = REWRITE_SKIP_PATTERN;
    if (matches_skip_pattern(b, b->scratch, len))
        return 0;

    if (b->opts->utm) {
        len = add_utm(b, len);
        if (len == 0)
            return fail(b, REWRITE_BAD_URL, link->line,
                        "line %u: link is too long to add UTM parameters",
                        link->line);
    }
    status = url_check_destination(b->scratch, len, "tly");
    if (status != URL_OK)
        return fail(b, REWRITE_BAD_URL, link->line, "line %u: %s", link->line,
                    url_status_message(status));

    link->action = REWRITE_TRACKED;
    link->link_id = dest_id(b, len);
    if (link->link_id == 0)
        return fail(b, REWRITE_NO_MEMORY, link->line, "out of memory");
    return 0;
}

/* Tells whether the tag is an element whose href is a link in an email:
 * <a>, <area>, or a VML shape (v:roundrect, v:rect, v:oval, v:shape ...). */
static bool is_link_element(const char *html, const struct html_tag *tag)
{
    size_t n = tag->name_end - tag->name_start;
    const char *name = html + tag->name_start;

    if (html_name_is(html, tag->name_start, tag->name_end, "a") ||
        html_name_is(html, tag->name_start, tag->name_end, "area"))
        return true;
    return n > 2 && lower(name[0]) == 'v' && name[1] == ':';
}

static const struct html_attr *find_attr(const char *html,
                                         const struct html_tag *tag,
                                         const char *name)
{
    /* HTML keeps the first of repeated attributes. */
    for (size_t i = 0; i < tag->n_attrs; i++) {
        if (html_name_is(html, tag->attrs[i].name_start, tag->attrs[i].name_end,
                         name))
            return &tag->attrs[i];
    }
    return NULL;
}

static bool tally_off(const char *html, const struct html_tag *tag)
{
    const struct html_attr *a = find_attr(html, tag, "data-tally");

    return a != NULL &&
           html_name_is(html, a->value_start, a->value_end, "off");
}

static int add_link(struct builder *b, const struct html_tag *tag,
                    const struct html_attr *href)
{
    struct rewrite_plan *p = b->plan;
    struct rewrite_link *link;

    if (p->n_links == REWRITE_LINKS_MAX) {
        unsigned line = line_of(b, href->value_start);

        return fail(b, REWRITE_TOO_MANY, line, "line %u: more than %d links",
                    line, REWRITE_LINKS_MAX);
    }
    if (p->n_links == b->links_cap) {
        size_t cap = b->links_cap == 0 ? 64 : 2 * b->links_cap;
        struct rewrite_link *l = realloc(p->links, cap * sizeof *l);

        if (l == NULL)
            return fail(b, REWRITE_NO_MEMORY, 0, "out of memory");
        p->links = l;
        b->links_cap = cap;
    }

    link = &p->links[p->n_links];
    memset(link, 0, sizeof *link);
    link->value_start = href->value_start;
    link->value_end = href->value_end;
    link->line = line_of(b, href->value_start);
    if (classify(b, href, tally_off(b->html, tag), link) != 0)
        return -1;
    p->n_links++;
    return 0;
}

static int on_tag(void *arg, const char *html, const struct html_tag *tag)
{
    struct builder *b = arg;
    const struct html_attr *href;

    if (tag->end_tag) {
        if (html_name_is(html, tag->name_start, tag->name_end, "body")) {
            b->plan->pixel_at = tag->start;
            b->plan->has_body_end = true;
        }
        return 0;
    }
    if (html_name_is(html, tag->name_start, tag->name_end, "base")) {
        b->plan->has_base = true;
        return 0;
    }
    if (!is_link_element(html, tag))
        return 0;

    href = find_attr(html, tag, "href");
    if (href == NULL || !href->has_value)
        return 0;
    return add_link(b, tag, href) == 0 ? 0 : -1;
}

static bool url_safe_value(const char *v)
{
    if (v == NULL || v[0] == '\0')
        return false;
    for (const char *p = v; *p != '\0'; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                  c == '~';
        if (!ok)
            return false;
    }
    return true;
}

static int check_options(struct builder *b)
{
    const struct rewrite_options *o = b->opts;

    for (size_t i = 0; o->merge_tags != NULL && i < o->n_merge_tags; i++) {
        if (o->merge_tags[i].open == NULL || o->merge_tags[i].open[0] == '\0' ||
            o->merge_tags[i].close == NULL || o->merge_tags[i].close[0] == '\0')
            return fail(b, REWRITE_BAD_OPTION, 0,
                        "merge tag %zu has an empty opening or closing part",
                        i + 1);
    }
    if (!o->utm)
        return 0;
    if (!url_safe_value(o->utm_source) || !url_safe_value(o->utm_medium) ||
        !url_safe_value(o->utm_campaign))
        return fail(b, REWRITE_BAD_OPTION, 0,
                    "UTM values must be 1 or more of A-Z a-z 0-9 - . _ ~");
    return 0;
}

void rewrite_plan_free(struct rewrite_plan *plan)
{
    for (size_t i = 0; i < plan->n_dests; i++)
        free(plan->dests[i].url);
    free(plan->dests);
    free(plan->links);
    memset(plan, 0, sizeof *plan);
}

int rewrite_plan_build(const char *html, size_t len,
                       const struct rewrite_options *opts,
                       struct rewrite_plan *plan, struct rewrite_error *err)
{
    static const struct rewrite_options defaults;
    struct builder b;
    int rc;

    memset(plan, 0, sizeof *plan);
    memset(err, 0, sizeof *err);
    memset(&b, 0, sizeof b);
    b.opts = opts != NULL ? opts : &defaults;
    b.html = html;
    b.plan = plan;
    b.err = err;
    b.line = 1;
    plan->pixel_at = len;

    if (check_options(&b) != 0)
        return -1;

    /* Decoding never lengthens a value, and the UTM form needs room for
     * a copy of at most TOKEN_DEST_MAX bytes in the second half. */
    b.scratch_cap = 2 * (len + TOKEN_DEST_MAX + 1);
    b.scratch = malloc(b.scratch_cap);
    if (b.scratch == NULL)
        return fail(&b, REWRITE_NO_MEMORY, 0, "out of memory");

    rc = html_scan(html, len, on_tag, &b);
    free(b.scratch);
    if (rc != 0) {
        rewrite_plan_free(plan);
        plan->pixel_at = len;
        return -1;
    }
    return 0;
}

/* ---- output -------------------------------------------------------- */

bool rewrite_attr_safe(const char *url, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];

        if (c <= 0x20 || c == 0x7F || c == '&' || c == '"' || c == '\'' ||
            c == '<' || c == '>' || c == '`' || c == '=')
            return false;
    }
    return true;
}

size_t rewrite_render_len(const struct rewrite_plan *plan, size_t html_len,
                          const size_t *click_lens, size_t pixel_len)
{
    size_t n = html_len + sizeof REWRITE_PIXEL_BEFORE - 1 + pixel_len +
               sizeof REWRITE_PIXEL_AFTER - 1;

    for (size_t i = 0; i < plan->n_links; i++) {
        const struct rewrite_link *l = &plan->links[i];

        if (l->action != REWRITE_TRACKED)
            continue;
        n -= l->value_end - l->value_start;
        n += click_lens[l->link_id - 1];
    }
    return n;
}

static int write_pixel(const char *pixel_url, size_t pixel_len,
                       rewrite_write_fn write, void *arg)
{
    if (write(arg, REWRITE_PIXEL_BEFORE, sizeof REWRITE_PIXEL_BEFORE - 1) != 0 ||
        write(arg, pixel_url, pixel_len) != 0 ||
        write(arg, REWRITE_PIXEL_AFTER, sizeof REWRITE_PIXEL_AFTER - 1) != 0)
        return -1;
    return 0;
}

int rewrite_render(const struct rewrite_plan *plan, const char *html,
                   size_t html_len, const char *const *click_urls,
                   const size_t *click_lens, const char *pixel_url,
                   size_t pixel_len, rewrite_write_fn write, void *arg)
{
    bool pixel_done = false;
    size_t pos = 0;

    if (!rewrite_attr_safe(pixel_url, pixel_len))
        return -1;
    for (size_t i = 0; i < plan->n_dests; i++) {
        if (!rewrite_attr_safe(click_urls[i], click_lens[i]))
            return -1;
    }

    for (size_t i = 0; i < plan->n_links; i++) {
        const struct rewrite_link *l = &plan->links[i];

        if (l->action != REWRITE_TRACKED)
            continue;
        if (!pixel_done && plan->pixel_at <= l->value_start) {
            if (write(arg, html + pos, plan->pixel_at - pos) != 0 ||
                write_pixel(pixel_url, pixel_len, write, arg) != 0)
                return -1;
            pos = plan->pixel_at;
            pixel_done = true;
        }
        if (write(arg, html + pos, l->value_start - pos) != 0 ||
            write(arg, click_urls[l->link_id - 1], click_lens[l->link_id - 1]) != 0)
            return -1;
        pos = l->value_end;
    }

    if (!pixel_done) {
        if (write(arg, html + pos, plan->pixel_at - pos) != 0 ||
            write_pixel(pixel_url, pixel_len, write, arg) != 0)
            return -1;
        pos = plan->pixel_at;
    }
    return write(arg, html + pos, html_len - pos);
}
