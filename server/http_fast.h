/*
 * http_fast.h - a scanner for the request head most requests to tally have:
 * GET or HEAD, HTTP/1.1, no body and plain header fields.
 *
 * http-parser reads a request one byte at a time through its state
 * machine. Under load that was about a fifth of tallyd's instructions per
 * pixel request (callgrind under wrk, loadtest/bench.py's pixel load).
 * This scanner checks each byte once against a table. It accepts a strict subset of what http-parser accepts, and for
 * that subset it yields what http-parser's callbacks would deliver. For
 * everything else it returns 0, and the caller hands the bytes to
 * http-parser, which also produces every error response. The libFuzzer
 * target tests/fuzz/fuzz_http_fast.c runs both on each input and checks
 * that they agree whenever this scanner accepts.
 *
 * The accepted request line is "GET " or "HEAD ", a target of visible
 * ASCII other than '#' that starts with '/', and " HTTP/1.1" CRLF. Each
 * header line is a token name, ':', optional spaces or tabs, and a value
 * of visible ASCII, spaces and tabs that starts with a visible character.
 * An empty line ends the head. Header names that change how http-parser frames
 * the message or the connection (Connection, Proxy-Connection,
 * Content-Length, Transfer-Encoding, Upgrade) and Expect are left to
 * http-parser. Such a request has no body, and it keeps the connection
 * open.
 */
#ifndef TALLY_HTTP_FAST_H
#define TALLY_HTTP_FAST_H

#include <stdbool.h>
#include <stddef.h>

/* Header fields the scanner takes at most; a request with more goes to
 * http-parser. */
#define HTTP_FAST_MAX_HEADERS 24

/* Heads longer than this go to http-parser, whose own limit is 80 KiB. */
#define HTTP_FAST_MAX_HEAD 8192

/* A byte range of the scanned input. */
struct http_fast_span {
    size_t off;
    size_t len;
};

/* A scanned request head. Header values start after the whitespace that
 * follows the colon and keep any trailing whitespace, as http-parser
 * delivers them. */
struct http_fast_head {
    bool head; /* HEAD rather than GET */
    struct http_fast_span target;
    size_t n_headers;
    struct http_fast_span names[HTTP_FAST_MAX_HEADERS];
    struct http_fast_span values[HTTP_FAST_MAX_HEADERS];
};

/* Scans one request head at the start of data[0..len). Returns its length
 * through the empty line, or 0 when the head is not complete in data or
 * is not of the accepted form. */
size_t http_fast_scan(const char *data, size_t len, struct http_fast_head *out);

#endif
