/*
 * decision.h - the decision record of one checkout, and why it was or was
 * not credited.
 *
 * The store keeps one record per order (o:{SHOP}:ORDER) and a copy under
 * the credited campaign (c:{C}:o:SHOP:ORDER); docs/redis-schema.md lists
 * the fields. A record names the model, the windows, the credited
 * touchpoint, the identity path and, for every identifier the checkout
 * carried, what became of it (the trail). It also holds the touchpoint each
 * model would have credited, so a campaign can be recounted under another
 * model from the records alone.
 *
 * Records travel to the Lua scripts as one JSON object of string values,
 * the form Redis stores them in.
 */
#ifndef TALLY_DECISION_H
#define TALLY_DECISION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attribution.h"
#include "event.h"

/* What became of one identifier of a checkout. */
enum decision_outcome {
    DECISION_CREDITED = 0,   /* its reader was credited */
    DECISION_INVALID,        /* a token that did not verify */
    DECISION_OUTSIDE_WINDOW, /* a valid token whose click is too old */
    DECISION_PLACEHOLDER,    /* "guest", "0", the hash of "" ...: ignored */
    DECISION_NOT_LINKED,     /* no reader linked to it */
    DECISION_SHARED,         /* linked to more readers than allowed */
    DECISION_NO_TOUCH,       /* its reader has no eligible touchpoint */
};

#define DECISION_TRAIL_MAX 8
#define DECISION_TRAIL_TEXT 160 /* room for the longest formatted trail */

struct decision_trail {
    struct {
        enum attr_path path;
        enum decision_outcome outcome;
    } steps[DECISION_TRAIL_MAX];
    size_t n;
};

/* Room for "C|M|LINK|KIND|TIME" and its NUL. */
#define DECISION_ALT_MAX (2 * TOKEN_ID_MAX + 10 + 5 + 10 + 5)

struct decision_record {
    char event[40];                 /* id of the event that claimed the order */
    char shop[TOKEN_ID_MAX + 1];
    char order[EVENT_ORDER_MAX + 1];
    uint32_t time;                  /* of the order, Unix s */
    bool verified;                  /* confirmed by POST /v1/conversions */
    struct attr_policy policy;
    struct attr_decision decision;  /* path NONE: unattributed */
    struct decision_trail trail;
    int64_t revenue_minor;
    char currency[4];
    /* The touchpoint each model credits, as "C|M|LINK|KIND|TIME" or "". */
    char alt[ATTR_MODEL_COUNT][DECISION_ALT_MAX];
};

/* Returns the name of an outcome as it appears in a trail: "credited",
 * "invalid", "outside_window", "placeholder", "not_linked", "shared" or
 * "no_touch". */
const char *decision_outcome_name(enum decision_outcome outcome);

/* Appends a step to the trail; steps beyond DECISION_TRAIL_MAX are
 * dropped. */
void decision_trail_add(struct decision_trail *t, enum attr_path path,
                        enum decision_outcome outcome);

/* Writes the trail as space-separated "path:outcome" steps
 * ("device:not_linked customer:credited"), or "" for no steps, to out
 * (DECISION_TRAIL_TEXT bytes). */
void decision_trail_format(const struct decision_trail *t, char *out);

/* Tells whether any step of the trail has outcome. */
bool decision_trail_has(const struct decision_trail *t,
                        enum decision_outcome outcome);

/* Returns why an order with this trail was not credited, the first that
 * applies: "no_touch_in_window" (a reader was found but had no eligible
 * touchpoint), "shared_identifier", "not_linked", "token_outside_window",
 * "invalid_token", "placeholder_only", or "no_identifier" when the
 * checkout carried none. */
const char *decision_unattributed_reason(const struct decision_trail *t);

/* Fills r->alt with the touchpoint each model picks from touches[0..n)
 * (attribution_pick under r->policy's windows). */
void decision_fill_alternatives(struct decision_record *r,
                                const struct attr_touch *touches, size_t n);

/* Sets every alternative to the credited touchpoint: for the token path,
 * which wins under every model. */
void decision_same_alternatives(struct decision_record *r);

/* Parses an alternative "C|M|LINK|KIND|TIME" into *out. Returns 0, 1 when
 * text is "" (nothing credited), or -1 when malformed. */
int decision_parse_alternative(const char *text, struct attr_touch *out);

/* Returns the record as a newly allocated JSON object text of string
 * values (free() it), or NULL when memory runs out. */
char *decision_to_json(const struct decision_record *r);

/* Parses the fields that rebuild a stored record from the JSON object
 * text[0..len): event, shop, order, time, verified, model, windows,
 * machine_events, path, cross_device, campaign, message, link, touch,
 * touch_time, revenue and currency (the trail and alternatives are not read
 * back). Returns 0, or
 * -1 when a field is missing or malformed. */
int decision_from_json(const char *text, size_t len, struct decision_record *r);

#endif
