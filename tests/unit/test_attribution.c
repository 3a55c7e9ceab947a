/*
 * test_attribution.c - the crediting rules: models, windows, the token
 * rule, clock skew, ties, machine touchpoints and the decision trail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attribution.h"
#include "classify.h"
#include "decision.h"
#include "touch.h"

#define DAY 86400u
#define NOW 2000000000u

static struct attr_touch touch(enum attr_touch_kind kind, const char *campaign,
                               uint32_t time)
{
    struct attr_touch t;

    memset(&t, 0, sizeof(t));
    t.kind = kind;
    strcpy(t.touch.campaign, campaign);
    strcpy(t.touch.message, "m");
    t.touch.time = time;
    return t;
}

static struct attr_policy policy(enum attr_model model, bool opens)
{
    struct attr_policy p = {
        .model = model,
        .click_window_s = 7 * DAY,
        .open_window_s = DAY,
        .attribute_opens = opens,
    };

    return p;
}

static void test_window_edges(void **state)
{
    (void)state;
    assert_true(attribution_in_window(NOW - 7 * DAY, NOW, 7 * DAY));
    assert_false(attribution_in_window(NOW - 7 * DAY - 1, NOW, 7 * DAY));
    assert_true(attribution_in_window(NOW, NOW, 0));
    assert_true(attribution_in_window(NOW + ATTR_CLOCK_SKEW_S, NOW, 7 * DAY));
    assert_false(attribution_in_window(NOW + ATTR_CLOCK_SKEW_S + 1, NOW, 7 * DAY));
}

static void test_last_click_latest_click(void **state)
{
    struct attr_policy p = policy(ATTR_MODEL_LAST_CLICK, false);
    struct attr_touch t[] = {touch(ATTR_TOUCH_CLICK, "a", NOW - 3 * DAY),
                             touch(ATTR_TOUCH_CLICK, "b", NOW - DAY),
                             touch(ATTR_TOUCH_CLICK, "c", NOW - 2 * DAY)};

    (void)state;
    assert_int_equal(attribution_pick(&p, p.model, t, 3, NOW), 1);
}

static void test_last_click_ignores_opens_when_off(void **state)
{
    struct attr_policy p = policy(ATTR_MODEL_LAST_CLICK, false);
    struct attr_touch t[] = {touch(ATTR_TOUCH_OPEN, "a", NOW - 60)};

    (void)state;
    assert_int_equal(attribution_pick(&p, p.model, t, 1, NOW), -1);
}

static void test_last_click_prefers_click_to_open(void **state)
{
    struct attr_policy p = policy(ATTR_MODEL_LAST_CLICK, true);
    struct attr_touch t[] = {touch(ATTR_TOUCH_CLICK, "a", NOW - 2 * DAY),
                             touch(ATTR_TOUCH_OPEN, "b", NOW - 60)};

    (void)state;
    assert_int_equal(attribution_pick(&p, p.model, t, 2, NOW), 0);
}

static void test_last_click_falls_back_to_open(void **state)
{
    struct attr_policy p = policy(ATTR_MODEL_LAST_CLICK, true);
    struct attr_touch t[] = {touch(ATTR_TOUCH_CLICK, "a", NOW - 8 * DAY),
                             touch(ATTR_TOUCH_OPEN, "b", NOW - 3600),
                             touch(ATTR_TOUCH_OPEN, "c", NOW - 60)};

    (void)state;
    assert_int_equal(attribution_pick(&p, p.model, t, 3, NOW), 2);
}

static void test_open_window_separate(void **state)
{
    struct attr_policy p = policy(ATTR_MODEL_LAST_TOUCH, true);
    struct attr_touch t[] = {touch(ATTR_TOUCH_OPEN, "a", NOW - DAY - 1),
                             touch(ATTR_TOUCH_CLICK, "b", NOW - 6 * DAY)};

    (void)state;
    assert_int_equal(attribution_pick(&p, p.model, t, 2, NOW), 1);
    assert_int_equal(attribution_oldest_eligible(&p, NOW), NOW - 7 * DAY);
    p.open_window_s = 30 * DAY;
    assert_int_equal(attribution_oldest_eligible(&p, NOW), NOW - 30 * DAY);
    p.attribute_opens = false;
    assert_int_equal(attribution_oldest_eligible(&p, NOW), NOW - 7 * DAY);
}

static void test_first_touch_earliest(void **state)
{
    struct attr_policy p = policy(ATTR_MODEL_FIRST_TOUCH, true);
    struct attr_touch t[] = {touch(ATTR_TOUCH_CLICK, "a", NOW - 2 * DAY),
                             touch(ATTR_TOUCH_OPEN, "b", NOW - 3600),
                             touch(ATTR_TOUCH_CLICK, "c", NOW - 8 * DAY),
                             touch(ATTR_TOUCH_OPEN, "d", NOW - 2 * DAY)};

    (void)state;
    /* c is outside the click window, d outside the open window. */
    assert_int_equal(attribution_pick(&p, p.model, t, 4, NOW), 0);
}

