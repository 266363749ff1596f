/* test_web_http.c -- rhai-web's pure request parsing (src/web/http.c):
 * routes, cookies, bearer tokens, the CSRF rule, query integers, error
 * lines and content types. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "web/web.h"

static void h_a(web_req *rq, web_resp *rs) { (void)rq; (void)rs; }

static const web_route table[] = {
    { WEB_GET, "/api/queues", WEB_READ, h_a },
    { WEB_POST, "/api/queues/:w/pause", WEB_ADMIN, h_a },
    { WEB_GET, "/api/tasks/:id", WEB_READ, h_a },
    { WEB_POST, "/api/tasks/:id/cancel", WEB_ADMIN, h_a },
    { WEB_POST, "/api/schedules/:w/:name/:action", WEB_ADMIN, h_a },
    { WEB_POST, "/api/login", WEB_PUBLIC, h_a },
    { 0, NULL, 0, NULL }
};

static void test_route_matches_literal_and_param_paths(void **state)
{
    char p[WEB_PARAMS_MAX][257];
    unsigned allow;
    int n;

    (void)state;
    assert_int_equal(web_route_match(table, WEB_GET, "/api/queues", p, &n, &allow), 0);
    assert_int_equal(n, 0);
    assert_int_equal(web_route_match(table, WEB_POST, "/api/queues/default/pause", p, &n,
                                     &allow), 1);
    assert_int_equal(n, 1);
    assert_string_equal(p[0], "default");
    assert_int_equal(web_route_match(table, WEB_POST, "/api/schedules/w1/nightly/run", p, &n,
                                     &allow), 4);
    assert_int_equal(n, 3);
    assert_string_equal(p[0], "w1");
    assert_string_equal(p[1], "nightly");
    assert_string_equal(p[2], "run");
}

static void test_route_head_matches_get(void **state)
{
    char p[WEB_PARAMS_MAX][257];
    int n;

    (void)state;
    assert_int_equal(web_route_match(table, WEB_HEAD, "/api/tasks/abc", p, &n, NULL), 2);
    assert_string_equal(p[0], "abc");
}

static void test_route_says_405_with_the_methods_that_exist(void **state)
{
    char p[WEB_PARAMS_MAX][257];
    unsigned allow;
    int n;

    (void)state;
    assert_int_equal(web_route_match(table, WEB_GET, "/api/queues/w/pause", p, &n, &allow), -2);
    assert_int_equal(allow, WEB_POST);
    assert_int_equal(web_route_match(table, WEB_OTHER, "/api/queues", p, &n, &allow), -2);
    assert_int_equal(allow, WEB_GET);
}

static void test_route_refuses_unknown_and_odd_paths(void **state)
{
    char p[WEB_PARAMS_MAX][257];
    char long_seg[400];
    int n;

    (void)state;
    assert_int_equal(web_route_match(table, WEB_GET, "/api/nothing", p, &n, NULL), -1);
    assert_int_equal(web_route_match(table, WEB_GET, "/api/queues/", p, &n, NULL), -1);
    assert_int_equal(web_route_match(table, WEB_GET, "/api/tasks/", p, &n, NULL), -1);
    assert_int_equal(web_route_match(table, WEB_GET, "/api/tasks/..", p, &n, NULL), -1);
    assert_int_equal(web_route_match(table, WEB_GET, "/api/tasks/.", p, &n, NULL), -1);
    assert_int_equal(web_route_match(table, WEB_GET, "/api/tasks/a/b", p, &n, NULL), -1);
    assert_int_equal(web_route_match(table, WEB_GET, "api/queues", p, &n, NULL), -1);
    assert_int_equal(web_route_match(table, WEB_GET, "", p, &n, NULL), -1);
    assert_int_equal(web_route_match(table, WEB_GET, NULL, p, &n, NULL), -1);
    assert_int_equal(web_route_match(table, WEB_GET, "/api/queuesx", p, &n, NULL), -1);
    memset(long_seg, 'a', sizeof long_seg);
    memcpy(long_seg, "/api/tasks/", 11);
    long_seg[sizeof long_seg - 1] = '\0';
    assert_int_equal(web_route_match(table, WEB_GET, long_seg, p, &n, NULL), -1);
}

static void test_cookie_is_found_among_others(void **state)
{
    char buf[80];

    (void)state;
    assert_int_equal(web_cookie_find("a=1; rhai_session=abc; b=2", "rhai_session", buf,
                                     sizeof buf), 0);
    assert_string_equal(buf, "abc");
    assert_int_equal(web_cookie_find("rhai_session=xyz", "rhai_session", buf, sizeof buf), 0);
    assert_string_equal(buf, "xyz");
    assert_int_equal(web_cookie_find("  rhai_session = \"q\" ;x=1", "rhai_session", buf,
                                     sizeof buf), 0);
    assert_string_equal(buf, "q");
    assert_int_equal(web_cookie_find("x_rhai_session=1; rhai_sessionx=2", "rhai_session", buf,
                                     sizeof buf), -1);
    assert_int_equal(web_cookie_find("", "rhai_session", buf, sizeof buf), -1);
    assert_int_equal(web_cookie_find(";;;=;", "rhai_session", buf, sizeof buf), -1);
    assert_int_equal(web_cookie_find(NULL, "rhai_session", buf, sizeof buf), -1);
}

static void test_cookie_too_long_for_the_buffer_is_absent(void **state)
{
    char buf[4];

    (void)state;
    assert_int_equal(web_cookie_find("rhai_session=abcdef", "rhai_session", buf, sizeof buf), -1);
    assert_int_equal(web_cookie_find("rhai_session=abc", "rhai_session", buf, sizeof buf), 0);
}

static void test_bearer_token_is_parsed(void **state)
{
    char buf[64];

    (void)state;
    assert_int_equal(web_bearer_parse("Bearer tok123", buf, sizeof buf), 0);
    assert_string_equal(buf, "tok123");
    assert_int_equal(web_bearer_parse("bearer   tok ", buf, sizeof buf), 0);
    assert_string_equal(buf, "tok");
    assert_int_equal(web_bearer_parse("Basic dXNlcjpw", buf, sizeof buf), -1);
    assert_int_equal(web_bearer_parse("Bearer", buf, sizeof buf), -1);
    assert_int_equal(web_bearer_parse("Bearer ", buf, sizeof buf), -1);
    assert_int_equal(web_bearer_parse("Bearertok", buf, sizeof buf), -1);
}

static void test_csrf_is_needed_only_with_a_cookie(void **state)
{
    (void)state;
    assert_int_equal(web_csrf_ok(0, NULL, NULL), 1);
    assert_int_equal(web_csrf_ok(1, "abcd", "abcd"), 1);
    assert_int_equal(web_csrf_ok(1, "abcd", NULL), 0);
    assert_int_equal(web_csrf_ok(1, "abcd", ""), 0);
    assert_int_equal(web_csrf_ok(1, "abcd", "abce"), 0);
    assert_int_equal(web_csrf_ok(1, "abcd", "abcde"), 0);
    assert_int_equal(web_csrf_ok(1, "abcd", "abc"), 0);
    assert_int_equal(web_csrf_ok(1, "", ""), 0);
    assert_int_equal(web_secret_equal(NULL, "a"), 0);
}

static void test_query_int_takes_numbers_in_range_only(void **state)
{
    web_query q = { { { "limit", "25" }, { "bad", "12x" }, { "neg", "-3" }, { "big",
                      "99999999999999999999" }, { "empty", "" } }, 5, 0 };
    char why[100];
    long long v;

    (void)state;
    assert_int_equal(web_query_int(&q, "limit", 1, 100, 7, &v, why, sizeof why), 0);
    assert_int_equal(v, 25);
    assert_int_equal(web_query_int(&q, "absent", 1, 100, 7, &v, why, sizeof why), 0);
    assert_int_equal(v, 7);
    assert_int_equal(web_query_int(&q, "empty", 1, 100, 7, &v, why, sizeof why), 0);
    assert_int_equal(v, 7);
    assert_int_equal(web_query_int(&q, "limit", 1, 10, 7, &v, why, sizeof why), -1);
    assert_non_null(strstr(why, "limit"));
    assert_int_equal(web_query_int(&q, "bad", 1, 100, 7, &v, why, sizeof why), -1);
    assert_int_equal(web_query_int(&q, "neg", 1, 100, 7, &v, why, sizeof why), -1);
    assert_int_equal(web_query_int(&q, "big", 1, 100, 7, &v, why, sizeof why), -1);
    assert_string_equal(web_query_get(&q, "limit"), "25");
    assert_null(web_query_get(&q, "empty"));
}

static void test_error_line_is_the_last_line_mentioned(void **state)
{
    (void)state;
    assert_int_equal(web_error_line("Error: boom (line 2)"), 2);
    assert_int_equal(web_error_line("ReferenceError: 'x' is not defined (line 17)"), 17);
    assert_int_equal(web_error_line("a line 3 then (line 9)"), 9);
    assert_int_equal(web_error_line("no line here"), 0);
    assert_int_equal(web_error_line("line "), 0);
    assert_int_equal(web_error_line(NULL), 0);
    assert_int_equal(web_error_line("(line 0)"), 0);
}

static void test_mime_types_by_extension(void **state)
{
    (void)state;
    assert_string_equal(web_mime("index.html"), "text/html; charset=utf-8");
    assert_string_equal(web_mime("app.js"), "text/javascript; charset=utf-8");
    assert_string_equal(web_mime("app.css"), "text/css; charset=utf-8");
    assert_string_equal(web_mime("x"), "application/octet-stream");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_matches_literal_and_param_paths),
        cmocka_unit_test(test_route_head_matches_get),
        cmocka_unit_test(test_route_says_405_with_the_methods_that_exist),
        cmocka_unit_test(test_route_refuses_unknown_and_odd_paths),
        cmocka_unit_test(test_cookie_is_found_among_others),
        cmocka_unit_test(test_cookie_too_long_for_the_buffer_is_absent),
        cmocka_unit_test(test_bearer_token_is_parsed),
        cmocka_unit_test(test_csrf_is_needed_only_with_a_cookie),
        cmocka_unit_test(test_query_int_takes_numbers_in_range_only),
        cmocka_unit_test(test_error_line_is_the_last_line_mentioned),
        cmocka_unit_test(test_mime_types_by_extension),
    };
    return cmocka_run_group_tests_name("web_http", tests, NULL, NULL);
}
