/*
 * log.c - the line writer and the per-call-site rate limiter of log.h.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum log_level log_min_level = LOG_LEVEL_INFO;

static const char *const level_names[] = {
    [LOG_LEVEL_DEBUG] = "debug", [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_NOTICE] = "notice", [LOG_LEVEL_WARN] = "warn",
    [LOG_LEVEL_ERROR] = "error",
};

int log_parse_level(const char *name, enum log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

void log_write(enum log_level level, const char *event, const char *fmt, ...)
{
    struct timespec now;
    struct tm utc;
    char line[2048];
    size_t used;
    int n;
    va_list ap;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &utc);
    n = snprintf(line, sizeof(line),
                 "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=%s ",
                 utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                 utc.tm_min, utc.tm_sec, now.tv_nsec / 1000000,
                 level_names[level], event);
    used = (n > 0 && (size_t)n < sizeof(line)) ? (size_t)n : 0;

    va_start(ap, fmt);
    n = vsnprintf(line + used, sizeof(line) - used, fmt, ap);
    va_end(ap);
    if (n > 0)
        used += (size_t)n < sizeof(line) - used ? (size_t)n : sizeof(line) - used - 1;

    /* One write per line, so lines of several threads never interleave. */
    if (used < sizeof(line) - 1)
        line[used++] = '\n';
    else
        line[sizeof(line) - 2] = '\n', used = sizeof(line) - 1;
    fwrite(line, 1, used, stderr);
}

char *log_quotable(const char *text, char *out, size_t size)
{
    size_t i;

    for (i = 0; i + 1 < size && text[i] != '\0'; i++) {
        unsigned char c = (unsigned char)text[i];

        out[i] = c == '"' ? '\'' : c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    out[i] = '\0';
    return out;
}

bool log_limit_allow(struct log_limit *limit, uint32_t *dropped)
{
    struct timespec now;
    int64_t start;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    start = atomic_load_explicit(&limit->window_start, memory_order_relaxed);
    if (now.tv_sec - start >= LOG_WINDOW_S &&
        atomic_compare_exchange_strong(&limit->window_start, &start,
                                       (int64_t)now.tv_sec))
        atomic_store(&limit->in_window, 0);

    if (atomic_fetch_add(&limit->in_window, 1) >= LOG_BURST) {
        atomic_fetch_add(&limit->dropped, 1);
        return false;
    }
    *dropped = atomic_exchange(&limit->dropped, 0);
    return true;
}
