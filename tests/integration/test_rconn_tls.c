/* test_rconn_tls.c -- rediss:// through the connection layer (rconn.h,
 * rtls.c) against redis-server's own tls-port, with a throwaway PKI made
 * by the openssl CLI (tests/support/tls-pki.sh): commands, pipelines and
 * a 10 MB value sync and async, AUTH as a user over TLS, reconnect after a
 * restart, and each verification failure as RHAI_ETLS with its cause in
 * words: wrong CA, expired server certificate, name (SNI) mismatch, a
 * client certificate required and missing; and files that cannot be
 * loaded, each named with its reason. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "th_tls.h"
#include "rconn_util.h"

#define BIG (10u * 1024 * 1024)

static th_tls g_ok;       /* valid certificate, client certs optional, user alice */
static th_tls g_mtls;     /* client certificate required */
static th_tls g_exp;      /* expired server certificate */

/* rediss://[cred@]127.0.0.1:PORT?ca=<pki>/CA[&more] */
static rh_redis_cfg tls_cfg(const th_tls *t, const char *cred, const char *ca,
                            const char *more)
{
    rh_redis_cfg cfg;
    rhai_error err;
    char url[1500], caf[400];

    snprintf(url, sizeof url, "rediss://%s%s127.0.0.1:%d?ca=%s%s%s", cred ? cred : "",
             cred ? "@" : "", t->r.port, th_tls_file(t, ca, caf, sizeof caf),
             more ? "&" : "", more ? more : "");
    if (rh_redis_cfg_init(&cfg, url, &err) != 0)
        fail_msg("%s: %s", url, err.msg);
    return cfg;
}

static char *client_identity(const th_tls *t, char *buf, size_t n)
{
    char c[400], k[400];
    snprintf(buf, n, "cert=%s&key=%s", th_tls_file(t, "client.crt", c, sizeof c),
             th_tls_file(t, "client.key", k, sizeof k));
    return buf;
}

static rhai_error g_last;   /* open_fails's error */

/* The verify error of a chain from a CA we do not trust: redis-server
 * sends its CA along with its certificate (OpenSSL builds the chain from
 * tls-ca-cert-file), so it is the self-signed root that is untrusted;
 * a server sending its leaf alone gives the other wording. */
static int untrusted_issuer(const char *msg)
{
    return strstr(msg, "certificate verify failed: self-signed certificate in certificate "
                       "chain") != NULL ||
           strstr(msg, "certificate verify failed: unable to get local issuer certificate") !=
               NULL;
}

/* Open must fail with 'code' and a message holding 'want'. */
static void open_fails(const rh_redis_cfg *cfg, int code, const char *want)
{
    rh_sconn *c = NULL;
    rhai_error err;

    memset(&err, 0, sizeof err);
    memset(&err, 0, sizeof err);
    if (rh_sconn_open(cfg, NULL, &c, &err) != code)
        fail_msg("want %s, got %s: %s", rhai_err_name(code), rhai_err_name(err.code), err.msg);
    assert_null(c);
    assert_int_equal(err.code, code);
    g_last = err;
    if (strstr(err.msg, want) == NULL)
        fail_msg("message '%s' lacks '%s'", err.msg, want);
}

static rh_sconn *open_ok(const rh_redis_cfg *cfg)
{
    rh_sconn *c = NULL;
    rhai_error err;
    if (rh_sconn_open(cfg, NULL, &c, &err) != 0)
        fail_msg("open: %s", err.msg);
    return c;
}

static void test_sync_tls_commands_pipeline_and_ten_megabytes(void **state)
{
    rh_redis_cfg cfg = tls_cfg(&g_ok, NULL, "ca.crt", NULL);
    rh_sconn *c = open_ok(&cfg);
    char *big = malloc(BIG);
    const char *argv[3] = { "SET", "big", big };
    size_t lens[3] = { 3, 3, BIG };
    redisReply *r;
    rhai_error err;
    (void)state;
    assert_true(rh_sconn_is_tls(c));
    for (int i = 0; i < 1000; i++)
        assert_int_equal(rh_sconn_append(c, &err, "INCR %s", "tseq"), 0);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(rh_sconn_get_reply(c, &r, &err), 0);
        assert_int_equal(r->integer, i + 1);
        freeReplyObject(r);
    }
    assert_non_null(big);
    memset(big, 'x', BIG);
    assert_int_equal(rh_sconn_command_argv(c, 3, argv, lens, &r, &err), 0);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    assert_int_equal(rh_sconn_command(c, &r, &err, "GET big"), 0);
    assert_int_equal(r->len, BIG);
    assert_memory_equal(r->str, big, BIG);
    freeReplyObject(r);
    free(big);
    rh_sconn_free(c);
}

