/*
 * log.h - one line per event, key=value, to standard error.
 *
 *   2026-12-04T20:12:37.123Z level=info event=pixel.invalid status=bad_mac
 *
 * The level is checked before anything is formatted, and the compiler checks
 * each format. LOG_LIMITED lets at most LOG_BURST lines through per call site
 * in each LOG_WINDOW_S seconds and reports how many it dropped on the next
 * line it lets through: use it for everything a client can trigger. Never
 * pass a secret, an email address or a full IP address.
 */
#ifndef TALLY_LOG_H
#define TALLY_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level {
    LOG_LEVEL_DEBUG = 0,
    LOG_LEVEL_INFO,
    LOG_LEVEL_NOTICE,
    LOG_LEVEL_WARN,
    LOG_LEVEL_ERROR,
};

#define LOG_BURST 10
#define LOG_WINDOW_S 10

extern enum log_level log_min_level;

/* Parses "debug", "info", "notice", "warn" or "error". Returns 0, or -1. */
int log_parse_level(const char *name, enum log_level *out);

/* Writes one line. event is a dotted name such as "redis.reconnect"; fmt
 * gives the key=value pairs that follow it. */
void log_write(enum log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copies text into out (size bytes, at least 1) for a quoted key="value"
 * of a log line: '"' becomes '\'', a control byte a space, and the copy
 * ends at size - 1 bytes. Returns out. Reasons written for clients quote
 * field values ("identify"), which would otherwise end the value early. */
char *log_quotable(const char *text, char *out, size_t size);

/* State of one rate-limited call site. */
struct log_limit {
    _Atomic int64_t window_start; /* seconds */
    _Atomic uint32_t in_window;
    _Atomic uint32_t dropped;
};

/* Returns true when the call site may log now; *dropped receives how many
 * lines were dropped since the last one let through. */
bool log_limit_allow(struct log_limit *limit, uint32_t *dropped);

#define LOG_AT(level, event, ...)                                     \
    do {                                                              \
        if ((level) >= log_min_level)                                 \
            log_write((level), (event), __VA_ARGS__);                 \
    } while (0)

#define LOG_DEBUG(event, ...) LOG_AT(LOG_LEVEL_DEBUG, event, __VA_ARGS__)
#define LOG_INFO(event, ...) LOG_AT(LOG_LEVEL_INFO, event, __VA_ARGS__)
#define LOG_NOTICE(event, ...) LOG_AT(LOG_LEVEL_NOTICE, event, __VA_ARGS__)
#define LOG_WARN(event, ...) LOG_AT(LOG_LEVEL_WARN, event, __VA_ARGS__)
#define LOG_ERROR(event, ...) LOG_AT(LOG_LEVEL_ERROR, event, __VA_ARGS__)

/* Rate-limited form; fmt must be a string literal. A line that follows
 * dropped ones ends with dropped=N. */
#define LOG_LIMITED(level, event, fmt, ...)                                 \
    do {                                                                    \
        static struct log_limit limit_;                                     \
        uint32_t dropped_;                                                  \
        if ((level) >= log_min_level && log_limit_allow(&limit_, &dropped_)) { \
            if (dropped_ > 0)                                               \
                log_write((level), (event), fmt " dropped=%u",              \
                          ##__VA_ARGS__, dropped_);                         \
            else                                                            \
                log_write((level), (event), fmt, ##__VA_ARGS__);            \
        }                                                                   \
    } while (0)

#endif
