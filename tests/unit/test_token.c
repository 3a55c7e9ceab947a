/*
 * test_token.c - version 1 tokens: round trips, the byte layout, key
 * rotation, and rejection of every altered, truncated or extended token.
 *
 * Tokens that are malformed but correctly signed are built by hand with
 * sign_binary, so that the parser's checks are reached behind a valid MAC.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "b64url.h"
#include "keyring.h"
#include "signer.h"
#include "token.h"

#define DEST "https://shop.example/p/42?utm_source=email#top"

struct fixture {
    struct keyring ring;     /* key 1 active, key 2 present */
    struct signer *old;      /* only key 1 */
    struct signer *current;  /* keys 1 and 2, key 2 active */
    uint8_t *scratch;
};

static void fill_key(uint8_t *secret, uint8_t seed)
{
    for (size_t i = 0; i < KEYRING_KEY_LEN; i++)
        secret[i] = (uint8_t)(seed + i * 7);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);

    assert_non_null(f);
    fill_key(f->ring.reader_secret, 0x50);
    f->ring.keys[1].present = true;
    fill_key(f->ring.keys[1].secret, 0x10);
    f->ring.active_id = 1;
    f->old = signer_new(&f->ring);
    assert_non_null(f->old);

    f->ring.keys[2].present = true;
    fill_key(f->ring.keys[2].secret, 0x20);
    f->ring.active_id = 2;
    f->current = signer_new(&f->ring);
    assert_non_null(f->current);

    f->scratch = malloc(TOKEN_BINARY_MAX);
    assert_non_null(f->scratch);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    signer_free(f->old);
    signer_free(f->current);
    keyring_wipe(&f->ring);
    free(f->scratch);
    free(f);
    return 0;
}

static struct token sample(enum token_kind kind)
{
    struct token t;

    memset(&t, 0, sizeof t);
    t.kind = kind;
    t.issued = 1767225600; /* 2026-01-01T00:00:00Z */
    strcpy(t.campaign, "spring-sale");
    strcpy(t.message, "a");
    for (size_t i = 0; i < TOKEN_READER_LEN; i++)
        t.reader[i] = (uint8_t)(0xA0 + i);
    t.link = 1;
    if (kind == TOKEN_VISIT) {
        for (size_t i = 0; i < TOKEN_CLICK_ID_LEN; i++)
            t.click_id[i] = (uint8_t)(0xC0 + i);
    }
    if (kind == TOKEN_CLICK) {
        t.dest = DEST;
        t.dest_len = strlen(DEST);
    }
    return t;
}

static size_t encode(struct signer *s, struct token *t, char *out, size_t size)
{
    long n = token_encode(s, t, out, size);

    assert_true(n > 0);
    assert_int_equal(strlen(out), n);
    return (size_t)n;
}

/* Decodes text into bin, which must be a valid base64url token. */
static size_t to_binary(const char *text, size_t len, uint8_t *bin)
{
    long n = b64url_decode(text, len, bin, TOKEN_BINARY_MAX + 16);

    assert_true(n > 0);
    return (size_t)n;
}

/* Appends the MAC of bin[0..n) under key_id and returns the text length. */
static size_t sign_binary(struct signer *s, uint8_t key_id, uint8_t *bin,
                          size_t n, char *text)
{
    const void *parts[1] = {bin};
    size_t lens[1] = {n};
    uint8_t mac[SIGNER_MAC_LEN];

    assert_int_equal(signer_mac(s, key_id, parts, lens, 1, mac), 0);
    memcpy(bin + n, mac, TOKEN_MAC_LEN);
    return b64url_encode(bin, n + TOKEN_MAC_LEN, text);
}

static enum token_status decode(struct fixture *f, const char *text,
                                size_t len, enum token_kind kind,
                                struct token *out)
{
    return token_decode(f->current, text, len, kind, f->scratch, out);
}

static void assert_same_fields(const struct token *a, const struct token *b)
{
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->issued, b->issued);
    assert_string_equal(a->campaign, b->campaign);
    assert_string_equal(a->message, b->message);
    assert_memory_equal(a->reader, b->reader, TOKEN_READER_LEN);
    assert_int_equal(a->link, b->link);
}

static void round_trip(struct fixture *f, enum token_kind kind)
{
    struct token t = sample(kind);
    struct token got;
    char text[TOKEN_TEXT_MAX + 1];
    size_t len = encode(f->current, &t, text, sizeof text);

    assert_int_equal(t.key_id, 2);
    assert_int_equal(decode(f, text, len, kind, &got), TOKEN_OK);
    assert_same_fields(&got, &t);
    assert_int_equal(got.key_id, 2);
    if (kind == TOKEN_VISIT)
        assert_memory_equal(got.click_id, t.click_id, TOKEN_CLICK_ID_LEN);
    if (kind == TOKEN_CLICK) {
        assert_int_equal(got.dest_len, t.dest_len);
        assert_memory_equal(got.dest, t.dest, t.dest_len);
    } else {
        assert_null(got.dest);
        assert_int_equal(got.dest_len, 0);
    }
}

