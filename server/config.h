/*
 * config.h - tallyd's settings: defaults, a key = value file, flags.
 *
 * Every key of the file is also a flag: click_window = 7d in the file is
 * --click-window 7d (or --click-window=7d) on the command line, and flags
 * win over the file whatever their order. Durations take a unit (ms, s, m,
 * h, d); sizes take an optional K or M (powers of 1024).
 */
#ifndef TALLY_CONFIG_H
#define TALLY_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "journal.h"
#include "log.h"

#define CONFIG_STR_MAX 1024

/* Printed by --version, and by tallyd's start line. */
#define TALLY_VERSION "0.1.0"

struct config {
    char listen[CONFIG_STR_MAX];     /* listen: 127.0.0.1:8080 */
    char redis[CONFIG_STR_MAX];      /* redis: URL, see redis_url.h */
    char keys[CONFIG_STR_MAX];       /* keys: path of the keys file */
    char state_dir[CONFIG_STR_MAX];  /* state_dir: journal and run files (./state) */
    char public_url[CONFIG_STR_MAX]; /* public_url: base of minted URLs; "" = http://<listen> */
    int threads;                     /* threads: event loops; 0 = one per core */
    int64_t click_window_ms;         /* click_window: 7d */
    int64_t open_window_ms;          /* open_window: 1d */
    bool attribute_opens;            /* attribute_opens: off */
    char attribution_model[CONFIG_STR_MAX]; /* attribution_model: last_click */
    int max_readers_per_identifier;  /* max_readers_per_identifier: 3 */
    char shop_origins[CONFIG_STR_MAX]; /* shop_origins: comma-separated */
    int64_t conversion_max_age_ms;   /* conversion_max_age: 5m */
    int64_t reader_retention_ms;     /* reader_retention: 30d */
    int64_t campaign_retention_ms;   /* campaign_retention: 400d */
    struct http_limits http;         /* max_url, max_header_bytes, max_headers,
                                        max_body, header_timeout, body_timeout,
                                        idle_timeout, write_timeout,
                                        max_connections */
    enum log_level log_level;        /* log_level: info */
    char trusted_proxies[CONFIG_STR_MAX]; /* trusted_proxies: CIDRs, none */
    char proxy_header[CONFIG_STR_MAX];    /* proxy_header: x-forwarded-for */
    int beacon_rate;                 /* beacon_rate: per client per second */
    int beacon_burst;                /* beacon_burst: bucket size */
    char classify_data[CONFIG_STR_MAX];    /* classify_data: ./data */
    char suppression_file[CONFIG_STR_MAX]; /* suppression_file: none */
    int64_t too_early_ms;            /* too_early: 0s (off) */
    int64_t burst_window_ms;         /* burst_window: 2s */
    int burst_links;                 /* burst_links: 3 */
    int64_t honeypot_window_ms;      /* honeypot_window: 30s */
    bool attribute_machine_events;   /* attribute_machine_events: off */
    enum journal_fsync journal_fsync; /* journal_fsync: everysec */
    size_t journal_max_size;         /* journal_max_size: 256M per loop */
    int redis_timeout_ms;            /* redis_timeout: 2s */
    int max_queued_events;           /* max_queued_events: 262144 per loop */
    size_t renewal_cache;            /* renewal_cache: 1048576 entries */
};

/* Sets every field to its default. */
void config_defaults(struct config *cfg);

/*
 * Builds the configuration from argv: defaults, then the file named by
 * --config FILE (if any), then every other flag. Returns 0; 1 when --help
 * or --version was printed (the caller exits 0); -1 with a one-line reason
 * in err for an unknown key, a bad value or an unreadable file.
 */
int config_from_args(struct config *cfg, int argc, char **argv, char *err,
                     size_t errsize);

/* Applies the key = value lines of the file at path over *cfg. Returns 0, or
 * -1 with a reason in err that names path:line for an unknown, repeated or
 * invalid key, or the failure when the file cannot be read. tallyctl uses it
 * to take keys and redis from tallyd's file. */
int config_load_file(struct config *cfg, const char *path, char *err,
                     size_t errsize);

/* Sets one key (file spelling, underscores) from its text value. Returns 0,
 * or -1 with a reason in err. */
int config_set(struct config *cfg, const char *key, const char *value,
               char *err, size_t errsize);

/* Copies the next entry of the comma-separated *list, without surrounding
 * spaces, into out and advances *list past it (to NULL after the last).
 * Returns 1 when an entry was copied (possibly empty), 0 when the list is
 * used up, -1 when the entry does not fit in outsize. */
int config_list_next(const char **list, char *out, size_t outsize);
/* Parses on, true, yes, 1 and off, false, no, 0. Returns 0, or -1. */
int config_parse_bool(const char *value, bool *out);

/* Prints the flags with their defaults and units to out. */
void config_print_help(const char *program, void *out_file);

#endif
