/*
 * touch.c - formatting and parsing the touchpoint members of touch.h.
 */
#include "touch.h"

#include <stdio.h>
#include <string.h>

#include "classify.h"
#include "device.h"
#include "ident.h"

/* Scores are integers below 2^(32 + TOUCH_SCORE_SHIFT). */
#define SCORE_LIMIT ((double)((uint64_t)1 << (32 + TOUCH_SCORE_SHIFT)))

uint64_t touch_score(uint32_t time, uint8_t device, uint8_t client)
{
    if (device >= DEVICE_CLASS_COUNT)
        device = DEVICE_UNKNOWN;
    if (client >= CLIENT_FAMILY_COUNT)
        client = CLIENT_UNKNOWN;
    return (uint64_t)time << TOUCH_SCORE_SHIFT | (uint64_t)device << 3 | client;
}

uint64_t touch_score_min(uint32_t time)
{
    return (uint64_t)time << TOUCH_SCORE_SHIFT;
}

uint64_t touch_score_max(uint32_t time)
{
    return touch_score_min(time) | ((1u << TOUCH_SCORE_SHIFT) - 1);
}

uint32_t touch_ttl_slack(uint32_t retention_s)
{
    uint32_t slack = retention_s / 720;

    return slack < 3600 ? slack : 3600;
}

/* The finaliser of splitmix64: a cheap bijective mix, enough here because
 * writers are random and the mark only has to tell events apart, not
 * resist an attacker (no request chooses writer or seq). */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void touch_event_mark(const uint8_t writer[EVENT_WRITER_LEN], uint64_t seq,
                      char out[TOUCH_MARK_LEN + 1])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint64_t w = 0;
    uint64_t h;

    for (size_t i = 0; i < EVENT_WRITER_LEN; i++)
        w = w << 8 | writer[i];
    h = mix64(w ^ mix64(seq));
    for (size_t i = 0; i < TOUCH_MARK_LEN; i++) {
        out[i] = alphabet[h & 63];
        h >>= 6;
    }
    out[TOUCH_MARK_LEN] = '\0';
}

/* Splits a score into time and request codes. Returns -1 unless score is
 * an integer in range. */
static int split_score(double score, uint32_t *time, uint8_t *device, uint8_t *client)
{
    uint64_t v;

    if (!(score >= 0 && score < SCORE_LIMIT))
        return -1;
    v = (uint64_t)score;
    if ((double)v != score)
        return -1;
    *time = (uint32_t)(v >> TOUCH_SCORE_SHIFT);
    *device = (uint8_t)(v >> 3 & 7);
    *client = (uint8_t)(v & 7);
    if (*device >= DEVICE_CLASS_COUNT || *client >= CLIENT_FAMILY_COUNT)
        return -1;
    return 0;
}

/* Appends s and a '|' at out + len; returns the new length. Built by
 * copying rather than snprintf because the store formats one member per
 * event. The ids are at most TOKEN_ID_MAX bytes, so every member fits. */
static size_t put_field(char *out, size_t len, const char *s)
{
    size_t n = strlen(s);

    memcpy(out + len, s, n);
    out[len + n] = '|';
    return len + n + 1;
}

size_t touch_member(const struct event_touch *t, bool is_click, char *out)
{
    char digits[11];
    size_t n_digits = 0;
    uint32_t link = t->link;
    size_t len;

    out[0] = is_click ? 'c' : 'o';
    out[1] = '|';
    len = put_field(out, 2, t->campaign);
    len = put_field(out, len, t->message);
    if (!is_click) {
        out[len - 1] = '\0'; /* no '|' after the message of an open */
        return len - 1;
    }

    do {
        digits[n_digits++] = (char)('0' + link % 10);
        link /= 10;
    } while (link > 0);
    while (n_digits > 0)
        out[len++] = digits[--n_digits];
    out[len++] = '|';
    ident_hex(t->click_id, TOKEN_CLICK_ID_LEN, out + len);
    return len + 2 * TOKEN_CLICK_ID_LEN;
}

/* Copies the field that starts at *pos and ends at the next '|' (or at end)
 * into out, advancing *pos past the '|'. Returns its length, or -1 when it
 * is empty or does not fit in outsize bytes with a NUL. */
static long next_field(const char *s, size_t len, size_t *pos, char *out,
                       size_t outsize)
{
    size_t start = *pos;
    size_t end = start;

    while (end < len && s[end] != '|')
        end++;
    if (end == start || end - start >= outsize)
        return -1;
    memcpy(out, s + start, end - start);
    out[end - start] = '\0';
    *pos = end < len ? end + 1 : end;
    return (long)(end - start);
}

