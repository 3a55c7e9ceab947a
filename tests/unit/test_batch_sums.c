/*
 * test_batch_sums.c - the summed counts of a live campaign batch: sums per
 * key and column in the order first added, a sum that ends at 0 still
 * sent, links per message and link, and the RESP triples CAMPAIGN_SUMS
 * reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batch_sums.h"

/* The triples of s as text "key field n;" each, for comparing. */
static char *triples_text(const struct batch_sums *s, size_t links_key)
{
    struct resp_buf out = {0};
    static char text[4096];
    size_t len = 0, pos = 0;
    int part = 0;

    batch_sums_encode(s, links_key, &out);
    assert_false(out.failed);
    /* Each bulk string is "$LEN\r\nDATA\r\n". */
    while (pos < out.len) {
        size_t n;

        assert_int_equal(out.data[pos], '$');
        n = strtoul(out.data + pos + 1, NULL, 10);
        pos = (size_t)(strstr(out.data + pos, "\r\n") - out.data) + 2;
        memcpy(text + len, out.data + pos, n);
        len += n;
        text[len++] = ++part % 3 == 0 ? ';' : ' ';
        pos += n + 2;
    }
    text[len] = '\0';
    resp_free(&out);
    return text;
}

static void sums_add_up_per_key_and_column(void **state)
{
    static struct batch_sums s;

    (void)state;
    batch_sums_reset(&s);
    batch_sums_add(&s, 1, false, SUM_TOTAL, 1);
    batch_sums_add(&s, 1, false, SUM_TOTAL, 1);
    batch_sums_add(&s, 5, false, SUM_UNIQUE, 1);
    batch_sums_add(&s, 1, true, (enum sum_column)(SUM_VERDICT + VERDICT_BURST), 2);
    /* A moved click: -1 human and +1 burst on the same key. */
    batch_sums_add(&s, 1, true, (enum sum_column)(SUM_VERDICT + VERDICT_HUMAN), 1);
    batch_sums_add(&s, 1, true, (enum sum_column)(SUM_VERDICT + VERDICT_HUMAN), -1);
    batch_sums_add(&s, 2, true, (enum sum_column)(SUM_VERDICT + VERDICT_HONEYPOT), -300);

    assert_int_equal(batch_sums_triples(&s), 5);
    assert_string_equal(triples_text(&s, 3),
                        "1 opens 2;5 unique_opens 1;1 clicks:burst 2;1 clicks:human 0;"
                        "2 clicks:honeypot -300;");
}

static void sums_count_links_per_message(void **state)
{
    static struct batch_sums s;

    (void)state;
    batch_sums_reset(&s);
    assert_int_equal(batch_sums_add_link(&s, "a", 2), 0);
    assert_int_equal(batch_sums_add_link(&s, "b", 2), 0);
    assert_int_equal(batch_sums_add_link(&s, "a", 2), 0);
    assert_int_equal(batch_sums_add_link(&s, "a", 4294967295u), 0);

    assert_int_equal(batch_sums_triples(&s), 3);
    assert_string_equal(triples_text(&s, 3), "3 a:2 2;3 b:2 1;3 a:4294967295 1;");
}

static void sums_reset_forgets_everything(void **state)
{
    static struct batch_sums s;

    (void)state;
    batch_sums_reset(&s);
    batch_sums_add(&s, BATCH_SUMS_KEYS, false, SUM_TOTAL, 7);
    assert_int_equal(batch_sums_add_link(&s, "a", 1), 0);
    batch_sums_reset(&s);
    assert_int_equal(batch_sums_triples(&s), 0);

    /* A column used again after a reset starts from 0. */
    batch_sums_add(&s, BATCH_SUMS_KEYS, false, SUM_TOTAL, 1);
    assert_string_equal(triples_text(&s, 3), "60 opens 1;");
}

static void sums_link_table_is_bounded(void **state)
{
    static struct batch_sums s;

    (void)state;
    batch_sums_reset(&s);
    for (uint32_t i = 0; i < BATCH_SUMS_LINKS; i++)
        assert_int_equal(batch_sums_add_link(&s, "a", i), 0);
    assert_int_equal(batch_sums_add_link(&s, "a", BATCH_SUMS_LINKS), -1);
    /* A link already counted still counts. */
    assert_int_equal(batch_sums_add_link(&s, "a", 0), 0);
    assert_int_equal(batch_sums_triples(&s), BATCH_SUMS_LINKS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sums_add_up_per_key_and_column),
        cmocka_unit_test(sums_count_links_per_message),
        cmocka_unit_test(sums_reset_forgets_everything),
        cmocka_unit_test(sums_link_table_is_bounded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
