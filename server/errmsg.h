/*
 * errmsg.h - the one-line error messages that parsers in server/ return
 * through a caller's (err, errsize) buffer.
 */
#ifndef TALLY_ERRMSG_H
#define TALLY_ERRMSG_H

#include <stddef.h>

/* Formats a message into err (errsize bytes, truncated to fit, always
 * NUL-terminated when errsize > 0) and returns -1, so a parser can write
 * `return errmsg_set(err, errsize, "...", ...);`. */
int errmsg_set(char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
