/*
 * test_auth.c - unit tests of server/auth.c: scope lists, token lines and
 * the bearer check with its four outcomes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"

#define HEX_READ "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX_ADMIN "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

static void add_token(struct auth_tokens *t, const char *name, const char *line)
{
    char err[128];

    assert_int_equal(auth_parse_token_line(line, &t->tokens[t->count], err, sizeof(err)), 0);
    strcpy(t->tokens[t->count].name, name);
    t->count++;
}

static enum auth_result check(const struct auth_tokens *t, const char *header,
                              enum auth_scope scope)
{
    return auth_check(t, header, header != NULL ? strlen(header) : 0, scope, NULL);
}

static void scopes_parse(void **state)
{
    unsigned scopes = 0;
    char text[32];

    (void)state;
    assert_int_equal(auth_parse_scopes("read", &scopes), 0);
    assert_int_equal(scopes, AUTH_SCOPE_READ);
    assert_int_equal(auth_parse_scopes("sign,admin", &scopes), 0);
    assert_int_equal(scopes, AUTH_SCOPE_SIGN | AUTH_SCOPE_ADMIN);
    auth_format_scopes(scopes, text, sizeof(text));
    assert_string_equal(text, "sign,admin");
    assert_int_equal(auth_parse_scopes("", &scopes), -1);
    assert_int_equal(auth_parse_scopes("read,", &scopes), -1);
    assert_int_equal(auth_parse_scopes(",read", &scopes), -1);
    assert_int_equal(auth_parse_scopes("reader", &scopes), -1);
}

static void token_line_errors(void **state)
{
    struct auth_token token;
    char err[160];

    (void)state;
    assert_int_equal(auth_parse_token_line("read", &token, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "expected"));
    assert_int_equal(auth_parse_token_line("read abc", &token, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "64 hex digits"));
    assert_int_equal(auth_parse_token_line("write " HEX_READ, &token, err, sizeof(err)), -1);
    assert_null(strstr(err, HEX_READ));
}

static void check_outcomes(void **state)
{
    static struct auth_tokens t;
    const struct auth_token *matched = NULL;

    (void)state;
    add_token(&t, "dash", "read " HEX_READ);
    add_token(&t, "ops", "admin " HEX_ADMIN);

    assert_int_equal(check(&t, NULL, AUTH_SCOPE_READ), AUTH_MISSING);
    assert_int_equal(check(&t, "Basic abc", AUTH_SCOPE_READ), AUTH_MISSING);
    assert_int_equal(check(&t, "Bearer ", AUTH_SCOPE_READ), AUTH_MISSING);
    assert_int_equal(check(&t, "Bearer nothex", AUTH_SCOPE_READ), AUTH_INVALID);
    assert_int_equal(check(&t, "Bearer " HEX_READ "00", AUTH_SCOPE_READ), AUTH_INVALID);
    assert_int_equal(check(&t, "Bearer " HEX_READ, AUTH_SCOPE_READ), AUTH_OK);
    assert_int_equal(check(&t, "bearer " HEX_READ, AUTH_SCOPE_READ), AUTH_OK);
    assert_int_equal(check(&t, "Bearer " HEX_READ, AUTH_SCOPE_SIGN), AUTH_FORBIDDEN);
    assert_int_equal(check(&t, "Bearer " HEX_ADMIN, AUTH_SCOPE_SIGN), AUTH_OK);

    assert_int_equal(auth_check(&t, "Bearer " HEX_ADMIN, strlen("Bearer " HEX_ADMIN),
                                AUTH_SCOPE_READ, &matched), AUTH_OK);
    assert_string_equal(matched->name, "ops");
}

static void check_no_tokens(void **state)
{
    static struct auth_tokens t;

    (void)state;
    assert_int_equal(check(&t, "Bearer " HEX_READ, AUTH_SCOPE_READ), AUTH_INVALID);
    auth_tokens_wipe(&t);
    assert_int_equal(t.count, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scopes_parse),
        cmocka_unit_test(token_line_errors),
        cmocka_unit_test(check_outcomes),
        cmocka_unit_test(check_no_tokens),
    };

    return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