static void token_round_trip_open(void **state)
{
    round_trip(*state, TOKEN_OPEN);
}

static void token_round_trip_click(void **state)
{
    round_trip(*state, TOKEN_CLICK);
}

static void token_round_trip_visit(void **state)
{
    round_trip(*state, TOKEN_VISIT);
}

/* Checks the bytes of an open token against the layout written out in
 * docs/tokens.md, and its MAC against a one-shot HMAC from OpenSSL. */
static void token_layout_matches_spec(void **state)
{
    struct fixture *f = *state;
    struct token t = sample(TOKEN_OPEN);
    char text[TOKEN_TEXT_MAX + 1];
    uint8_t bin[TOKEN_BINARY_MAX + 16];
    uint8_t expected[64];
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    size_t n = 0;

    t.link = 300; /* LEB128: 0xAC 0x02 */
    size_t len = encode(f->current, &t, text, sizeof text);
    size_t bin_len = to_binary(text, len, bin);

    expected[n++] = 1;          /* version */
    expected[n++] = TOKEN_OPEN; /* kind */
    expected[n++] = 2;          /* key id */
    expected[n++] = 0x69;       /* 1767225600 = 0x6955B900 */
    expected[n++] = 0x55;
    expected[n++] = 0xB9;
    expected[n++] = 0x00;
    expected[n++] = 11;
    memcpy(expected + n, "spring-sale", 11);
    n += 11;
    expected[n++] = 1;
    expected[n++] = 'a';
    memcpy(expected + n, t.reader, TOKEN_READER_LEN);
    n += TOKEN_READER_LEN;
    expected[n++] = 0xAC;
    expected[n++] = 0x02;

    assert_int_equal(bin_len, n + TOKEN_MAC_LEN);
    assert_memory_equal(bin, expected, n);

    assert_non_null(HMAC(EVP_sha256(), f->ring.keys[2].secret, KEYRING_KEY_LEN,
                         bin, n, mac, &mac_len));
    assert_int_equal(mac_len, 32);
    assert_memory_equal(bin + n, mac, TOKEN_MAC_LEN);
}

static void token_click_layout_has_dest(void **state)
{
    struct fixture *f = *state;
    struct token t = sample(TOKEN_CLICK);
    char text[TOKEN_TEXT_MAX + 1];
    uint8_t bin[TOKEN_BINARY_MAX + 16];
    size_t len = encode(f->current, &t, text, sizeof text);
    size_t bin_len = to_binary(text, len, bin);
    size_t dest_at = 7 + 12 + 2 + TOKEN_READER_LEN + 1;

    assert_int_equal(bin[dest_at], strlen(DEST));
    assert_memory_equal(bin + dest_at + 1, DEST, strlen(DEST));
    assert_int_equal(bin_len, dest_at + 1 + strlen(DEST) + TOKEN_MAC_LEN);
}

static void token_visit_layout_has_click_id(void **state)
{
    struct fixture *f = *state;
    struct token t = sample(TOKEN_VISIT);
    char text[TOKEN_TEXT_MAX + 1];
    uint8_t bin[TOKEN_BINARY_MAX + 16];
    size_t len = encode(f->current, &t, text, sizeof text);
    size_t bin_len = to_binary(text, len, bin);
    size_t id_at = 7 + 12 + 2 + TOKEN_READER_LEN + 1;

    assert_memory_equal(bin + id_at, t.click_id, TOKEN_CLICK_ID_LEN);
    assert_int_equal(bin_len, id_at + TOKEN_CLICK_ID_LEN + TOKEN_MAC_LEN);
}

static void token_rejects_every_flipped_byte(void **state)
{
    struct fixture *f = *state;
    const enum token_kind kinds[] = {TOKEN_OPEN, TOKEN_CLICK, TOKEN_VISIT};

    for (size_t k = 0; k < 3; k++) {
        struct token t = sample(kinds[k]);
        struct token got;
        char text[TOKEN_TEXT_MAX + 1];
        char altered[TOKEN_TEXT_MAX + 1];
        uint8_t bin[TOKEN_BINARY_MAX + 16];
        size_t len = encode(f->current, &t, text, sizeof text);
        size_t bin_len = to_binary(text, len, bin);

        for (size_t pos = 0; pos < bin_len; pos++) {
            for (unsigned pattern = 1; pattern < 256; pattern++) {
                bin[pos] ^= (uint8_t)pattern;
                size_t n = b64url_encode(bin, bin_len, altered);
                bin[pos] ^= (uint8_t)pattern;

                assert_int_not_equal(decode(f, altered, n, kinds[k], &got),
                                     TOKEN_OK);
            }
        }
    }
}

