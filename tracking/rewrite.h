/*
 * rewrite.h - turning a campaign's HTML into a template of tracked links.
 *
 * Rewriting happens in two steps. rewrite_plan_build scans the HTML once,
 * finds every link (href of <a>, <area> and VML elements such as
 * <v:roundrect>), decides for each whether it is tracked or left alone, and
 * gives each distinct tracked destination a link id: 1, 2, ... in order of
 * first appearance, so the same template always yields the same ids.
 * rewrite_render then writes the email of one recipient: the template's
 * bytes unchanged, except the value of each tracked href, which becomes the
 * recipient's click URL, and the open pixel, inserted just before the last
 * </body> (or at the end). Per recipient, only the URLs change, so the
 * expensive part (scanning) runs once per template.
 *
 * The rules (what is tracked, what is left alone and why) are in
 * docs/rewrite.md.
 */
#ifndef TALLY_REWRITE_H
#define TALLY_REWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REWRITE_LINKS_MAX 10000  /* href attributes per template */
#define REWRITE_MESSAGE_MAX 256

/* A template merge tag of the sending system, such as {{ ... }}. */
struct rewrite_merge_tag {
    const char *open;  /* NUL-terminated, not empty */
    const char *close; /* NUL-terminated, not empty */
};

/* The merge tags recognised when the options name none: {{ }}, *| |*,
 * %% %%, {$ } and [[ ]]. */
extern const struct rewrite_merge_tag rewrite_default_merge_tags[];
extern const size_t rewrite_default_merge_tag_count;

/* Finds the first of tags[0..n_tags) that url[0..len) contains: its
 * opening part followed later by its closing part. tags NULL means the
 * defaults above. Returns that tag, or NULL when the URL has none. The
 * bytes are compared as they are, so a caller decodes character
 * references first where the URL comes from HTML. */
const struct rewrite_merge_tag *rewrite_find_merge_tag(
    const char *url, size_t len, const struct rewrite_merge_tag *tags,
    size_t n_tags);

/* The patterns that mark unsubscribe and preference links when the
 * options name none, matched ignoring ASCII case anywhere in the URL. */
extern const char *const rewrite_default_skip_patterns[];
extern const size_t rewrite_default_skip_pattern_count;

struct rewrite_options {
    /* tallyd's public base URL; a link starting with it followed by "/c/"
     * or "/o/" is already tracked and left alone. NULL: no such check. */
    const char *tracked_base;
    /* NULL: the defaults above. */
    const struct rewrite_merge_tag *merge_tags;
    size_t n_merge_tags;
    const char *const *skip_patterns;
    size_t n_skip_patterns;
    /* Add utm_source, utm_medium and utm_campaign to tracked links that
     * lack them. The values must be URL-safe as they are (unreserved
     * characters: A-Z a-z 0-9 - . _ ~); rewrite_plan_build rejects others. */
    bool utm;
    const char *utm_source;
    const char *utm_medium;
    const char *utm_campaign;
};

/* What happens to one link, and why. */
enum rewrite_action {
    REWRITE_TRACKED = 0,
    REWRITE_SKIP_OFF,        /* data-tally="off" on the element */
    REWRITE_SKIP_EMPTY,      /* empty href */
    REWRITE_SKIP_MERGE_TAG,  /* contains a merge tag the sender fills in */
    REWRITE_SKIP_ANCHOR,     /* "#..." within the email */
    REWRITE_SKIP_SCHEME,     /* mailto:, tel:, sms:, javascript:, any non-http */
    REWRITE_SKIP_TRACKED,    /* already a tally URL */
    REWRITE_SKIP_PATTERN,    /* unsubscribe or preference link */
};

/* One href attribute found in the template. */
struct rewrite_link {
    size_t value_start; /* offset of the raw value, without quotes */
    size_t value_end;   /* offset just past it */
    unsigned line;      /* 1-based line of the value */
    enum rewrite_action action;
    uint32_t link_id;   /* REWRITE_TRACKED: index + 1 into plan->dests */
};

/* A distinct tracked destination: entities decoded, UTM added. */
struct rewrite_dest {
    char *url; /* NUL-terminated */
    size_t len;
};

struct rewrite_plan {
    struct rewrite_link *links; /* in template order */
    size_t n_links;
    struct rewrite_dest *dests; /* dests[i] has link id i + 1 */
    size_t n_dests;
    size_t pixel_at;    /* offset of the last </body>, or the length */
    bool has_body_end;
    bool has_base;      /* a <base> element was seen */
};

enum rewrite_status {
    REWRITE_OK = 0,
    REWRITE_RELATIVE_URL, /* a link without a scheme: nothing to redirect to */
    REWRITE_BAD_URL,      /* an http(s) link that cannot be signed */
    REWRITE_BAD_OPTION,   /* a UTM value or merge tag that cannot be used */
    REWRITE_TOO_MANY,     /* more than REWRITE_LINKS_MAX href attributes */
    REWRITE_NO_MEMORY,
};

struct rewrite_error {
    enum rewrite_status status;
    unsigned line; /* of the offending link; 0 when none */
    char message[REWRITE_MESSAGE_MAX]; /* one English line, no newline */
};

/* Returns a short lower-case name of an action, for reports. */
const char *rewrite_action_name(enum rewrite_action action);

/* Scans html[0..len) and fills *plan. opts may be NULL for the defaults
 * (no UTM, no tracked base). Returns 0, or -1 with *err filled and *plan
 * empty; the first problem in template order decides the error. The plan
 * owns its arrays: free it with rewrite_plan_free. html is not retained,
 * but rewrite_render needs the same bytes again. */
int rewrite_plan_build(const char *html, size_t len,
                       const struct rewrite_options *opts,
                       struct rewrite_plan *plan, struct rewrite_error *err);

void rewrite_plan_free(struct rewrite_plan *plan);

/* Receives output bytes. Returns 0, or -1 to stop rendering. */
typedef int (*rewrite_write_fn)(void *arg, const char *bytes, size_t n);

/* Tells whether url[0..len) can stand as an attribute value in any
 * quoting without escaping: no whitespace, no control byte and none of
 * & " ' < > ` =. tally's own URLs always can, when the base URL can. */
bool rewrite_attr_safe(const char *url, size_t len);

/* Returns the length rewrite_render writes for these URL lengths: the
 * template's length minus the replaced values plus the new ones, plus the
 * pixel element. click_lens has plan->n_dests entries. */
size_t rewrite_render_len(const struct rewrite_plan *plan, size_t html_len,
                          const size_t *click_lens, size_t pixel_len);

/* Writes the email of one recipient through write(arg, ...): html (the
 * bytes the plan was built from) with each tracked value replaced by
 * click_urls[link_id - 1] and the pixel element for pixel_url inserted at
 * plan->pixel_at. Every URL must pass rewrite_attr_safe. Returns 0; -1
 * when a URL is not attribute-safe (nothing written) or write failed. */
int rewrite_render(const struct rewrite_plan *plan, const char *html,
                   size_t html_len, const char *const *click_urls,
                   const size_t *click_lens, const char *pixel_url,
                   size_t pixel_len, rewrite_write_fn write, void *arg);

/* The bytes around the pixel URL in the inserted element. */
#define REWRITE_PIXEL_BEFORE "<img src=\""
#define REWRITE_PIXEL_AFTER \
    "\" width=\"1\" height=\"1\" alt=\"\" " \
    "style=\"display:block;width:1px;height:1px;border:0\">"

#endif
