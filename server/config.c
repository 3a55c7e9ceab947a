/*
 * config.c - tallyd's settings, driven by one table.
 *
 * Each row of options[] names a key, its type, where it lives in struct
 * config, its default and its help line, so the file parser, the flag
 * parser, the help text and the defaults cannot drift apart. The HTTP
 * limits take their defaults from http_limits_default. Every other row
 * carries its default as text, which config_defaults parses like a value
 * from the file. The help text prints the defaults from the parsed values.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "kvline.h"
#include "client_addr.h"
#include "attribution.h"
#include "origin.h"
#include "redis_url.h"
#include "tally.h"

enum option_type {
    OPT_STRING,      /* char[CONFIG_STR_MAX] */
    OPT_INT,         /* int, plain decimal */
    OPT_COUNT,       /* size_t, plain decimal */
    OPT_SIZE,        /* size_t bytes, optional K or M */
    OPT_DURATION,    /* int64_t milliseconds, unit required */
    OPT_DURATION_INT,/* int milliseconds, unit required */
    OPT_LOG_LEVEL,   /* enum log_level */
    OPT_BOOL,        /* bool: on, off, true, false, yes, no, 1, 0 */
    OPT_FSYNC,       /* enum journal_fsync */
};

/* Extra check of a string value. Returns 0, or -1 with a reason in err. */
typedef int (*string_check_fn)(const char *value, char *err, size_t errsize);

struct option {
    const char *name;    /* file spelling; the flag has '-' for '_' */
    enum option_type type;
    size_t offset;       /* in struct config */
    const char *default_text; /* NULL: set by http_limits_default */
    int64_t min, max;    /* numeric types: accepted range after units */
    bool may_be_empty;   /* OPT_STRING */
    string_check_fn check; /* OPT_STRING, optional */
    const char *metavar; /* placeholder in --help */
    const char *help;    /* what it sets, in what unit */
};

static int check_listen(const char *value, char *err, size_t errsize);
static int check_redis(const char *value, char *err, size_t errsize);
static int check_trusted_proxies(const char *value, char *err, size_t errsize);
static int check_proxy_header(const char *value, char *err, size_t errsize);
static int check_model(const char *value, char *err, size_t errsize);
static int check_origins(const char *value, char *err, size_t errsize);
static int check_public_url(const char *value, char *err, size_t errsize);

#define FIELD(member) offsetof(struct config, member)
#define DAY_MS (24LL * 3600 * 1000)
#define SIZE_LIMIT (1LL << 30)

