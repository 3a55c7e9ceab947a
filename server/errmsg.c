/*
 * errmsg.c - errmsg_set of errmsg.h.
 */
#include "errmsg.h"

#include <stdarg.h>
#include <stdio.h>

int errmsg_set(char *err, size_t errsize, const char *fmt, ...)
{
    va_list ap;

    if (errsize == 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
    return -1;
}
