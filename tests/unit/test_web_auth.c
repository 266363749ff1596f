/* test_web_auth.c -- rhai-web's credentials, sessions and login limit
 * (src/web/auth.c): token files, roles, sessions that expire and end,
 * and the per-address and global limits on failed logins. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "web.h"

static char dir[] = "/tmp/test_web_auth.XXXXXX";

static const char *file(const char *name, const char *text)
{
    static char path[2][300];
    static int k;
    char *p = path[k++ % 2];
    FILE *f;

    snprintf(p, sizeof path[0], "%s/%s", dir, name);
    f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[400];

    (void)state;
    web_auth_free();
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_tokens_give_their_role_and_user(void **state)
{
    char user[WEB_USER_MAX + 1];

    (void)state;
    assert_int_equal(web_auth_load(file("a", "# admins\n\nalice admin-token-0123456789\n"
                                            "  second-admin-token-xyz  \n"),
                                   file("r", "read-token-0123456789\n")), 0);
    assert_int_equal(web_auth_token("admin-token-0123456789", user), WEB_ADMIN);
    assert_string_equal(user, "alice");
    assert_int_equal(web_auth_token("second-admin-token-xyz", user), WEB_ADMIN);
    assert_string_equal(user, "admin-2");
    assert_int_equal(web_auth_token("read-token-0123456789", user), WEB_READ);
    assert_string_equal(user, "read-1");
    assert_int_equal(web_auth_token("read-token-012345678", user), 0);
    assert_int_equal(web_auth_token("", user), 0);
    assert_int_equal(web_auth_token(NULL, user), 0);
    assert_int_equal(web_auth_token("alice", user), 0);
}

static void test_bad_token_files_are_refused(void **state)
{
    char user[WEB_USER_MAX + 1];

    (void)state;
    assert_int_equal(web_auth_load(file("s", "short\n"), ""), -1);
    assert_int_equal(web_auth_load(file("c", "tok\x01-0123456789abcdef\n"), ""), -1);
    assert_int_equal(web_auth_load("/nonexistent/file", ""), -1);
    /* a refused load leaves no token behind */
    assert_int_equal(web_auth_load(file("ok", "good-token-0123456789\n"),
                                   file("bad", "tiny\n")), -1);
    assert_int_equal(web_auth_token("good-token-0123456789", user), 0);
}

static void test_sessions_are_found_until_dropped_or_expired(void **state)
{
    web_session s, got, old;

    (void)state;
    assert_int_equal(web_session_new("alice", WEB_ADMIN, 60000, &s), 0);
    assert_int_equal(strlen(s.id), WEB_SESSION_HEX);
    assert_int_equal(strlen(s.csrf), WEB_SESSION_HEX);
    assert_string_not_equal(s.id, s.csrf);
    assert_int_equal(web_session_get(s.id, &got), 0);
    assert_string_equal(got.user, "alice");
    assert_int_equal(got.role, WEB_ADMIN);
    assert_string_equal(got.csrf, s.csrf);
    assert_int_equal(web_session_get(s.csrf, &got), -1);     /* the csrf is no session id */
    assert_int_equal(web_session_get("abc", &got), -1);
    web_session_drop(s.id);
    assert_int_equal(web_session_get(s.id, &got), -1);
    /* expired: a lifetime already over */
    assert_int_equal(web_session_new("bob", WEB_READ, -1, &s), 0);
    assert_int_equal(web_session_get(s.id, &got), -1);
    /* a full table lets the oldest go */
    assert_int_equal(web_session_new("first", WEB_READ, 60000, &old), 0);
    for (int i = 0; i < WEB_SESSIONS_MAX; i++)
        assert_int_equal(web_session_new("more", WEB_READ, 60000, &s), 0);
    assert_int_equal(web_session_get(old.id, &got), -1);
    assert_int_equal(web_session_get(s.id, &got), 0);
}

static void test_failed_logins_are_limited_per_address_and_minute(void **state)
{
    int64_t t = 1000LL * 60000;              /* the start of a minute */

    (void)state;
    for (int i = 0; i < WEB_LOGIN_FAILS; i++) {
        assert_int_equal(web_login_allowed("10.0.0.1", t + i), 1);
        web_login_failed("10.0.0.1", t + i);
    }
    assert_int_equal(web_login_allowed("10.0.0.1", t + 100), 0);
    assert_int_equal(web_login_allowed("10.0.0.2", t + 100), 1);   /* another address */
    assert_int_equal(web_login_allowed("10.0.0.1", t + 60000), 1);  /* the next minute */
}

static void test_failed_logins_of_many_addresses_are_limited_together(void **state)
{
    int64_t t = 2000LL * 60000;
    char addr[32];

    (void)state;
    for (int i = 0; i < WEB_LOGIN_FAILS_ALL; i++) {
        snprintf(addr, sizeof addr, "10.1.%d.%d", i / 200, i % 200);
        assert_int_equal(web_login_allowed(addr, t), 1);
        web_login_failed(addr, t);
    }
    assert_int_equal(web_login_allowed("10.9.9.9", t), 0);
    assert_int_equal(web_login_allowed("10.9.9.9", t + 60000), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens_give_their_role_and_user),
        cmocka_unit_test(test_bad_token_files_are_refused),
        cmocka_unit_test(test_sessions_are_found_until_dropped_or_expired),
        cmocka_unit_test(test_failed_logins_are_limited_per_address_and_minute),
        cmocka_unit_test(test_failed_logins_of_many_addresses_are_limited_together),
    };
    return cmocka_run_group_tests_name("web_auth", tests, setup, teardown);
}