static const struct option options[] = {
    {"listen", OPT_STRING, FIELD(listen), "127.0.0.1:8080", 0, 0, false,
     check_listen, "HOST:PORT",
     "address and TCP port to serve HTTP on; [::1]:8080 for IPv6, port 0 "
     "picks a free one, which every event loop shares and the tallyd.ready "
     "log line names; up to 4, separated by commas; tallyd does not start "
     "while another process listens on one"},
    {"redis", OPT_STRING, FIELD(redis), "", 0, 0, true, check_redis, "URL",
     "Redis to store events in: redis://[user:password@]host:port[/db] or "
     "unix:///path/to/redis.sock[?db=N]; required"},
    {"keys", OPT_STRING, FIELD(keys), "keys.conf", 0, 0, false, NULL, "FILE",
     "keys file holding the signing keys and the reader secret"},
    {"state_dir", OPT_STRING, FIELD(state_dir), "./state", 0, 0, false, NULL,
     "DIR", "directory for the journal files and tallyd.pid, the process id "
     "of the tallyd that uses it"},
    {"public_url", OPT_STRING, FIELD(public_url), "", 0, 0, true,
     check_public_url, "URL",
     "tallyd's address as readers reach it, the base of URLs minted by POST "
     "/v1/sign: an http:// or https:// URL without query or fragment "
     "(https://t.shop.example); empty means http:// and the first listen "
     "address, with the port it got"},
    {"threads", OPT_INT, FIELD(threads), "0", 0, 1024, false, NULL, "N",
     "event loop threads; 0 means one per CPU core"},
    {"click_window", OPT_DURATION, FIELD(click_window_ms), "7d", 1,
     3650 * DAY_MS, false, NULL, "DURATION",
     "how long after a click a purchase is still credited to it"},
    {"open_window", OPT_DURATION, FIELD(open_window_ms), "1d", 1,
     3650 * DAY_MS, false, NULL, "DURATION",
     "how long after an open a purchase is still credited to it, when "
     "attribute_opens is on"},
    {"attribute_opens", OPT_BOOL, FIELD(attribute_opens), "off", 0, 0, false,
     NULL, "on|off", "credit purchases to opens, not only to clicks"},
    {"attribution_model", OPT_STRING, FIELD(attribution_model), "last_click",
     0, 0, false, check_model, "MODEL",
     "which touchpoint a purchase is credited to: last_click, first_touch "
     "or last_touch; a valid click token always wins"},
    {"max_readers_per_identifier", OPT_INT, FIELD(max_readers_per_identifier),
     "3", 1, 1000, false, NULL, "N",
     "readers one device or customer id may be linked to before it is no "
     "longer used for attribution (a shared tablet, a test account)"},
    {"shop_origins", OPT_STRING, FIELD(shop_origins), "", 0, 0, true,
     check_origins, "ORIGINS",
     "comma-separated origins allowed to send browser beacons, such as "
     "https://shop.example, which get CORS headers while other origins get "
     "403; empty accepts beacons from any page and sends no CORS headers"},
    {"conversion_max_age", OPT_DURATION, FIELD(conversion_max_age_ms), "5m",
     1000, 3600 * 1000, false, NULL, "DURATION",
     "oldest (or furthest ahead) X-Tally-Timestamp POST /v1/conversions "
     "accepts"},
    /* The stores set TTLs in whole seconds, and EXPIRE 0 deletes a key at
     * once, so the retentions start at a minute. */
    {"reader_retention", OPT_DURATION, FIELD(reader_retention_ms), "30d",
     60 * 1000, 3650 * DAY_MS, false, NULL, "DURATION",
     "how long per-reader data (touchpoints, identity links) is kept"},
    {"campaign_retention", OPT_DURATION, FIELD(campaign_retention_ms), "400d",
     60 * 1000, 3650 * DAY_MS, false, NULL, "DURATION",
     "how long campaign totals, hourly series and order records are kept; at "
     "least reader_retention"},
    {"max_url", OPT_SIZE, FIELD(http.max_url_bytes), NULL, 1, SIZE_LIMIT,
     false, NULL, "BYTES",
     "longest request target in bytes; a longer one gets 414"},
    {"max_header_bytes", OPT_SIZE, FIELD(http.max_header_bytes), NULL, 1,
     SIZE_LIMIT, false, NULL, "BYTES",
     "bytes of all header names and values of a request; more gets 431"},
    {"max_headers", OPT_COUNT, FIELD(http.max_headers), NULL, 1, 10000, false,
     NULL, "N", "header fields of a request; more gets 431"},
    {"max_body", OPT_SIZE, FIELD(http.max_body_bytes), NULL, 1, SIZE_LIMIT,
     false, NULL, "BYTES", "longest request body in bytes; a longer one gets 413"},
    {"header_timeout", OPT_DURATION_INT, FIELD(http.header_timeout_ms), NULL,
     1, INT_MAX, false, NULL, "DURATION",
     "time from a request's first byte to the end of its headers; then 408"},
    {"body_timeout", OPT_DURATION_INT, FIELD(http.body_timeout_ms), NULL, 1,
     INT_MAX, false, NULL, "DURATION",
     "time from the end of the headers to the end of the body; then 408"},
    {"idle_timeout", OPT_DURATION_INT, FIELD(http.idle_timeout_ms), NULL, 1,
     INT_MAX, false, NULL, "DURATION",
     "time a keep-alive connection may wait for its next request"},
    {"write_timeout", OPT_DURATION_INT, FIELD(http.write_timeout_ms), NULL, 1,
     INT_MAX, false, NULL, "DURATION",
     "time a response may take to be written before the connection closes"},
    {"max_connections", OPT_INT, FIELD(http.max_connections), NULL, 1,
     10000000, false, NULL, "N",
     "open connections per event loop; more get 503 and are closed"},
    {"log_level", OPT_LOG_LEVEL, FIELD(log_level), "info", 0, 0, false, NULL,
     "LEVEL", "lowest level logged: debug, info, notice, warn or error"},
    {"trusted_proxies", OPT_STRING, FIELD(trusted_proxies), "", 0, 0, true,
     check_trusted_proxies, "CIDRS",
     "comma-separated addresses and CIDR blocks of reverse proxies whose "
     "proxy_header names the client; empty trusts none"},
    {"proxy_header", OPT_STRING, FIELD(proxy_header), "x-forwarded-for", 0, 0,
     false, check_proxy_header, "NAME",
     "header the trusted proxies add the client address to: "
     "x-forwarded-for or forwarded (RFC 7239)"},
    {"beacon_rate", OPT_INT, FIELD(beacon_rate), "10", 0, 1000000, false,
     NULL, "N",
     "beacons per second one client address (IPv4, or IPv6 /64) may send "
     "to each event loop on average; more get 429; 0 turns the limit off"},
    {"beacon_burst", OPT_INT, FIELD(beacon_burst), "40", 1, 1000000, false,
     NULL, "N", "beacons one client address may send to each event loop at "
     "once before beacon_rate applies"},
    {"classify_data", OPT_STRING, FIELD(classify_data), "./data", 0, 0, false,
     NULL, "DIR",
     "directory of the address ranges (ranges/VERDICT.txt) and user-agent "
     "patterns (agents/VERDICT.txt) that classify opens and clicks; reread "
     "on SIGHUP; a relative path starts at the current directory, and a "
     "directory with none of the files is logged as a warning"},
    {"suppression_file", OPT_STRING, FIELD(suppression_file), "", 0, 0, true,
     NULL, "FILE",
     "opt-out list, one email_sha256 per line: events of these readers are "
     "answered but never recorded; reread on SIGHUP; empty means none"},
    {"too_early", OPT_DURATION, FIELD(too_early_ms), "0s", 0, DAY_MS, false,
     NULL, "DURATION",
     "an open or click this soon after its token was minted is a machine's "
     "(too_early); 0s turns the check off"},
    {"burst_window", OPT_DURATION, FIELD(burst_window_ms), "2s", 0, 3600 * 1000LL,
     false, NULL, "DURATION",
     "clicks of one reader on burst_links different links of one email "
     "within this time are a machine's (burst); 0s turns the check off"},
    {"burst_links", OPT_INT, FIELD(burst_links), "3", 2, 1000, false, NULL, "N",
     "different links of one email that make a burst"},
    {"honeypot_window", OPT_DURATION, FIELD(honeypot_window_ms), "30s", 0,
     DAY_MS, false, NULL, "DURATION",
     "opens and clicks of the same email this close to a honeypot click, "
     "before or after, are marked honeypot too"},
    {"attribute_machine_events", OPT_BOOL, FIELD(attribute_machine_events),
     "off", 0, 0, false, NULL, "on|off",
     "also credit purchases to clicks and opens classified as a machine's "
     "(scanner, privacy or image proxy, prefetch, burst, honeypot, "
     "too_early); opens still need attribute_opens"},
    {"journal_fsync", OPT_FSYNC, FIELD(journal_fsync), "everysec", 0, 0, false,
     NULL, "POLICY",
     "when journaled events are forced to disk: always (after each event), "
     "everysec (once a second) or no (left to the kernel)"},
    {"journal_max_size", OPT_SIZE, FIELD(journal_max_size), "256M", 4096,
     SIZE_LIMIT, false, NULL, "BYTES",
     "largest journal file of one event loop; events beyond it are dropped "
     "and counted"},
    {"redis_timeout", OPT_DURATION_INT, FIELD(redis_timeout_ms), "2s", 10,
     3600 * 1000, false, NULL, "DURATION",
     "time a write may wait for Redis before the connection is dropped and "
     "its events go to the journal; a stats read that waits as long gets 503"},
    {"max_queued_events", OPT_INT, FIELD(max_queued_events), "262144", 1,
     100000000, false, NULL, "N",
     "live events one event loop keeps in memory while Redis applies them "
     "slower than they arrive (about 600 bytes per open or click, 1.5 KB per "
     "identify or checkout); at this many they go to the journal"},
    {"renewal_cache", OPT_COUNT, FIELD(renewal_cache), "1048576", 0, 1u << 30,
     false, NULL, "N",
     "readers whose key renewal tallyd remembers, so that a repeated open "
     "costs Redis one command instead of two (8 bytes each, shared by all "
     "event loops); 0 turns it off"},
};