static int parse_uint32(const char *text, uint32_t *out)
{
    uint64_t value = 0;

    if (*text == '\0')
        return -1;
    for (; *text != '\0'; text++) {
        if (*text < '0' || *text > '9')
            return -1;
        value = value * 10 + (uint64_t)(*text - '0');
        if (value > UINT32_MAX)
            return -1;
    }
    *out = (uint32_t)value;
    return 0;
}

static int parse_click_id(const char *hex, uint8_t out[TOKEN_CLICK_ID_LEN])
{
    for (size_t i = 0; i < TOKEN_CLICK_ID_LEN; i++) {
        unsigned int byte;
        if (sscanf(hex + 2 * i, "%2x", &byte) != 1)
            return -1;
        out[i] = (uint8_t)byte;
    }
    return 0;
}

/* Reads the "|<verdict>" that may end a member at *pos into *verdict
 * (human when the member ends there). Returns 0, or -1 when a suffix is
 * present but not allowed or not a verdict name. */
static int parse_verdict_suffix(const char *member, size_t len, size_t pos,
                                bool allow_verdict, uint8_t *verdict)
{
    char name[32];
    enum verdict v;
    long n;

    *verdict = VERDICT_HUMAN;
    if (pos == len)
        return member[len - 1] == '|' ? -1 : 0;
    n = next_field(member, len, &pos, name, sizeof(name));
    if (!allow_verdict || n < 0 || pos != len || member[len - 1] == '|' ||
        verdict_parse(name, (size_t)n, &v) != 0)
        return -1;
    *verdict = (uint8_t)v;
    return 0;
}

static int parse_click(const char *member, size_t len, double score,
                       bool allow_verdict, struct event_touch *out,
                       uint8_t *device, uint8_t *client)
{
    char link[11];
    char click_hex[2 * TOKEN_CLICK_ID_LEN + 1];
    size_t pos = 2;

    memset(out, 0, sizeof(*out));
    if (len < 2 || member[0] != 'c' || member[1] != '|')
        return -1;
    if (next_field(member, len, &pos, out->campaign, sizeof(out->campaign)) < 0 ||
        next_field(member, len, &pos, out->message, sizeof(out->message)) < 0 ||
        next_field(member, len, &pos, link, sizeof(link)) < 0 ||
        next_field(member, len, &pos, click_hex, sizeof(click_hex)) !=
            2 * TOKEN_CLICK_ID_LEN ||
        parse_verdict_suffix(member, len, pos, allow_verdict, &out->verdict) != 0)
        return -1;
    if (parse_uint32(link, &out->link) != 0 ||
        parse_click_id(click_hex, out->click_id) != 0)
        return -1;
    return split_score(score, &out->time, device, client);
}

int touch_parse_click(const char *member, size_t len, double score,
                      struct event_touch *out)
{
    uint8_t device, client;

    return parse_click(member, len, score, false, out, &device, &client);
}

int touch_parse_click_any(const char *member, size_t len, double score,
                          struct event_touch *out)
{
    uint8_t device, client;

    return parse_click(member, len, score, true, out, &device, &client);
}

/* Parses "o|<campaign>|<message>", optionally followed by "|<verdict>",
 * with its score into *out. */
static int parse_open(const char *member, size_t len, double score,
                      struct event_touch *out, uint8_t *device, uint8_t *client)
{
    size_t pos = 2;

    memset(out, 0, sizeof(*out));
    if (len < 2 || member[0] != 'o' || member[1] != '|')
        return -1;
    if (next_field(member, len, &pos, out->campaign, sizeof(out->campaign)) < 0 ||
        next_field(member, len, &pos, out->message, sizeof(out->message)) < 0 ||
        parse_verdict_suffix(member, len, pos, true, &out->verdict) != 0)
        return -1;
    return split_score(score, &out->time, device, client);
}

int touch_parse(const char *member, size_t len, double score,
                struct attr_touch *out)
{
    if (parse_click(member, len, score, true, &out->touch, &out->device,
                    &out->client) == 0) {
        out->kind = ATTR_TOUCH_CLICK;
        return 0;
    }
    if (parse_open(member, len, score, &out->touch, &out->device, &out->client) == 0) {
        out->kind = ATTR_TOUCH_OPEN;
        return 0;
    }
    return -1;
}