static void test_sync_tls_auth_as_a_user_with_password(void **state)
{
    rh_redis_cfg cfg = tls_cfg(&g_ok, "alice:s3cret", "ca.crt", NULL);
    rh_sconn *c = open_ok(&cfg);
    redisReply *r;
    rhai_error err;
    (void)state;
    assert_int_equal(rh_sconn_command(c, &r, &err, "ACL WHOAMI"), 0);
    assert_string_equal(r->str, "alice");
    freeReplyObject(r);
    rh_sconn_free(c);
    cfg = tls_cfg(&g_ok, "alice:wrong", "ca.crt", NULL);
    open_fails(&cfg, RHAI_ECONN, "AUTH refused: WRONGPASS");
}

static void test_wrong_ca_is_a_tls_error_naming_the_verify_failure(void **state)
{
    rh_redis_cfg cfg = tls_cfg(&g_ok, NULL, "other-ca.crt", NULL);
    rh_sconn *c;
    (void)state;
    open_fails(&cfg, RHAI_ETLS, "certificate verify failed: ");
    assert_true(untrusted_issuer(g_last.msg));
    /* verify=no accepts it (and says so in the URL) */
    cfg = tls_cfg(&g_ok, NULL, "other-ca.crt", "verify=no");
    c = open_ok(&cfg);
    rh_sconn_free(c);
}

static void test_missing_ca_file_is_a_tls_error_naming_the_file(void **state)
{
    rh_redis_cfg cfg = tls_cfg(&g_ok, NULL, "no-such-ca.crt", NULL);
    (void)state;
    open_fails(&cfg, RHAI_ETLS, "cannot load the CA file");
}

/* Each file an operator can get wrong says which and why in words (it
 * was "OpenSSL error 80000002" for a missing file, "unsupported" for a
 * directory or a certificate given as the key, a passphrase prompt for an
 * encrypted key). */
static void test_unloadable_tls_files_say_which_and_why(void **state)
{
    char more[1000], c[400], k[400];
    rh_redis_cfg cfg;
    (void)state;
    cfg = tls_cfg(&g_mtls, NULL, "no-such-ca.crt", NULL);
    open_fails(&cfg, RHAI_ETLS, "(tls_ca): No such file or directory");
    cfg = tls_cfg(&g_mtls, NULL, ".", NULL);                 /* the PKI directory */
    open_fails(&cfg, RHAI_ETLS, "(tls_ca): is a directory");
    cfg = tls_cfg(&g_mtls, NULL, "client.key", NULL);        /* a key, not a CA */
    open_fails(&cfg, RHAI_ETLS, "(tls_ca): no certificate or crl found (want PEM");
    snprintf(more, sizeof more, "cert=%s&key=%s", th_tls_file(&g_mtls, "no-such.crt", c, sizeof c),
             th_tls_file(&g_mtls, "client.key", k, sizeof k));
    cfg = tls_cfg(&g_mtls, NULL, "ca.crt", more);
    open_fails(&cfg, RHAI_ETLS, "(tls_cert): No such file or directory");
    snprintf(more, sizeof more, "cert=%s&key=%s", th_tls_file(&g_mtls, "client.crt", c, sizeof c),
             th_tls_file(&g_mtls, "client.crt", k, sizeof k));
    cfg = tls_cfg(&g_mtls, NULL, "ca.crt", more);            /* the certificate as key */
    open_fails(&cfg, RHAI_ETLS, "(tls_key): ");
    if (strstr(g_last.msg, "want a PEM private key") == NULL)
        fail_msg("'%s' lacks 'want a PEM private key'", g_last.msg);
    snprintf(more, sizeof more, "cert=%s&key=%s", th_tls_file(&g_mtls, "client.crt", c, sizeof c),
             th_tls_file(&g_mtls, ".", k, sizeof k));
    cfg = tls_cfg(&g_mtls, NULL, "ca.crt", more);
    open_fails(&cfg, RHAI_ETLS, "(tls_key): is a directory");
    snprintf(more, sizeof more, "cert=%s&key=%s", th_tls_file(&g_mtls, "client.crt", c, sizeof c),
             th_tls_file(&g_mtls, "server.key", k, sizeof k));
    cfg = tls_cfg(&g_mtls, NULL, "ca.crt", more);            /* another key */
    open_fails(&cfg, RHAI_ETLS, "(tls_key) does not match the certificate");
    /* an encrypted key: refused at once, never a passphrase prompt on the
     * terminal (which hung a program started from one) */
    assert_int_equal(th_sh("openssl ec -in %s -aes256 -passout pass:x -out %s/client-enc.key "
                           "2>/dev/null", th_tls_file(&g_mtls, "client.key", k, sizeof k),
                           g_mtls.pki), 0);
    snprintf(more, sizeof more, "cert=%s&key=%s", th_tls_file(&g_mtls, "client.crt", c, sizeof c),
             th_tls_file(&g_mtls, "client-enc.key", k, sizeof k));
    cfg = tls_cfg(&g_mtls, NULL, "ca.crt", more);
    open_fails(&cfg, RHAI_ETLS, "(tls_key): it is encrypted");
}

