/* test_tls_e2e.c -- rhaid, librhai-client and rhaictl over TLS, end to
 * end, against redis-server's own tls-port with the throwaway PKI of
 * tests/support/tls-pki.sh (th_tls):
 *
 *  - a task submitted by the client (rediss://...?ca=), run by rhaid
 *    (--tls-ca), answered, then shown by rhaictl (RHAI_REDIS_TLS_CA);
 *  - rhaid with a CA that did not sign the server's certificate exits 5 at
 *    start, its log line naming OpenSSL's verify reason; with a CA file
 *    that cannot be loaded, too, Redis up or down;
 *  - an expired server certificate is refused by the client (RHAI_ETLS,
 *    "certificate has expired") and by rhaid (exit 5, the same words);
 *  - a server requiring client certificates: rhaid without one exits 5
 *    saying so; with --tls-cert/--tls-key it serves;
 *  - the async client with a wrong CA: a submit refused says why. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "rhai/rhai.h"
#include "th_tls.h"

static th_tls g_ok;       /* valid certificate, client certificates optional */
static th_tls g_mtls;     /* client certificate required */
static th_tls g_exp;      /* expired server certificate */

/* rediss://127.0.0.1:PORT (rhaid takes the CA as an option) */
static const char *tls_url(const th_tls *t, char *buf, size_t n)
{
    snprintf(buf, n, "rediss://127.0.0.1:%d", t->r.port);
    return buf;
}

/* Spawn rhaid for 'worker' on t with extra args (NULL-terminated); log in
 * t's dir, its path into log. */
static pid_t rhaid_spawn(const th_tls *t, const char *worker, const char *const extra[],
                         char *log, size_t logn)
{
    static int seq;
    char bin[512], url[128], data[400];
    char *argv[40];
    int argc = 0;

    snprintf(log, logn, "%s/rhaid-tls-%d.log", t->r.dir, ++seq);
    /* executors (nobody when the tests run as root) reach the data dir */
    th_sh("chmod o+x %s", t->r.dir);
    snprintf(data, sizeof data, "%s/data-%s-%d", t->r.dir, worker, seq);
    argv[argc++] = (char *)th_bin("rhaid", bin, sizeof bin);
    argv[argc++] = "--redis-url";
    argv[argc++] = (char *)tls_url(t, url, sizeof url);
    argv[argc++] = "--worker-id";
    argv[argc++] = (char *)worker;
    argv[argc++] = "--concurrency";
    argv[argc++] = "1";
    argv[argc++] = "--data-dir";
    argv[argc++] = data;
    for (size_t i = 0; extra && extra[i] && argc < 38; i++)
        argv[argc++] = (char *)extra[i];
    argv[argc] = NULL;
    return th_spawn(argv, NULL, log);
}

/* rhaid must exit with 'code' within 20 s and its log hold 'want'. */
static void rhaid_exits(pid_t pid, const char *log, int code, const char *want)
{
    int st;

    assert_true(pid > 0);
    st = th_wait(pid, 20000);
    if (st < 0) {
        th_stop(pid, 5000);
        fail_msg("rhaid did not exit (log %s)", log);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != code) {
        th_sh("cat %s >&2", log);
        fail_msg("rhaid: want exit %d, got status 0x%x (log %s)", code, st, log);
    }
    if (th_sh("grep -q 'event=redis_tls_failed.*%s.*rhaid exits %d' %s", want, code, log) != 0) {
        th_sh("cat %s >&2", log);
        fail_msg("rhaid's log lacks the TLS reason '%s'", want);
    }
}

/* Run "1 + 41" on 'worker' with the client over TLS; the result is 42. */
static void run_one(const th_tls *t, const char *worker, char id_out[RHAI_ID_MAX]);

/* tls_verify no: rhaid serves with a CA that did not sign the server's
 * certificate, and says at start, at warn, that nothing is checked. */
static void test_rhaid_with_tls_verify_no_serves_and_warns(void **state)
{
    char ca[400], log[400], id[RHAI_ID_MAX];
    const char *extra[] = { "--tls-ca", th_tls_file(&g_ok, "other-ca.crt", ca, sizeof ca),
                            "--tls-verify", "no", NULL };
    pid_t pid;
    (void)state;

    pid = rhaid_spawn(&g_ok, "tlsnov", extra, log, sizeof log);
    assert_true(pid > 0);
    run_one(&g_ok, "tlsnov", id);
    assert_int_equal(th_sh("grep -q 'level=warn event=tls_unverified ' %s", log), 0);
    assert_int_equal(WEXITSTATUS(th_stop(pid, 10000)), 0);
}