static void test_last_touch_latest_any(void **state)
{
    struct attr_policy p = policy(ATTR_MODEL_LAST_TOUCH, true);
    struct attr_touch t[] = {touch(ATTR_TOUCH_CLICK, "a", NOW - 2 * DAY),
                             touch(ATTR_TOUCH_OPEN, "b", NOW - 60)};

    (void)state;
    assert_int_equal(attribution_pick(&p, p.model, t, 2, NOW), 1);
}

static void test_tie_goes_to_first_listed(void **state)
{
    struct attr_policy p = policy(ATTR_MODEL_LAST_CLICK, false);
    struct attr_touch t[] = {touch(ATTR_TOUCH_CLICK, "a", NOW - 60),
                             touch(ATTR_TOUCH_CLICK, "b", NOW - 60)};

    (void)state;
    assert_int_equal(attribution_pick(&p, p.model, t, 2, NOW), 0);
    p.model = ATTR_MODEL_FIRST_TOUCH;
    assert_int_equal(attribution_pick(&p, p.model, t, 2, NOW), 0);
}

static struct attr_touch machine(enum attr_touch_kind kind, const char *campaign,
                                 uint32_t time, enum verdict verdict)
{
    struct attr_touch t = touch(kind, campaign, time);

    t.touch.verdict = (uint8_t)verdict;
    return t;
}

static void test_machine_touch_skipped_by_default(void **state)
{
    struct attr_policy p = policy(ATTR_MODEL_LAST_TOUCH, true);
    struct attr_touch t[] = {touch(ATTR_TOUCH_CLICK, "a", NOW - 2 * DAY),
                             machine(ATTR_TOUCH_CLICK, "b", NOW - DAY, VERDICT_SCANNER),
                             machine(ATTR_TOUCH_OPEN, "c", NOW - 60,
                                     VERDICT_PRIVACY_PROXY),
                             machine(ATTR_TOUCH_OPEN, "d", NOW - 30,
                                     VERDICT_IMAGE_PROXY)};

    (void)state;
    assert_false(attribution_eligible(&p, &t[1], NOW));
    assert_false(attribution_eligible(&p, &t[2], NOW));
    assert_false(attribution_eligible(&p, &t[3], NOW));
    assert_int_equal(attribution_pick(&p, p.model, t, 4, NOW), 0);
    assert_int_equal(attribution_pick(&p, ATTR_MODEL_LAST_CLICK, t, 4, NOW), 0);
}

static void test_machine_touch_credited_when_on(void **state)
{
    struct attr_policy p = policy(ATTR_MODEL_LAST_CLICK, false);
    struct attr_touch t[] = {touch(ATTR_TOUCH_CLICK, "a", NOW - 2 * DAY),
                             machine(ATTR_TOUCH_CLICK, "b", NOW - DAY, VERDICT_SCANNER),
                             machine(ATTR_TOUCH_OPEN, "c", NOW - 60,
                                     VERDICT_PRIVACY_PROXY)};

    (void)state;
    p.attribute_machine_events = true;
    assert_int_equal(attribution_pick(&p, p.model, t, 3, NOW), 1);
    /* Opens still need attribute_opens. */
    assert_int_equal(attribution_pick(&p, ATTR_MODEL_LAST_TOUCH, t, 3, NOW), 1);
    p.attribute_opens = true;
    assert_int_equal(attribution_pick(&p, ATTR_MODEL_LAST_TOUCH, t, 3, NOW), 2);
}