static void test_expired_server_certificate_is_refused(void **state)
{
    rh_redis_cfg cfg = tls_cfg(&g_exp, NULL, "ca.crt", NULL);
    (void)state;
    open_fails(&cfg, RHAI_ETLS, "certificate verify failed: certificate has expired");
}

static void test_server_name_must_match_the_sni_or_host(void **state)
{
    rh_redis_cfg cfg = tls_cfg(&g_ok, NULL, "ca.crt", "sni=wrong.example");
    rh_sconn *c;
    char url[600], caf[400];
    rhai_error err;
    (void)state;
    open_fails(&cfg, RHAI_ETLS, "hostname mismatch");
    cfg = tls_cfg(&g_ok, NULL, "ca.crt", "sni=localhost");     /* a SAN of the cert */
    c = open_ok(&cfg);
    rh_sconn_free(c);
    /* by name: "localhost" resolves (maybe ::1 first, refused: next address) */
    snprintf(url, sizeof url, "rediss://localhost:%d?ca=%s", g_ok.r.port,
             th_tls_file(&g_ok, "ca.crt", caf, sizeof caf));
    assert_int_equal(rh_redis_cfg_init(&cfg, url, &err), 0);
    c = open_ok(&cfg);
    rh_sconn_free(c);
}

static void test_required_client_certificate_missing_is_a_clear_error(void **state)
{
    char id[900];
    rh_redis_cfg cfg = tls_cfg(&g_mtls, NULL, "ca.crt", NULL);
    rh_sconn *c;
    redisReply *r;
    rhai_error err;
    (void)state;
    open_fails(&cfg, RHAI_ETLS, "the server requires a client certificate");
    cfg = tls_cfg(&g_mtls, NULL, "ca.crt", client_identity(&g_mtls, id, sizeof id));
    c = open_ok(&cfg);
    assert_int_equal(rh_sconn_command(c, &r, &err, "PING"), 0);
    assert_string_equal(r->str, "PONG");
    freeReplyObject(r);
    rh_sconn_free(c);
}

/* A client certificate the server will not take (here one for servers
 * only): the server's alert is named as a refusal of ours (it was "TLS
 * write failed: sslv3 alert unsupported certificate"). */
static void test_a_client_certificate_the_server_refuses_is_named(void **state)
{
    char more[1000], c[400], k[400];
    rh_redis_cfg cfg;
    (void)state;
    snprintf(more, sizeof more, "cert=%s&key=%s", th_tls_file(&g_mtls, "server.crt", c, sizeof c),
             th_tls_file(&g_mtls, "server.key", k, sizeof k));
    cfg = tls_cfg(&g_mtls, NULL, "ca.crt", more);
    open_fails(&cfg, RHAI_ETLS, "the server refused our client certificate (tls_cert): ");
}

