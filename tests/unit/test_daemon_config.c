/* test_daemon_config.c -- rhaid's option table: defaults, file, environment
 * and flag precedence, and errors that name the file and line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/daemon.h"

static char conf_path[64];

static int write_conf(const char *text)
{
    FILE *f;
    strcpy(conf_path, "/tmp/rhaid-conf-XXXXXX");
    int fd = mkstemp(conf_path);
    if (fd < 0 || (f = fdopen(fd, "w")) == NULL)
        return -1;
    fputs(text, f);
    fclose(f);
    return 0;
}

static int clean_env(void **state)
{
    (void)state;
    unsetenv("RHAID_CONFIG");
    unsetenv("RHAI_REDIS_URL");
    unsetenv("RHAI_CONCURRENCY");
    unsetenv("RHAI_WORKER_ID");
    unsetenv("RHAI_DATA_URL");
    unsetenv("RHAI_DATA_DIR");
    if (conf_path[0])
        unlink(conf_path);
    conf_path[0] = '\0';
    return 0;
}

static int load(wk_config *c, rhai_error *err, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    argv[argc++] = "rhaid";
    va_start(ap, err);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 31;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    memset(err, 0, sizeof *err);
    return wk_config_load(c, argc, argv, err);
}

static void test_defaults_are_safe_and_documented(void **state)
{
    wk_config c;
    rhai_error err;
    (void)state;
    assert_int_equal(load(&c, &err, NULL), 0);
    assert_string_equal(c.redis_url, "redis://127.0.0.1:6379");
    assert_string_equal(c.prefix, "rhai");
    assert_string_equal(c.worker_id, "default");
    assert_true(c.concurrency >= 1);
    assert_int_equal(c.default_timeout_ms, 30000);
    assert_int_equal(c.memory, 64 * 1024 * 1024);
    assert_int_equal(c.max_script, 1024 * 1024);
    assert_int_equal(c.max_output, 1024 * 1024);
    assert_int_equal(c.max_logs, 64 * 1024);
    assert_int_equal(c.max_attempts, 3);
    assert_int_equal(c.store_retry_ms, 60000);    /* a store outage: retried 60 s */
    assert_int_equal(c.result_ttl_ms, 86400000);
    assert_true(c.heartbeat_ttl_ms > c.heartbeat_ms);
    wk_config_free(&c);
}

static void test_flags_beat_environment_which_beats_the_file(void **state)
{
    wk_config c;
    rhai_error err;
    (void)state;
    assert_int_equal(write_conf("# comment\nconcurrency = 3\nworker_id = fromfile\n"
                                "memory_limit = 32M\nmax_logs=\"1k\"\n"), 0);
    setenv("RHAI_WORKER_ID", "fromenv", 1);
    assert_int_equal(load(&c, &err, "--config", conf_path, "--concurrency", "5", NULL), 0);
    assert_int_equal(c.concurrency, 5);                 /* flag */
    assert_string_equal(c.worker_id, "fromenv");        /* env over file */
    assert_int_equal(c.memory, 32 * 1024 * 1024);       /* file, with a unit */
    assert_int_equal(c.max_logs, 1024);
    assert_string_equal(c.config_file, conf_path);
    wk_config_free(&c);

    assert_int_equal(load(&c, &err, "--config=/nonexistent/rhaid.conf", NULL), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "/nonexistent/rhaid.conf"));
    wk_config_free(&c);
}

static void test_file_errors_name_the_line_and_reason(void **state)
{
    wk_config c;
    rhai_error err;
    char want[128];
    (void)state;
    assert_int_equal(write_conf("concurrency = 2\n\nno_such_key = 1\n"), 0);
    assert_int_equal(load(&c, &err, "--config", conf_path, NULL), RHAI_EINVAL);
    snprintf(want, sizeof want, "%s:3: unknown option 'no_such_key'", conf_path);
    assert_string_equal(err.msg, want);
    wk_config_free(&c);
    unlink(conf_path);

    assert_int_equal(write_conf("concurrency = 0\n"), 0);
    assert_int_equal(load(&c, &err, "--config", conf_path, NULL), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, ":1: concurrency: 0 is out of range"));
    wk_config_free(&c);
    unlink(conf_path);

    assert_int_equal(write_conf("just some words\n"), 0);
    assert_int_equal(load(&c, &err, "--config", conf_path, NULL), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, ":1: expected 'key = value'"));
    wk_config_free(&c);
}

