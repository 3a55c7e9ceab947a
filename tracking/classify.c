/*
 * classify.c - the request-only verdicts of classify.h.
 *
 * User agents are matched with fnmatch(3) globs from the C library rather
 * than regular expressions: the published proxy and scanner agents are
 * fixed strings or contain one, a glob states that plainly, and fnmatch
 * cannot backtrack exponentially on a hostile user agent the way a
 * regex engine can.
 *
 * Most patterns are such a fixed string with '*' at one or both ends.
 * Those are compared directly, without the copy to a C string and the
 * fnmatch call, which cost about 1,700 instructions per pattern for a
 * 107-byte user agent (callgrind) on every open. The direct comparison
 * folds case with tolower(3), as fnmatch with FNM_CASEFOLD does, and tally
 * never calls setlocale(3), so both fold only A-Z.
 */
#include "classify.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const verdict_names[VERDICT_COUNT] = {
    [VERDICT_HUMAN] = "human",
    [VERDICT_PRIVACY_PROXY] = "privacy_proxy",
    [VERDICT_IMAGE_PROXY] = "image_proxy",
    [VERDICT_SCANNER] = "scanner",
    [VERDICT_PREFETCH] = "prefetch",
    [VERDICT_BURST] = "burst",
    [VERDICT_TOO_EARLY] = "too_early",
    [VERDICT_HONEYPOT] = "honeypot",
};

static const enum verdict list_verdicts[CLASSIFY_LIST_COUNT] = {
    [CLASSIFY_LIST_PRIVACY_PROXY] = VERDICT_PRIVACY_PROXY,
    [CLASSIFY_LIST_IMAGE_PROXY] = VERDICT_IMAGE_PROXY,
    [CLASSIFY_LIST_SCANNER] = VERDICT_SCANNER,
};

const char *verdict_name(enum verdict v)
{
    if ((unsigned)v >= VERDICT_COUNT)
        return "unknown";
    return verdict_names[v];
}

int verdict_parse(const char *name, size_t len, enum verdict *out)
{
    for (unsigned i = 0; i < VERDICT_COUNT; i++) {
        if (strlen(verdict_names[i]) == len && memcmp(verdict_names[i], name, len) == 0) {
            *out = (enum verdict)i;
            return 0;
        }
    }
    return -1;
}

bool verdict_is_machine(enum verdict v)
{
    return v != VERDICT_HUMAN && v != VERDICT_IMAGE_PROXY;
}

const char *classify_list_name(enum classify_list list)
{
    return verdict_name(list_verdicts[list]);
}

/* ---- tables ------------------------------------------------------- */

/* The match method of a pattern. A fixed string (no '?', '[' or '\\') with
 * '*' only at its ends is compared directly. Any other pattern goes to
 * fnmatch. */
enum agent_match {
    AGENT_FNMATCH,
    AGENT_EQUALS,      /* "text" */
    AGENT_STARTS_WITH, /* "text*" */
    AGENT_ENDS_WITH,   /* "*text" */
    AGENT_CONTAINS,    /* "*text*" */
};

/* A pattern's match method and its fixed text, pattern[start..start+len). */
struct agent_shape {
    enum agent_match match;
    size_t start;
    size_t len;
};

static struct agent_shape shape_of(const char *pattern, size_t len)
{
    struct agent_shape shape = {AGENT_FNMATCH, 0, 0};
    size_t start = 0;
    size_t end = len;
    bool leading, trailing;

    while (start < end && pattern[start] == '*')
        start++;
    while (end > start && pattern[end - 1] == '*')
        end--;
    for (size_t i = start; i < end; i++) {
        if (strchr("*?[\\", pattern[i]) != NULL)
            return shape;
    }

    leading = start > 0;
    trailing = end < len;
    shape.start = start;
    shape.len = end - start;
    if (leading && trailing)
        shape.match = AGENT_CONTAINS;
    else if (leading)
        shape.match = AGENT_ENDS_WITH;
    else if (trailing)
        shape.match = AGENT_STARTS_WITH;
    else
        shape.match = AGENT_EQUALS;
    return shape;
}

static void agentset_free(struct agentset *set)
{
    for (size_t i = 0; i < set->n; i++)
        free(set->patterns[i]);
    free(set->patterns);
    free(set->shapes);
    memset(set, 0, sizeof(*set));
}