static const char *const fsync_names[] = {
    [JOURNAL_FSYNC_ALWAYS] = "always",
    [JOURNAL_FSYNC_EVERYSEC] = "everysec",
    [JOURNAL_FSYNC_NO] = "no",
};

#define OPTION_COUNT (sizeof(options) / sizeof(options[0]))

struct unit {
    const char *suffix;
    int64_t factor;
};

/* Longest suffix first where one is a prefix of another ("ms" before "m"). */
static const struct unit duration_units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000},
    {"d", DAY_MS},
};

static const struct unit size_units[] = {
    {"", 1}, {"K", 1024}, {"M", 1024 * 1024},
};

static const struct option *find_option(const char *name)
{
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        if (strcmp(options[i].name, name) == 0)
            return &options[i];
    }
    return NULL;
}

/* Parses the leading decimal digits of s into *value and points *end past
 * them. Rejects no digits and values above INT64_MAX. */
static int parse_digits(const char *s, int64_t *value, const char **end)
{
    int64_t v = 0;
    const char *p = s;

    for (; *p >= '0' && *p <= '9'; p++) {
        int digit = *p - '0';

        if (v > (INT64_MAX - digit) / 10)
            return -1;
        v = v * 10 + digit;
    }
    if (p == s)
        return -1;
    *value = v;
    *end = p;
    return 0;
}