static void token_rejects_every_changed_char(void **state)
{
    struct fixture *f = *state;
    struct token t = sample(TOKEN_CLICK);
    struct token got;
    char text[TOKEN_TEXT_MAX + 1];
    size_t len = encode(f->current, &t, text, sizeof text);

    for (size_t pos = 0; pos < len; pos++) {
        char original = text[pos];

        for (unsigned c = 0; c < 256; c++) {
            if ((char)c == original)
                continue;
            text[pos] = (char)c;
            assert_int_not_equal(decode(f, text, len, TOKEN_CLICK, &got),
                                 TOKEN_OK);
        }
        text[pos] = original;
    }
    assert_int_equal(decode(f, text, len, TOKEN_CLICK, &got), TOKEN_OK);
}

static void token_rejects_truncation(void **state)
{
    struct fixture *f = *state;
    struct token t = sample(TOKEN_CLICK);
    struct token got;
    char text[TOKEN_TEXT_MAX + 1];
    char cut[TOKEN_TEXT_MAX + 1];
    uint8_t bin[TOKEN_BINARY_MAX + 16];
    size_t len = encode(f->current, &t, text, sizeof text);
    size_t bin_len = to_binary(text, len, bin);

    for (size_t n = 0; n < len; n++)
        assert_int_not_equal(decode(f, text, n, TOKEN_CLICK, &got), TOKEN_OK);

    for (size_t n = 0; n < bin_len; n++) {
        size_t cut_len = b64url_encode(bin, n, cut);
        assert_int_not_equal(decode(f, cut, cut_len, TOKEN_CLICK, &got),
                             TOKEN_OK);
    }
}

static void token_rejects_trailing_bytes(void **state)
{
    struct fixture *f = *state;
    struct token t = sample(TOKEN_OPEN);
    struct token got;
    char text[TOKEN_TEXT_MAX + 1];
    char longer[TOKEN_TEXT_MAX + 8];
    uint8_t bin[TOKEN_BINARY_MAX + 16];
    size_t len = encode(f->current, &t, text, sizeof text);
    size_t bin_len = to_binary(text, len, bin);

    for (unsigned extra = 1; extra <= 3; extra++) {
        memset(bin + bin_len, 0, extra);
        size_t n = b64url_encode(bin, bin_len + extra, longer);
        assert_int_equal(decode(f, longer, n, TOKEN_OPEN, &got),
                         TOKEN_MALFORMED);
    }

    /* Also when the extra byte is covered by a valid MAC. */
    size_t body = bin_len - TOKEN_MAC_LEN;
    bin[body] = 0;
    size_t n = sign_binary(f->current, 2, bin, body + 1, longer);
    assert_int_equal(decode(f, longer, n, TOKEN_OPEN, &got), TOKEN_MALFORMED);
}

static void token_rejects_wrong_version(void **state)
{
    struct fixture *f = *state;
    struct token t = sample(TOKEN_OPEN);
    struct token got;
    char text[TOKEN_TEXT_MAX + 1];
    uint8_t bin[TOKEN_BINARY_MAX + 16];
    size_t len = encode(f->current, &t, text, sizeof text);
    size_t bin_len = to_binary(text, len, bin);
    const uint8_t versions[] = {0, 2, 255};

    for (size_t i = 0; i < sizeof versions; i++) {
        bin[0] = versions[i];
        size_t n = sign_binary(f->current, 2, bin, bin_len - TOKEN_MAC_LEN, text);
        assert_int_equal(decode(f, text, n, TOKEN_OPEN, &got),
                         TOKEN_BAD_VERSION);
    }

    bin[0] = 2;
    len = b64url_encode(bin, 1, text);
    assert_int_equal(decode(f, text, len, TOKEN_OPEN, &got), TOKEN_BAD_VERSION);
}

static void token_rejects_unknown_key(void **state)
{
    struct fixture *f = *state;
    struct token t = sample(TOKEN_OPEN);
    struct token got;
    char text[TOKEN_TEXT_MAX + 1];
    uint8_t bin[TOKEN_BINARY_MAX + 16];
    size_t len = encode(f->current, &t, text, sizeof text);
    size_t bin_len = to_binary(text, len, bin);
    const uint8_t ids[] = {0, 3, 255};

    /* A token of key 2 is unknown to a signer that only has key 1. */
    assert_int_equal(token_decode(f->old, text, len, TOKEN_OPEN, f->scratch, &got),
                     TOKEN_UNKNOWN_KEY);

    for (size_t i = 0; i < sizeof ids; i++) {
        bin[2] = ids[i];
        size_t n = b64url_encode(bin, bin_len, text);
        assert_int_equal(decode(f, text, n, TOKEN_OPEN, &got),
                         TOKEN_UNKNOWN_KEY);
    }
}