static void test_bad_flags_and_values_are_rejected_with_a_reason(void **state)
{
    wk_config c;
    rhai_error err;
    (void)state;
    assert_int_equal(load(&c, &err, "--bogus", "1", NULL), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "unknown option '--bogus'"));
    wk_config_free(&c);
    assert_int_equal(load(&c, &err, "--concurrency", NULL), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "needs a value"));
    wk_config_free(&c);
    assert_int_equal(load(&c, &err, "--memory-limit", "lots", NULL), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "not an integer"));
    wk_config_free(&c);
    assert_int_equal(load(&c, &err, "--worker-id", "a b", NULL), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "worker_id"));
    wk_config_free(&c);
    assert_int_equal(load(&c, &err, "--redis-url", "http://x", NULL), RHAI_EINVAL);
    wk_config_free(&c);
    assert_int_equal(load(&c, &err, "--log-level", "loud", NULL), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "unknown log level"));
    wk_config_free(&c);
    assert_int_equal(load(&c, &err, "--heartbeat-ms", "5000", "--heartbeat-ttl-ms", "1000",
                          NULL), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "heartbeat_ttl_ms"));
    wk_config_free(&c);
    setenv("RHAI_CONCURRENCY", "many", 1);
    assert_int_equal(load(&c, &err, NULL), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "$RHAI_CONCURRENCY"));
    wk_config_free(&c);
}

static void test_reload_copies_only_reloadable_fields(void **state)
{
    wk_config a, b;
    rhai_error err;
    char changed[128], restart[128];
    (void)state;
    assert_int_equal(load(&a, &err, "--concurrency", "2", "--max-logs", "100", NULL), 0);
    assert_int_equal(load(&b, &err, "--concurrency", "9", "--max-logs", "200",
                          "--log-level", "debug", NULL), 0);
    wk_config_apply_reloadable(&a, &b, changed, sizeof changed, restart, sizeof restart);
    assert_int_equal(a.concurrency, 2);              /* needs a restart */
    assert_int_equal(a.max_logs, 200);
    assert_int_equal(a.log_level, RH_LOG_DEBUG);
    assert_string_equal(changed, "concurrency,log_level,max_logs");
    assert_string_equal(restart, "concurrency");
    wk_config_apply_reloadable(&a, &b, changed, 12, restart, sizeof restart);
    assert_string_equal(changed, "concurrency");     /* only concurrency still differs */
    wk_config_free(&a);
    wk_config_free(&b);
}

