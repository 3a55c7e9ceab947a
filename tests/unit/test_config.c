/*
 * test_config.c - unit tests of server/config.c: defaults, the key = value
 * file, flags in both forms and their precedence over the file, and the
 * rejection of unknown keys and bad durations, sizes and addresses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

#define DAY_MS (24LL * 3600 * 1000)
#define MAX_ARGS 16

static char config_path[64];

static int setup(void **state)
{
    int fd;

    (void)state;
    snprintf(config_path, sizeof(config_path), "/tmp/test_config.XXXXXX");
    fd = mkstemp(config_path);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(config_path);
    return 0;
}

static void write_config(const char *text)
{
    FILE *f = fopen(config_path, "w");

    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* Runs config_from_args on a NULL-terminated list of arguments (the program
 * name is added); returns its result, with the reason in err. */
static int run_args(struct config *cfg, char *err, size_t errsize,
                    const char *const *args)
{
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    int rc;

    argv[argc++] = strdup("tallyd");
    for (; args[argc - 1] != NULL; argc++) {
        assert_true(argc < MAX_ARGS);
        argv[argc] = strdup(args[argc - 1]);
    }
    argv[argc] = NULL;

    rc = config_from_args(cfg, argc, argv, err, errsize);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    return rc;
}

static void expect_ok(struct config *cfg, const char *const *args)
{
    char err[512] = "";

    if (run_args(cfg, err, sizeof(err), args) != 0)
        fail_msg("rejected: %s", err);
}

static void expect_error(const char *const *args, const char *want)
{
    struct config cfg;
    char err[512] = "";

    assert_int_equal(run_args(&cfg, err, sizeof(err), args), -1);
    if (strstr(err, want) == NULL)
        fail_msg("error '%s' lacks '%s'", err, want);
}

static void expect_set_error(const char *key, const char *value,
                             const char *want)
{
    struct config cfg;
    char err[512] = "";

    config_defaults(&cfg);
    if (config_set(&cfg, key, value, err, sizeof(err)) != -1)
        fail_msg("%s = %s accepted", key, value);
    if (strstr(err, want) == NULL)
        fail_msg("%s = %s: error '%s' lacks '%s'", key, value, err, want);
}

static int64_t set_duration(const char *value)
{
    struct config cfg;
    char err[512] = "";

    config_defaults(&cfg);
    if (config_set(&cfg, "click_window", value, err, sizeof(err)) != 0)
        fail_msg("click_window = %s rejected: %s", value, err);
    return cfg.click_window_ms;
}

static size_t set_size(const char *value)
{
    struct config cfg;
    char err[512] = "";

    config_defaults(&cfg);
    if (config_set(&cfg, "max_body", value, err, sizeof(err)) != 0)
        fail_msg("max_body = %s rejected: %s", value, err);
    return cfg.http.max_body_bytes;
}

static void defaults_values(void **state)
{
    struct config cfg;
    struct http_limits http;

    (void)state;
    config_defaults(&cfg);
    http_limits_default(&http);
    assert_string_equal(cfg.listen, "127.0.0.1:8080");
    assert_string_equal(cfg.redis, "");
    assert_string_equal(cfg.keys, "keys.conf");
    assert_string_equal(cfg.state_dir, "./state");
    assert_int_equal(cfg.threads, 0);
    assert_int_equal(cfg.click_window_ms, 7 * DAY_MS);
    assert_int_equal(cfg.reader_retention_ms, 30 * DAY_MS);
    assert_int_equal(cfg.campaign_retention_ms, 400 * DAY_MS);
    assert_memory_equal(&cfg.http, &http, sizeof(http));
    assert_int_equal(cfg.log_level, LOG_LEVEL_INFO);
}

static void defaults_no_args(void **state)
{
    struct config cfg;
    static const char *const args[] = {NULL};

    (void)state;
    expect_ok(&cfg, args);
    assert_string_equal(cfg.listen, "127.0.0.1:8080");
}