/* Run "1 + 41" on 'worker' with the client over TLS; the result is 42. */
static void run_one(const th_tls *t, const char *worker, char id_out[RHAI_ID_MAX])
{
    char url[1200], ca[400];
    rhai_client *c = NULL;
    rhai_task *task = NULL;
    rhai_result *res = NULL;
    rhai_error err = { 0, "" };

    snprintf(url, sizeof url, "rediss://127.0.0.1:%d?ca=%s", t->r.port,
             th_tls_file(t, "ca.crt", ca, sizeof ca));
    if (rhai_client_connect(url, NULL, &c, &err) != 0)
        fail_msg("connect %s: %s", url, err.msg);
    assert_int_equal(rhai_task_new("1 + 41", &task), 0);
    assert_int_equal(rhai_task_set_worker(task, worker), 0);
    int rc = rhai_run(c, task, 20000, &res, &err);
    if (rc != 0)
        fail_msg("run: %s (%s)", rhai_err_name(rc), err.msg);
    assert_string_equal(rhai_result_status_name(res), "done");
    assert_string_equal(rhai_result_output(res), "42");
    snprintf(id_out, RHAI_ID_MAX, "%s", rhai_result_id(res));
    rhai_result_free(res);
    rhai_task_free(task);
    rhai_client_free(c);
}

static void test_rhaid_client_and_rhaictl_over_tls_submit_run_and_show(void **state)
{
    char ca[400], ctl[512], url[128], id[RHAI_ID_MAX], log[400], out[400];
    const char *extra[] = { "--tls-ca", th_tls_file(&g_ok, "ca.crt", ca, sizeof ca), NULL };
    pid_t pid;
    (void)state;

    pid = rhaid_spawn(&g_ok, "tlsw", extra, log, sizeof log);
    assert_true(pid > 0);
    run_one(&g_ok, "tlsw", id);
    /* rhaictl: the URL as a flag, the CA from the environment */
    snprintf(out, sizeof out, "%s/ctl.out", g_ok.r.dir);
    if (th_sh("RHAI_REDIS_TLS_CA=%s %s --redis-url %s task show %s > %s 2>&1", ca,
              th_bin("rhaictl", ctl, sizeof ctl), tls_url(&g_ok, url, sizeof url), id, out)
        != 0) {
        th_sh("cat %s >&2", out);
        fail_msg("rhaictl task show over TLS failed");
    }
    assert_int_equal(th_sh("grep -q '%s' %s && grep -q done %s", id, out, out), 0);
    /* and without the CA rhaictl says why, as a connection failure */
    assert_int_not_equal(th_sh("RHAI_REDIS_TLS_CA= %s --redis-url %s workers > %s 2>&1",
                               ctl, url, out), 0);
    assert_int_equal(th_sh("grep -q 'certificate verify failed' %s", out), 0);
    assert_int_equal(WEXITSTATUS(th_stop(pid, 10000)), 0);
}

static void test_rhaid_with_a_wrong_ca_exits_5_naming_the_verify_reason(void **state)
{
    char ca[400], log[400];
    const char *extra[] = { "--tls-ca", th_tls_file(&g_ok, "other-ca.crt", ca, sizeof ca),
                            NULL };
    (void)state;

    rhaid_exits(rhaid_spawn(&g_ok, "tlsbad", extra, log, sizeof log), log, 5,
                "certificate verify failed");
}

/* A CA file that cannot be loaded is refused at start, exit 5, whether or
 * not Redis is up (down, rhaid started, then failed as start_failed with
 * exit 1 when its connections first tried TLS). */
static void test_rhaid_with_a_missing_ca_file_exits_5_with_redis_down(void **state)
{
    char ca[400], log[400];
    const char *extra[] = { "--tls-ca", th_tls_file(&g_ok, "no-such-ca.crt", ca, sizeof ca),
                            NULL };
    th_tls down = g_ok;                 /* its dir for the log; no server on the port */
    (void)state;

    down.r.port = th_free_port();
    rhaid_exits(rhaid_spawn(&down, "tlsnoca", extra, log, sizeof log), log, 5,
                "cannot load the CA file .*no-such-ca.crt.*No such file or directory");
    rhaid_exits(rhaid_spawn(&g_ok, "tlsnoca", extra, log, sizeof log), log, 5,
                "cannot load the CA file");
}

static void test_an_expired_server_certificate_is_refused_by_client_and_rhaid(void **state)
{
    char ca[400], url[1200], log[400];
    const char *extra[] = { "--tls-ca", th_tls_file(&g_exp, "ca.crt", ca, sizeof ca), NULL };
    rhai_client *c = NULL;
    rhai_error err = { 0, "" };
    (void)state;

    snprintf(url, sizeof url, "rediss://127.0.0.1:%d?ca=%s", g_exp.r.port, ca);
    assert_int_equal(rhai_client_connect(url, NULL, &c, &err), RHAI_ETLS);
    assert_null(c);
    if (strstr(err.msg, "certificate has expired") == NULL)
        fail_msg("client: %s", err.msg);
    rhaid_exits(rhaid_spawn(&g_exp, "tlsexp", extra, log, sizeof log), log, 5,
                "certificate has expired");
}