/* Parses digits followed by one of units' suffixes, and multiplies. */
static int parse_with_unit(const char *s, const struct unit *units,
                           size_t n_units, int64_t *out)
{
    int64_t value;
    const char *end;

    if (parse_digits(s, &value, &end) != 0)
        return -1;
    for (size_t i = 0; i < n_units; i++) {
        if (strcmp(end, units[i].suffix) != 0)
            continue;
        if (value > INT64_MAX / units[i].factor)
            return -1;
        *out = value * units[i].factor;
        return 0;
    }
    return -1;
}

static int parse_plain(const char *s, int64_t *out)
{
    const char *end;

    if (parse_digits(s, out, &end) != 0 || *end != '\0')
        return -1;
    return 0;
}

/* Parses a numeric value of opt into *out, checked against its range. */
/* Writes a value of opt as a user would type it: in the largest unit that
 * divides it ("3650d", "1m", "1024M"), or as a plain number. */
static void format_bound(const struct option *opt, int64_t bound, char *out,
                         size_t outsize)
{
    const struct unit *units = NULL;
    size_t n = 0;

    if (opt->type == OPT_DURATION || opt->type == OPT_DURATION_INT) {
        units = duration_units;
        n = sizeof(duration_units) / sizeof(duration_units[0]);
    } else if (opt->type == OPT_SIZE) {
        units = size_units;
        n = sizeof(size_units) / sizeof(size_units[0]);
    }
    for (size_t i = n; i-- > 0;) {
        if (bound % units[i].factor == 0) {
            snprintf(out, outsize, "%lld%s", (long long)(bound / units[i].factor),
                     units[i].suffix);
            return;
        }
    }
    snprintf(out, outsize, "%lld", (long long)bound);
}

static int parse_number(const struct option *opt, const char *value,
                        int64_t *out, char *err, size_t errsize)
{
    int rc;
    const char *form;

    switch (opt->type) {
    case OPT_DURATION:
    case OPT_DURATION_INT:
        rc = parse_with_unit(value, duration_units,
                             sizeof(duration_units) / sizeof(duration_units[0]),
                             out);
        form = "a whole number with a unit ms, s, m, h or d, such as 10s or 7d";
        break;
    case OPT_SIZE:
        rc = parse_with_unit(value, size_units,
                             sizeof(size_units) / sizeof(size_units[0]), out);
        form = "a whole number of bytes, optionally with K or M, such as 16K";
        break;
    default:
        rc = parse_plain(value, out);
        form = "a whole number";
        break;
    }

    if (rc != 0)
        return errmsg_set(err, errsize, "%s '%s' is invalid: use %s", opt->name,
                    value, form);
    if (*out < opt->min || *out > opt->max) {
        char min[32], max[32];

        format_bound(opt, opt->min, min, sizeof(min));
        format_bound(opt, opt->max, max, sizeof(max));
        return errmsg_set(err, errsize, "%s '%s' is out of range: use %s to %s",
                          opt->name, value, min, max);
    }
    return 0;
}

static int set_string(const struct option *opt, char *field, const char *value,
                      char *err, size_t errsize)
{
    if (strlen(value) >= CONFIG_STR_MAX)
        return errmsg_set(err, errsize, "%s is longer than %d bytes", opt->name,
                    CONFIG_STR_MAX - 1);
    if (value[0] == '\0' && !opt->may_be_empty)
        return errmsg_set(err, errsize, "%s is empty: give a value", opt->name);
    if (value[0] != '\0' && opt->check != NULL &&
        opt->check(value, err, errsize) != 0)
        return -1;
    strcpy(field, value);
    return 0;
}