static int agentset_add(struct agentset *set, const char *pattern, size_t len)
{
    char *copy;

    if (len > CLASSIFY_AGENT_MAX)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)pattern[i];

        if (c < 0x20 || c == 0x7f)
            return -1;
    }
    if (set->n == set->cap) {
        size_t cap = set->cap == 0 ? 8 : 2 * set->cap;
        char **grown = realloc(set->patterns, cap * sizeof(*grown));
        struct agent_shape *shapes;

        if (grown == NULL)
            return -2;
        set->patterns = grown;
        shapes = realloc(set->shapes, cap * sizeof(*shapes));
        if (shapes == NULL)
            return -2;
        set->shapes = shapes;
        set->cap = cap;
    }
    copy = malloc(len + 1);
    if (copy == NULL)
        return -2;
    memcpy(copy, pattern, len);
    copy[len] = '\0';
    set->shapes[set->n] = shape_of(copy, len);
    set->patterns[set->n++] = copy;
    return 0;
}

void classify_tables_init(struct classify_tables *t)
{
    for (int i = 0; i < CLASSIFY_LIST_COUNT; i++) {
        netset_init(&t->ranges[i]);
        memset(&t->agents[i], 0, sizeof(t->agents[i]));
    }
}

void classify_tables_free(struct classify_tables *t)
{
    for (int i = 0; i < CLASSIFY_LIST_COUNT; i++) {
        netset_free(&t->ranges[i]);
        agentset_free(&t->agents[i]);
    }
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int classify_tables_add_line(struct classify_tables *t, enum classify_list list,
                             bool is_range, const char *line, size_t len)
{
    const char *hash = memchr(line, '#', len);
    size_t start = 0;

    if (hash != NULL)
        len = (size_t)(hash - line);
    while (start < len && is_space(line[start]))
        start++;
    while (len > start && is_space(line[len - 1]))
        len--;
    if (start == len)
        return 0;

    if (is_range)
        return netset_add(&t->ranges[list], line + start, len - start);
    return agentset_add(&t->agents[list], line + start, len - start);
}

void classify_tables_finish(struct classify_tables *t)
{
    for (int i = 0; i < CLASSIFY_LIST_COUNT; i++)
        netset_finish(&t->ranges[i]);
}

/* ---- matching ----------------------------------------------------- */

/* Tells whether ua[0..len) contains text[0..n), 1 <= n <= len, starting
 * with the byte first and ignoring case in the rest. memchr finds the
 * candidates, and neither string contains a NUL, so strncasecmp compares
 * all n - 1 remaining bytes. */
static bool contains_from(const char *ua, size_t len, int first, const char *text,
                          size_t n)
{
    const char *p = ua;
    const char *last = ua + len - n; /* the last place text can start */

    while (p <= last) {
        p = memchr(p, first, (size_t)(last - p) + 1);
        if (p == NULL)
            return false;
        if (strncasecmp(p + 1, text + 1, n - 1) == 0)
            return true;
        p++;
    }
    return false;
}

/* Tells whether text[0..n) occurs in ua[0..len), ignoring case. */
static bool contains_folded(const char *ua, size_t len, const char *text, size_t n)
{
    int lower, upper;

    if (n == 0)
        return true;
    lower = tolower((unsigned char)text[0]);
    upper = toupper((unsigned char)text[0]);
    if (contains_from(ua, len, lower, text, n))
        return true;
    return upper != lower && contains_from(ua, len, upper, text, n);
}

/* Matches ua[0..len) against a pattern of a shape other than AGENT_FNMATCH. */
static bool shape_matches(const struct agent_shape *shape, const char *pattern,
                          const char *ua, size_t len)
{
    const char *text = pattern + shape->start;
    size_t n = shape->len;

    if (n > len)
        return false;
    switch (shape->match) {
    case AGENT_EQUALS:
        return n == len && strncasecmp(ua, text, n) == 0;
    case AGENT_STARTS_WITH:
        return strncasecmp(ua, text, n) == 0;
    case AGENT_ENDS_WITH:
        return strncasecmp(ua + len - n, text, n) == 0;
    case AGENT_CONTAINS:
        return contains_folded(ua, len, text, n);
    case AGENT_FNMATCH:
        break;
    }
    return false;
}

bool classify_agent_matches(const struct classify_tables *t,
                            enum classify_list list, const char *ua, size_t len)
{
    const struct agentset *set = &t->agents[list];
    char text[CLASSIFY_AGENT_MAX + 1];
    bool copied = false;

    if (ua == NULL || set->n == 0 || len > CLASSIFY_AGENT_MAX)
        return false;
    /* fnmatch needs a C string, and a NUL inside the header would cut it
     * short, so such an agent matches nothing, whatever the pattern. */
    if (memchr(ua, '\0', len) != NULL)
        return false;

    for (size_t i = 0; i < set->n; i++) {
        const struct agent_shape *shape = &set->shapes[i];

        if (shape->match != AGENT_FNMATCH) {
            if (shape_matches(shape, set->patterns[i], ua, len))
                return true;
            continue;
        }
        if (!copied) {
            memcpy(text, ua, len);
            text[len] = '\0';
            copied = true;
        }
        if (fnmatch(set->patterns[i], text, FNM_CASEFOLD) == 0)
            return true;
    }
    return false;
}

bool classify_purpose_is_prefetch(const char *value, size_t len)
{
    static const char word[] = "prefetch";
    size_t pos = 0;

    while (pos < len) {
        size_t end = pos;
        size_t item_end;

        while (end < len && value[end] != ',')
            end++;
        item_end = pos;
        while (item_end < end && value[item_end] != ';')
            item_end++;
        while (pos < item_end && is_space(value[pos]))
            pos++;
        while (item_end > pos && is_space(value[item_end - 1]))
            item_end--;
        if (item_end - pos == sizeof(word) - 1 &&
            strncasecmp(value + pos, word, sizeof(word) - 1) == 0)
            return true;
        pos = end + 1;
    }
    return false;
}

static bool addr_in(const struct classify_tables *t, enum classify_list list,
                    const struct classify_input *in)
{
    return in->has_addr && netset_contains(&t->ranges[list], &in->addr);
}

uint8_t classify_agent_lists(const struct classify_tables *t, const char *ua, size_t len)
{
    uint8_t lists = 0;

    for (int list = 0; list < CLASSIFY_LIST_COUNT; list++) {
        if (classify_agent_matches(t, (enum classify_list)list, ua, len))
            lists |= (uint8_t)(1u << list);
    }
    return lists;
}

static bool agent_in(const struct classify_tables *t, enum classify_list list,
                     const struct classify_input *in)
{
    if (in->agents_known)
        return (in->agents >> list) & 1u;
    return classify_agent_matches(t, list, in->user_agent, in->user_agent_len);
}

enum verdict classify(const struct classify_tables *t, uint32_t too_early_s,
                      const struct classify_input *in)
{
    if (in->is_click && in->link == CLASSIFY_HONEYPOT_LINK)
        return VERDICT_HONEYPOT;
    if (in->is_head || in->purpose_prefetch)
        return VERDICT_PREFETCH;

    /* Apple's ranges also carry iCloud Private Relay, whose users browse
     * with their own full user agents: the address alone is not enough. */
    if (addr_in(t, CLASSIFY_LIST_PRIVACY_PROXY, in) &&
        agent_in(t, CLASSIFY_LIST_PRIVACY_PROXY, in))
        return VERDICT_PRIVACY_PROXY;

    if (!in->is_click && (agent_in(t, CLASSIFY_LIST_IMAGE_PROXY, in) ||
                          addr_in(t, CLASSIFY_LIST_IMAGE_PROXY, in)))
        return VERDICT_IMAGE_PROXY;
    if (in->is_click && (addr_in(t, CLASSIFY_LIST_SCANNER, in) ||
                         agent_in(t, CLASSIFY_LIST_SCANNER, in)))
        return VERDICT_SCANNER;

    /* A token minted a little after now (another server's clock) is not
     * early: only a non-negative age below the threshold is. */
    if (too_early_s > 0 && in->now >= in->issued && in->now - in->issued < too_early_s)
        return VERDICT_TOO_EARLY;
    return VERDICT_HUMAN;
}