static void test_a_required_client_certificate_is_named_then_used(void **state)
{
    char ca[400], cert[400], key[400], log[400], id[RHAI_ID_MAX];
    const char *without[] = { "--tls-ca", th_tls_file(&g_mtls, "ca.crt", ca, sizeof ca), NULL };
    const char *with[] = { "--tls-ca", ca,
                           "--tls-cert", th_tls_file(&g_mtls, "client.crt", cert, sizeof cert),
                           "--tls-key", th_tls_file(&g_mtls, "client.key", key, sizeof key),
                           NULL };
    char env_cert[500], env_key[500];
    pid_t pid;
    (void)state;

    rhaid_exits(rhaid_spawn(&g_mtls, "tlsm0", without, log, sizeof log), log, 5,
                "client certificate");
    pid = rhaid_spawn(&g_mtls, "tlsm", with, log, sizeof log);
    assert_true(pid > 0);
    /* the client takes its certificate from the environment */
    snprintf(env_cert, sizeof env_cert, "%s", cert);
    snprintf(env_key, sizeof env_key, "%s", key);
    setenv("RHAI_REDIS_TLS_CERT", env_cert, 1);
    setenv("RHAI_REDIS_TLS_KEY", env_key, 1);
    run_one(&g_mtls, "tlsm", id);
    unsetenv("RHAI_REDIS_TLS_CERT");
    unsetenv("RHAI_REDIS_TLS_KEY");
    assert_int_equal(WEXITSTATUS(th_stop(pid, 10000)), 0);
}

static void on_async_done(rhai_async *a, int status, const rhai_result *res, void *data)
{
    (void)a;
    (void)status;
    (void)res;
    (*(int *)data)++;
}

static void on_async_closed(rhai_async *a, void *data)
{
    (void)a;
    *(int *)data = 1;
}

static void on_async_tick(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* The async client with a CA that did not sign the server: a submit
 * refused while it reconnects says why (it said "not connected to URL
 * (reconnecting)" alone, for ever). */
static void test_async_client_with_a_wrong_ca_says_why_a_submit_is_refused(void **state)
{
    char url[600], ca[400];
    uv_loop_t loop;
    uv_timer_t tick;
    rhai_async *a = NULL;
    rhai_task *task = NULL;
    rhai_error err = { 0, "" };
    int rc = 0, done = 0, closed = 0;
    (void)state;
    snprintf(url, sizeof url, "rediss://127.0.0.1:%d?ca=%s", g_ok.r.port,
             th_tls_file(&g_ok, "other-ca.crt", ca, sizeof ca));
    assert_int_equal(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &tick);
    assert_int_equal(rhai_async_new(&loop, url, NULL, &a, &err), 0);
    assert_int_equal(rhai_task_new("1 + 1", &task), 0);
    assert_int_equal(rhai_task_set_worker(task, "tls-async"), 0);
    for (int i = 0; i < 50; i++) {          /* until the first attempt has failed */
        uv_timer_start(&tick, on_async_tick, 100, 0);
        uv_run(&loop, UV_RUN_DEFAULT);
        memset(&err, 0, sizeof err);
        if ((rc = rhai_async_submit(a, task, 1000, on_async_done, &done, &err)) != 0)
            break;
    }
    assert_int_equal(rc, RHAI_ECONN);
    if (strstr(err.msg, "certificate verify failed") == NULL)
        fail_msg("submit refused: '%s' lacks the TLS cause", err.msg);
    rhai_task_free(task);
    rhai_async_close(a, on_async_closed, &closed);
    uv_close((uv_handle_t *)&tick, NULL);
    while (!closed)
        uv_run(&loop, UV_RUN_ONCE);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static int setup(void **state)
{
    (void)state;
    if (th_tls_start(&g_ok, "server", "optional", NULL) != 0 ||
        th_tls_start(&g_mtls, "server", "yes", NULL) != 0 ||
        th_tls_start(&g_exp, "expired", "no", NULL) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    th_redis_stop(&g_ok.r);
    th_redis_stop(&g_mtls.r);
    th_redis_stop(&g_exp.r);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rhaid_client_and_rhaictl_over_tls_submit_run_and_show),
        cmocka_unit_test(test_rhaid_with_a_wrong_ca_exits_5_naming_the_verify_reason),
        cmocka_unit_test(test_rhaid_with_tls_verify_no_serves_and_warns),
        cmocka_unit_test(test_rhaid_with_a_missing_ca_file_exits_5_with_redis_down),
        cmocka_unit_test(test_an_expired_server_certificate_is_refused_by_client_and_rhaid),
        cmocka_unit_test(test_a_required_client_certificate_is_named_then_used),
        cmocka_unit_test(test_async_client_with_a_wrong_ca_says_why_a_submit_is_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