static void test_future_touch_ignored(void **state)
{
    struct attr_policy p = policy(ATTR_MODEL_LAST_CLICK, false);
    struct attr_touch t[] = {touch(ATTR_TOUCH_CLICK, "a", NOW - 60),
                             touch(ATTR_TOUCH_CLICK, "b", NOW + 3600)};

    (void)state;
    assert_int_equal(attribution_pick(&p, p.model, t, 2, NOW), 0);
}

static void test_empty_list(void **state)
{
    struct attr_policy p = policy(ATTR_MODEL_LAST_CLICK, true);
    struct attr_decision d;

    (void)state;
    assert_int_equal(attribution_pick(&p, p.model, NULL, 0, NOW), -1);
    assert_false(attribution_credit(&p, NULL, 0, NOW, ATTR_PATH_EMAIL, &d));
}

static void test_token_within_window(void **state)
{
    struct attr_policy p = policy(ATTR_MODEL_FIRST_TOUCH, false);
    struct attr_touch visit = touch(ATTR_TOUCH_CLICK, "a", NOW - 7 * DAY);
    struct attr_decision d;

    (void)state;
    assert_true(attribution_from_visit(&p, &visit.touch, NOW, &d));
    assert_int_equal(d.path, ATTR_PATH_TOKEN);
    assert_false(d.cross_device);
    assert_int_equal(d.touch.kind, ATTR_TOUCH_CLICK);
    visit.touch.time = NOW - 7 * DAY - 1;
    assert_false(attribution_from_visit(&p, &visit.touch, NOW, &d));
}

static void test_credit_paths_set_device_kind(void **state)
{
    struct attr_policy p = policy(ATTR_MODEL_LAST_CLICK, false);
    struct attr_touch t[] = {touch(ATTR_TOUCH_CLICK, "a", NOW - 60)};
    struct attr_decision d;

    (void)state;
    assert_true(attribution_credit(&p, t, 1, NOW, ATTR_PATH_DEVICE, &d));
    assert_false(d.cross_device);
    assert_true(attribution_credit(&p, t, 1, NOW, ATTR_PATH_CUSTOMER, &d));
    assert_true(d.cross_device);
    assert_true(attribution_credit(&p, t, 1, NOW, ATTR_PATH_EMAIL, &d));
    assert_true(d.cross_device);
    assert_string_equal(d.touch.touch.campaign, "a");
}

static void test_names_round_trip(void **state)
{
    enum attr_model m;
    enum attr_path path;

    (void)state;
    for (int i = 0; i < ATTR_MODEL_COUNT; i++) {
        assert_int_equal(attribution_model_parse(attribution_model_name(i), &m), 0);
        assert_int_equal(m, i);
    }
    for (int i = ATTR_PATH_NONE; i <= ATTR_PATH_EMAIL; i++) {
        assert_int_equal(attribution_path_parse(attribution_path_name(i), &path), 0);
        assert_int_equal(path, i);
    }
    assert_int_equal(attribution_model_parse("last", &m), -1);
    assert_int_equal(attribution_path_parse("phone", &path), -1);
}

static void test_touch_parse_open_and_click(void **state)
{
    struct attr_touch t;
    const char click[] = "c|spring|a|3|0011223344556677";

    (void)state;
    assert_int_equal(touch_parse("o|spring|a", 10, 123.0 * 64, &t), 0);
    assert_int_equal(t.kind, ATTR_TOUCH_OPEN);
    assert_string_equal(t.touch.message, "a");
    assert_int_equal(t.touch.time, 123);
    assert_int_equal(touch_parse(click, sizeof(click) - 1, 5.0 * 64, &t), 0);
    assert_int_equal(t.kind, ATTR_TOUCH_CLICK);
    assert_int_equal(t.touch.link, 3);
    assert_int_equal(touch_parse("o|spring|", 9, 64.0, &t), -1);
    assert_int_equal(touch_parse("o|spring|a|", 11, 64.0, &t), -1);
    assert_int_equal(touch_parse("x|spring|a", 10, 64.0, &t), -1);
    assert_int_equal(touch_parse("o|spring|a", 10, -1.0, &t), -1);
}