static void file_parsing(void **state)
{
    struct config cfg;
    const char *const args[] = {"--config", config_path, NULL};

    (void)state;
    write_config("# tally settings\n"
                 "\n"
                 "listen = 0.0.0.0:9090\n"
                 "  redis=unix:///tmp/r.sock?db=2  \n"
                 "\tkeys = /etc/tally/keys.conf\r\n"
                 "threads = 4\n"
                 "click_window = 36h\n"
                 "max_body = 1M\n"
                 "header_timeout = 2500ms\n"
                 "log_level = debug\n"
                 "   # indented comment\n");
    expect_ok(&cfg, args);
    assert_string_equal(cfg.listen, "0.0.0.0:9090");
    assert_string_equal(cfg.redis, "unix:///tmp/r.sock?db=2");
    assert_string_equal(cfg.keys, "/etc/tally/keys.conf");
    assert_int_equal(cfg.threads, 4);
    assert_int_equal(cfg.click_window_ms, 36LL * 3600 * 1000);
    assert_int_equal(cfg.http.max_body_bytes, 1024 * 1024);
    assert_int_equal(cfg.http.header_timeout_ms, 2500);
    assert_int_equal(cfg.log_level, LOG_LEVEL_DEBUG);
    assert_string_equal(cfg.state_dir, "./state");
}

static void flags_win_after_config(void **state)
{
    struct config cfg;
    const char *const args[] = {"--config", config_path, "--threads", "8",
                                NULL};

    (void)state;
    write_config("threads = 2\nlisten = 127.0.0.1:1\n");
    expect_ok(&cfg, args);
    assert_int_equal(cfg.threads, 8);
    assert_string_equal(cfg.listen, "127.0.0.1:1");
}

static void flags_win_before_config(void **state)
{
    struct config cfg;
    const char *const args[] = {"--threads", "8", "--idle-timeout=5s",
                                "--config", config_path, NULL};

    (void)state;
    write_config("threads = 2\nidle_timeout = 1m\n");
    expect_ok(&cfg, args);
    assert_int_equal(cfg.threads, 8);
    assert_int_equal(cfg.http.idle_timeout_ms, 5000);
}

static void flag_equals_form(void **state)
{
    struct config cfg;
    char config_arg[96];
    const char *const args[] = {"--listen=[::1]:8081", "--reader-retention=90d",
                                "--max-url=8K", config_arg, NULL};

    (void)state;
    write_config("log_level = warn\n");
    snprintf(config_arg, sizeof(config_arg), "--config=%s", config_path);
    expect_ok(&cfg, args);
    assert_string_equal(cfg.listen, "[::1]:8081");
    assert_int_equal(cfg.reader_retention_ms, 90 * DAY_MS);
    assert_int_equal(cfg.http.max_url_bytes, 8 * 1024);
    assert_int_equal(cfg.log_level, LOG_LEVEL_WARN);
}

static void flag_later_wins(void **state)
{
    struct config cfg;
    static const char *const args[] = {"--threads", "2", "--threads", "3", NULL};

    (void)state;
    expect_ok(&cfg, args);
    assert_int_equal(cfg.threads, 3);
}

static void on_off_synonyms(void **state)
{
    static const char *const on[] = {"on", "true", "yes", "1"};
    static const char *const off[] = {"off", "false", "no", "0"};
    struct config cfg;
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
        config_defaults(&cfg);
        assert_int_equal(config_set(&cfg, "attribute_opens", on[i], err, sizeof(err)), 0);
        assert_true(cfg.attribute_opens);
        assert_int_equal(config_set(&cfg, "attribute_opens", off[i], err, sizeof(err)), 0);
        assert_false(cfg.attribute_opens);
    }
    expect_set_error("attribute_opens", "On", "attribute_opens");
    expect_set_error("attribute_opens", "2", "attribute_opens");
}

static void flag_unknown(void **state)
{
    static const char *const args[] = {"--no-such-thing", "1", NULL};
    static const char *const equals[] = {"--no-such-thing=1", NULL};
    static const char *const at_end[] = {"--threads", "2", "--no-such-thing", NULL};
    struct config cfg;
    char err[512] = "";

    (void)state;
    expect_error(args, "unknown option --no-such-thing");
    expect_error(equals, "unknown option --no-such-thing");
    expect_error(at_end, "unknown option --no-such-thing");

    /* tallyd's main adds the --help hint to every error, so the reason
     * carries none of its own. */
    assert_int_equal(run_args(&cfg, err, sizeof(err), args), -1);
    assert_null(strstr(err, "--help"));
}