static void rewrite_conf(const char *text)
{
    FILE *f = fopen(conf_path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Issue 16, item 12: started with --log-level debug, a SIGHUP reload lost
 * it. A reload builds the config again from the file, the environment and
 * the flags rhaid was started with, in that order. */
static void test_a_reload_applies_file_then_environment_then_the_same_flags(void **state)
{
    wk_config c;
    rhai_error err;
    char changed[256], restart[256];
    (void)state;

    assert_int_equal(write_conf("log_level = warn\nmax_logs = 100\nconcurrency = 2\n"), 0);
    setenv("RHAI_MAX_ATTEMPTS", "5", 1);
    assert_int_equal(load(&c, &err, "--config", conf_path, "--log-level", "debug",
                          "--grace-ms", "777", NULL), 0);
    assert_int_equal(c.log_level, RH_LOG_DEBUG);
    assert_int_equal(c.max_logs, 100);
    assert_int_equal(c.max_attempts, 5);

    rewrite_conf("log_level = error\nmax_logs = 200\nconcurrency = 3\ngrace_ms = 1\n"
                 "max_attempts = 9\n");
    setenv("RHAI_MAX_ATTEMPTS", "6", 1);
    assert_int_equal(wk_config_reload(&c, changed, sizeof changed, restart, sizeof restart,
                                      &err), 0);
    assert_int_equal(c.log_level, RH_LOG_DEBUG);     /* the flag still wins */
    assert_int_equal(c.grace_ms, 777);               /* likewise */
    assert_int_equal(c.max_logs, 200);               /* from the file */
    assert_int_equal(c.max_attempts, 6);             /* the environment beats the file */
    assert_int_equal(c.concurrency, 2);              /* not reloadable: kept */
    assert_string_equal(changed, "concurrency,max_logs,max_attempts");
    assert_string_equal(restart, "concurrency");

    /* nothing changed: nothing listed */
    assert_int_equal(wk_config_reload(&c, changed, sizeof changed, restart, sizeof restart,
                                      &err), 0);
    assert_string_equal(changed, "concurrency");     /* still wanted, still not applied */
    assert_string_equal(restart, "concurrency");

    /* a broken file: refused with its line, the running config untouched */
    rewrite_conf("max_logs = 300\nnot an option line\n");
    assert_int_equal(wk_config_reload(&c, changed, sizeof changed, restart, sizeof restart,
                                      &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, ":2:"));
    assert_int_equal(c.max_logs, 200);
    assert_int_equal(c.log_level, RH_LOG_DEBUG);
    wk_config_free(&c);
    unsetenv("RHAI_MAX_ATTEMPTS");
}

static void test_dev_mode_is_off_by_default_and_a_bare_flag_turns_it_on(void **state)
{
    wk_config c;
    rhai_error err;
    (void)state;
    unsetenv("RHAI_DEV_MODE");
    assert_int_equal(load(&c, &err, NULL), 0);
    assert_int_equal(c.dev_mode, 0);
    wk_config_free(&c);
    assert_int_equal(load(&c, &err, "--dev-mode", NULL), 0);
    assert_int_equal(c.dev_mode, 1);
    wk_config_free(&c);
    assert_int_equal(load(&c, &err, "--dev-mode", "--concurrency", "2", NULL), 0);
    assert_int_equal(c.dev_mode, 1);
    assert_int_equal(c.concurrency, 2);
    wk_config_free(&c);
    assert_int_equal(load(&c, &err, "--dev-mode", "false", NULL), 0);
    assert_int_equal(c.dev_mode, 0);
    wk_config_free(&c);
    assert_int_equal(load(&c, &err, "--dev-mode=yes", NULL), 0);
    assert_int_equal(c.dev_mode, 1);
    wk_config_free(&c);
    setenv("RHAI_DEV_MODE", "1", 1);
    assert_int_equal(load(&c, &err, NULL), 0);
    assert_int_equal(c.dev_mode, 1);
    wk_config_free(&c);
    setenv("RHAI_DEV_MODE", "maybe", 1);
    assert_int_equal(load(&c, &err, NULL), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "not a boolean"));
    wk_config_free(&c);
    unsetenv("RHAI_DEV_MODE");
}

/* data_dir is the shorthand of data_url = sqlite://DIR: the default store
 * is sqlite:///var/lib/rhaid, either key sets both, a postgres url leaves
 * no data dir (issue 17). */
static void test_data_dir_is_the_shorthand_of_a_sqlite_data_url(void **state)
{
    wk_config c;
    rhai_error err;
    (void)state;
    assert_int_equal(load(&c, &err, NULL), 0);
    assert_string_equal(c.data_url, "sqlite:///var/lib/rhaid");
    assert_string_equal(c.data_dir, "/var/lib/rhaid");
    wk_config_free(&c);
    assert_int_equal(load(&c, &err, "--data-dir", "/srv/rhai", NULL), 0);
    assert_string_equal(c.data_url, "sqlite:///srv/rhai");
    wk_config_free(&c);
    assert_int_equal(load(&c, &err, "--data-dir", "rel/dir", NULL), 0);
    assert_string_equal(c.data_url, "sqlite:rel/dir");
    wk_config_free(&c);
    assert_int_equal(load(&c, &err, "--data-url", "sqlite:///srv/x", NULL), 0);
    assert_string_equal(c.data_dir, "/srv/x");
    wk_config_free(&c);
    setenv("RHAI_DATA_URL", "postgres://rhai@127.0.0.1:5432/rhai", 1);
    assert_int_equal(load(&c, &err, NULL), 0);
    assert_string_equal(c.data_url, "postgres://rhai@127.0.0.1:5432/rhai");
    assert_string_equal(c.data_dir, "");
    wk_config_free(&c);
    unsetenv("RHAI_DATA_URL");
    /* the same directory twice is no conflict */
    assert_int_equal(load(&c, &err, "--data-dir", "/srv/x/", "--data-url", "sqlite:///srv/x",
                          NULL), 0);
    wk_config_free(&c);
}

/* Both given, naming two stores, is an error that names where each came
 * from, whichever source ranks higher: a --data-dir left in a unit beside
 * a postgres data_url in the file must not quietly split the data. */
static void test_a_data_dir_and_a_data_url_naming_two_stores_is_an_error(void **state)
{
    wk_config c;
    rhai_error err;
    (void)state;
    assert_int_equal(write_conf("data_url = postgres://rhai:s3cret@db:5432/rhai\n"), 0);
    assert_int_equal(load(&c, &err, "--config", conf_path, "--data-dir", "/var/lib/rhaid/w1",
                          NULL), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "--data-dir"));
    assert_non_null(strstr(err.msg, conf_path));
    assert_non_null(strstr(err.msg, "two different stores"));
    assert_null(strstr(err.msg, "s3cret"));             /* masked in the message too */
    wk_config_free(&c);
    setenv("RHAI_DATA_DIR", "/a", 1);
    assert_int_equal(load(&c, &err, "--data-url", "sqlite:///b", NULL), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "$RHAI_DATA_DIR"));
    wk_config_free(&c);
}