static void test_touch_parse_machine_suffix(void **state)
{
    static const char open[] = "o|spring|a|privacy_proxy";
    static const char click[] = "c|spring|a|3|0011223344556677|scanner";
    struct attr_touch t;

    (void)state;
    assert_int_equal(touch_parse("o|spring|a", 10, 64.0, &t), 0);
    assert_int_equal(t.touch.verdict, VERDICT_HUMAN);
    assert_int_equal(touch_parse(open, sizeof(open) - 1, 7.0 * 64, &t), 0);
    assert_int_equal(t.kind, ATTR_TOUCH_OPEN);
    assert_string_equal(t.touch.message, "a");
    assert_int_equal(t.touch.verdict, VERDICT_PRIVACY_PROXY);
    assert_int_equal(touch_parse(click, sizeof(click) - 1, 7.0 * 64, &t), 0);
    assert_int_equal(t.kind, ATTR_TOUCH_CLICK);
    assert_int_equal(t.touch.link, 3);
    assert_int_equal(t.touch.verdict, VERDICT_SCANNER);
    assert_int_equal(touch_parse("o|spring|a|robot", 16, 64.0, &t), -1);
    assert_int_equal(touch_parse("o|spring|a|scanner|", 19, 64.0, &t), -1);
    assert_int_equal(touch_parse("o|spring|a|scanner|x", 20, 64.0, &t), -1);
}

static void test_trail_and_reasons(void **state)
{
    struct decision_trail t;
    char text[DECISION_TRAIL_TEXT];

    (void)state;
    memset(&t, 0, sizeof(t));
    assert_string_equal(decision_unattributed_reason(&t), "no_identifier");
    decision_trail_format(&t, text);
    assert_string_equal(text, "");

    decision_trail_add(&t, ATTR_PATH_CUSTOMER, DECISION_PLACEHOLDER);
    assert_string_equal(decision_unattributed_reason(&t), "placeholder_only");
    decision_trail_add(&t, ATTR_PATH_TOKEN, DECISION_INVALID);
    assert_string_equal(decision_unattributed_reason(&t), "invalid_token");
    decision_trail_add(&t, ATTR_PATH_TOKEN, DECISION_OUTSIDE_WINDOW);
    assert_string_equal(decision_unattributed_reason(&t), "token_outside_window");
    decision_trail_add(&t, ATTR_PATH_DEVICE, DECISION_NOT_LINKED);
    assert_string_equal(decision_unattributed_reason(&t), "not_linked");
    decision_trail_add(&t, ATTR_PATH_DEVICE, DECISION_SHARED);
    assert_string_equal(decision_unattributed_reason(&t), "shared_identifier");
    decision_trail_add(&t, ATTR_PATH_EMAIL, DECISION_NO_TOUCH);
    assert_string_equal(decision_unattributed_reason(&t), "no_touch_in_window");

    decision_trail_format(&t, text);
    assert_string_equal(text, "customer:placeholder token:invalid "
                              "token:outside_window device:not_linked "
                              "device:shared email:no_touch");
    for (int i = 0; i < 5; i++)
        decision_trail_add(&t, ATTR_PATH_EMAIL, DECISION_CREDITED);
    assert_int_equal(t.n, DECISION_TRAIL_MAX);
}