static void flag_missing_value(void **state)
{
    static const char *const at_end[] = {"--threads", NULL};
    static const char *const before_flag[] = {"--threads", "--listen", "h:1",
                                              NULL};

    (void)state;
    expect_error(at_end, "option --threads needs a value");
    expect_error(before_flag, "option --threads needs a value");
}

static void flag_positional(void **state)
{
    static const char *const args[] = {"serve", NULL};

    (void)state;
    expect_error(args, "unexpected argument 'serve'");
}

static void flag_bad_value(void **state)
{
    static const char *const args[] = {"--click-window", "7", NULL};

    (void)state;
    expect_error(args, "--click-window '7' is invalid");
}

static void flag_secret_rejected(void **state)
{
    static const char *const args[] = {"--reader-secret", "00", NULL};

    (void)state;
    expect_error(args, "is a secret");
}

static void help_and_version(void **state)
{
    struct config cfg;
    char err[64];
    static const char *const help[] = {"--threads", "x", "--help", NULL};
    static const char *const version[] = {"--version", NULL};

    (void)state;
    assert_int_equal(run_args(&cfg, err, sizeof(err), help), 1);
    assert_int_equal(run_args(&cfg, err, sizeof(err), version), 1);
}

/* Replaces each run of spaces and newlines in text with one space, so that
 * a search does not depend on where the help wraps its lines. */
static void squeeze_spaces(char *text)
{
    char *out = text;

    for (const char *in = text; *in != '\0'; in++) {
        bool space = *in == ' ' || *in == '\n';

        if (space && out > text && out[-1] == ' ')
            continue;
        *out++ = space ? ' ' : *in;
    }
    *out = '\0';
}

/* The help shows each default in the largest unit that divides it, and a
 * zero duration in seconds, as the option texts spell it. */
static void help_defaults(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    (void)state;
    assert_non_null(out);
    config_print_help("tallyd", out);
    assert_int_equal(fclose(out), 0);
    squeeze_spaces(text);

    assert_non_null(strstr(text, "(default 30d)"));
    assert_non_null(strstr(text, "(default 0s)"));
    assert_null(strstr(text, "(default 0d)"));
    free(text);
}

static void config_twice(void **state)
{
    const char *const args[] = {"--config", config_path, "--config",
                                config_path, NULL};

    (void)state;
    write_config("");
    expect_error(args, "--config is given twice");
}

static void config_missing_file(void **state)
{
    static const char *const args[] = {"--config", "/nonexistent/tally.conf",
                                       NULL};

    (void)state;
    expect_error(args, "cannot read config file /nonexistent/tally.conf");
}

static void file_unknown_key(void **state)
{
    const char *const args[] = {"--config", config_path, NULL};
    char want[128];

    (void)state;
    write_config("threads = 1\n\nlistn = 127.0.0.1:1\n");
    snprintf(want, sizeof(want), "%s:3: unknown key 'listn'", config_path);
    expect_error(args, want);
}

static void file_bad_value(void **state)
{
    const char *const args[] = {"--config", config_path, NULL};
    char want[128];

    (void)state;
    write_config("# c\nmax_body = 1G\n");
    snprintf(want, sizeof(want), "%s:2: max_body '1G' is invalid", config_path);
    expect_error(args, want);
}

static void file_duplicate_key(void **state)
{
    const char *const args[] = {"--config", config_path, NULL};

    (void)state;
    write_config("threads = 1\nthreads = 2\n");
    expect_error(args, ":2: threads is set twice (first on line 1)");
}

static void file_no_equals(void **state)
{
    const char *const args[] = {"--config", config_path, NULL};

    (void)state;
    write_config("threads 1\n");
    expect_error(args, ":1: expected 'key = value'");
}

static void file_secret_rejected(void **state)
{
    const char *const args[] = {"--config", config_path, NULL};

    (void)state;
    write_config("signing_key.1 = 00\n");
    expect_error(args, ":1: 'signing_key.1' is a secret");
}

static void file_bad_redis(void **state)
{
    const char *const args[] = {"--config", config_path, NULL};

    (void)state;
    write_config("redis = redis://h:0\n");
    expect_error(args, ":1: Redis URL port '0' is invalid");
}

