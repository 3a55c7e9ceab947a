/*
 * decision.c - trails, reasons, alternatives and the JSON form of decision
 * records (decision.h), built with jansson.
 */
#include "decision.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"

static const char *const outcome_names[] = {
    [DECISION_CREDITED] = "credited",
    [DECISION_INVALID] = "invalid",
    [DECISION_OUTSIDE_WINDOW] = "outside_window",
    [DECISION_PLACEHOLDER] = "placeholder",
    [DECISION_NOT_LINKED] = "not_linked",
    [DECISION_SHARED] = "shared",
    [DECISION_NO_TOUCH] = "no_touch",
};

/* Identifies whether an unattributed order's trail contains the outcome,
 * in the order decision_unattributed_reason reports them. */
static const struct {
    enum decision_outcome outcome;
    const char *reason;
} reasons[] = {
    {DECISION_NO_TOUCH, "no_touch_in_window"},
    {DECISION_SHARED, "shared_identifier"},
    {DECISION_NOT_LINKED, "not_linked"},
    {DECISION_OUTSIDE_WINDOW, "token_outside_window"},
    {DECISION_INVALID, "invalid_token"},
    {DECISION_PLACEHOLDER, "placeholder_only"},
};

const char *decision_outcome_name(enum decision_outcome outcome)
{
    if ((unsigned)outcome >= sizeof(outcome_names) / sizeof(outcome_names[0]))
        return "invalid";
    return outcome_names[outcome];
}

void decision_trail_add(struct decision_trail *t, enum attr_path path,
                        enum decision_outcome outcome)
{
    if (t->n >= DECISION_TRAIL_MAX)
        return;
    t->steps[t->n].path = path;
    t->steps[t->n].outcome = outcome;
    t->n++;
}

void decision_trail_format(const struct decision_trail *t, char *out)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < t->n; i++) {
        int n = snprintf(out + used, DECISION_TRAIL_TEXT - used, "%s%s:%s",
                         i > 0 ? " " : "", attribution_path_name(t->steps[i].path),
                         decision_outcome_name(t->steps[i].outcome));

        if (n < 0 || (size_t)n >= DECISION_TRAIL_TEXT - used)
            return;
        used += (size_t)n;
    }
}

bool decision_trail_has(const struct decision_trail *t,
                        enum decision_outcome outcome)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->steps[i].outcome == outcome)
            return true;
    }
    return false;
}

const char *decision_unattributed_reason(const struct decision_trail *t)
{
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        if (decision_trail_has(t, reasons[i].outcome))
            return reasons[i].reason;
    }
    return "no_identifier";
}

static void format_alternative(const struct attr_touch *t, char *out)
{
    snprintf(out, DECISION_ALT_MAX, "%s|%s|%" PRIu32 "|%s|%" PRIu32,
             t->touch.campaign, t->touch.message, t->touch.link,
             attribution_touch_kind_name(t->kind), t->touch.time);
}

void decision_fill_alternatives(struct decision_record *r,
                                const struct attr_touch *touches, size_t n)
{
    for (unsigned m = 0; m < ATTR_MODEL_COUNT; m++) {
        long i = attribution_pick(&r->policy, (enum attr_model)m, touches, n,
                                  r->time);

        r->alt[m][0] = '\0';
        if (i >= 0)
            format_alternative(&touches[i], r->alt[m]);
    }
}

void decision_same_alternatives(struct decision_record *r)
{
    for (unsigned m = 0; m < ATTR_MODEL_COUNT; m++) {
        r->alt[m][0] = '\0';
        if (r->decision.path != ATTR_PATH_NONE)
            format_alternative(&r->decision.touch, r->alt[m]);
    }
}

