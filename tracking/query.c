/*
 * query.c - the tolerant query parser of query.h.
 */
#include "query.h"
#include "ident.h"

#include <string.h>

/* Decodes in[0..len) into out (outsize bytes with the NUL). Returns the
 * decoded length, or -1 for a malformed escape, a control byte, or no room. */
static long decode(const char *in, size_t len, char *out, size_t outsize)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];

        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = i + 2 < len ? ident_hex_value(in[i + 1]) : -1;
            int lo = i + 2 < len ? ident_hex_value(in[i + 2]) : -1;

            if (hi < 0 || lo < 0)
                return -1;
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        if (c < 0x20 || c == 0x7f || n + 1 >= outsize)
            return -1;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return (long)n;
}

/* Decodes one piece and hands it to fn. Returns 1 when skipped, 0 when
 * accepted, -1 when fn stopped the parse. */
static int take_piece(const char *piece, size_t len, char *scratch,
                      size_t scratch_size, query_pair_fn fn, void *arg)
{
    const char *eq = memchr(piece, '=', len);
    size_t key_raw, value_raw;
    long key_len, value_len;

    if (eq == NULL || eq == piece)
        return 1;
    key_raw = (size_t)(eq - piece);
    value_raw = len - key_raw - 1;

    key_len = decode(piece, key_raw, scratch, scratch_size);
    if (key_len <= 0)
        return 1;
    value_len = decode(eq + 1, value_raw, scratch + key_len + 1,
                       scratch_size - (size_t)key_len - 1);
    if (value_len < 0)
        return 1;

    if (fn(scratch, (size_t)key_len, scratch + key_len + 1, (size_t)value_len,
           arg) != 0)
        return -1;
    return 0;
}

long query_parse(const char *q, size_t len, char *scratch, size_t scratch_size,
                 query_pair_fn fn, void *arg)
{
    long skipped = 0;
    size_t start = 0;

    if (scratch_size < 2)
        return -1;
    while (start <= len) {
        const char *amp = memchr(q + start, '&', len - start);
        size_t end = amp != NULL ? (size_t)(amp - q) : len;
        int rc = 0;

        if (end > start)
            rc = take_piece(q + start, end - start, scratch, scratch_size, fn, arg);
        if (rc < 0)
            return -1;
        skipped += rc;
        start = end + 1;
    }
    return skipped;
}