static void public_url_checked(void **state)
{
    struct config cfg;
    char err[512] = "";

    (void)state;
    expect_set_error("public_url", "t.shop.example",
                     "public_url 't.shop.example' is invalid: use an http:// or "
                     "https:// URL");
    expect_set_error("public_url", "ftp://t.shop.example", "is invalid");
    expect_set_error("public_url", "https://t.shop.example/?a=1", "is invalid");
    expect_set_error("public_url", "https://t.shop.example/a b", "is invalid");

    config_defaults(&cfg);
    assert_int_equal(config_set(&cfg, "public_url", "https://t.shop.example/",
                                err, sizeof(err)), 0);
    assert_string_equal(cfg.public_url, "https://t.shop.example/");
}

static void duration_units(void **state)
{
    (void)state;
    assert_int_equal(set_duration("250ms"), 250);
    assert_int_equal(set_duration("10s"), 10000);
    assert_int_equal(set_duration("5m"), 5 * 60000);
    assert_int_equal(set_duration("2h"), 2 * 3600000);
    assert_int_equal(set_duration("3d"), 3 * DAY_MS);
    assert_int_equal(set_duration("3650d"), 3650 * DAY_MS);
}

static void duration_rejects(void **state)
{
    (void)state;
    expect_set_error("click_window", "7", "is invalid");
    expect_set_error("click_window", "7x", "is invalid");
    expect_set_error("click_window", "d", "is invalid");
    expect_set_error("click_window", "", "is invalid");
    expect_set_error("click_window", "-1s", "is invalid");
    expect_set_error("click_window", "+1s", "is invalid");
    expect_set_error("click_window", "1.5h", "is invalid");
    expect_set_error("click_window", "7 d", "is invalid");
    expect_set_error("click_window", "7D", "is invalid");
    expect_set_error("click_window", "0s", "out of range");
    expect_set_error("click_window", "0ms", "out of range");
    expect_set_error("click_window", "3651d", "out of range");
    expect_set_error("click_window", "99999999999999999999d", "is invalid");
    expect_set_error("reader_retention", "9223372036854775807d", "is invalid");
    expect_set_error("header_timeout", "25d", "out of range");
    expect_set_error("idle_timeout", "0s", "out of range");
}

/* Range errors give the bounds in the units a user types. */
static void range_error_units(void **state)
{
    (void)state;
    expect_set_error("reader_retention", "1ms", "use 1m to 3650d");
    expect_set_error("campaign_retention", "59s", "use 1m to 3650d");
    expect_set_error("click_window", "0s", "use 1ms to 3650d");
    expect_set_error("max_body", "1025M", "use 1 to 1024M");
}

/* Purchases are credited to touchpoints kept for reader_retention, so the
 * campaign totals they add to must last at least as long. */
static void campaign_retention_covers_readers(void **state)
{
    struct config cfg;

    (void)state;
    expect_error((const char *const[]){"--campaign-retention", "1d", NULL},
                 "campaign_retention (1d) is shorter than reader_retention (30d)");
    expect_error((const char *const[]){"--reader-retention", "2h",
                                       "--campaign-retention", "90m", NULL},
                 "campaign_retention (90m) is shorter than reader_retention (2h)");
    expect_ok(&cfg, (const char *const[]){"--reader-retention", "1d",
                                          "--campaign-retention", "1d", NULL});
    assert_int_equal(cfg.campaign_retention_ms, 24LL * 3600 * 1000);
}

static void size_units(void **state)
{
    (void)state;
    assert_int_equal(set_size("512"), 512);
    assert_int_equal(set_size("16K"), 16 * 1024);
    assert_int_equal(set_size("2M"), 2 * 1024 * 1024);
    assert_int_equal(set_size("1024M"), 1024UL * 1024 * 1024);
}

static void size_rejects(void **state)
{
    (void)state;
    expect_set_error("max_body", "0", "out of range");
    expect_set_error("max_body", "-1", "is invalid");
    expect_set_error("max_body", "1G", "is invalid");
    expect_set_error("max_body", "1KB", "is invalid");
    expect_set_error("max_body", "1k", "is invalid");
    expect_set_error("max_body", "K", "is invalid");
    expect_set_error("max_body", "1025M", "out of range");
    expect_set_error("max_url", "99999999999999999999", "is invalid");
    expect_set_error("max_headers", "16K", "is invalid");
    expect_set_error("max_headers", "0", "out of range");
}

