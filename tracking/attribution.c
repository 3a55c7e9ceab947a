/*
 * attribution.c - the crediting rules of attribution.h.
 */
#include "attribution.h"

#include <string.h>

#include "classify.h"

static const char *const model_names[ATTR_MODEL_COUNT] = {
    [ATTR_MODEL_LAST_CLICK] = "last_click",
    [ATTR_MODEL_FIRST_TOUCH] = "first_touch",
    [ATTR_MODEL_LAST_TOUCH] = "last_touch",
};

static const char *const path_names[] = {
    [ATTR_PATH_NONE] = "none",         [ATTR_PATH_TOKEN] = "token",
    [ATTR_PATH_DEVICE] = "device",     [ATTR_PATH_CUSTOMER] = "customer",
    [ATTR_PATH_EMAIL] = "email",
};

#define PATH_COUNT (sizeof(path_names) / sizeof(path_names[0]))

const char *attribution_model_name(enum attr_model model)
{
    if ((unsigned)model >= ATTR_MODEL_COUNT)
        return "last_click";
    return model_names[model];
}

int attribution_model_parse(const char *name, enum attr_model *out)
{
    for (unsigned i = 0; i < ATTR_MODEL_COUNT; i++) {
        if (strcmp(name, model_names[i]) == 0) {
            *out = (enum attr_model)i;
            return 0;
        }
    }
    return -1;
}

const char *attribution_path_name(enum attr_path path)
{
    if ((unsigned)path >= PATH_COUNT)
        return "none";
    return path_names[path];
}

int attribution_path_parse(const char *name, enum attr_path *out)
{
    for (unsigned i = 0; i < PATH_COUNT; i++) {
        if (strcmp(name, path_names[i]) == 0) {
            *out = (enum attr_path)i;
            return 0;
        }
    }
    return -1;
}

const char *attribution_touch_kind_name(enum attr_touch_kind kind)
{
    return kind == ATTR_TOUCH_OPEN ? "open" : "click";
}

bool attribution_in_window(uint32_t touch_time, uint32_t order_time,
                           uint32_t window_s)
{
    if (touch_time >= order_time)
        return touch_time - order_time <= ATTR_CLOCK_SKEW_S;
    return order_time - touch_time <= window_s;
}

bool attribution_eligible(const struct attr_policy *p,
                          const struct attr_touch *t, uint32_t order_time)
{
    if (t->touch.verdict != VERDICT_HUMAN && !p->attribute_machine_events)
        return false;
    if (t->kind == ATTR_TOUCH_CLICK)
        return attribution_in_window(t->touch.time, order_time, p->click_window_s);
    if (t->kind == ATTR_TOUCH_OPEN && p->attribute_opens)
        return attribution_in_window(t->touch.time, order_time, p->open_window_s);
    return false;
}

uint32_t attribution_oldest_eligible(const struct attr_policy *p,
                                     uint32_t order_time)
{
    uint32_t window = p->click_window_s;

    if (p->attribute_opens && p->open_window_s > window)
        window = p->open_window_s;
    return order_time > window ? order_time - window : 0;
}

bool attribution_from_visit(const struct attr_policy *p,
                            const struct event_touch *visit,
                            uint32_t order_time, struct attr_decision *out)
{
    if (!attribution_in_window(visit->time, order_time, p->click_window_s))
        return false;

    memset(out, 0, sizeof(*out));
    out->path = ATTR_PATH_TOKEN;
    out->cross_device = false;
    out->touch.kind = ATTR_TOUCH_CLICK;
    out->touch.touch = *visit;
    return true;
}

/* Tells whether candidate beats best under model; best may be NULL. */
static bool better(enum attr_model model, const struct attr_touch *candidate,
                   const struct attr_touch *best)
{
    if (best == NULL)
        return true;

    switch (model) {
    case ATTR_MODEL_FIRST_TOUCH:
        return candidate->touch.time < best->touch.time;
    case ATTR_MODEL_LAST_TOUCH:
        return candidate->touch.time > best->touch.time;
    case ATTR_MODEL_LAST_CLICK:
        /* A click beats any open; within one kind the later one wins. */
        if (candidate->kind != best->kind)
            return candidate->kind == ATTR_TOUCH_CLICK;
        return candidate->touch.time > best->touch.time;
    }
    return false;
}

long attribution_pick(const struct attr_policy *p, enum attr_model model,
                      const struct attr_touch *touches, size_t n,
                      uint32_t order_time)
{
    long best = -1;

    for (size_t i = 0; i < n; i++) {
        if (!attribution_eligible(p, &touches[i], order_time))
            continue;
        if (better(model, &touches[i], best < 0 ? NULL : &touches[best]))
            best = (long)i;
    }
    return best;
}

bool attribution_credit(const struct attr_policy *p,
                        const struct attr_touch *touches, size_t n,
                        uint32_t order_time, enum attr_path path,
                        struct attr_decision *out)
{
    long i = attribution_pick(p, p->model, touches, n, order_time);

    if (i < 0)
        return false;

    memset(out, 0, sizeof(*out));
    out->path = path;
    out->cross_device = path != ATTR_PATH_DEVICE;
    out->touch = touches[i];
    return true;
}