static void test_sync_tls_subscriber_polls_its_fd_and_reads_without_blocking(void **state)
{
    rh_redis_cfg cfg = tls_cfg(&g_ok, NULL, "ca.crt", NULL);
    rh_sconn *sub = open_ok(&cfg), *pub = open_ok(&cfg);
    redisReply *r;
    rhai_error err;
    int got = 0;
    int64_t deadline;
    (void)state;
    assert_int_equal(rh_sconn_command(sub, &r, &err, "SUBSCRIBE chan"), 0);
    freeReplyObject(r);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(rh_sconn_command(pub, &r, &err, "PUBLISH chan m%d", i), 0);
        freeReplyObject(r);
    }
    deadline = rh_mono_ms() + 5000;
    while (got < 50 && rh_mono_ms() < deadline) {
        struct pollfd p = { rh_sconn_fd(sub), POLLIN, 0 };
        if (poll(&p, 1, 100) <= 0)
            continue;
        assert_int_equal(rh_sconn_read_some(sub, &err), 0);
        for (;;) {
            assert_int_equal(rh_sconn_take_reply(sub, &r, &err), 0);
            if (r == NULL)
                break;
            assert_int_equal(r->type, REDIS_REPLY_ARRAY);
            assert_string_equal(r->element[0]->str, "message");
            got++;
            freeReplyObject(r);
        }
    }
    assert_int_equal(got, 50);
    rh_sconn_free(sub);
    rh_sconn_free(pub);
}

static void test_writing_to_a_dead_tls_server_fails_without_sigpipe(void **state)
{
    rh_redis_cfg cfg = tls_cfg(&g_ok, NULL, "ca.crt", NULL);
    rh_sconn *c = open_ok(&cfg);
    char *big = malloc(BIG);
    const char *argv[3] = { "SET", "big", big };
    size_t lens[3] = { 3, 3, BIG };
    redisReply *r;
    rhai_error err;
    void (*old)(int) = signal(SIGPIPE, SIG_DFL);     /* as an application may have it */
    int rc;
    (void)state;
    assert_non_null(big);
    memset(big, 'x', BIG);
    th_redis_stop_keep(&g_ok.r);
    rc = rh_sconn_command_argv(c, 3, argv, lens, &r, &err);   /* many sends: EPIPE */
    assert_true(rc == RHAI_ECONN || rc == RHAI_ETLS);
    assert_false(rh_sconn_ok(c));
    signal(SIGPIPE, old);
    free(big);
    rh_sconn_free(c);
    assert_int_equal(th_tls_restart(&g_ok), 0);
}

/* ---- async ---- */