static void test_record_json_round_trip(void **state)
{
    struct decision_record r, back;
    struct attr_touch t[] = {touch(ATTR_TOUCH_CLICK, "a", NOW - 2 * DAY),
                             touch(ATTR_TOUCH_OPEN, "b", NOW - 60)};
    struct attr_touch alt;
    char *json;

    (void)state;
    memset(&r, 0, sizeof(r));
    strcpy(r.event, "w-1");
    strcpy(r.shop, "default");
    strcpy(r.order, "A:1 {x}");
    strcpy(r.currency, "EUR");
    r.time = NOW;
    r.revenue_minor = 8995;
    r.policy = policy(ATTR_MODEL_LAST_CLICK, true);
    assert_true(attribution_credit(&r.policy, t, 2, NOW, ATTR_PATH_EMAIL, &r.decision));
    decision_fill_alternatives(&r, t, 2);
    assert_true(strncmp(r.alt[ATTR_MODEL_LAST_CLICK], "a|m|0|click|", 12) == 0);
    assert_true(strncmp(r.alt[ATTR_MODEL_LAST_TOUCH], "b|m|0|open|", 11) == 0);
    assert_true(strncmp(r.alt[ATTR_MODEL_FIRST_TOUCH], "a|m|0|click|", 12) == 0);
    assert_int_equal(decision_parse_alternative(r.alt[ATTR_MODEL_LAST_TOUCH], &alt), 0);
    assert_int_equal(alt.kind, ATTR_TOUCH_OPEN);
    assert_int_equal(alt.touch.time, NOW - 60);

    json = decision_to_json(&r);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"lag\":\"172800\""));
    assert_non_null(strstr(json, "\"path\":\"email\""));
    assert_non_null(strstr(json, "\"cross_device\":\"1\""));
    assert_non_null(strstr(json, "\"machine_events\":\"ignored\""));
    assert_int_equal(decision_from_json(json, strlen(json), &back), 0);
    assert_false(back.policy.attribute_machine_events);
    assert_string_equal(back.order, "A:1 {x}");
    assert_int_equal(back.decision.path, ATTR_PATH_EMAIL);
    assert_string_equal(back.decision.touch.touch.campaign, "a");
    assert_int_equal(back.decision.touch.touch.time, NOW - 2 * DAY);
    assert_int_equal(back.revenue_minor, 8995);
    assert_true(back.decision.cross_device);
    free(json);

    memset(&r.decision, 0, sizeof(r.decision));
    decision_trail_add(&r.trail, ATTR_PATH_EMAIL, DECISION_NO_TOUCH);
    r.policy.attribute_machine_events = true;
    json = decision_to_json(&r);
    assert_non_null(strstr(json, "\"machine_events\":\"included\""));
    assert_non_null(strstr(json, "\"reason\":\"no_touch_in_window\""));
    assert_non_null(strstr(json, "\"campaign\":\"\""));
    assert_int_equal(decision_from_json(json, strlen(json), &back), 0);
    assert_int_equal(back.decision.path, ATTR_PATH_NONE);
    assert_true(back.policy.attribute_machine_events);
    free(json);
    assert_int_equal(decision_from_json("{}", 2, &back), -1);
    assert_int_equal(decision_from_json("[", 1, &back), -1);
}

static void test_alternative_parse_rejects(void **state)
{
    struct attr_touch t;

    (void)state;
    assert_int_equal(decision_parse_alternative("", &t), 1);
    assert_int_equal(decision_parse_alternative("a|m|1|click", &t), -1);
    assert_int_equal(decision_parse_alternative("a|m|1|tap|5", &t), -1);
    assert_int_equal(decision_parse_alternative("a|m|x|click|5", &t), -1);
    assert_int_equal(decision_parse_alternative("a{|m|1|click|5", &t), -1);
    assert_int_equal(decision_parse_alternative("a|m|1|click|5|", &t), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_edges),
        cmocka_unit_test(test_last_click_latest_click),
        cmocka_unit_test(test_last_click_ignores_opens_when_off),
        cmocka_unit_test(test_last_click_prefers_click_to_open),
        cmocka_unit_test(test_last_click_falls_back_to_open),
        cmocka_unit_test(test_open_window_separate),
        cmocka_unit_test(test_first_touch_earliest),
        cmocka_unit_test(test_last_touch_latest_any),
        cmocka_unit_test(test_tie_goes_to_first_listed),
        cmocka_unit_test(test_machine_touch_skipped_by_default),
        cmocka_unit_test(test_machine_touch_credited_when_on),
        cmocka_unit_test(test_future_touch_ignored),
        cmocka_unit_test(test_empty_list),
        cmocka_unit_test(test_token_within_window),
        cmocka_unit_test(test_credit_paths_set_device_kind),
        cmocka_unit_test(test_names_round_trip),
        cmocka_unit_test(test_touch_parse_open_and_click),
        cmocka_unit_test(test_touch_parse_machine_suffix),
        cmocka_unit_test(test_trail_and_reasons),
        cmocka_unit_test(test_record_json_round_trip),
        cmocka_unit_test(test_alternative_parse_rejects),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