static int parse_u32(const char *text, uint32_t *out)
{
    char *end;
    unsigned long long v;

    if (text[0] < '0' || text[0] > '9')
        return -1;
    v = strtoull(text, &end, 10);
    if (*end != '\0' || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* Copies the field of text[0..len) that ends at the next '|' into out. */
static int take_field(const char **p, char *out, size_t outsize, bool last)
{
    const char *bar = strchr(*p, '|');
    size_t len = bar != NULL ? (size_t)(bar - *p) : strlen(*p);

    if ((bar == NULL) != last || len == 0 || len >= outsize)
        return -1;
    memcpy(out, *p, len);
    out[len] = '\0';
    *p += len + (bar != NULL ? 1 : 0);
    return 0;
}

int decision_parse_alternative(const char *text, struct attr_touch *out)
{
    char link[11], kind[8], time[11];
    const char *p = text;

    memset(out, 0, sizeof(*out));
    if (text[0] == '\0')
        return 1;
    if (take_field(&p, out->touch.campaign, sizeof(out->touch.campaign), false) != 0 ||
        take_field(&p, out->touch.message, sizeof(out->touch.message), false) != 0 ||
        take_field(&p, link, sizeof(link), false) != 0 ||
        take_field(&p, kind, sizeof(kind), false) != 0 ||
        take_field(&p, time, sizeof(time), true) != 0)
        return -1;
    if (!token_id_valid(out->touch.campaign, strlen(out->touch.campaign)) ||
        !token_id_valid(out->touch.message, strlen(out->touch.message)) ||
        parse_u32(link, &out->touch.link) != 0 ||
        parse_u32(time, &out->touch.time) != 0)
        return -1;
    if (strcmp(kind, "click") == 0)
        out->kind = ATTR_TOUCH_CLICK;
    else if (strcmp(kind, "open") == 0)
        out->kind = ATTR_TOUCH_OPEN;
    else
        return -1;
    return 0;
}

static void set_text(json_t *obj, const char *name, const char *value)
{
    json_object_set_new(obj, name, json_string(value));
}

static void set_number(json_t *obj, const char *name, long long value)
{
    char text[24];

    snprintf(text, sizeof(text), "%lld", value);
    set_text(obj, name, text);
}

static const char *const alt_fields[ATTR_MODEL_COUNT] = {
    [ATTR_MODEL_LAST_CLICK] = "alt_last_click",
    [ATTR_MODEL_FIRST_TOUCH] = "alt_first_touch",
    [ATTR_MODEL_LAST_TOUCH] = "alt_last_touch",
};

/* Adds the credited touchpoint's fields, empty when unattributed. */
static void set_touch_fields(json_t *obj, const struct decision_record *r)
{
    const struct attr_decision *d = &r->decision;
    bool credited = d->path != ATTR_PATH_NONE;
    uint32_t lag = 0;

    if (credited && r->time > d->touch.touch.time)
        lag = r->time - d->touch.touch.time;
    set_text(obj, "campaign", credited ? d->touch.touch.campaign : "");
    set_text(obj, "message", credited ? d->touch.touch.message : "");
    set_number(obj, "link", credited ? d->touch.touch.link : 0);
    set_text(obj, "touch", credited ? attribution_touch_kind_name(d->touch.kind) : "");
    set_number(obj, "touch_time", credited ? d->touch.touch.time : 0);
    set_number(obj, "lag", lag);
    set_text(obj, "cross_device", credited && d->cross_device ? "1" : "0");
}

char *decision_to_json(const struct decision_record *r)
{
    json_t *obj = json_object();
    char trail[DECISION_TRAIL_TEXT];
    char *text;

    if (obj == NULL)
        return NULL;
    set_text(obj, "event", r->event);
    set_text(obj, "shop", r->shop);
    set_text(obj, "order", r->order);
    set_number(obj, "time", r->time);
    set_text(obj, "verified", r->verified ? "1" : "0");
    set_text(obj, "model", attribution_model_name(r->policy.model));
    set_number(obj, "click_window", r->policy.click_window_s);
    set_number(obj, "open_window", r->policy.open_window_s);
    set_text(obj, "attribute_opens", r->policy.attribute_opens ? "1" : "0");
    set_text(obj, "machine_events",
             r->policy.attribute_machine_events ? "included" : "ignored");
    set_text(obj, "path", attribution_path_name(r->decision.path));
    set_touch_fields(obj, r);
    decision_trail_format(&r->trail, trail);
    set_text(obj, "trail", trail);
    set_text(obj, "reason", r->decision.path == ATTR_PATH_NONE
                                ? decision_unattributed_reason(&r->trail) : "");
    set_number(obj, "revenue", r->revenue_minor);
    set_text(obj, "currency", r->currency);
    for (unsigned m = 0; m < ATTR_MODEL_COUNT; m++)
        set_text(obj, alt_fields[m], r->alt[m]);

    text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    return text;
}

/* Copies string field name of obj into out. */
static int get_text(json_t *obj, const char *name, char *out, size_t outsize,
                    bool may_be_empty)
{
    json_t *v = json_object_get(obj, name);
    size_t len;

    if (!json_is_string(v))
        return -1;
    len = json_string_length(v);
    if (len >= outsize || (len == 0 && !may_be_empty))
        return -1;
    memcpy(out, json_string_value(v), len);
    out[len] = '\0';
    return 0;
}

static int get_u32(json_t *obj, const char *name, uint32_t *out)
{
    char text[16];

    if (get_text(obj, name, text, sizeof(text), false) != 0)
        return -1;
    return parse_u32(text, out);
}

static int get_touch(json_t *obj, struct decision_record *r)
{
    struct attr_decision *d = &r->decision;
    char kind[8], cross[4];

    if (d->path == ATTR_PATH_NONE)
        return 0;
    if (get_text(obj, "campaign", d->touch.touch.campaign,
                 sizeof(d->touch.touch.campaign), false) != 0 ||
        get_text(obj, "message", d->touch.touch.message,
                 sizeof(d->touch.touch.message), false) != 0 ||
        get_u32(obj, "link", &d->touch.touch.link) != 0 ||
        get_u32(obj, "touch_time", &d->touch.touch.time) != 0 ||
        get_text(obj, "touch", kind, sizeof(kind), false) != 0 ||
        get_text(obj, "cross_device", cross, sizeof(cross), false) != 0)
        return -1;
    d->touch.kind = strcmp(kind, "open") == 0 ? ATTR_TOUCH_OPEN : ATTR_TOUCH_CLICK;
    d->cross_device = strcmp(cross, "1") == 0;
    return 0;
}

int decision_from_json(const char *text, size_t len, struct decision_record *r)
{
    json_error_t error;
    json_t *obj = json_loadb(text, len, 0, &error);
    char path[16], model[16], verified[4], revenue[24], machine[16];
    char *end;
    int rc = -1;

    memset(r, 0, sizeof(*r));
    if (!json_is_object(obj))
        goto done;
    if (get_text(obj, "event", r->event, sizeof(r->event), false) != 0 ||
        get_text(obj, "shop", r->shop, sizeof(r->shop), false) != 0 ||
        get_text(obj, "order", r->order, sizeof(r->order), false) != 0 ||
        get_u32(obj, "time", &r->time) != 0 ||
        get_text(obj, "verified", verified, sizeof(verified), false) != 0 ||
        get_text(obj, "model", model, sizeof(model), false) != 0 ||
        attribution_model_parse(model, &r->policy.model) != 0 ||
        get_u32(obj, "click_window", &r->policy.click_window_s) != 0 ||
        get_u32(obj, "open_window", &r->policy.open_window_s) != 0 ||
        get_text(obj, "machine_events", machine, sizeof(machine), false) != 0 ||
        get_text(obj, "path", path, sizeof(path), false) != 0 ||
        attribution_path_parse(path, &r->decision.path) != 0 ||
        get_touch(obj, r) != 0 ||
        get_text(obj, "revenue", revenue, sizeof(revenue), false) != 0 ||
        get_text(obj, "currency", r->currency, sizeof(r->currency), false) != 0)
        goto done;
    r->verified = strcmp(verified, "1") == 0;
    r->policy.attribute_machine_events = strcmp(machine, "included") == 0;
    r->revenue_minor = strtoll(revenue, &end, 10);
    if (*end != '\0')
        goto done;
    rc = 0;

done:
    json_decref(obj);
    return rc;
}
