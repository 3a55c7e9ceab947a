/*
 * test_redis_url.c - unit tests of server/redis_url.c: every accepted form
 * of the --redis URL, the malformed ones, and the redacted description.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "redis_url.h"

static void parse_ok(const char *url, struct redis_target *t)
{
    char err[256] = "";

    if (redis_url_parse(url, t, err, sizeof(err)) != 0)
        fail_msg("%s rejected: %s", url, err);
}

static void parse_bad(const char *url, const char *expected_in_err)
{
    struct redis_target t;
    char err[256] = "";

    if (redis_url_parse(url, &t, err, sizeof(err)) != -1)
        fail_msg("%s accepted", url);
    if (strstr(err, expected_in_err) == NULL)
        fail_msg("%s: error '%s' lacks '%s'", url, err, expected_in_err);
}

static void tcp_host_port(void **state)
{
    struct redis_target t;

    (void)state;
    parse_ok("redis://127.0.0.1:7000", &t);
    assert_false(t.is_unix);
    assert_string_equal(t.host, "127.0.0.1");
    assert_int_equal(t.port, 7000);
    assert_int_equal(t.db, 0);
    assert_string_equal(t.user, "");
    assert_string_equal(t.password, "");
}

static void tcp_default_port(void **state)
{
    struct redis_target t;

    (void)state;
    parse_ok("redis://redis.internal", &t);
    assert_string_equal(t.host, "redis.internal");
    assert_int_equal(t.port, 6379);
}

static void tcp_db(void **state)
{
    struct redis_target t;

    (void)state;
    parse_ok("redis://localhost:6380/5", &t);
    assert_int_equal(t.db, 5);
    parse_ok("redis://localhost/3", &t);
    assert_int_equal(t.port, 6379);
    assert_int_equal(t.db, 3);
    parse_ok("redis://localhost:6380/", &t);
    assert_int_equal(t.db, 0);
}

static void tcp_ipv6(void **state)
{
    struct redis_target t;

    (void)state;
    parse_ok("redis://[::1]:7001/2", &t);
    assert_string_equal(t.host, "::1");
    assert_int_equal(t.port, 7001);
    assert_int_equal(t.db, 2);
    parse_ok("redis://[::1]", &t);
    assert_int_equal(t.port, 6379);
}

static void tcp_password_only(void **state)
{
    struct redis_target t;

    (void)state;
    parse_ok("redis://:s3cret@127.0.0.1:7000", &t);
    assert_string_equal(t.user, "");
    assert_string_equal(t.password, "s3cret");
}

static void tcp_user_password(void **state)
{
    struct redis_target t;

    (void)state;
    parse_ok("redis://alice:s3cret@127.0.0.1:7000/1", &t);
    assert_string_equal(t.user, "alice");
    assert_string_equal(t.password, "s3cret");
    assert_string_equal(t.host, "127.0.0.1");
    assert_int_equal(t.db, 1);
}

static void tcp_percent_decoding(void **state)
{
    struct redis_target t;

    (void)state;
    parse_ok("redis://al%69ce:p%40ss%2Fw%3Ard%25@h:1", &t);
    assert_string_equal(t.user, "alice");
    assert_string_equal(t.password, "p@ss/w:rd%");
}

static void tcp_unescaped_at(void **state)
{
    struct redis_target t;

    (void)state;
    parse_ok("redis://:p@ss@h:1", &t);
    assert_string_equal(t.password, "p@ss");
    assert_string_equal(t.host, "h");
}

static void scheme_case(void **state)
{
    struct redis_target t;

    (void)state;
    parse_ok("REDIS://h:1", &t);
    assert_string_equal(t.host, "h");
}

static void unix_path(void **state)
{
    struct redis_target t;

    (void)state;
    parse_ok("unix:///run/redis/redis.sock", &t);
    assert_true(t.is_unix);
    assert_string_equal(t.path, "/run/redis/redis.sock");
    assert_int_equal(t.db, 0);
}

static void unix_db(void **state)
{
    struct redis_target t;

    (void)state;
    parse_ok("unix:///tmp/r.sock?db=4", &t);
    assert_string_equal(t.path, "/tmp/r.sock");
    assert_int_equal(t.db, 4);
}

static void unix_credentials(void **state)
{
    struct redis_target t;

    (void)state;
    parse_ok("unix://bob:pw%40@/tmp/r@x.sock", &t);
    assert_string_equal(t.user, "bob");
    assert_string_equal(t.password, "pw@");
    assert_string_equal(t.path, "/tmp/r@x.sock");
}

static void bad_missing_host(void **state)
{
    (void)state;
    parse_bad("redis://", "no host");
    parse_bad("redis://:6379", "no host");
    parse_bad("redis:///0", "no host");
    parse_bad("redis://:pw@:6379", "no host");
    parse_bad("redis://[]:6379", "no host");
}

static void bad_port(void **state)
{
    (void)state;
    parse_bad("redis://h:0", "port '0'");
    parse_bad("redis://h:65536", "port '65536'");
    parse_bad("redis://h:", "port ''");
    parse_bad("redis://h:-1", "port '-1'");
    parse_bad("redis://h:12ab", "port '12ab'");
    parse_bad("redis://h:99999999999", "port");
}

static void port_bounds(void **state)
{
    struct redis_target t;

    (void)state;
    parse_ok("redis://h:1", &t);
    assert_int_equal(t.port, 1);
    parse_ok("redis://h:65535", &t);
    assert_int_equal(t.port, 65535);
}

static void bad_db(void **state)
{
    (void)state;
    parse_bad("redis://h:1/x", "database 'x'");
    parse_bad("redis://h:1/-1", "database '-1'");
    parse_bad("redis://h:1/1/2", "database '1/2'");
    parse_bad("redis://h:1/99999999999", "database");
    parse_bad("unix:///tmp/r.sock?db=", "database ''");
    parse_bad("unix:///tmp/r.sock?db=a", "database 'a'");
}

static void bad_scheme(void **state)
{
    (void)state;
    parse_bad("rediss://h:1", "scheme 'rediss'");
    parse_bad("http://h:1", "scheme 'http'");
    parse_bad("127.0.0.1:6379", "no scheme");
    parse_bad("", "no scheme");
}

static void bad_unix(void **state)
{
    (void)state;
    parse_bad("unix://", "no socket path");
    parse_bad("unix://?db=1", "no socket path");
    parse_bad("unix://relative.sock", "not absolute");
    parse_bad("unix:///tmp/r.sock?timeout=1", "query");
}

static void bad_host(void **state)
{
    (void)state;
    parse_bad("redis://h st:1", "invalid character");
    parse_bad("redis://::1:6379", "brackets");
    parse_bad("redis://[::1:6379", "closing ']'");
    parse_bad("redis://[g::1]:6379", "not an IPv6");
    parse_bad("redis://[::1]x", "after the host");
}

static void bad_credentials(void **state)
{
    (void)state;
    parse_bad("redis://alice@h:1", "no ':'");
    parse_bad("redis://alice:@h:1", "password is empty");
    parse_bad("redis://:p%zz@h:1", "password is invalid");
    parse_bad("redis://:p%00@h:1", "password is invalid");
    parse_bad("redis://:p%4@h:1", "password is invalid");
}

static void error_hides_password(void **state)
{
    struct redis_target t;
    char err[256];
    static const char *const urls[] = {
        "rediss://:hunter2@h:1",
        "redis://:hunter2@h:0",
        "redis://:hunter2@h st:1",
        "redis://:hunter2@h:1/x",
        "foo:hunter2@h:1",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        assert_int_equal(redis_url_parse(urls[i], &t, err, sizeof(err)), -1);
        if (strstr(err, "hunter2") != NULL)
            fail_msg("error for %s shows the password: %s", urls[i], err);
    }
}

static void describe_redacts(void **state)
{
    struct redis_target t;
    char out[512];

    (void)state;
    parse_ok("redis://alice:s3cret@127.0.0.1:7000/2", &t);
    redis_url_describe(&t, out, sizeof(out));
    assert_string_equal(out, "redis://alice:***@127.0.0.1:7000/2");

    parse_ok("redis://:s3cret@[::1]:7000", &t);
    redis_url_describe(&t, out, sizeof(out));
    assert_string_equal(out, "redis://:***@[::1]:7000/0");

    parse_ok("redis://h", &t);
    redis_url_describe(&t, out, sizeof(out));
    assert_string_equal(out, "redis://h:6379/0");
}

static void describe_unix(void **state)
{
    struct redis_target t;
    char out[512];

    (void)state;
    parse_ok("unix:///tmp/r.sock", &t);
    redis_url_describe(&t, out, sizeof(out));
    assert_string_equal(out, "unix:///tmp/r.sock");

    parse_ok("unix://:pw@/tmp/r.sock?db=3", &t);
    redis_url_describe(&t, out, sizeof(out));
    assert_string_equal(out, "unix://:***@/tmp/r.sock?db=3");
}

static void long_values(void **state)
{
    char url[1024];
    char path[200];

    (void)state;
    memset(path, 'a', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    snprintf(url, sizeof(url), "unix://%s", path);
    parse_bad(url, "longer than");

    char host[300];

    memset(host, 'h', sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    snprintf(url, sizeof(url), "redis://%s:1", host);
    parse_bad(url, "longer than");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tcp_host_port),
        cmocka_unit_test(tcp_default_port),
        cmocka_unit_test(tcp_db),
        cmocka_unit_test(tcp_ipv6),
        cmocka_unit_test(tcp_password_only),
        cmocka_unit_test(tcp_user_password),
        cmocka_unit_test(tcp_percent_decoding),
        cmocka_unit_test(tcp_unescaped_at),
        cmocka_unit_test(scheme_case),
        cmocka_unit_test(unix_path),
        cmocka_unit_test(unix_db),
        cmocka_unit_test(unix_credentials),
        cmocka_unit_test(bad_missing_host),
        cmocka_unit_test(bad_port),
        cmocka_unit_test(port_bounds),
        cmocka_unit_test(bad_db),
        cmocka_unit_test(bad_scheme),
        cmocka_unit_test(bad_unix),
        cmocka_unit_test(bad_host),
        cmocka_unit_test(bad_credentials),
        cmocka_unit_test(error_hides_password),
        cmocka_unit_test(describe_redacts),
        cmocka_unit_test(describe_unix),
        cmocka_unit_test(long_values),
    };

    return cmocka_run_group_tests_name("redis_url", tests, NULL, NULL);
}