static int set_option(struct config *cfg, const struct option *opt,
                      const char *value, char *err, size_t errsize)
{
    char *field = (char *)cfg + opt->offset;
    int64_t number;

    if (opt->type == OPT_STRING)
        return set_string(opt, field, value, err, errsize);

    if (opt->type == OPT_BOOL) {
        if (config_parse_bool(value, (bool *)(void *)field) != 0)
            return errmsg_set(err, errsize,
                        "%s '%s' is invalid: use on or off", opt->name, value);
        return 0;
    }

    if (opt->type == OPT_LOG_LEVEL) {
        if (log_parse_level(value, (enum log_level *)(void *)field) != 0)
            return errmsg_set(err, errsize,
                        "log_level '%s' is invalid: use debug, info, notice, "
                        "warn or error", value);
        return 0;
    }

    if (opt->type == OPT_FSYNC) {
        for (size_t i = 0; i < sizeof(fsync_names) / sizeof(fsync_names[0]); i++) {
            if (strcmp(value, fsync_names[i]) == 0) {
                *(enum journal_fsync *)(void *)field = (enum journal_fsync)i;
                return 0;
            }
        }
        return errmsg_set(err, errsize,
                    "journal_fsync '%s' is invalid: use always, everysec or no",
                    value);
    }

    if (parse_number(opt, value, &number, err, errsize) != 0)
        return -1;
    switch (opt->type) {
    case OPT_INT:
    case OPT_DURATION_INT:
        *(int *)(void *)field = (int)number;
        break;
    case OPT_COUNT:
    case OPT_SIZE:
        *(size_t *)(void *)field = (size_t)number;
        break;
    default:
        *(int64_t *)(void *)field = number;
        break;
    }
    return 0;
}

/* Names that look like secrets get a pointer to the keys file instead of a
 * plain "unknown key". */
static bool looks_secret(const char *key)
{
    static const char *const words[] = {"secret", "signing_key", "password",
                                        "token"};

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strstr(key, words[i]) != NULL)
            return true;
    }
    return false;
}

int config_set(struct config *cfg, const char *key, const char *value,
               char *err, size_t errsize)
{
    const struct option *opt = find_option(key);

    if (opt == NULL && looks_secret(key))
        return errmsg_set(err, errsize,
                    "'%.64s' is a secret, and secrets are not configuration: "
                    "put it in the keys file named by keys", key);
    if (opt == NULL)
        return errmsg_set(err, errsize, "unknown key '%.64s'", key);
    return set_option(cfg, opt, value, err, errsize);
}

static int check_trusted_proxies(const char *value, char *err, size_t errsize)
{
    struct netset set;
    char reason[256];
    int rc;

    netset_init(&set);
    rc = client_addr_parse_proxies(value, &set, reason, sizeof(reason));
    netset_free(&set);
    if (rc != 0)
        return errmsg_set(err, errsize, "trusted_proxies entry %s", reason);
    return 0;
}

static int check_proxy_header(const char *value, char *err, size_t errsize)
{
    enum client_addr_header header;

    if (client_addr_parse_header_name(value, &header) != 0)
        return errmsg_set(err, errsize,
                    "proxy_header '%.64s' is invalid: use x-forwarded-for or "
                    "forwarded", value);
    return 0;
}

int config_list_next(const char **list, char *out, size_t outsize)
{
    const char *start = *list;
    const char *comma = NULL;
    const char *end = NULL;

    if (start == NULL)
        return 0;
    comma = strchr(start, ',');
    end = comma != NULL ? comma : start + strlen(start);
    *list = comma != NULL ? comma + 1 : NULL;

    while (start < end && (*start == ' ' || *start == '\t'))
        start++;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if ((size_t)(end - start) >= outsize)
        return -1;
    memcpy(out, start, (size_t)(end - start));
    out[end - start] = '\0';
    return 1;
}

static int check_listen_one(const char *value, char *err, size_t errsize);

/* Accepts one address or a comma-separated list of at most
 * HTTP_MAX_LISTENERS (4). */
static int check_listen(const char *value, char *err, size_t errsize)
{
    char one[CONFIG_STR_MAX];
    const char *cursor = value;
    int count = 0;
    int rc;

    while ((rc = config_list_next(&cursor, one, sizeof(one))) == 1) {
        if (++count > 4)
            return errmsg_set(err, errsize,
                        "listen '%s' is invalid: give at most 4 addresses", value);
        if (check_listen_one(one, err, errsize) != 0)
            return -1;
    }
    return 0;
}

/* Accepts host:port or [ipv6]:port, port 0..65535 (0 picks a free port). */
static int check_listen_one(const char *value, char *err, size_t errsize)
{
    const char *colon = strrchr(value, ':');
    int64_t port;

    if (colon == NULL || colon == value)
        return errmsg_set(err, errsize,
                    "listen '%s' is invalid: use host:port, such as "
                    "127.0.0.1:8080 or [::1]:8080", value);
    if (value[0] == '[' && colon[-1] != ']')
        return errmsg_set(err, errsize,
                    "listen '%s' is invalid: write an IPv6 address as "
                    "[addr]:port", value);
    if (value[0] != '[' && memchr(value, ':', (size_t)(colon - value)) != NULL)
        return errmsg_set(err, errsize,
                    "listen '%s' is invalid: an IPv6 address needs brackets, "
                    "such as [::1]:8080", value);
    if (parse_plain(colon + 1, &port) != 0 || port > 65535)
        return errmsg_set(err, errsize,
                    "listen port '%s' is invalid: use a number from 0 to "
                    "65535", colon + 1);
    return 0;
}

