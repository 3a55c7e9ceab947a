/*
 * classify.h - the verdict on an open or a click: a person or a machine.
 *
 * Every open and click gets one verdict at intake, from the request alone;
 * only the verdict is kept, never the address or user agent it was judged
 * on. The request-only verdicts are decided here, first match wins:
 *
 *   honeypot       a click on the reserved link id CLASSIFY_HONEYPOT_LINK,
 *                  a link the rewriter hides from people
 *   prefetch       HEAD, or a Purpose or Sec-Purpose header naming prefetch
 *   privacy_proxy  an address in the privacy-proxy ranges (Apple Mail Privacy
 *                  Protection) that also sends one of its generic user agents
 *   image_proxy    opens only: a user agent or an address of a mail image
 *                  proxy (Gmail, Yahoo, Outlook); a real open on an unknown
 *                  device, so it counts as an open
 *   scanner        clicks only: an address or a user agent of a security
 *                  gateway. Opens are never judged on these lists, because
 *                  Outlook's image proxy fetches real opens from the same
 *                  Microsoft networks that Safe Links scans from
 *   too_early      within too_early_s seconds after the token was minted
 *                  (off when too_early_s is 0)
 *   human          none of the above
 *
 * burst (several links of one email clicked within seconds by one reader)
 * needs the reader's earlier clicks, so the store decides it in the reader's
 * Redis slot; honeypot also marks the reader's clicks around the honeypot
 * click there. Both names are defined here so that every part spells them
 * the same way.
 *
 * Address ranges and user-agent patterns come from data files that the
 * server reads; this file only parses their lines and matches against them.
 */
#ifndef TALLY_CLASSIFY_H
#define TALLY_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"

enum verdict {
    VERDICT_HUMAN = 0,
    VERDICT_PRIVACY_PROXY,
    VERDICT_IMAGE_PROXY,
    VERDICT_SCANNER,
    VERDICT_PREFETCH,
    VERDICT_BURST,
    VERDICT_TOO_EARLY,
    VERDICT_HONEYPOT,
    VERDICT_COUNT,
};

/* The link id reserved for honeypot links ("tallyctl url click
 * --honeypot"). Its click is never a person's. */
#define CLASSIFY_HONEYPOT_LINK UINT32_MAX

/* Maximum length of a matched user agent; a longer one matches no pattern. */
#define CLASSIFY_AGENT_MAX 1024

/* Returns the lower-case name of v as stored in Redis ("privacy_proxy"),
 * or "unknown" for a value out of range. */
const char *verdict_name(enum verdict v);

/* Parses a verdict name. Returns 0, or -1 when name[0..len) is not one. */
int verdict_parse(const char *name, size_t len, enum verdict *out);

/* Tells whether v stands for a machine. human and image_proxy do not: an
 * image proxy fetches an open that a person caused. */
bool verdict_is_machine(enum verdict v);

/* The lists a data file can feed, one per list-based verdict. */
enum classify_list {
    CLASSIFY_LIST_PRIVACY_PROXY = 0,
    CLASSIFY_LIST_IMAGE_PROXY,
    CLASSIFY_LIST_SCANNER,
    CLASSIFY_LIST_COUNT,
};

/* Returns the verdict name a list feeds ("scanner"), which is also the
 * file name of its data files. */
const char *classify_list_name(enum classify_list list);

/* User-agent patterns: fnmatch(3) globs, matched case-insensitively
 * against the whole user agent ("*GoogleImageProxy*", "Mozilla/5.0").
 * shapes[i] is the match method of patterns[i], set when it is added. */
struct agent_shape;
struct agentset {
    char **patterns;
    struct agent_shape *shapes;
    size_t n;
    size_t cap;
};

/* Address ranges and user-agent patterns of every list. Built once, then
 * only read, so one table may be shared by threads. */
struct classify_tables {
    struct netset ranges[CLASSIFY_LIST_COUNT];
    struct agentset agents[CLASSIFY_LIST_COUNT];
};

/* Empties *t; it needs no allocation until the first line. */
void classify_tables_init(struct classify_tables *t);
void classify_tables_free(struct classify_tables *t);

/* Adds one line of a data file to list: a CIDR block for a ranges file
 * (is_range), a glob for an agents file. Surrounding whitespace and a
 * comment from '#' to the end are dropped first, and an empty line adds
 * nothing. Returns 0, -1 when the line is invalid (a bad CIDR block, a
 * pattern longer than CLASSIFY_AGENT_MAX or with a control byte), -2 when
 * memory runs out. Call classify_tables_finish after the last line. */
int classify_tables_add_line(struct classify_tables *t, enum classify_list list,
                             bool is_range, const char *line, size_t len);

/* Sorts the ranges for searching. */
void classify_tables_finish(struct classify_tables *t);

/* Tells whether ua[0..len) matches one of list's patterns. */
bool classify_agent_matches(const struct classify_tables *t,
                            enum classify_list list, const char *ua,
                            size_t len);

/* Returns the lists whose patterns ua[0..len) matches, bit (1 << list)
 * for each, so that a caller can cache them with the value. */
uint8_t classify_agent_lists(const struct classify_tables *t, const char *ua, size_t len);

/* Tells whether a Purpose or Sec-Purpose header value names prefetch: a
 * comma-separated list whose item, before any ';' parameters, is
 * "prefetch" in any case ("prefetch", "prefetch;anonymous-client-ip"). */
bool classify_purpose_is_prefetch(const char *value, size_t len);

/* The parts of a request a verdict depends on; never stored. */
struct classify_input {
    bool is_click;           /* a click; otherwise an open */
    bool is_head;            /* HEAD rather than GET */
    bool purpose_prefetch;   /* see classify_purpose_is_prefetch */
    const char *user_agent;  /* NULL when the request has none */
    size_t user_agent_len;
    bool agents_known;       /* agents is classify_agent_lists of user_agent */
    uint8_t agents;
    bool has_addr;           /* false when the client address is unknown */
    struct netaddr addr;
    uint32_t now;            /* Unix s */
    uint32_t issued;         /* the token's mint time, Unix s */
    uint32_t link;           /* the token's link id */
};

/* Judges one request by the rules at the top of this file. too_early_s is
 * 0 to turn too_early off. Never fails. */
enum verdict classify(const struct classify_tables *t, uint32_t too_early_s,
                      const struct classify_input *in);

#endif