static void token_verifies_after_rotation(void **state)
{
    struct fixture *f = *state;
    struct token t = sample(TOKEN_CLICK);
    struct token got;
    char text[TOKEN_TEXT_MAX + 1];
    uint8_t bin[TOKEN_BINARY_MAX + 16];

    /* Signed before the rotation, with key 1 active. */
    size_t len = encode(f->old, &t, text, sizeof text);
    assert_int_equal(t.key_id, 1);
    assert_int_equal(decode(f, text, len, TOKEN_CLICK, &got), TOKEN_OK);
    assert_int_equal(got.key_id, 1);
    assert_same_fields(&got, &t);

    /* Signed after it: key 2, which the old signer does not have. */
    len = encode(f->current, &t, text, sizeof text);
    assert_int_equal(t.key_id, 2);
    to_binary(text, len, bin);
    assert_int_equal(bin[2], 2);
    assert_int_equal(decode(f, text, len, TOKEN_CLICK, &got), TOKEN_OK);
    assert_int_equal(got.key_id, 2);
}

static void token_rejects_other_keys_mac(void **state)
{
    struct fixture *f = *state;
    struct token t = sample(TOKEN_OPEN);
    struct token got;
    char text[TOKEN_TEXT_MAX + 1];
    uint8_t bin[TOKEN_BINARY_MAX + 16];
    size_t len = encode(f->current, &t, text, sizeof text);
    size_t bin_len = to_binary(text, len, bin);

    /* Claims key 2 but carries key 1's MAC. */
    len = sign_binary(f->current, 1, bin, bin_len - TOKEN_MAC_LEN, text);
    assert_int_equal(decode(f, text, len, TOKEN_OPEN, &got), TOKEN_BAD_MAC);
}

static void token_rejects_wrong_kind(void **state)
{
    struct fixture *f = *state;
    struct token t = sample(TOKEN_OPEN);
    struct token got;
    char text[TOKEN_TEXT_MAX + 1];
    uint8_t bin[TOKEN_BINARY_MAX + 16];
    size_t len = encode(f->current, &t, text, sizeof text);

    assert_int_equal(decode(f, text, len, TOKEN_CLICK, &got), TOKEN_WRONG_KIND);
    assert_int_equal(decode(f, text, len, TOKEN_VISIT, &got), TOKEN_WRONG_KIND);

    /* A forged token of the wrong kind is reported as forged. */
    size_t bin_len = to_binary(text, len, bin);
    bin[bin_len - 1] ^= 1;
    len = b64url_encode(bin, bin_len, text);
    assert_int_equal(decode(f, text, len, TOKEN_CLICK, &got), TOKEN_BAD_MAC);
}

static void token_rejects_unknown_kind_byte(void **state)
{
    struct fixture *f = *state;
    struct token t = sample(TOKEN_OPEN);
    struct token got;
    char text[TOKEN_TEXT_MAX + 1];
    uint8_t bin[TOKEN_BINARY_MAX + 16];
    size_t len = encode(f->current, &t, text, sizeof text);
    size_t bin_len = to_binary(text, len, bin);
    const uint8_t kinds[] = {0, 4, 255};

    for (size_t i = 0; i < sizeof kinds; i++) {
        bin[1] = kinds[i];
        size_t n = sign_binary(f->current, 2, bin, bin_len - TOKEN_MAC_LEN, text);
        assert_int_equal(decode(f, text, n, TOKEN_OPEN, &got), TOKEN_MALFORMED);
    }
}

static void token_rejects_noncanonical_text(void **state)
{
    struct fixture *f = *state;
    struct token t = sample(TOKEN_OPEN);
    struct token got;
    char text[TOKEN_TEXT_MAX + 8];
    size_t len = encode(f->current, &t, text, sizeof text);

    /* Padding and whitespace around a valid token. */
    memcpy(text + len, "==", 3);
    assert_int_equal(decode(f, text, len + 2, TOKEN_OPEN, &got), TOKEN_MALFORMED);
    text[len] = '\n';
    assert_int_equal(decode(f, text, len + 1, TOKEN_OPEN, &got), TOKEN_MALFORMED);
    text[len] = '\0';

    /* The standard alphabet's spelling of the same bytes. */
    for (size_t i = 0; i < len; i++) {
        char saved = text[i];
        if (saved != '-' && saved != '_')
            continue;
        text[i] = saved == '-' ? '+' : '/';
        assert_int_equal(decode(f, text, len, TOKEN_OPEN, &got), TOKEN_MALFORMED);
        text[i] = saved;
    }

    assert_int_equal(decode(f, "", 0, TOKEN_OPEN, &got), TOKEN_MALFORMED);
    assert_int_equal(decode(f, "A", 1, TOKEN_OPEN, &got), TOKEN_MALFORMED);
}

