/*
 * test_client_addr.c - unit tests of server/client_addr.c: the proxy list,
 * X-Forwarded-For and Forwarded parsing, and the right-to-left walk that
 * picks the first untrusted address.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "client_addr.h"

#define MAX_TEST_HEADERS 4

/* A request with a TCP peer and up to MAX_TEST_HEADERS headers. */
struct fake_request {
    struct http_request req;
    struct http_header headers[MAX_TEST_HEADERS];
    struct sockaddr_storage peer;
};

static struct netaddr addr(const char *text)
{
    struct netaddr a;

    assert_int_equal(netaddr_parse(text, strlen(text), &a), 0);
    return a;
}

static void make_request(struct fake_request *f, const char *peer,
                         const char *const *headers)
{
    memset(f, 0, sizeof(*f));
    if (strchr(peer, ':') != NULL) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&f->peer;
        sin6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, peer, &sin6->sin6_addr), 1);
        f->req.peer_len = sizeof(*sin6);
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&f->peer;
        sin->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, peer, &sin->sin_addr), 1);
        f->req.peer_len = sizeof(*sin);
    }
    f->req.peer = (const struct sockaddr *)&f->peer;

    for (size_t i = 0; headers != NULL && headers[2 * i] != NULL; i++) {
        assert_true(i < MAX_TEST_HEADERS);
        f->headers[i].name = headers[2 * i];
        f->headers[i].name_len = strlen(headers[2 * i]);
        f->headers[i].value = headers[2 * i + 1];
        f->headers[i].value_len = strlen(headers[2 * i + 1]);
        f->req.n_headers = i + 1;
    }
    f->req.headers = f->headers;
}

static void config(struct client_addr_config *cfg, const char *proxies,
                   const char *header)
{
    char err[256] = "";

    assert_int_equal(client_addr_config_init(cfg, proxies, header, err, sizeof(err)), 0);
}

/* Resolves and checks both the source and the address. */
static void expect_client(const struct client_addr_config *cfg, const char *peer,
                          const char *const *headers,
                          enum client_addr_source source, const char *expected)
{
    struct fake_request f;
    struct netaddr got;
    struct netaddr want = addr(expected);

    make_request(&f, peer, headers);
    assert_int_equal(client_addr_resolve(cfg, &f.req, &got), source);
    assert_memory_equal(got.bytes, want.bytes, 16);
}

static void client_addr_untrusted_peer_ignores_header(void **state)
{
    struct client_addr_config cfg;
    const char *const h[] = {"X-Forwarded-For", "198.51.100.7", NULL};

    (void)state;
    config(&cfg, "10.0.0.0/8", "x-forwarded-for");
    expect_client(&cfg, "203.0.113.5", h, CLIENT_ADDR_PEER, "203.0.113.5");
    client_addr_config_free(&cfg);

    config(&cfg, "", "x-forwarded-for");
    expect_client(&cfg, "10.0.0.1", h, CLIENT_ADDR_PEER, "10.0.0.1");
    client_addr_config_free(&cfg);
}

static void client_addr_trusted_peer_without_header(void **state)
{
    struct client_addr_config cfg;

    (void)state;
    config(&cfg, "10.0.0.0/8", "x-forwarded-for");
    expect_client(&cfg, "10.0.0.1", NULL, CLIENT_ADDR_PEER, "10.0.0.1");
    client_addr_config_free(&cfg);
}

static void client_addr_xff_skips_trusted_from_right(void **state)
{
    struct client_addr_config cfg;
    /* The client invented 1.1.1.1; 198.51.100.7 is what our proxy saw. */
    const char *const h[] = {"X-Forwarded-For",
                             "1.1.1.1, 198.51.100.7, 10.1.1.1", NULL};
    const char *const lower[] = {"x-forwarded-for", " 198.51.100.7 ", NULL};

    (void)state;
    config(&cfg, "10.0.0.0/8, 192.0.2.1", "x-forwarded-for");
    expect_client(&cfg, "10.0.0.1", h, CLIENT_ADDR_FROM_HEADER, "198.51.100.7");
    expect_client(&cfg, "10.0.0.1", lower, CLIENT_ADDR_FROM_HEADER, "198.51.100.7");
    client_addr_config_free(&cfg);
}