/* --print-config never shows the store's password. */
static void test_print_config_masks_the_store_password(void **state)
{
    wk_config c;
    rhai_error err;
    char *text = NULL;
    size_t len = 0;
    FILE *f;
    (void)state;
    assert_int_equal(load(&c, &err, "--data-url", "postgres://rhai:s3cret@db:5432/rhai", NULL),
                     0);
    assert_non_null(f = open_memstream(&text, &len));
    wk_config_print(&c, f);
    fclose(f);
    assert_non_null(strstr(text, "data_url = postgres://rhai:***@db:5432/rhai\n"));
    assert_null(strstr(text, "s3cret"));
    free(text);
    wk_config_free(&c);
}

/* rediss:// with the tls_* options from the file, the environment and
 * flags (the usual order); --print-config shows them and no password;
 * TLS options on a redis:// URL, or a certificate without its key, are
 * configuration errors (exit 2), not options silently ignored. */
static void test_tls_options_come_from_file_env_and_flags_and_are_printed(void **state)
{
    wk_config c;
    rhai_error err;
    rh_redis_cfg rc;
    char *text = NULL;
    size_t len = 0;
    FILE *f;
    (void)state;

    assert_int_equal(write_conf("redis_url = rediss://u:s3cret@10.0.0.5:6380\n"
                                "tls_ca = /etc/rhaid/ca.pem\ntls_sni = from-file\n"), 0);
    setenv("RHAI_REDIS_TLS_SNI", "from-env", 1);
    assert_int_equal(load(&c, &err, "--config", conf_path, "--tls-cert", "/etc/rhaid/c.pem",
                          "--tls-key", "/etc/rhaid/c.key", NULL), 0);
    unsetenv("RHAI_REDIS_TLS_SNI");
    assert_int_equal(wk_config_redis(&c, &rc, &err), 0);
    assert_int_equal(rc.url.tls, 1);
    assert_string_equal(rc.url.tls_ca, "/etc/rhaid/ca.pem");
    assert_string_equal(rc.url.tls_sni, "from-env");
    assert_string_equal(rc.url.tls_cert, "/etc/rhaid/c.pem");
    assert_string_equal(rc.url.tls_key, "/etc/rhaid/c.key");
    assert_non_null(f = open_memstream(&text, &len));
    wk_config_print(&c, f);
    fclose(f);
    assert_non_null(strstr(text, "redis_url = rediss://***@10.0.0.5:6380/0\n"));
    assert_non_null(strstr(text, "tls_ca = /etc/rhaid/ca.pem\n"));
    assert_non_null(strstr(text, "tls_key = /etc/rhaid/c.key\n"));
    assert_null(strstr(text, "s3cret"));
    free(text);
    wk_config_free(&c);

    assert_int_equal(load(&c, &err, "--tls-ca", "/etc/rhaid/ca.pem", NULL), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "TLS options"));
    wk_config_free(&c);
    assert_int_equal(load(&c, &err, "--redis-url", "rediss://10.0.0.5", "--tls-cert", "/c.pem",
                          NULL), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "tls_cert needs tls_key"));
    wk_config_free(&c);
    assert_int_equal(load(&c, &err, "--redis-url", "rediss://10.0.0.5", "--tls-verify", "maybe",
                          NULL), RHAI_EINVAL);
    wk_config_free(&c);
}

