/* test_rconn_cfg.c -- the connection layer's configuration (rconn.h, url.c):
 * rediss:// and its TLS options, options set by name as config and the
 * environment give them, the consistency check, the safe form of a URL,
 * the TLS error code's wording, and a host that does not resolve. No
 * server: see test_rconn.c and
 * test_rconn_tls.c for the connections. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/rconn.h"

static void test_rediss_url_sets_tls_and_every_option(void **state)
{
    rh_redis_cfg cfg;
    rhai_error err;
    (void)state;
    assert_int_equal(rh_redis_cfg_init(&cfg, "rediss://alice:pw@cache.example:6380/2"
                                             "?ca=/etc/ca.pem&cert=/c.pem&key=/k.pem"
                                             "&sni=redis.internal&verify=no", &err), 0);
    assert_true(cfg.url.tls);
    assert_string_equal(cfg.url.host, "cache.example");
    assert_int_equal(cfg.url.port, 6380);
    assert_int_equal(cfg.url.db, 2);
    assert_string_equal(cfg.url.user, "alice");
    assert_string_equal(cfg.url.pass, "pw");
    assert_string_equal(cfg.url.tls_ca, "/etc/ca.pem");
    assert_string_equal(cfg.url.tls_cert, "/c.pem");
    assert_string_equal(cfg.url.tls_key, "/k.pem");
    assert_string_equal(cfg.url.tls_sni, "redis.internal");
    assert_true(cfg.url.tls_noverify);
    assert_int_equal(cfg.connect_ms, RH_REDIS_CONNECT_MS);
    assert_int_equal(cfg.io_ms, RH_REDIS_IO_MS);
    assert_int_equal(rh_redis_cfg_check(&cfg, &err), 0);
}

static void test_rediss_url_without_options_verifies_by_default(void **state)
{
    rh_redis_cfg cfg;
    (void)state;
    assert_int_equal(rh_redis_cfg_init(&cfg, "rediss://[::1]:7000", NULL), 0);
    assert_true(cfg.url.tls);
    assert_false(cfg.url.tls_noverify);
    assert_string_equal(cfg.url.host, "::1");
    assert_int_equal(cfg.url.port, 7000);
    assert_string_equal(cfg.url.tls_ca, "");
    /* a '/' inside an option is a path, not the db */
    assert_int_equal(rh_redis_cfg_init(&cfg, "rediss://h?ca=/a/b.pem", NULL), 0);
    assert_int_equal(cfg.url.db, 0);
    assert_string_equal(cfg.url.host, "h");
    assert_string_equal(cfg.url.tls_ca, "/a/b.pem");
}

static void test_old_url_parser_still_refuses_rediss(void **state)
{
    rh_url u;
    rhai_error err;
    (void)state;
    /* its users connect through hiredis, which cannot do TLS */
    assert_int_equal(rh_url_parse("rediss://h", &u, &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "TLS"));
}

static void test_bad_tls_urls_are_refused_with_the_reason(void **state)
{
    static const struct { const char *url, *want; } bad[] = {
        { "rediss://h?ca=", "empty" },
        { "rediss://h?cafile=/x", "unknown option 'cafile'" },
        { "rediss://h?ca=/x&ca=/y", "twice" },
        { "rediss://h?verify=maybe", "verify must be yes or no" },
        { "rediss://h?ca=/x&", "empty option" },
        { "rediss://h?sni", "unknown option" },
        { "redis://h?ca=/x", "use rediss://" },
        { "rediss://h:0", "bad port" },
        { "rediss://h/x?ca=/y", "bad db number 'x'" },
        { "http://h", "redis://, rediss:// or unix://" },
    };
    rh_redis_cfg cfg;
    rhai_error err;
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(rh_redis_cfg_init(&cfg, bad[i].url, &err), RHAI_EINVAL);
        if (strstr(err.msg, bad[i].want) == NULL)
            fail_msg("%s: message '%s' lacks '%s'", bad[i].url, err.msg, bad[i].want);
    }
}

static void test_options_by_name_override_the_url(void **state)
{
    rh_redis_cfg cfg;
    rhai_error err;
    (void)state;
    assert_int_equal(rh_redis_cfg_init(&cfg, "redis://h:1", NULL), 0);
    assert_int_equal(rh_redis_cfg_set(&cfg, "tls", "yes", &err), 0);
    assert_int_equal(rh_redis_cfg_set(&cfg, "tls_ca", "/ca.pem", &err), 0);
    assert_int_equal(rh_redis_cfg_set(&cfg, "tls_cert", "/c.pem", &err), 0);
    assert_int_equal(rh_redis_cfg_set(&cfg, "tls_key", "/k.pem", &err), 0);
    assert_int_equal(rh_redis_cfg_set(&cfg, "tls_sni", "n.example", &err), 0);
    assert_int_equal(rh_redis_cfg_set(&cfg, "tls_verify", "no", &err), 0);
    assert_int_equal(rh_redis_cfg_set(&cfg, "connect_ms", "250", &err), 0);
    assert_int_equal(rh_redis_cfg_set(&cfg, "io_ms", "1500", &err), 0);
    assert_true(cfg.url.tls);
    assert_true(cfg.url.tls_noverify);
    assert_string_equal(cfg.url.tls_ca, "/ca.pem");
    assert_string_equal(cfg.url.tls_sni, "n.example");
    assert_int_equal(cfg.connect_ms, 250);
    assert_int_equal(cfg.io_ms, 1500);
    assert_int_equal(rh_redis_cfg_check(&cfg, &err), 0);
    assert_int_equal(rh_redis_cfg_set(&cfg, "tls_ca", "", &err), 0);   /* "" clears */
    assert_string_equal(cfg.url.tls_ca, "");
}

