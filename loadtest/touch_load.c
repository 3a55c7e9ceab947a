/*
 * touch_load.c - writes the Redis commands that record touchpoints for many
 * readers, for `redis-cli --pipe` (loadtest/bench.py measures the memory
 * they take).
 *
 *   touch_load READERS TOUCHES | redis-cli -s SOCKET --pipe
 *
 * The commands are the store's own: SCRIPT LOAD of READER_TOUCH, then one
 * EVALSHA per touchpoint with the keys, members and marks that
 * send_reader_touch in server/store.c builds (kept in step by hand). Each
 * reader gets TOUCHES / READERS touchpoints, spread over campaigns: the
 * opens of three messages and clicks on links, two in five of them clicks.
 * Reader ids and click ids are pseudo-random, repeatable from run to run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "resp.h"
#include "schema.h"
#include "store_scripts.h"
#include "touch.h"

#define RETENTION_S 2592000 /* 30 days, the default reader retention */
#define MAX_TOUCHES 100     /* MAX_TOUCHES_PER_READER in server/worker.c */
#define START_TIME 1796396400u
/* The defaults of burst_window, burst_links and honeypot_window
 * (server/config.c), in seconds and links. */
#define BURST_WINDOW_S 2
#define BURST_LINKS 3
#define HONEYPOT_WINDOW_S 30

/* splitmix64: a small, well-mixed sequence for ids. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void fill_random(uint64_t *state, uint8_t *out, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (i % 8 == 0) {
            uint64_t r = next_random(state);
            memcpy(out + i, &r, len - i < 8 ? len - i : 8);
        }
    }
}

static void write_touch(struct resp_buf *out, const struct event_touch *t, bool is_click,
                        uint64_t seq)
{
    static const uint8_t writer[EVENT_WRITER_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
    char touches[SCHEMA_KEY_MAX], marks[SCHEMA_KEY_MAX];
    char member[TOUCH_MEMBER_MAX];
    char event_mark[TOUCH_MARK_LEN + 1];
    size_t member_len = touch_member(t, is_click, member);
    size_t campaign_len = 2 + strlen(t->campaign) + 1;

    touch_event_mark(writer, seq, event_mark);

    resp_array(out, 18);
    resp_bulk_str(out, "EVALSHA");
    resp_bulk_str(out, store_script_sha(SCRIPT_READER_TOUCH));
    resp_bulk_str(out, "2");
    resp_bulk(out, touches, schema_reader_touches(touches, t->reader));
    resp_bulk(out, marks, schema_reader_marks(marks, t->reader));
    resp_bulk(out, member, member_len);
    resp_bulk_u64(out, touch_score(t->time, DEVICE_DESKTOP, CLIENT_GMAIL));
    resp_bulk(out, member, campaign_len);
    resp_bulk(out, member, campaign_len + strlen(t->message));
    resp_bulk_str(out, event_mark);
    resp_bulk_u64(out, RETENTION_S + touch_ttl_slack(RETENTION_S));
    resp_bulk_u64(out, MAX_TOUCHES);
    resp_bulk_str(out, "human");
    resp_bulk_str(out, is_click ? "1" : "0");
    resp_bulk_u64(out, BURST_WINDOW_S);
    resp_bulk_u64(out, BURST_LINKS);
    resp_bulk_u64(out, HONEYPOT_WINDOW_S);
    resp_bulk_u64(out, t->time / touch_ttl_slack(RETENTION_S));
}

int main(int argc, char **argv)
{
    static const char *const campaigns[] = {"spring-sale", "summer-sale", "newsletter-07"};
    static const char *const messages[] = {"a", "b", "welcome"};
    struct resp_buf out = {0};
    uint64_t state = 42, seq = 0;
    unsigned long readers, touches, per_reader;

    if (argc != 3 || (readers = strtoul(argv[1], NULL, 10)) == 0 ||
        (touches = strtoul(argv[2], NULL, 10)) < readers) {
        fprintf(stderr, "usage: touch_load READERS TOUCHES (TOUCHES >= READERS)\n");
        return 2;
    }
    per_reader = touches / readers;

    resp_array(&out, 3);
    resp_bulk_str(&out, "SCRIPT");
    resp_bulk_str(&out, "LOAD");
    resp_bulk_str(&out, store_script_source(SCRIPT_READER_TOUCH));
    fwrite(out.data, 1, out.len, stdout);

    for (unsigned long r = 0; r < readers; r++) {
        struct event_touch t;

        memset(&t, 0, sizeof(t));
        fill_random(&state, t.reader, sizeof(t.reader));
        resp_reset(&out);
        for (unsigned long i = 0; i < per_reader; i++) {
            bool is_click = i % 5 >= 3;

            strcpy(t.campaign, campaigns[i % 3]);
            strcpy(t.message, messages[(r + i) % 3]);
            t.link = (uint32_t)(1 + i % 7);
            t.time = START_TIME + (uint32_t)(r % 86400 + 600 * i);
            fill_random(&state, t.click_id, sizeof(t.click_id));
            write_touch(&out, &t, is_click, ++seq);
        }
        if (out.failed || fwrite(out.data, 1, out.len, stdout) != out.len) {
            fprintf(stderr, "touch_load: write failed\n");
            return 1;
        }
    }
    resp_free(&out);
    return fflush(stdout) == 0 ? 0 : 1;
}
