/*
 * b64url.c - canonical base64url without padding.
 *
 * Decoding accepts exactly the strings that b64url_encode produces, so every
 * byte string has one text form and a token cannot be re-spelled.
 */
#include "b64url.h"

#include <limits.h>

static const char alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t b64url_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;
    size_t i = 0;

    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }

    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
    }
    return o;
}

/* The 6-bit value of each byte, or 255 for a byte outside the alphabet.
 * A table rather than range tests, because token_decode runs this on
 * every pixel and click, and a lookup per character costs a few
 * instructions where the range tests cost about twenty. */
static const uint8_t sextets[256] = {
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,  62, 255, 255,
     52,  53,  54,  55,  56,  57,  58,  59,  60,  61, 255, 255, 255, 255, 255, 255,
    255,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
     15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25, 255, 255, 255, 255,  63,
    255,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
     41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
};

#define INVALID 0x80 /* set in a sextet only for bytes outside the alphabet */

long b64url_decode(const char *text, size_t len, uint8_t *out, size_t outsize)
{
    const unsigned char *in = (const unsigned char *)text;
    size_t rem = len % 4;
    size_t need = len / 4 * 3 + (rem == 0 ? 0 : rem - 1);
    size_t i = 0;
    size_t o = 0;
    uint32_t a, b, c, d;

    /* One leftover character carries only 6 bits: no byte ends there. */
    if (rem == 1 || need > outsize || need > (size_t)LONG_MAX)
        return -1;

    for (; i + 4 <= len; i += 4) {
        a = sextets[in[i]];
        b = sextets[in[i + 1]];
        c = sextets[in[i + 2]];
        d = sextets[in[i + 3]];
        if (((a | b | c | d) & INVALID) != 0)
            return -1;
        out[o++] = (uint8_t)(a << 2 | b >> 4);
        out[o++] = (uint8_t)(b << 4 | c >> 2);
        out[o++] = (uint8_t)(c << 6 | d);
    }
    if (rem == 0)
        return (long)o;

    /* The bits left over must be zero, or two texts would decode alike.
     * Those are the low 4 bits of a second and last character, or the low
     * 2 bits of a third and last one. */
    a = sextets[in[i]];
    b = sextets[in[i + 1]];
    c = rem == 3 ? sextets[in[i + 2]] : 0;
    if (((a | b | c) & INVALID) != 0)
        return -1;
    out[o++] = (uint8_t)(a << 2 | b >> 4);
    if (rem == 2)
        return (b & 0x0F) == 0 ? (long)o : -1;
    out[o++] = (uint8_t)(b << 4 | c >> 2);
    return (c & 0x03) == 0 ? (long)o : -1;
}