/* A confined executor cannot resolve a host name (no /etc/hosts, no DNS):
 * rhaid pins the address for it as libpq's hostaddr, keeping the name. */
static void test_a_store_host_name_is_pinned_to_its_address_for_executors(void **state)
{
    rhai_error err;
    char *out;

    (void)state;
    assert_int_equal(wk_store_url_pin("postgres://u:pw@localhost:5433/db", &out, &err), 0);
    assert_non_null(out);
    assert_true(strcmp(out, "postgres://u:pw@localhost:5433/db?hostaddr=127.0.0.1") == 0 ||
                strcmp(out, "postgres://u:pw@localhost:5433/db?hostaddr=::1") == 0);
    rh_free(out);
    assert_int_equal(wk_store_url_pin("postgres://u@localhost/db?sslmode=disable", &out, &err), 0);
    assert_non_null(out);
    assert_non_null(strstr(out, "?sslmode=disable&hostaddr="));
    rh_free(out);
    assert_int_equal(wk_store_url_pin("host=localhost dbname=db", &out, &err), 0);
    assert_non_null(out);
    assert_non_null(strstr(out, "host=localhost dbname=db hostaddr='"));
    rh_free(out);
    /* nothing to pin: an address, a socket dir, hostaddr given, several hosts */
    assert_int_equal(wk_store_url_pin("postgres://u@127.0.0.1/db", &out, &err), 0);
    assert_null(out);
    assert_int_equal(wk_store_url_pin("host=/var/run/postgresql dbname=db", &out, &err), 0);
    assert_null(out);
    assert_int_equal(wk_store_url_pin("host=localhost hostaddr=10.0.0.1 dbname=db", &out, &err), 0);
    assert_null(out);
    assert_int_equal(wk_store_url_pin("host=localhost,localhost dbname=db", &out, &err), 0);
    assert_null(out);
    /* a name that does not resolve is said, not silently passed on */
    assert_int_equal(wk_store_url_pin("postgres://u@no-such-host.invalid/db", &out, &err),
                     RHAI_EIO);
    assert_null(out);
    assert_non_null(strstr(err.msg, "no-such-host.invalid"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults_are_safe_and_documented, clean_env, clean_env),
        cmocka_unit_test_setup_teardown(test_data_dir_is_the_shorthand_of_a_sqlite_data_url, clean_env, clean_env),
        cmocka_unit_test_setup_teardown(test_a_data_dir_and_a_data_url_naming_two_stores_is_an_error, clean_env, clean_env),
        cmocka_unit_test_setup_teardown(test_print_config_masks_the_store_password, clean_env, clean_env),
        cmocka_unit_test_setup_teardown(test_a_store_host_name_is_pinned_to_its_address_for_executors,
                                        clean_env, clean_env),
        cmocka_unit_test_setup_teardown(test_flags_beat_environment_which_beats_the_file, clean_env, clean_env),
        cmocka_unit_test_setup_teardown(test_file_errors_name_the_line_and_reason, clean_env, clean_env),
        cmocka_unit_test_setup_teardown(test_bad_flags_and_values_are_rejected_with_a_reason, clean_env, clean_env),
        cmocka_unit_test_setup_teardown(test_reload_copies_only_reloadable_fields, clean_env, clean_env),
        cmocka_unit_test_setup_teardown(test_a_reload_applies_file_then_environment_then_the_same_flags,
                                        clean_env, clean_env),
        cmocka_unit_test_setup_teardown(test_tls_options_come_from_file_env_and_flags_and_are_printed,
                                        clean_env, clean_env),
        cmocka_unit_test_setup_teardown(test_dev_mode_is_off_by_default_and_a_bare_flag_turns_it_on,
                                        clean_env, clean_env),
    };
    return cmocka_run_group_tests_name("daemon_config", tests, NULL, NULL);
}