static void int_rejects(void **state)
{
    (void)state;
    expect_set_error("threads", "-1", "is invalid");
    expect_set_error("threads", "1025", "out of range");
    expect_set_error("threads", "two", "is invalid");
    expect_set_error("max_connections", "0", "out of range");
}

static void listen_values(void **state)
{
    struct config cfg;
    char err[256];

    (void)state;
    config_defaults(&cfg);
    assert_int_equal(config_set(&cfg, "listen", "127.0.0.1:0", err, sizeof(err)), 0);
    assert_int_equal(config_set(&cfg, "listen", "[::]:80", err, sizeof(err)), 0);
    assert_int_equal(config_set(&cfg, "listen", "localhost:65535", err, sizeof(err)), 0);
    expect_set_error("listen", "127.0.0.1", "use host:port");
    expect_set_error("listen", ":8080", "use host:port");
    expect_set_error("listen", "::1:8080", "needs brackets");
    expect_set_error("listen", "h:65536", "listen port '65536'");
    expect_set_error("listen", "h:x", "listen port 'x'");
    expect_set_error("listen", "", "is empty");
}

static void listen_lists(void **state)
{
    struct config cfg;
    char err[256];

    (void)state;
    config_defaults(&cfg);
    assert_int_equal(config_set(&cfg, "listen", "127.0.0.1:80, [::1]:80", err,
                                sizeof(err)), 0);
    assert_string_equal(cfg.listen, "127.0.0.1:80, [::1]:80");
    expect_set_error("listen", "127.0.0.1:80,", "use host:port");
    expect_set_error("listen", "127.0.0.1:80,::1:80", "needs brackets");
    expect_set_error("listen", "a:1,b:2,c:3,d:4,e:5", "at most 4");
}

static void list_entries_split_and_trimmed(void **state)
{
    const char *cursor = " a , b,,c ";
    char out[4];

    (void)state;
    assert_int_equal(config_list_next(&cursor, out, sizeof(out)), 1);
    assert_string_equal(out, "a");
    assert_int_equal(config_list_next(&cursor, out, sizeof(out)), 1);
    assert_string_equal(out, "b");
    assert_int_equal(config_list_next(&cursor, out, sizeof(out)), 1);
    assert_string_equal(out, "");
    assert_int_equal(config_list_next(&cursor, out, sizeof(out)), 1);
    assert_string_equal(out, "c");
    assert_int_equal(config_list_next(&cursor, out, sizeof(out)), 0);

    cursor = "toolong";
    assert_int_equal(config_list_next(&cursor, out, sizeof(out)), -1);
}

static void client_settings(void **state)
{
    struct config cfg;
    char err[256];

    (void)state;
    config_defaults(&cfg);
    assert_string_equal(cfg.trusted_proxies, "");
    assert_string_equal(cfg.proxy_header, "x-forwarded-for");
    assert_int_equal(cfg.beacon_rate, 10);
    assert_int_equal(cfg.beacon_burst, 40);
    assert_int_equal(config_set(&cfg, "trusted_proxies", "10.0.0.0/8, ::1", err,
                                sizeof(err)), 0);
    assert_int_equal(config_set(&cfg, "proxy_header", "Forwarded", err, sizeof(err)), 0);
    assert_int_equal(config_set(&cfg, "beacon_rate", "0", err, sizeof(err)), 0);
    expect_set_error("trusted_proxies", "10.0.0.1/8", "'10.0.0.1/8' is not");
    expect_set_error("trusted_proxies", "10.0.0.0/8,", "'' is not");
    expect_set_error("proxy_header", "x-real-ip", "x-forwarded-for or forwarded");
    expect_set_error("beacon_burst", "0", "out of range");
    expect_set_error("beacon_rate", "1000001", "out of range");
}

static void log_levels(void **state)
{
    struct config cfg;
    char err[256];

    (void)state;
    config_defaults(&cfg);
    assert_int_equal(config_set(&cfg, "log_level", "error", err, sizeof(err)), 0);
    assert_int_equal(cfg.log_level, LOG_LEVEL_ERROR);
    expect_set_error("log_level", "loud", "log_level 'loud' is invalid");
}