static void test_bad_options_by_name_leave_the_config_alone(void **state)
{
    rh_redis_cfg cfg, before;
    rhai_error err;
    char longpath[RH_URL_FILE_MAX + 10];
    (void)state;
    assert_int_equal(rh_redis_cfg_init(&cfg, "rediss://h", NULL), 0);
    before = cfg;
    assert_int_equal(rh_redis_cfg_set(&cfg, "tls_cafile", "/x", &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "unknown redis option 'tls_cafile'"));
    assert_int_equal(rh_redis_cfg_set(&cfg, "tls_verify", "perhaps", &err), RHAI_EINVAL);
    assert_int_equal(rh_redis_cfg_set(&cfg, "connect_ms", "0", &err), RHAI_EINVAL);
    assert_int_equal(rh_redis_cfg_set(&cfg, "io_ms", "12x", &err), RHAI_EINVAL);
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    assert_int_equal(rh_redis_cfg_set(&cfg, "tls_ca", longpath, &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "too long"));
    assert_memory_equal(&cfg, &before, sizeof cfg);
}

static void test_check_refuses_half_a_client_identity_and_tls_options_without_tls(void **state)
{
    rh_redis_cfg cfg;
    rhai_error err;
    (void)state;
    assert_int_equal(rh_redis_cfg_init(&cfg, "rediss://h?cert=/c.pem", NULL), 0);
    assert_int_equal(rh_redis_cfg_check(&cfg, &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "tls_cert needs tls_key"));
    assert_int_equal(rh_redis_cfg_init(&cfg, "rediss://h?key=/k.pem", NULL), 0);
    assert_int_equal(rh_redis_cfg_check(&cfg, &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "tls_key needs tls_cert"));
    assert_int_equal(rh_redis_cfg_init(&cfg, "redis://h", NULL), 0);
    assert_int_equal(rh_redis_cfg_set(&cfg, "tls_ca", "/ca.pem", NULL), 0);
    assert_int_equal(rh_redis_cfg_check(&cfg, &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "need a rediss:// url"));
    /* nothing is connected on a failed check */
    rh_sconn *c = (rh_sconn *)&cfg;
    assert_int_equal(rh_sconn_open(&cfg, "x", &c, &err), RHAI_EINVAL);
    assert_null(c);
}

static void test_safe_form_hides_the_password_and_says_tls(void **state)
{
    rh_redis_cfg cfg;
    char buf[600];
    (void)state;
    assert_int_equal(rh_redis_cfg_init(&cfg, "rediss://bob:topsecret@h:1/2?ca=/ca.pem&sni=n.x",
                                       NULL), 0);
    rh_redis_cfg_where(&cfg, buf, sizeof buf);
    assert_null(strstr(buf, "topsecret"));
    assert_string_equal(buf, "rediss://***@h:1/2?sni=n.x");
    assert_int_equal(rh_redis_cfg_init(&cfg, "redis://h:1", NULL), 0);
    rh_redis_cfg_where(&cfg, buf, sizeof buf);
    assert_string_equal(buf, "redis://h:1/0");
}

static void test_tls_error_code_has_a_name_and_a_sentence(void **state)
{
    (void)state;
    assert_string_equal(rhai_err_name(RHAI_ETLS), "RHAI_ETLS");
    assert_string_equal(rhai_strerror(RHAI_ETLS), "TLS error");
}

/* A typo in the host: one failed lookup is the answer, not a retry of
 * "the next address" for ever (rhaictl and rhaid's start hung on it). */
static void test_a_host_that_does_not_resolve_fails_at_once_naming_it(void **state)
{
    static const char *const urls[] = { "redis://no-such-host.invalid:6379",
                                        "rediss://no-such-host.invalid:6380",
                                        "redis://bad host:6379" };
    rh_redis_cfg cfg;
    rh_sconn *c;
    rhai_error err;
    (void)state;
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        assert_int_equal(rh_redis_cfg_init(&cfg, urls[i], NULL), 0);
        cfg.connect_ms = 2000;
        c = (rh_sconn *)&cfg;
        memset(&err, 0, sizeof err);
        alarm(30);                       /* a hang is a failure, not a stuck run */
        assert_int_equal(rh_sconn_open(&cfg, NULL, &c, &err), RHAI_ECONN);
        alarm(0);
        assert_null(c);
        if (strstr(err.msg, "cannot resolve") == NULL)
            fail_msg("%s: message '%s' lacks 'cannot resolve'", urls[i], err.msg);
    }
}
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rediss_url_sets_tls_and_every_option),
        cmocka_unit_test(test_rediss_url_without_options_verifies_by_default),
        cmocka_unit_test(test_old_url_parser_still_refuses_rediss),
        cmocka_unit_test(test_bad_tls_urls_are_refused_with_the_reason),
        cmocka_unit_test(test_options_by_name_override_the_url),
        cmocka_unit_test(test_bad_options_by_name_leave_the_config_alone),
        cmocka_unit_test(test_check_refuses_half_a_client_identity_and_tls_options_without_tls),
        cmocka_unit_test(test_safe_form_hides_the_password_and_says_tls),
        cmocka_unit_test(test_tls_error_code_has_a_name_and_a_sentence),
        cmocka_unit_test(test_a_host_that_does_not_resolve_fails_at_once_naming_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
