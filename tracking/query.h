/*
 * query.h - a tolerant parser of URL query strings (a=1&b=2).
 *
 * Written here rather than taken from libevent because
 * evhttp_parse_query_str (libevent 2.1.12) gives up on the whole query when
 * one piece has no '=' or an empty key, so a stray "&flag" appended by a
 * mail client or an ad blocker would hide every other parameter. This
 * parser skips such a piece and keeps the rest.
 *
 * Rules: pieces are separated by '&'; a piece is key=value, split at its
 * first '='. Keys and values are percent-decoded and '+' becomes a space
 * (the form encoding that URLSearchParams writes). A piece is skipped, and
 * counted, when it has no '=', an empty key, a malformed escape (a '%' not
 * followed by two hex digits) or a decoded control byte (below 0x20, or
 * 0x7F, which includes %00), or when it does not fit the scratch buffer.
 * Empty pieces ("a=1&&b=2") are ignored without counting.
 */
#ifndef TALLY_QUERY_H
#define TALLY_QUERY_H

#include <stddef.h>

/* Called once per accepted piece with its decoded, NUL-terminated key and
 * value, which live in the caller's scratch buffer until the next call.
 * Returning non-zero stops the parse. */
typedef int (*query_pair_fn)(const char *key, size_t key_len,
                             const char *value, size_t value_len, void *arg);

/* Parses q[0..len) (the part after '?', without any '#'), calling fn for
 * every accepted piece in order. scratch (scratch_size bytes) holds the
 * decoded text of one piece. Returns the number of skipped pieces, or -1
 * when fn stopped the parse. */
long query_parse(const char *q, size_t len, char *scratch, size_t scratch_size,
                 query_pair_fn fn, void *arg);

#endif