static void token_rejects_text_over_max(void **state)
{
    struct fixture *f = *state;
    struct token got;
    char *text = malloc(TOKEN_TEXT_MAX + 4);

    assert_non_null(text);
    memset(text, 'A', TOKEN_TEXT_MAX + 4);
    assert_int_equal(decode(f, text, TOKEN_TEXT_MAX + 4, TOKEN_OPEN, &got),
                     TOKEN_MALFORMED);
    free(text);
}

static void token_ids_at_limits(void **state)
{
    struct fixture *f = *state;
    struct token t = sample(TOKEN_OPEN);
    struct token got;
    char text[TOKEN_TEXT_MAX + 1];

    memset(t.campaign, 'c', TOKEN_ID_MAX);
    t.campaign[TOKEN_ID_MAX] = '\0';
    memset(t.message, 'm', TOKEN_ID_MAX);
    t.message[TOKEN_ID_MAX] = '\0';
    size_t len = encode(f->current, &t, text, sizeof text);
    assert_int_equal(decode(f, text, len, TOKEN_OPEN, &got), TOKEN_OK);
    assert_string_equal(got.campaign, t.campaign);
    assert_string_equal(got.message, t.message);

    /* One byte over: the field is not NUL-terminated within its array. */
    t.campaign[TOKEN_ID_MAX] = 'c';
    assert_int_equal(token_encode(f->current, &t, text, sizeof text), -1);
    t.campaign[TOKEN_ID_MAX] = '\0';

    t.message[0] = '\0';
    assert_int_equal(token_encode(f->current, &t, text, sizeof text), -1);
    strcpy(t.message, "a:b");
    assert_int_equal(token_encode(f->current, &t, text, sizeof text), -1);
}

