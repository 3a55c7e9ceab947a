/*
 * attribution.h - which email touch a checkout is credited to.
 *
 * The rules, applied in this order:
 *
 *   1. A valid tly token on the checkout credits the click it stands for
 *      when that click lies within the click window before the order. The
 *      token is direct evidence of the visit, so it wins under every model
 *      and the sale counts as same-device.
 *   2. Otherwise tally resolves candidate readers, in this order: the reader
 *      linked to the checkout's device id (same-device), the reader linked
 *      to its customer id, and the reader of its email hash (both
 *      cross-device). The first candidate with an eligible touchpoint wins.
 *   3. Among one reader's eligible touchpoints the model chooses: last_click
 *      takes the latest click, and the latest open only when the reader has
 *      no click in the window; last_touch takes the latest touchpoint of
 *      either kind; first_touch takes the earliest.
 *
 * A click is eligible within the click window before the order, an open
 * within the open window and only when opens are attributed. A touchpoint
 * whose verdict is not human (a machine's, classify.h) is eligible only
 * when machine events are attributed. Windows run
 * from the touchpoint to the order. A touchpoint stamped up to
 * ATTR_CLOCK_SKEW_S after the order (two servers' clocks) counts as age
 * zero; a later one is ignored, so replaying an old checkout cannot credit
 * a touch that happened after it.
 *
 * Everything here is computation: the store does the lookups and calls in.
 */
#ifndef TALLY_ATTRIBUTION_H
#define TALLY_ATTRIBUTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

#define ATTR_CLOCK_SKEW_S 60

enum attr_model {
    ATTR_MODEL_LAST_CLICK = 0,
    ATTR_MODEL_FIRST_TOUCH,
    ATTR_MODEL_LAST_TOUCH,
};
#define ATTR_MODEL_COUNT 3

enum attr_path {
    ATTR_PATH_NONE = 0,
    ATTR_PATH_TOKEN,
    ATTR_PATH_DEVICE,
    ATTR_PATH_CUSTOMER,
    ATTR_PATH_EMAIL,
};

enum attr_touch_kind {
    ATTR_TOUCH_OPEN = 1,
    ATTR_TOUCH_CLICK = 2,
};

struct attr_policy {
    enum attr_model model;
    uint32_t click_window_s;
    uint32_t open_window_s;
    bool attribute_opens;
    /* Credit touchpoints whose verdict is not human (classify.h): scanner
     * clicks, privacy-proxy and image-proxy opens, prefetches. */
    bool attribute_machine_events;
};

/* One touchpoint of a reader: an open or a click. */
struct attr_touch {
    enum attr_touch_kind kind;
    struct event_touch touch;
    uint8_t device; /* enum device_class of the request that made it */
    uint8_t client; /* enum client_family */
};

struct attr_decision {
    enum attr_path path;
    bool cross_device;
    struct attr_touch touch; /* the credited touchpoint; when path is not NONE */
};

/* Returns the stored name of a model: "last_click", "first_touch" or
 * "last_touch". */
const char *attribution_model_name(enum attr_model model);

/* Parses a model name. Returns 0, or -1 when name is not one. */
int attribution_model_parse(const char *name, enum attr_model *out);

/* Returns the stored name of a path: "none", "token", "device", "customer"
 * or "email". */
const char *attribution_path_name(enum attr_path path);

/* Parses a path name. Returns 0, or -1 when name is not one. */
int attribution_path_parse(const char *name, enum attr_path *out);

/* Returns "open" or "click". */
const char *attribution_touch_kind_name(enum attr_touch_kind kind);

/* Tells whether a touchpoint at touch_time may be credited to an order at
 * order_time: at most window_s seconds before it, or at most
 * ATTR_CLOCK_SKEW_S after it. */
bool attribution_in_window(uint32_t touch_time, uint32_t order_time,
                           uint32_t window_s);

/* Tells whether t is eligible for an order at order_time under policy p:
 * its kind is attributed, it is a person's or machine events are
 * attributed, and it lies in that kind's window. */
bool attribution_eligible(const struct attr_policy *p,
                          const struct attr_touch *t, uint32_t order_time);

/* Returns the earliest time a touchpoint can have and still be eligible
 * under p for an order at order_time (0 when the window reaches back past
 * the epoch), for bounding the read of a reader's touchpoints. */
uint32_t attribution_oldest_eligible(const struct attr_policy *p,
                                     uint32_t order_time);

/* Credits the visit token's click (path token, same-device) when it lies
 * within the click window. The model plays no part. Returns true and fills
 * *out, or false. */
bool attribution_from_visit(const struct attr_policy *p,
                            const struct event_touch *visit,
                            uint32_t order_time, struct attr_decision *out);

/* Picks the touchpoint of touches[0..n) that model credits for an order at
 * order_time, using p's windows and opens setting (p->model is ignored).
 * Ties in time go to the touchpoint listed first. Returns its index, or -1
 * when none is eligible. */
long attribution_pick(const struct attr_policy *p, enum attr_model model,
                      const struct attr_touch *touches, size_t n,
                      uint32_t order_time);

/* Credits the touchpoint of touches[0..n) that p->model picks, through
 * path; cross-device unless path is ATTR_PATH_DEVICE. Returns true and
 * fills *out, or false when none is eligible. */
bool attribution_credit(const struct attr_policy *p,
                        const struct attr_touch *touches, size_t n,
                        uint32_t order_time, enum attr_path path,
                        struct attr_decision *out);

#endif
