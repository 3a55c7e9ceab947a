/*
 * redis_url.h - the --redis argument: redis://[user:password@]host:port[/db]
 * or unix:///path/to/redis.sock[?db=N].
 */
#ifndef TALLY_REDIS_URL_H
#define TALLY_REDIS_URL_H

#include <stdbool.h>
#include <stddef.h>

struct redis_target {
    bool is_unix;
    char host[256]; /* TCP: name or address, IPv6 without brackets */
    int port;       /* TCP: 1..65535, default 6379 */
    char path[108]; /* unix: socket path (sun_path size) */
    char user[128]; /* empty when none; "default" is Redis's own default */
    char password[256]; /* empty when none; never log it */
    int db;             /* 0..; SELECT after connecting when not 0 */
};

/* Parses url into *out. Percent-escapes in user and password are decoded.
 * Returns 0, or -1 with a one-line reason in err. */
int redis_url_parse(const char *url, struct redis_target *out, char *err,
                    size_t errsize);

/* Writes the target as a URL with any password replaced by "***", for logs. */
void redis_url_describe(const struct redis_target *t, char *out, size_t outsize);

#endif