static void journal_settings(void **state)
{
    struct config cfg;
    char err[256];
    static const char *const args[] = {"--journal-fsync", "always", "--journal-max-size",
                                       "64M", "--redis-timeout", "500ms", NULL};

    (void)state;
    config_defaults(&cfg);
    assert_int_equal(cfg.journal_fsync, JOURNAL_FSYNC_EVERYSEC);
    assert_int_equal(cfg.journal_max_size, 256u << 20);
    assert_int_equal(cfg.redis_timeout_ms, 2000);

    expect_ok(&cfg, args);
    assert_int_equal(cfg.journal_fsync, JOURNAL_FSYNC_ALWAYS);
    assert_int_equal(cfg.journal_max_size, 64u << 20);
    assert_int_equal(cfg.redis_timeout_ms, 500);

    assert_int_equal(config_set(&cfg, "journal_fsync", "no", err, sizeof(err)), 0);
    assert_int_equal(cfg.journal_fsync, JOURNAL_FSYNC_NO);
    assert_int_equal(config_set(&cfg, "journal_fsync", "everysec", err, sizeof(err)), 0);
    assert_int_equal(cfg.journal_fsync, JOURNAL_FSYNC_EVERYSEC);
}

static void journal_settings_rejected(void **state)
{
    (void)state;
    expect_set_error("journal_fsync", "sometimes", "journal_fsync 'sometimes' is invalid");
    expect_set_error("journal_fsync", "ALWAYS", "use always, everysec or no");
    expect_set_error("journal_max_size", "1K", "out of range");
    expect_set_error("journal_max_size", "2048M", "out of range");
    expect_set_error("redis_timeout", "5ms", "out of range");
    expect_set_error("redis_timeout", "2", "invalid");
}

static void redis_empty_allowed(void **state)
{
    struct config cfg;
    char err[256];

    (void)state;
    config_defaults(&cfg);
    assert_int_equal(config_set(&cfg, "redis", "redis://h:1", err, sizeof(err)), 0);
    assert_int_equal(config_set(&cfg, "redis", "", err, sizeof(err)), 0);
    assert_string_equal(cfg.redis, "");
}

static void string_too_long(void **state)
{
    char value[CONFIG_STR_MAX + 8];

    (void)state;
    memset(value, 'a', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    expect_set_error("state_dir", value, "longer than");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_values),
        cmocka_unit_test(defaults_no_args),
        cmocka_unit_test_setup_teardown(file_parsing, setup, teardown),
        cmocka_unit_test_setup_teardown(flags_win_after_config, setup, teardown),
        cmocka_unit_test_setup_teardown(flags_win_before_config, setup, teardown),
        cmocka_unit_test_setup_teardown(flag_equals_form, setup, teardown),
        cmocka_unit_test(flag_later_wins),
        cmocka_unit_test(on_off_synonyms),
        cmocka_unit_test(flag_unknown),
        cmocka_unit_test(flag_missing_value),
        cmocka_unit_test(flag_positional),
        cmocka_unit_test(flag_bad_value),
        cmocka_unit_test(flag_secret_rejected),
        cmocka_unit_test(help_and_version),
        cmocka_unit_test(help_defaults),
        cmocka_unit_test_setup_teardown(config_twice, setup, teardown),
        cmocka_unit_test(config_missing_file),
        cmocka_unit_test_setup_teardown(file_unknown_key, setup, teardown),
        cmocka_unit_test_setup_teardown(file_bad_value, setup, teardown),
        cmocka_unit_test_setup_teardown(file_duplicate_key, setup, teardown),
        cmocka_unit_test_setup_teardown(file_no_equals, setup, teardown),
        cmocka_unit_test_setup_teardown(file_secret_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(file_bad_redis, setup, teardown),
        cmocka_unit_test(public_url_checked),
        cmocka_unit_test(duration_units),
        cmocka_unit_test(duration_rejects),
        cmocka_unit_test(range_error_units),
        cmocka_unit_test(campaign_retention_covers_readers),
        cmocka_unit_test(size_units),
        cmocka_unit_test(size_rejects),
        cmocka_unit_test(int_rejects),
        cmocka_unit_test(listen_values),
        cmocka_unit_test(listen_lists),
        cmocka_unit_test(list_entries_split_and_trimmed),
        cmocka_unit_test(client_settings),
        cmocka_unit_test(log_levels),
        cmocka_unit_test(journal_settings),
        cmocka_unit_test(journal_settings_rejected),
        cmocka_unit_test(redis_empty_allowed),
        cmocka_unit_test(string_too_long),
    };

    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