static void client_addr_xff_joins_repeated_fields(void **state)
{
    struct client_addr_config cfg;
    const char *const h[] = {"X-Forwarded-For", "198.51.100.7",
                             "X-Forwarded-For", "10.2.2.2", NULL};

    (void)state;
    config(&cfg, "10.0.0.0/8", "x-forwarded-for");
    expect_client(&cfg, "10.0.0.1", h, CLIENT_ADDR_FROM_HEADER, "198.51.100.7");
    client_addr_config_free(&cfg);
}

static void client_addr_xff_ports_and_ipv6(void **state)
{
    struct client_addr_config cfg;
    const char *const v4_port[] = {"X-Forwarded-For", "198.51.100.7:5555", NULL};
    const char *const v6_bare[] = {"X-Forwarded-For", "2001:db8::7", NULL};
    const char *const v6_port[] = {"X-Forwarded-For", "[2001:db8::8]:443", NULL};

    (void)state;
    config(&cfg, "::1, 127.0.0.1", "x-forwarded-for");
    expect_client(&cfg, "::1", v4_port, CLIENT_ADDR_FROM_HEADER, "198.51.100.7");
    expect_client(&cfg, "::1", v6_bare, CLIENT_ADDR_FROM_HEADER, "2001:db8::7");
    expect_client(&cfg, "127.0.0.1", v6_port, CLIENT_ADDR_FROM_HEADER, "2001:db8::8");
    client_addr_config_free(&cfg);
}

static void client_addr_all_trusted_takes_leftmost(void **state)
{
    struct client_addr_config cfg;
    const char *const h[] = {"X-Forwarded-For", "10.3.3.3, 10.2.2.2", NULL};

    (void)state;
    config(&cfg, "10.0.0.0/8", "x-forwarded-for");
    expect_client(&cfg, "10.0.0.1", h, CLIENT_ADDR_FROM_HEADER, "10.3.3.3");
    client_addr_config_free(&cfg);
}

static void client_addr_malformed_falls_back_to_peer(void **state)
{
    static const char *const values[] = {
        "not-an-address", "198.51.100.7:", "198.51.100.7:123456", "[2001:db8::1",
        "[198.51.100.7]", "2001:db8::1]", "198.51.100.7 10.1.1.1", "unknown",
        "1.1.1.1, unknown", "198.51.100.256", "_hidden",
    };
    struct client_addr_config cfg;

    (void)state;
    config(&cfg, "10.0.0.0/8", "x-forwarded-for");
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        const char *const h[] = {"X-Forwarded-For", values[i], NULL};
        expect_client(&cfg, "10.0.0.1", h, CLIENT_ADDR_MALFORMED, "10.0.0.1");
    }
    client_addr_config_free(&cfg);
}

static void client_addr_unknown_left_of_client_is_ignored(void **state)
{
    struct client_addr_config cfg;
    const char *const h[] = {"X-Forwarded-For", "unknown, 198.51.100.7", NULL};

    (void)state;
    config(&cfg, "10.0.0.0/8", "x-forwarded-for");
    expect_client(&cfg, "10.0.0.1", h, CLIENT_ADDR_FROM_HEADER, "198.51.100.7");
    client_addr_config_free(&cfg);
}

static void client_addr_too_many_hops_is_malformed(void **state)
{
    char value[CLIENT_ADDR_MAX_HOPS * 12 + 16] = "";
    struct client_addr_config cfg;

    (void)state;
    for (int i = 0; i <= CLIENT_ADDR_MAX_HOPS; i++)
        strcat(value, i == 0 ? "10.9.9.9" : ", 10.9.9.9");
    {
        const char *const h[] = {"X-Forwarded-For", value, NULL};
        config(&cfg, "10.0.0.0/8", "x-forwarded-for");
        expect_client(&cfg, "10.0.0.1", h, CLIENT_ADDR_MALFORMED, "10.0.0.1");
        client_addr_config_free(&cfg);
    }
}

