/*
 * token.c - encoding, signing and verifying version 1 tokens.
 *
 * The binary layout, byte by byte, is in docs/tokens.md. Decoding parses the
 * whole structure first, so that the MAC is computed over exactly the bytes
 * that precede it, and trusts no field for anything but parsing until the
 * MAC has matched.
 */
#include "token.h"

#include <string.h>

#include <openssl/crypto.h>

#include "b64url.h"

#define HEADER_LEN 7   /* version, kind, key id, issued */
#define VARINT_MAX 5   /* LEB128 bytes of a uint32_t */

const char *token_status_name(enum token_status status)
{
    switch (status) {
    case TOKEN_OK:
        return "ok";
    case TOKEN_MALFORMED:
        return "malformed";
    case TOKEN_BAD_VERSION:
        return "bad_version";
    case TOKEN_UNKNOWN_KEY:
        return "unknown_key";
    case TOKEN_BAD_MAC:
        return "bad_mac";
    case TOKEN_WRONG_KIND:
        return "wrong_kind";
    }
    return "unknown";
}

bool token_id_valid(const char *id, size_t len)
{
    if (id == NULL || len == 0 || len > TOKEN_ID_MAX)
        return false;

    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static bool kind_known(unsigned kind)
{
    return kind == TOKEN_OPEN || kind == TOKEN_CLICK || kind == TOKEN_VISIT;
}

/* Appends the minimal LEB128 form of v at p and returns its length. */
static size_t put_varint(uint8_t *p, uint32_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Writes the fields of t, without the MAC, to bin (TOKEN_BINARY_MAX bytes)
 * and returns their length, or 0 when a field is invalid. */
static size_t put_fields(const struct token *t, uint8_t key_id, uint8_t *bin)
{
    size_t campaign_len = strnlen(t->campaign, sizeof t->campaign);
    size_t message_len = strnlen(t->message, sizeof t->message);
    size_t n = 0;

    if (!kind_known((unsigned)t->kind) ||
        !token_id_valid(t->campaign, campaign_len) ||
        !token_id_valid(t->message, message_len))
        return 0;
    if (t->kind == TOKEN_CLICK &&
        (t->dest == NULL || t->dest_len == 0 || t->dest_len > TOKEN_DEST_MAX))
        return 0;

    bin[n++] = TOKEN_VERSION;
    bin[n++] = (uint8_t)t->kind;
    bin[n++] = key_id;
    bin[n++] = (uint8_t)(t->issued >> 24);
    bin[n++] = (uint8_t)(t->issued >> 16);
    bin[n++] = (uint8_t)(t->issued >> 8);
    bin[n++] = (uint8_t)t->issued;

    bin[n++] = (uint8_t)campaign_len;
    memcpy(bin + n, t->campaign, campaign_len);
    n += campaign_len;
    bin[n++] = (uint8_t)message_len;
    memcpy(bin + n, t->message, message_len);
    n += message_len;

    memcpy(bin + n, t->reader, TOKEN_READER_LEN);
    n += TOKEN_READER_LEN;
    n += put_varint(bin + n, t->link);

    if (t->kind == TOKEN_VISIT) {
        memcpy(bin + n, t->click_id, TOKEN_CLICK_ID_LEN);
        n += TOKEN_CLICK_ID_LEN;
    } else if (t->kind == TOKEN_CLICK) {
        n += put_varint(bin + n, (uint32_t)t->dest_len);
        memcpy(bin + n, t->dest, t->dest_len);
        n += t->dest_len;
    }
    return n;
}

/* Writes the truncated MAC of bin[0..n) under key_id to mac. */
static int compute_mac(struct signer *s, uint8_t key_id, const uint8_t *bin,
                       size_t n, uint8_t mac[TOKEN_MAC_LEN])
{
    const void *parts[1] = {bin};
    size_t lens[1] = {n};
    uint8_t full[SIGNER_MAC_LEN];

    if (signer_mac(s, key_id, parts, lens, 1, full) != 0)
        return -1;
    memcpy(mac, full, TOKEN_MAC_LEN);
    return 0;
}

long token_encode(struct signer *s, struct token *t, char *out, size_t outsize)
{
    uint8_t bin[TOKEN_BINARY_MAX];
    uint8_t key_id = signer_active_id(s);
    size_t n = put_fields(t, key_id, bin);

    if (n == 0)
        return -1;

    if (compute_mac(s, key_id, bin, n, bin + n) != 0)
        return -1;
    n += TOKEN_MAC_LEN;

    if (outsize == 0 || B64URL_ENCODED_LEN(n) > outsize - 1)
        return -1;

    size_t text_len = b64url_encode(bin, n, out);
    out[text_len] = '\0';
    t->key_id = key_id;
    return (long)text_len;
}

/* A read position in the decoded bytes. Every get_ function fails, without
 * moving, when the bytes it needs are not there. */
struct reader {
    const uint8_t *bytes;
    size_t len;
    size_t pos;
};

static size_t left(const struct reader *r)
{
    return r->len - r->pos;
}

/* Reads a length-prefixed id and copies it, NUL-terminated, to out. */
static int get_id(struct reader *r, char out[TOKEN_ID_MAX + 1])
{
    size_t id_len;

    if (left(r) < 1)
        return -1;
    id_len = r->bytes[r->pos];
    if (left(r) < 1 + id_len ||
        !token_id_valid((const char *)r->bytes + r->pos + 1, id_len))
        return -1;

    memcpy(out, r->bytes + r->pos + 1, id_len);
    out[id_len] = '\0';
    r->pos += 1 + id_len;
    return 0;
}

/* Reads an unsigned LEB128 value of at most VARINT_MAX bytes, rejecting
 * values above UINT32_MAX and non-minimal forms (a zero final byte after
 * the first), so that each value has one encoding. */
static int get_varint(struct reader *r, uint32_t *out)
{
    uint64_t v = 0;

    for (size_t i = 0; i < VARINT_MAX && i < left(r); i++) {
        uint8_t b = r->bytes[r->pos + i];

        v |= (uint64_t)(b & 0x7F) << (7 * i);
        if (b & 0x80)
            continue;
        if ((i > 0 && b == 0) || v > UINT32_MAX)
            return -1;
        *out = (uint32_t)v;
        r->pos += i + 1;
        return 0;
    }
    return -1;
}

static int get_bytes(struct reader *r, void *out, size_t n)
{
    if (left(r) < n)
        return -1;
    memcpy(out, r->bytes + r->pos, n);
    r->pos += n;
    return 0;
}

/* Parses everything after the version byte into t and leaves r at the MAC.
 * Returns 0, or -1 when the bytes are not a well-formed version 1 token. */
static int parse_fields(struct reader *r, struct token *t)
{
    const uint8_t *b = r->bytes;
    uint32_t dest_len;

    if (r->len < HEADER_LEN || !kind_known(b[1]))
        return -1;
    t->kind = (enum token_kind)b[1];
    t->key_id = b[2];
    t->issued = (uint32_t)b[3] << 24 | (uint32_t)b[4] << 16 |
                (uint32_t)b[5] << 8 | b[6];
    r->pos = HEADER_LEN;

    if (get_id(r, t->campaign) != 0 || get_id(r, t->message) != 0 ||
        get_bytes(r, t->reader, TOKEN_READER_LEN) != 0 ||
        get_varint(r, &t->link) != 0)
        return -1;

    if (t->kind == TOKEN_VISIT)
        return get_bytes(r, t->click_id, TOKEN_CLICK_ID_LEN);
    if (t->kind != TOKEN_CLICK)
        return 0;

    if (get_varint(r, &dest_len) != 0 || dest_len == 0 ||
        dest_len > TOKEN_DEST_MAX || left(r) < dest_len)
        return -1;
    t->dest = (const char *)b + r->pos;
    t->dest_len = dest_len;
    r->pos += dest_len;
    return 0;
}

enum token_status token_decode(struct signer *s, const char *text, size_t len,
                               enum token_kind expected, uint8_t *scratch,
                               struct token *out)
{
    struct reader r = {scratch, 0, 0};
    uint8_t mac[TOKEN_MAC_LEN];
    long n;

    memset(out, 0, sizeof *out);
    if (len > TOKEN_TEXT_MAX)
        return TOKEN_MALFORMED;

    n = b64url_decode(text, len, scratch, TOKEN_BINARY_MAX);
    if (n < 1)
        return TOKEN_MALFORMED;
    r.len = (size_t)n;

    /* Another version may lay out its bytes differently, so the version is
     * the one field read before the structure is known. */
    if (scratch[0] != TOKEN_VERSION)
        return TOKEN_BAD_VERSION;

    if (parse_fields(&r, out) != 0 || left(&r) != TOKEN_MAC_LEN)
        return TOKEN_MALFORMED;

    if (!signer_has_key(s, out->key_id))
        return TOKEN_UNKNOWN_KEY;

    if (compute_mac(s, out->key_id, scratch, r.pos, mac) != 0 ||
        CRYPTO_memcmp(mac, scratch + r.pos, TOKEN_MAC_LEN) != 0)
        return TOKEN_BAD_MAC;

    if (out->kind != expected)
        return TOKEN_WRONG_KIND;
    return TOKEN_OK;
}