static void token_id_valid_charset(void **state)
{
    char id[TOKEN_ID_MAX + 2];

    (void)state;
    assert_true(token_id_valid("Spring_Sale-2026.v1", 19));
    assert_true(token_id_valid("a", 1));
    memset(id, 'x', sizeof id);
    assert_true(token_id_valid(id, TOKEN_ID_MAX));
    assert_false(token_id_valid(id, TOKEN_ID_MAX + 1));
    assert_false(token_id_valid("", 0));
    assert_false(token_id_valid(NULL, 1));

    const char *bad[] = {"a:b", "{a}", "a b", "a/b", "a%41", "\xc3\xa9", "a\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(token_id_valid(bad[i], strlen(bad[i])));
    assert_false(token_id_valid("a\0b", 3));
}

static void token_rejects_bad_ids_behind_mac(void **state)
{
    struct fixture *f = *state;
    struct token t = sample(TOKEN_OPEN);
    struct token got;
    char text[TOKEN_TEXT_MAX + 1];
    uint8_t bin[TOKEN_BINARY_MAX + 16];
    size_t len = encode(f->current, &t, text, sizeof text);
    size_t bin_len = to_binary(text, len, bin);
    size_t body = bin_len - TOKEN_MAC_LEN;

    /* A ':' inside the campaign id. */
    bin[8] = ':';
    len = sign_binary(f->current, 2, bin, body, text);
    assert_int_equal(decode(f, text, len, TOKEN_OPEN, &got), TOKEN_MALFORMED);
    bin[8] = 's';

    /* A campaign length of 0 and of 33. */
    bin[7] = 0;
    len = sign_binary(f->current, 2, bin, body, text);
    assert_int_equal(decode(f, text, len, TOKEN_OPEN, &got), TOKEN_MALFORMED);
    bin[7] = TOKEN_ID_MAX + 1;
    len = sign_binary(f->current, 2, bin, body, text);
    assert_int_equal(decode(f, text, len, TOKEN_OPEN, &got), TOKEN_MALFORMED);
}

/* Builds the fields of a token by hand up to and including the reader id. */
static size_t put_head(uint8_t *bin, enum token_kind kind)
{
    size_t n = 0;

    bin[n++] = 1;
    bin[n++] = (uint8_t)kind;
    bin[n++] = 2;
    memset(bin + n, 0, 4);
    n += 4;
    bin[n++] = 1;
    bin[n++] = 'c';
    bin[n++] = 1;
    bin[n++] = 'm';
    memset(bin + n, 0x11, TOKEN_READER_LEN);
    n += TOKEN_READER_LEN;
    return n;
}

static enum token_status decode_link(struct fixture *f, const uint8_t *varint,
                                     size_t varint_len, uint32_t *link)
{
    uint8_t bin[TOKEN_BINARY_MAX + 16];
    char text[TOKEN_TEXT_MAX + 1];
    struct token got;
    size_t n = put_head(bin, TOKEN_OPEN);
    enum token_status status;

    memcpy(bin + n, varint, varint_len);
    n += varint_len;
    size_t len = sign_binary(f->current, 2, bin, n, text);
    status = decode(f, text, len, TOKEN_OPEN, &got);
    *link = got.link;
    return status;
}

static void token_link_varint_rules(void **state)
{
    struct fixture *f = *state;
    uint32_t link = 0;

    assert_int_equal(decode_link(f, (const uint8_t[]){0x00}, 1, &link), TOKEN_OK);
    assert_int_equal(link, 0);
    assert_int_equal(decode_link(f, (const uint8_t[]){0x7F}, 1, &link), TOKEN_OK);
    assert_int_equal(link, 127);
    assert_int_equal(decode_link(f, (const uint8_t[]){0x80, 0x01}, 2, &link), TOKEN_OK);
    assert_int_equal(link, 128);
    assert_int_equal(decode_link(f, (const uint8_t[]){0xFF, 0xFF, 0xFF, 0xFF, 0x0F},
                                 5, &link), TOKEN_OK);
    assert_int_equal(link, UINT32_MAX);

    /* Not minimal. */
    assert_int_equal(decode_link(f, (const uint8_t[]){0x80, 0x00}, 2, &link),
                     TOKEN_MALFORMED);
    assert_int_equal(decode_link(f, (const uint8_t[]){0x81, 0x80, 0x00}, 3, &link),
                     TOKEN_MALFORMED);
    /* Above UINT32_MAX. */
    assert_int_equal(decode_link(f, (const uint8_t[]){0xFF, 0xFF, 0xFF, 0xFF, 0x10},
                                 5, &link), TOKEN_MALFORMED);
    /* Six bytes. */
    assert_int_equal(decode_link(f, (const uint8_t[]){0x80, 0x80, 0x80, 0x80, 0x80, 0x01},
                                 6, &link), TOKEN_MALFORMED);
    /* Unterminated: the MAC would have to supply the last byte. */
    assert_int_equal(decode_link(f, (const uint8_t[]){0x80}, 1, &link),
                     TOKEN_MALFORMED);
}

static void token_link_max_round_trips(void **state)
{
    struct fixture *f = *state;
    struct token t = sample(TOKEN_VISIT);
    struct token got;
    char text[TOKEN_TEXT_MAX + 1];

    t.link = UINT32_MAX;
    t.issued = UINT32_MAX;
    size_t len = encode(f->current, &t, text, sizeof text);
    assert_int_equal(decode(f, text, len, TOKEN_VISIT, &got), TOKEN_OK);
    assert_int_equal(got.link, UINT32_MAX);
    assert_int_equal(got.issued, UINT32_MAX);
}

static void token_dest_length_rules(void **state)
{
    struct fixture *f = *state;
    uint8_t bin[TOKEN_BINARY_MAX + 16];
    char text[TOKEN_TEXT_MAX + 1];
    struct token got;
    size_t head = put_head(bin, TOKEN_CLICK);
    size_t n;

    bin[head] = 0; /* link 0 */

    /* Minimal length 1: valid. */
    n = head + 1;
    bin[n++] = 0x01;
    bin[n++] = 'x';
    size_t len = sign_binary(f->current, 2, bin, n, text);
    assert_int_equal(decode(f, text, len, TOKEN_CLICK, &got), TOKEN_OK);
    assert_int_equal(got.dest_len, 1);

    /* The same length written in two bytes. */
    n = head + 1;
    bin[n++] = 0x81;
    bin[n++] = 0x00;
    bin[n++] = 'x';
    len = sign_binary(f->current, 2, bin, n, text);
    assert_int_equal(decode(f, text, len, TOKEN_CLICK, &got), TOKEN_MALFORMED);

    /* Length 0. */
    n = head + 1;
    bin[n++] = 0x00;
    len = sign_binary(f->current, 2, bin, n, text);
    assert_int_equal(decode(f, text, len, TOKEN_CLICK, &got), TOKEN_MALFORMED);

    /* Length TOKEN_DEST_MAX + 1 with that many bytes present. */
    n = head + 1;
    bin[n++] = 0x81;
    bin[n++] = 0x40;
    memset(bin + n, 'x', TOKEN_DEST_MAX + 1);
    n += TOKEN_DEST_MAX + 1;
    char *big = malloc(B64URL_ENCODED_LEN(TOKEN_BINARY_MAX + 16));
    assert_non_null(big);
    len = sign_binary(f->current, 2, bin, n, big);
    assert_int_equal(decode(f, big, len, TOKEN_CLICK, &got), TOKEN_MALFORMED);
    free(big);

    /* A length that runs past the end. */
    n = head + 1;
    bin[n++] = 0x20;
    bin[n++] = 'x';
    len = sign_binary(f->current, 2, bin, n, text);
    assert_int_equal(decode(f, text, len, TOKEN_CLICK, &got), TOKEN_MALFORMED);
}

static void token_dest_at_limits(void **state)
{
    struct fixture *f = *state;
    struct token t = sample(TOKEN_CLICK);
    struct token got;
    char text[TOKEN_TEXT_MAX + 1];
    char *dest = malloc(TOKEN_DEST_MAX + 1);

    assert_non_null(dest);
    memset(dest, 'd', TOKEN_DEST_MAX + 1);

    /* The largest token of all: every field at its maximum. */
    memset(t.campaign, 'c', TOKEN_ID_MAX);
    memset(t.message, 'm', TOKEN_ID_MAX);
    t.link = UINT32_MAX;
    t.dest = dest;
    t.dest_len = TOKEN_DEST_MAX;
    long len = token_encode(f->current, &t, text, sizeof text);
    assert_int_equal(len, TOKEN_TEXT_MAX);
    assert_int_equal(decode(f, text, (size_t)len, TOKEN_CLICK, &got), TOKEN_OK);
    assert_int_equal(got.dest_len, TOKEN_DEST_MAX);
    assert_memory_equal(got.dest, dest, TOKEN_DEST_MAX);

    t.dest_len = TOKEN_DEST_MAX + 1;
    assert_int_equal(token_encode(f->current, &t, text, sizeof text), -1);
    t.dest_len = 0;
    assert_int_equal(token_encode(f->current, &t, text, sizeof text), -1);
    t.dest = NULL;
    t.dest_len = 1;
    assert_int_equal(token_encode(f->current, &t, text, sizeof text), -1);
    free(dest);
}

static void token_encode_rejects_small_out(void **state)
{
    struct fixture *f = *state;
    struct token t = sample(TOKEN_CLICK);
    char text[TOKEN_TEXT_MAX + 1];
    size_t len = encode(f->current, &t, text, sizeof text);

    assert_int_equal(token_encode(f->current, &t, text, len), -1);
    assert_int_equal(token_encode(f->current, &t, text, 0), -1);
    assert_int_equal(token_encode(f->current, &t, text, len + 1), len);
}

static void token_encode_rejects_bad_kind(void **state)
{
    struct fixture *f = *state;
    struct token t = sample(TOKEN_OPEN);
    char text[TOKEN_TEXT_MAX + 1];

    t.kind = (enum token_kind)0;
    assert_int_equal(token_encode(f->current, &t, text, sizeof text), -1);
    t.kind = (enum token_kind)4;
    assert_int_equal(token_encode(f->current, &t, text, sizeof text), -1);
}

static void token_encode_needs_active_key(void **state)
{
    struct fixture *f = *state;
    struct keyring ring = f->ring;
    struct token t = sample(TOKEN_OPEN);
    char text[TOKEN_TEXT_MAX + 1];

    ring.active_id = 9;
    struct signer *s = signer_new(&ring);
    assert_non_null(s);
    assert_int_equal(token_encode(s, &t, text, sizeof text), -1);
    signer_free(s);
    keyring_wipe(&ring);
}

static void token_status_names(void **state)
{
    (void)state;
    assert_string_equal(token_status_name(TOKEN_OK), "ok");
    assert_string_equal(token_status_name(TOKEN_MALFORMED), "malformed");
    assert_string_equal(token_status_name(TOKEN_BAD_VERSION), "bad_version");
    assert_string_equal(token_status_name(TOKEN_UNKNOWN_KEY), "unknown_key");
    assert_string_equal(token_status_name(TOKEN_BAD_MAC), "bad_mac");
    assert_string_equal(token_status_name(TOKEN_WRONG_KIND), "wrong_kind");
    assert_string_equal(token_status_name((enum token_status)99), "unknown");
}

static void signer_matches_one_shot_hmac(void **state)
{
    struct fixture *f = *state;
    const char *msg = "tally signer test";
    const void *whole[1] = {msg};
    size_t whole_len[1] = {strlen(msg)};
    const void *split[3] = {msg, msg + 5, msg + 11};
    size_t split_len[3] = {5, 6, strlen(msg) - 11};
    uint8_t expected[EVP_MAX_MD_SIZE];
    uint8_t got[SIGNER_MAC_LEN];
    unsigned expected_len = 0;

    for (uint8_t id = 1; id <= 2; id++) {
        assert_non_null(HMAC(EVP_sha256(), f->ring.keys[id].secret,
                             KEYRING_KEY_LEN, (const uint8_t *)msg, strlen(msg),
                             expected, &expected_len));
        /* Twice, so the reused context is checked too. */
        for (int round = 0; round < 2; round++) {
            assert_int_equal(signer_mac(f->current, id, whole, whole_len, 1, got), 0);
            assert_memory_equal(got, expected, SIGNER_MAC_LEN);
            assert_int_equal(signer_mac(f->current, id, split, split_len, 3, got), 0);
            assert_memory_equal(got, expected, SIGNER_MAC_LEN);
        }
    }

    assert_non_null(HMAC(EVP_sha256(), f->ring.reader_secret, KEYRING_KEY_LEN,
                         (const uint8_t *)msg, strlen(msg), expected,
                         &expected_len));
    for (int round = 0; round < 2; round++) {
        assert_int_equal(signer_reader_mac(f->current, split, split_len, 3, got), 0);
        assert_memory_equal(got, expected, SIGNER_MAC_LEN);
    }
}

static void signer_rejects_absent_key(void **state)
{
    struct fixture *f = *state;
    const void *parts[1] = {"x"};
    size_t lens[1] = {1};
    uint8_t out[SIGNER_MAC_LEN];

    assert_int_equal(signer_mac(f->current, 0, parts, lens, 1, out), -1);
    assert_int_equal(signer_mac(f->current, 3, parts, lens, 1, out), -1);
    assert_int_equal(signer_mac(f->old, 2, parts, lens, 1, out), -1);
    assert_false(signer_has_key(f->current, 0));
    assert_true(signer_has_key(f->current, 1));
    assert_true(signer_has_key(f->current, 2));
    assert_false(signer_has_key(f->old, 2));
    assert_int_equal(signer_active_id(f->old), 1);
    assert_int_equal(signer_active_id(f->current), 2);
}

static void signer_outlives_wiped_keyring(void **state)
{
    struct fixture *f = *state;
    struct keyring ring = f->ring;
    struct token t = sample(TOKEN_OPEN);
    struct token got;
    char text[TOKEN_TEXT_MAX + 1];
    struct signer *s = signer_new(&ring);

    assert_non_null(s);
    keyring_wipe(&ring);
    assert_int_equal(ring.keys[2].secret[5], 0);
    assert_false(ring.keys[2].present);

    size_t len = encode(s, &t, text, sizeof text);
    assert_int_equal(decode(f, text, len, TOKEN_OPEN, &got), TOKEN_OK);
    signer_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(token_round_trip_open),
        cmocka_unit_test(token_round_trip_click),
        cmocka_unit_test(token_round_trip_visit),
        cmocka_unit_test(token_layout_matches_spec),
        cmocka_unit_test(token_click_layout_has_dest),
        cmocka_unit_test(token_visit_layout_has_click_id),
        cmocka_unit_test(token_rejects_every_flipped_byte),
        cmocka_unit_test(token_rejects_every_changed_char),
        cmocka_unit_test(token_rejects_truncation),
        cmocka_unit_test(token_rejects_trailing_bytes),
        cmocka_unit_test(token_rejects_wrong_version),
        cmocka_unit_test(token_rejects_unknown_key),
        cmocka_unit_test(token_verifies_after_rotation),
        cmocka_unit_test(token_rejects_other_keys_mac),
        cmocka_unit_test(token_rejects_wrong_kind),
        cmocka_unit_test(token_rejects_unknown_kind_byte),
        cmocka_unit_test(token_rejects_noncanonical_text),
        cmocka_unit_test(token_rejects_text_over_max),
        cmocka_unit_test(token_ids_at_limits),
        cmocka_unit_test(token_id_valid_charset),
        cmocka_unit_test(token_rejects_bad_ids_behind_mac),
        cmocka_unit_test(token_link_varint_rules),
        cmocka_unit_test(token_link_max_round_trips),
        cmocka_unit_test(token_dest_length_rules),
        cmocka_unit_test(token_dest_at_limits),
        cmocka_unit_test(token_encode_rejects_small_out),
        cmocka_unit_test(token_encode_rejects_bad_kind),
        cmocka_unit_test(token_encode_needs_active_key),
        cmocka_unit_test(token_status_names),
        cmocka_unit_test(signer_matches_one_shot_hmac),
        cmocka_unit_test(signer_rejects_absent_key),
        cmocka_unit_test(signer_outlives_wiped_keyring),
    };

    return cmocka_run_group_tests_name("token", tests, setup, teardown);
}
