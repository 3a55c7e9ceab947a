/*
 * attribution.h - which email touch a checkout is credited to.
 *
 * The rule: a valid tly token on the checkout credits the click it stands
 * for when that click lies within the click window before the order (the
 * token is direct evidence of the visit, so the sale counts as same-device).
 * Otherwise tally resolves a reader, first through a linked customer id,
 * then through the email hash, and credits that reader's last click within
 * the window (cross-device). With no such click the order is unattributed.
 */
#ifndef TALLY_ATTRIBUTION_H
#define TALLY_ATTRIBUTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

enum attr_path {
    ATTR_PATH_NONE = 0,
    ATTR_PATH_TOKEN,
    ATTR_PATH_CUSTOMER,
    ATTR_PATH_EMAIL,
};

struct attr_decision {
    enum attr_path path;
    bool cross_device;
    struct event_touch touch; /* the credited click; when path is not NONE */
};

/* Returns the name of a path as stored in decision records: "none",
 * "token", "customer" or "email". */
const char *attribution_path_name(enum attr_path path);

/* Tells whether a click at click_time may be credited to an order at
 * order_time: no more than window_s seconds before it. A click stamped a
 * little after the order (clocks of two servers) counts as age zero. */
bool attribution_in_window(uint32_t click_time, uint32_t order_time,
                           uint32_t window_s);

/* Credits the visit token's click, if within the window. Returns true and
 * fills *out, or false. */
bool attribution_from_visit(const struct event_touch *visit,
                            uint32_t order_time, uint32_t window_s,
                            struct attr_decision *out);

/* Credits the latest of clicks[0..n) within the window through path.
 * Returns true and fills *out, or false when none is in the window. */
bool attribution_last_click(const struct event_touch *clicks, size_t n,
                            uint32_t order_time, uint32_t window_s,
                            enum attr_path path, struct attr_decision *out);

#endif