static int check_redis(const char *value, char *err, size_t errsize)
{
    struct redis_target target;
    int rc = redis_url_parse(value, &target, err, errsize);

    /* The parsed copy may hold a password. */
    memset(&target, 0, sizeof(target));
    return rc;
}

int config_parse_bool(const char *value, bool *out)
{
    static const char *const yes[] = {"on", "true", "yes", "1"};
    static const char *const no[] = {"off", "false", "no", "0"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(value, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(value, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

static int check_model(const char *value, char *err, size_t errsize)
{
    enum attr_model model;

    if (attribution_model_parse(value, &model) != 0)
        return errmsg_set(err, errsize,
                    "attribution_model '%s' is invalid: use last_click, "
                    "first_touch or last_touch", value);
    return 0;
}

/* Applies tally_base_check, the rule of every base URL that POST /v1/sign
 * and tallyctl rewrite mint with, so that a bad value stops the start
 * instead of failing each signing request. */
static int check_public_url(const char *value, char *err, size_t errsize)
{
    if (tally_base_check(value) < 0)
        return errmsg_set(err, errsize,
                    "public_url '%s' is invalid: use an http:// or https:// "
                    "URL with a host and no query or fragment, at most %d "
                    "bytes, without spaces, control bytes or any of "
                    "& \" ' < > ` =, such as https://t.shop.example",
                    value, TALLY_BASE_MAX);
    return 0;
}

static int check_origins(const char *value, char *err, size_t errsize)
{
    struct origin_list list;

    if (origin_list_parse(value, &list) != 0)
        return errmsg_set(err, errsize,
                    "shop_origins '%s' is invalid: use scheme://host[:port] "
                    "origins separated by commas, at most %d, without a path",
                    value, ORIGIN_LIST_MAX);
    return 0;
}

void config_defaults(struct config *cfg)
{
    char err[256];

    memset(cfg, 0, sizeof(*cfg));
    http_limits_default(&cfg->http);
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const struct option *opt = &options[i];

        if (opt->default_text == NULL)
            continue;
        /* A default that does not parse is a bug in options[]. */
        int rc = set_option(cfg, opt, opt->default_text, err, sizeof(err));

        assert(rc == 0);
        (void)rc;
    }
}

/* Applies one line of a config file. seen_line[i] is the line that set
 * option i, so a repeated key is an error rather than a silent override. */
static int apply_line(struct config *cfg, const char *path, int number,
                      char *line, int *seen_line, char *err, size_t errsize)
{
    char *s = kvline_trim(line);
    char *eq;
    char *key;
    char reason[CONFIG_STR_MAX + 256];
    const struct option *opt;

    if (*s == '\0' || *s == '#')
        return 0;

    eq = strchr(s, '=');
    if (eq == NULL)
        return errmsg_set(err, errsize, "%s:%d: expected 'key = value'", path,
                    number);
    *eq = '\0';
    key = kvline_trim(s);

    opt = find_option(key);
    if (opt != NULL) {
        size_t index = (size_t)(opt - options);

        if (seen_line[index] != 0)
            return errmsg_set(err, errsize,
                        "%s:%d: %s is set twice (first on line %d); keep one",
                        path, number, key, seen_line[index]);
        seen_line[index] = number;
    }

    if (config_set(cfg, key, kvline_trim(eq + 1), reason, sizeof(reason)) != 0)
        return errmsg_set(err, errsize, "%s:%d: %s", path, number, reason);
    return 0;
}

int config_load_file(struct config *cfg, const char *path, char *err,
                     size_t errsize)
{
    int seen_line[OPTION_COUNT] = {0};
    FILE *f;
    char *line = NULL;
    size_t cap = 0;
    int number = 0;
    int rc = 0;

    f = fopen(path, "r");
    if (f == NULL)
        return errmsg_set(err, errsize, "cannot read config file %s: %s", path,
                    strerror(errno));

    while (getline(&line, &cap, f) != -1) {
        number++;
        rc = apply_line(cfg, path, number, line, seen_line, err, errsize);
        if (rc != 0)
            break;
    }
    if (rc == 0 && ferror(f))
        rc = errmsg_set(err, errsize, "cannot read config file %s: %s", path,
                  strerror(errno));

    free(line);
    fclose(f);
    return rc;
}

/* One command-line flag, split into its name (underscores, no dashes in
 * front) and value. */
struct flag {
    char name[64];     /* key spelling: click_window */
    char spelled[64];  /* as typed, without the dashes: click-window */
    const char *value; /* NULL for --help and --version */
};

/* Reads the flag at argv[*i] and advances *i past it and its value. */
static int next_flag(int argc, char **argv, int *i, struct flag *f, char *err,
                     size_t errsize)
{
    const char *arg = argv[*i];
    const char *eq;
    size_t len;

    if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
        return errmsg_set(err, errsize,
                    "unexpected argument '%.64s': options start with --", arg);

    arg += 2;
    eq = strchr(arg, '=');
    len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
    if (len >= sizeof(f->name))
        return errmsg_set(err, errsize, "unknown option --%.64s", arg);
    for (size_t k = 0; k < len; k++)
        f->name[k] = arg[k] == '-' ? '_' : arg[k];
    f->name[len] = '\0';
    memcpy(f->spelled, arg, len);
    f->spelled[len] = '\0';
    (*i)++;

    if (strcmp(f->name, "help") == 0 || strcmp(f->name, "version") == 0) {
        f->value = NULL;
        return 0;
    }
    /* Checked before the value, so that a mistyped flag at the end of the
     * line is not reported as one that needs a value. */
    if (strcmp(f->name, "config") != 0 && find_option(f->name) == NULL &&
        !looks_secret(f->name))
        return errmsg_set(err, errsize, "unknown option --%s", f->spelled);
    if (eq != NULL) {
        f->value = eq + 1;
        return 0;
    }
    if (*i >= argc || strncmp(argv[*i], "--", 2) == 0)
        return errmsg_set(err, errsize, "option --%s needs a value", f->spelled);
    f->value = argv[(*i)++];
    return 0;
}

/* First pass: --help, --version and --config, before anything is applied.
 * Returns 1 when help or version was printed. */
static int scan_first_pass(int argc, char **argv, const char **config_path,
                           char *err, size_t errsize)
{
    struct flag f;
    const char *program = argc > 0 ? argv[0] : "tallyd";

    *config_path = NULL;
    for (int i = 1; i < argc;) {
        if (next_flag(argc, argv, &i, &f, err, errsize) != 0)
            return -1;
        if (strcmp(f.name, "help") == 0) {
            config_print_help(program, stdout);
            return 1;
        }
        if (strcmp(f.name, "version") == 0) {
            printf("tallyd %s\n", TALLY_VERSION);
            return 1;
        }
        if (strcmp(f.name, "config") != 0)
            continue;
        if (*config_path != NULL)
            return errmsg_set(err, errsize, "--config is given twice; give one file");
        *config_path = f.value;
    }
    return 0;
}

/* A password in --redis is visible to every local user through ps. The
 * server still starts, and logs a warning that names the config file as the
 * right place for the URL. */
static void warn_password_in_flag(const char *url)
{
    struct redis_target target;
    char err[256];

    if (redis_url_parse(url, &target, err, sizeof(err)) == 0 &&
        target.password[0] != '\0')
        LOG_WARN("config.password_in_flag",
                 "option=--redis hint=\"put the Redis URL in the config file: "
                 "command lines are visible to other local users\"");
    memset(&target, 0, sizeof(target));
}

/* Rewrites a reason of config_set for a flag: "--click-window '7x' is
 * invalid" reads better than the file spelling of the key. Unknown flags
 * were rejected by next_flag already. */
static int flag_error(const struct flag *f, const char *reason, char *err,
                      size_t errsize)
{
    size_t name_len = strlen(f->name);

    if (strncmp(reason, f->name, name_len) == 0 && reason[name_len] == ' ')
        return errmsg_set(err, errsize, "--%s%s", f->spelled, reason + name_len);
    return errmsg_set(err, errsize, "--%s: %s", f->spelled, reason);
}

int config_from_args(struct config *cfg, int argc, char **argv, char *err,
                     size_t errsize)
{
    const char *config_path;
    char reason[CONFIG_STR_MAX + 256];
    struct flag f;
    int rc;

    config_defaults(cfg);
    rc = scan_first_pass(argc, argv, &config_path, err, errsize);
    if (rc != 0)
        return rc;

    if (config_path != NULL &&
        config_load_file(cfg, config_path, err, errsize) != 0)
        return -1;

    for (int i = 1; i < argc;) {
        next_flag(argc, argv, &i, &f, err, errsize); /* checked above */
        if (strcmp(f.name, "config") == 0)
            continue;
        if (config_set(cfg, f.name, f.value, reason, sizeof(reason)) != 0)
            return flag_error(&f, reason, err, errsize);
        if (strcmp(f.name, "redis") == 0)
            warn_password_in_flag(f.value);
    }

    /* A purchase credited after its campaign's totals expired would start
     * them again from zero. */
    if (cfg->campaign_retention_ms < cfg->reader_retention_ms) {
        char campaign[32], reader[32];

        format_bound(find_option("campaign_retention"), cfg->campaign_retention_ms,
                     campaign, sizeof(campaign));
        format_bound(find_option("reader_retention"), cfg->reader_retention_ms, reader,
                     sizeof(reader));
        return errmsg_set(err, errsize, "campaign_retention (%s) is shorter than "
                          "reader_retention (%s): make it at least as long, because "
                          "purchases are credited to touchpoints for that long",
                          campaign, reader);
    }
    return 0;
}

/* Writes the default of opt, read from cfg, in the form a user would type. */
static void format_value(const struct option *opt, const struct config *cfg,
                         char *out, size_t outsize)
{
    const char *field = (const char *)cfg + opt->offset;
    int64_t number = 0;
    const struct unit *units = duration_units;
    size_t n_units = sizeof(duration_units) / sizeof(duration_units[0]);

    switch (opt->type) {
    case OPT_STRING:
        snprintf(out, outsize, "%s", field[0] != '\0' ? field : "none");
        return;
    case OPT_BOOL:
        snprintf(out, outsize, "%s", *(const bool *)(const void *)field ? "on" : "off");
        return;
    case OPT_LOG_LEVEL: {
        static const char *const names[] = {"debug", "info", "notice", "warn",
                                            "error"};
        snprintf(out, outsize, "%s", names[*(const enum log_level *)(const void *)field]);
        return;
    }
    case OPT_FSYNC:
        snprintf(out, outsize, "%s",
                 fsync_names[*(const enum journal_fsync *)(const void *)field]);
        return;
    case OPT_INT:
        snprintf(out, outsize, "%d", *(const int *)(const void *)field);
        return;
    case OPT_COUNT:
        snprintf(out, outsize, "%zu", *(const size_t *)(const void *)field);
        return;
    case OPT_DURATION_INT:
        number = *(const int *)(const void *)field;
        break;
    case OPT_DURATION:
        number = *(const int64_t *)(const void *)field;
        break;
    case OPT_SIZE:
        number = (int64_t)*(const size_t *)(const void *)field;
        units = size_units;
        n_units = sizeof(size_units) / sizeof(size_units[0]);
        break;
    }

    /* The largest unit that divides the value evenly, except that a zero
     * duration reads "0s" as in the help texts rather than "0d". */
    if (number == 0) {
        snprintf(out, outsize, "0%s", units == duration_units ? "s" : "");
        return;
    }
    for (size_t k = n_units; k-- > 0;) {
        if (number % units[k].factor == 0) {
            snprintf(out, outsize, "%lld%s",
                     (long long)(number / units[k].factor), units[k].suffix);
            return;
        }
    }
}

/* Prints "  FLAG  text" with text wrapped at 79 columns under itself. */
static void print_help_line(FILE *out, const char *flag, const char *text)
{
    enum { INDENT = 33, WIDTH = 79 };
    int column = fprintf(out, "  %-30s", flag);
    bool line_start = true;

    while (*text != '\0') {
        size_t word = strcspn(text, " ");

        if (!line_start && column + 1 + (int)word > WIDTH)
            column = fprintf(out, "\n%*s", INDENT - 1, "") - 1;
        column += fprintf(out, " %.*s", (int)word, text);
        line_start = false;
        text += word;
        while (*text == ' ')
            text++;
    }
    fputc('\n', out);
}

void config_print_help(const char *program, void *out_file)
{
    FILE *out = out_file;
    struct config defaults;
    char flag[96];
    char value[64];
    char text[512];

    config_defaults(&defaults);
    fprintf(out,
            "Usage: %s [--config FILE] [--KEY VALUE | --KEY=VALUE ...]\n"
            "\n"
            "tallyd, the tally email tracking server. Every option is also a\n"
            "key of the config file, written with '_' for '-'; flags win over\n"
            "the file. Durations take a unit (ms, s, m, h, d); sizes take an\n"
            "optional K or M (1024 and 1048576 bytes).\n"
            "\n",
            program);
    print_help_line(out, "--config FILE",
                    "read key = value lines from FILE before the other flags");

    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const struct option *opt = &options[i];

        snprintf(flag, sizeof(flag), "--%s %s", opt->name, opt->metavar);
        for (char *p = flag + 2; *p != ' '; p++) {
            if (*p == '_')
                *p = '-';
        }
        format_value(opt, &defaults, value, sizeof(value));
        snprintf(text, sizeof(text), "%s (default %s)", opt->help, value);
        print_help_line(out, flag, text);
    }
    print_help_line(out, "--help", "print this help and exit");
    print_help_line(out, "--version", "print the version and exit");
}