static void client_addr_forwarded_rfc7239_forms(void **state)
{
    struct client_addr_config cfg;
    const char *const plain[] = {"Forwarded", "for=198.51.100.7", NULL};
    const char *const chain[] = {
        "Forwarded",
        "for=1.1.1.1, For=\"[2001:db8:cafe::17]:4711\";proto=https;by=10.0.0.1, "
        "for=10.4.4.4",
        NULL};
    const char *const quoted[] = {"Forwarded",
                                  "for=\"198.51.100.7:80\";host=\"a,b;c\"", NULL};
    const char *const empty_elements[] = {"Forwarded", ", for=198.51.100.7 ,", NULL};
    const char *const xff_ignored[] = {"X-Forwarded-For", "1.1.1.1",
                                       "Forwarded", "for=198.51.100.7", NULL};

    (void)state;
    config(&cfg, "10.0.0.0/8", "Forwarded");
    expect_client(&cfg, "10.0.0.1", plain, CLIENT_ADDR_FROM_HEADER, "198.51.100.7");
    expect_client(&cfg, "10.0.0.1", chain, CLIENT_ADDR_FROM_HEADER, "2001:db8:cafe::17");
    expect_client(&cfg, "10.0.0.1", quoted, CLIENT_ADDR_FROM_HEADER, "198.51.100.7");
    expect_client(&cfg, "10.0.0.1", empty_elements, CLIENT_ADDR_FROM_HEADER,
                  "198.51.100.7");
    expect_client(&cfg, "10.0.0.1", xff_ignored, CLIENT_ADDR_FROM_HEADER,
                  "198.51.100.7");
    client_addr_config_free(&cfg);
}

static void client_addr_forwarded_malformed(void **state)
{
    static const char *const values[] = {
        "198.51.100.7",            /* no parameter name */
        "for=",                    /* no value */
        "for=\"198.51.100.7",      /* no closing quote */
        "for=198.51.100.7;for=1.1.1.1", /* for twice in one element */
        "for=198.51.100.7 x",      /* junk after the value */
        "for=\"_gazonk\"",         /* obfuscated: names no address */
        "proto=https",             /* no for= */
        "for=[2001:db8::1]",       /* brackets are not token characters */
        "for=\"[198.51.100.7]\"",  /* IPv4 inside brackets */
    };
    struct client_addr_config cfg;

    (void)state;
    config(&cfg, "10.0.0.0/8", "forwarded");
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        const char *const h[] = {"Forwarded", values[i], NULL};
        expect_client(&cfg, "10.0.0.1", h, CLIENT_ADDR_MALFORMED, "10.0.0.1");
    }
    client_addr_config_free(&cfg);
}

static void client_addr_unix_peer_is_unspecified(void **state)
{
    struct client_addr_config cfg;
    struct fake_request f;
    struct netaddr got;
    static const struct netaddr zero;

    (void)state;
    config(&cfg, "::/0", "x-forwarded-for");
    make_request(&f, "10.0.0.1", NULL);
    f.peer.ss_family = AF_UNIX;
    assert_int_equal(client_addr_resolve(&cfg, &f.req, &got), CLIENT_ADDR_PEER);
    assert_memory_equal(got.bytes, zero.bytes, 16);
    client_addr_config_free(&cfg);
}

static void client_addr_config_rejects_bad_input(void **state)
{
    static const char *const bad_lists[] = {
        "10.0.0.1/8", "10.0.0.0/8,", "garbage", "10.0.0.0/8,,192.0.2.1", " , ",
    };
    struct client_addr_config cfg;
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof(bad_lists) / sizeof(bad_lists[0]); i++) {
        err[0] = '\0';
        assert_int_equal(client_addr_config_init(&cfg, bad_lists[i], "forwarded",
                                                 err, sizeof(err)), -1);
        assert_non_null(strstr(err, "is not an IP address"));
        client_addr_config_free(&cfg);
    }
    assert_int_equal(client_addr_config_init(&cfg, "", "x-real-ip", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "x-real-ip"));
    client_addr_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(client_addr_untrusted_peer_ignores_header),
        cmocka_unit_test(client_addr_trusted_peer_without_header),
        cmocka_unit_test(client_addr_xff_skips_trusted_from_right),
        cmocka_unit_test(client_addr_xff_joins_repeated_fields),
        cmocka_unit_test(client_addr_xff_ports_and_ipv6),
        cmocka_unit_test(client_addr_all_trusted_takes_leftmost),
        cmocka_unit_test(client_addr_malformed_falls_back_to_peer),
        cmocka_unit_test(client_addr_unknown_left_of_client_is_ignored),
        cmocka_unit_test(client_addr_too_many_hops_is_malformed),
        cmocka_unit_test(client_addr_forwarded_rfc7239_forms),
        cmocka_unit_test(client_addr_forwarded_malformed),
        cmocka_unit_test(client_addr_unix_peer_is_unspecified),
        cmocka_unit_test(client_addr_config_rejects_bad_input),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
