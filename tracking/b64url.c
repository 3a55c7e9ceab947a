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

/* Returns the 6-bit value of an alphabet character, or -1. */
static int sextet(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

long b64url_decode(const char *text, size_t len, uint8_t *out, size_t outsize)
{
    size_t rem = len % 4;
    size_t need = len / 4 * 3 + (rem == 0 ? 0 : rem - 1);
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;

    /* One leftover character carries only 6 bits: no byte ends there. */
    if (rem == 1 || need > outsize || need > (size_t)LONG_MAX)
        return -1;

    for (size_t i = 0; i < len; i++) {
        int v = sextet(text[i]);

        if (v < 0)
            return -1;
        acc = (acc << 6 | (uint32_t)v) & 0xFFFFFF;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }

    /* The bits left over must be zero, or two texts would decode alike. */
    if ((acc & ((1u << bits) - 1)) != 0)
        return -1;
    return (long)o;
}
