/*
 * resp.h - encodes Redis commands in RESP2, the protocol's request form:
 * an array of bulk strings.
 *
 * The store formats its commands here and hands the bytes to hiredis with
 * redisAsyncFormattedCommand. hiredis 0.14's own formatter
 * (redisAsyncCommandArgv) builds each argument header with sdscatfmt and
 * grows its buffer once per argument; that cost about a quarter of tallyd's
 * instructions per pixel request under callgrind (loadtest/bench.py).
 */
#ifndef TALLY_RESP_H
#define TALLY_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Digits of the largest uint64_t, and its NUL. */
#define RESP_U64_MAX 21

/* A growing output buffer, reused from command to command. failed turns
 * true when memory ran out; every later append is then ignored. */
struct resp_buf {
    char *data;
    size_t len;
    size_t cap;
    bool failed;
};

/* Empties b, keeping its memory. */
void resp_reset(struct resp_buf *b);

/* Frees b's memory and empties it. */
void resp_free(struct resp_buf *b);

/* Appends the header of a command of n arguments ("*n\r\n"); the n
 * arguments follow as bulk strings. */
void resp_array(struct resp_buf *b, size_t n);

/* Appends one argument of len bytes (binary safe). */
void resp_bulk(struct resp_buf *b, const void *s, size_t len);

/* Appends a NUL-terminated argument. */
void resp_bulk_str(struct resp_buf *b, const char *s);

/* Appends v in decimal as one argument. */
void resp_bulk_u64(struct resp_buf *b, uint64_t v);

/* Writes v in decimal and a NUL to out; returns the number of digits. */
size_t resp_u64_text(uint64_t v, char out[RESP_U64_MAX]);

#endif
