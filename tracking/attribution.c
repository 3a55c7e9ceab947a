/*
 * attribution.c - the crediting rule of attribution.h.
 */
#include "attribution.h"

#include <string.h>

const char *attribution_path_name(enum attr_path path)
{
    switch (path) {
    case ATTR_PATH_TOKEN:
        return "token";
    case ATTR_PATH_CUSTOMER:
        return "customer";
    case ATTR_PATH_EMAIL:
        return "email";
    case ATTR_PATH_NONE:
        break;
    }
    return "none";
}

bool attribution_in_window(uint32_t click_time, uint32_t order_time,
                           uint32_t window_s)
{
    if (click_time >= order_time)
        return true;
    return order_time - click_time <= window_s;
}

bool attribution_from_visit(const struct event_touch *visit,
                            uint32_t order_time, uint32_t window_s,
                            struct attr_decision *out)
{
    if (!attribution_in_window(visit->time, order_time, window_s))
        return false;

    memset(out, 0, sizeof(*out));
    out->path = ATTR_PATH_TOKEN;
    out->cross_device = false;
    out->touch = *visit;
    return true;
}

bool attribution_last_click(const struct event_touch *clicks, size_t n,
                            uint32_t order_time, uint32_t window_s,
                            enum attr_path path, struct attr_decision *out)
{
    const struct event_touch *best = NULL;

    for (size_t i = 0; i < n; i++) {
        if (!attribution_in_window(clicks[i].time, order_time, window_s))
            continue;
        if (best == NULL || clicks[i].time > best->time)
            best = &clicks[i];
    }
    if (best == NULL)
        return false;

    memset(out, 0, sizeof(*out));
    out->path = path;
    out->cross_device = true;
    out->touch = *best;
    return true;
}