static void test_async_tls_pipeline_big_value_and_client_certificate(void **state)
{
    uv_loop_t loop;
    char id[900];
    rh_redis_cfg cfg = tls_cfg(&g_mtls, NULL, "ca.crt", client_identity(&g_mtls, id, sizeof id));
    tc_state st = { 0 };
    rh_aconn_opts o = tc_opts(&st);
    rh_aconn *c;
    tc_seq seq = { 0 };
    tc_reply set = { 0 }, get = { 0 };
    char *big = malloc(BIG);
    const char *argv[3] = { "SET", "abig", big };
    size_t lens[3] = { 3, 4, BIG };
    rhai_error err;
    (void)state;
    assert_non_null(big);
    memset(big, 'x', BIG);
    uv_loop_init(&loop);
    assert_int_equal(rh_aconn_new(&loop, &cfg, &o, &c, &err), 0);
    assert_true(tc_run_until(&loop, &st.ups, 1, 5000));
    for (int i = 0; i < 5000; i++)
        assert_int_equal(rh_aconn_command(c, tc_seq_cb, &seq, &err, "INCR atseq"), 0);
    assert_int_equal(rh_aconn_command_argv(c, tc_keep, &set, 3, argv, lens, &err), 0);
    assert_int_equal(rh_aconn_command(c, tc_keep, &get, &err, "GET abig"), 0);
    assert_true(tc_run_until(&loop, &get.n, 1, 30000));
    assert_int_equal(seq.n, 5000);
    assert_int_equal(seq.out_of_order, 0);
    assert_int_equal(set.type, REDIS_REPLY_STATUS);
    assert_int_equal(get.big_len, BIG);
    assert_true(get.big_ok);
    free(big);
    rh_aconn_close(c);
    assert_true(tc_run_until(&loop, &st.closed, 1, 5000));
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_async_tls_reconnects_after_a_restart(void **state)
{
    uv_loop_t loop;
    rh_redis_cfg cfg = tls_cfg(&g_ok, "alice:s3cret", "ca.crt", NULL);
    tc_state st = { 0 };
    rh_aconn_opts o = tc_opts(&st);
    rh_aconn *c;
    tc_reply k = { 0 }, who = { 0 };
    rhai_error err;
    (void)state;
    uv_loop_init(&loop);
    assert_int_equal(rh_aconn_new(&loop, &cfg, &o, &c, &err), 0);
    assert_true(tc_run_until(&loop, &st.ups, 1, 5000));
    assert_int_equal(rh_aconn_command(c, tc_keep, &k, &err, "BLPOP tnolist 0"), 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(th_tls_restart(&g_ok), 0);
    assert_true(tc_run_until(&loop, &st.ups, 2, 10000));
    assert_int_equal(st.downs, 1);
    assert_int_equal(k.nulls, 1);
    assert_int_equal(rh_aconn_command(c, tc_keep, &who, &err, "ACL WHOAMI"), 0);
    assert_true(tc_run_until(&loop, &who.n, 1, 5000));
    assert_string_equal(who.str, "alice");
    rh_aconn_close(c);
    assert_true(tc_run_until(&loop, &st.closed, 1, 5000));
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_async_wrong_ca_fails_every_attempt_with_the_tls_cause(void **state)
{
    uv_loop_t loop;
    rh_redis_cfg cfg = tls_cfg(&g_ok, NULL, "other-ca.crt", NULL);
    tc_state st = { 0 };
    rh_aconn_opts o = tc_opts(&st);
    rh_aconn *c;
    tc_reply k = { 0 };
    rhai_error err;
    (void)state;
    uv_loop_init(&loop);
    assert_int_equal(rh_aconn_new(&loop, &cfg, &o, &c, &err), 0);
    assert_true(tc_run_until_fail(&loop, c, RH_RCONN_FAIL_TLS));
    assert_int_equal(rh_aconn_last_error(c)->code, RHAI_ETLS);
    assert_true(untrusted_issuer(rh_aconn_last_error(c)->msg));
    memset(&err, 0, sizeof err);
    assert_int_equal(rh_aconn_command(c, tc_keep, &k, &err, "PING"), RHAI_ECONN);
    assert_non_null(strstr(err.msg, "certificate verify failed"));
    assert_int_equal(st.ups, 0);
    rh_aconn_close(c);
    assert_true(tc_run_until(&loop, &st.closed, 1, 5000));
    assert_int_equal(k.n, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* After a TLS failure the next attempt reads the files again: a CA file
 * fixed on disk is picked up without a restart, as the retry promises
 * (the files were read once, so it failed for ever). */
static void test_async_picks_up_a_ca_file_fixed_after_a_tls_failure(void **state)
{
    uv_loop_t loop;
    rh_redis_cfg cfg;
    tc_state st = { 0 };
    rh_aconn_opts o = tc_opts(&st);
    rh_aconn *c;
    rhai_error err;
    (void)state;
    assert_int_equal(th_sh("cp %s/other-ca.crt %s/ca-fixed-later.crt", g_ok.pki, g_ok.pki), 0);
    cfg = tls_cfg(&g_ok, NULL, "ca-fixed-later.crt", NULL);
    uv_loop_init(&loop);
    assert_int_equal(rh_aconn_new(&loop, &cfg, &o, &c, &err), 0);
    assert_true(tc_run_until_fail(&loop, c, RH_RCONN_FAIL_TLS));
    assert_int_equal(th_sh("cp %s/ca.crt %s/ca-fixed-later.crt", g_ok.pki, g_ok.pki), 0);
    assert_true(tc_run_until(&loop, &st.ups, 1, 10000));   /* the retry: 1 s, 2 s */
    rh_aconn_close(c);
    assert_true(tc_run_until(&loop, &st.closed, 1, 5000));
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* redis:// to the TLS port: the server resets a client speaking RESP;
 * that is said at once, sync and async, with the likely cause (it was
 * "read: Connection reset by peer" alone). */
static void test_plain_url_on_the_tls_port_says_use_rediss(void **state)
{
    char url[128];
    rh_redis_cfg cfg;
    rh_sconn *c = NULL;
    rhai_error err;
    uv_loop_t loop;
    tc_state st = { 0 };
    rh_aconn_opts o = tc_opts(&st);
    rh_aconn *ac;
    int failed = 0;
    (void)state;
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", g_ok.r.port);
    assert_int_equal(rh_redis_cfg_init(&cfg, url, &err), 0);
    memset(&err, 0, sizeof err);
    assert_int_not_equal(rh_sconn_open(&cfg, NULL, &c, &err), 0);
    assert_null(c);
    assert_true(err.code == RHAI_ECONN || err.code == RHAI_EPROTO);
    if (strstr(err.msg, "is it a TLS port? then use rediss://") == NULL)
        fail_msg("'%s' lacks the rediss:// hint", err.msg);
    assert_null(strstr(err.msg, "timed out"));      /* the reset, not the connect limit */
    uv_loop_init(&loop);
    assert_int_equal(rh_aconn_new(&loop, &cfg, &o, &ac, &err), 0);
    for (int i = 0; i < 500 && !failed; i++) {
        uv_run(&loop, UV_RUN_ONCE);
        failed = rh_aconn_last_error(ac)->code != 0;
    }
    assert_true(failed);
    if (strstr(rh_aconn_last_error(ac)->msg, "then use rediss://") == NULL)
        fail_msg("async: '%s' lacks the rediss:// hint", rh_aconn_last_error(ac)->msg);
    assert_int_equal(st.ups, 0);
    rh_aconn_close(ac);
    assert_true(tc_run_until(&loop, &st.closed, 1, 5000));
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* rediss:// to a port whose server answers the hello with bytes of
 * another protocol (an error line, as a Redis reply or an HTTP server
 * would): OpenSSL's "wrong version number" comes with the likely cause. */
static void test_rediss_to_a_server_answering_plain_bytes_says_so(void **state)
{
    int port, s = th_listen(&port), st;
    char url[128], buf[512];
    rh_redis_cfg cfg;
    rhai_error err;
    pid_t pid;
    (void)state;
    assert_true(s >= 0);
    if ((pid = fork()) == 0) {              /* answer one hello, then go */
        static const char junk[] = "-ERR this is not TLS\r\n-ERR this is not TLS\r\n";
        int c = accept(s, NULL, NULL);
        if (c >= 0 && read(c, buf, sizeof buf) > 0 && write(c, junk, sizeof junk - 1) > 0)
            sleep(2);
        _exit(0);
    }
    assert_true(pid > 0);
    close(s);
    snprintf(url, sizeof url, "rediss://127.0.0.1:%d", port);
    assert_int_equal(rh_redis_cfg_init(&cfg, url, &err), 0);
    open_fails(&cfg, RHAI_ETLS, "(does the server speak TLS on this port?)");
    kill(pid, SIGTERM);
    waitpid(pid, &st, 0);
}

static int setup(void **state)
{
    static const char *const alice[] = { "--user", "alice", "on", ">s3cret", "~*", "&*",
                                         "+@all", NULL };
    (void)state;
    if (th_tls_start(&g_ok, "server", "optional", alice) != 0 ||
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
        cmocka_unit_test(test_sync_tls_commands_pipeline_and_ten_megabytes),
        cmocka_unit_test(test_sync_tls_auth_as_a_user_with_password),
        cmocka_unit_test(test_wrong_ca_is_a_tls_error_naming_the_verify_failure),
        cmocka_unit_test(test_missing_ca_file_is_a_tls_error_naming_the_file),
        cmocka_unit_test(test_unloadable_tls_files_say_which_and_why),
        cmocka_unit_test(test_expired_server_certificate_is_refused),
        cmocka_unit_test(test_server_name_must_match_the_sni_or_host),
        cmocka_unit_test(test_required_client_certificate_missing_is_a_clear_error),
        cmocka_unit_test(test_a_client_certificate_the_server_refuses_is_named),
        cmocka_unit_test(test_sync_tls_subscriber_polls_its_fd_and_reads_without_blocking),
        cmocka_unit_test(test_writing_to_a_dead_tls_server_fails_without_sigpipe),
        cmocka_unit_test(test_async_tls_pipeline_big_value_and_client_certificate),
        cmocka_unit_test(test_async_tls_reconnects_after_a_restart),
        cmocka_unit_test(test_async_wrong_ca_fails_every_attempt_with_the_tls_cause),
        cmocka_unit_test(test_async_picks_up_a_ca_file_fixed_after_a_tls_failure),
        cmocka_unit_test(test_plain_url_on_the_tls_port_says_use_rediss),
        cmocka_unit_test(test_rediss_to_a_server_answering_plain_bytes_says_so),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
