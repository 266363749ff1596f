/* test_operate.c -- what an operator sees of rhaid: Prometheus metrics
 * scraped over HTTP during a run, and the systemd notify messages captured
 * on a test NOTIFY_SOCKET (READY, WATCHDOG, STATUS, STOPPING). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

/* A redis-server, a connection to it in *c, and rhaid (worker "default",
 * 2 executors) serving metrics on 'port'; its pid. */
static void hset(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    redisReply *rep;
    va_start(ap, fmt);
    rep = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(rep);
    assert_int_not_equal(rep->type, REDIS_REPLY_ERROR);
    freeReplyObject(rep);
}

static pid_t start_with_metrics(th_redis *r, int port, redisContext **c)
{
    char listen[64];
    const char *extra[3] = { "--metrics-listen", listen, NULL };
    pid_t pid;

    assert_int_equal(th_redis_start(r, 0), 0);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    pid = th_rhaid_start(r, "default", 2, extra);
    assert_true(pid > 0);
    *c = th_redis_connect(r);
    assert_non_null(*c);
    return pid;
}

static void assert_metrics_valid(const char *body)
{
    char why[300];
    if (th_metrics_check(body, why, sizeof why) != 0)
        fail_msg("/metrics is not valid exposition text: %s", why);
}

static void test_metrics_count_tasks_and_health_is_served(void **state)
{
    th_redis r;
    pid_t pid;
    redisContext *c;
    char id[16], *body = NULL;
    int port = th_free_port();
    rh_task t;
    (void)state;

    pid = start_with_metrics(&r, port, &c);
    /* before any task: every error series is there, at 0 */
    body = th_http_get(port, "/metrics");
    assert_non_null(body);
    assert_metrics_valid(body);
    assert_int_equal(th_metric(body, "rhai_tasks_total{status=\"error\",error_kind=\"script\"}"), 0);
    assert_int_equal(th_metric(body, "rhai_tasks_total{status=\"error\",error_kind=\"crashed\"}"), 0);
    assert_int_equal(th_metric(body, "rhai_tasks_total{status=\"error\",error_kind=\"internal\"}"), 0);
    assert_int_equal(th_metric(body, "rhai_tasks_total{status=\"timeout\",error_kind=\"timeout\"}"), 0);
    assert_int_equal(th_metric(body, "rhai_tasks_total{status=\"cancelled\",error_kind=\"cancelled\"}"), 0);
    assert_int_equal(th_metric(body, "rhai_queue_wait_seconds_count"), 0);
    assert_int_equal(th_metric(body, "rhai_instances_dead"), 0);
    assert_int_equal(th_metric(body, "rhai_draining"), 0);
    assert_int_equal(th_metric(body, "rhai_queue_depth{worker_id=\"default\"}"), 0);
    assert_true(th_metric(body, "rhai_queue_oldest_age_seconds{worker_id=\"default\"}") >= 0);
    assert_true(th_metric(body, "process_resident_memory_bytes") > 1000000);
    assert_true(th_metric(body, "process_open_fds") > 3);
    assert_true(th_metric(body, "process_cpu_seconds_total") >= 0);
    assert_true(th_metric(body, "process_start_time_seconds") > 1600000000LL);
    rh_free(body);
    body = NULL;
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof id, "ok-%d", i);
        assert_int_equal(th_submit(c, "default", id, "1", NULL, 5000, NULL), 0);
        rh_task_init(&t);
        assert_int_equal(th_reply(c, NULL, id, 10, &t), 0);
        rh_task_clear(&t);
    }
    assert_int_equal(th_submit(c, "default", "bad", "throw 1", NULL, 5000, NULL), 0);
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, "bad", 10, &t), 0);
    rh_task_clear(&t);

    /* counted when the finish is acknowledged: poll until all four are in */
    body = th_metrics_wait(port, "rhai_task_duration_seconds_count", 4, 10000);
    assert_non_null(body);
    assert_non_null(strstr(body, "HTTP/1.0 200") ? body : strstr(body, "HTTP/1.1 200"));
    assert_int_equal(th_metric(body, "rhai_tasks_total{status=\"done\",error_kind=\"\"}"), 3);
    assert_int_equal(th_metric(body, "rhai_tasks_total{status=\"error\",error_kind=\"script\"}"), 1);
    assert_int_equal(th_metric(body, "rhai_task_duration_seconds_count"), 4);
    assert_int_equal(th_metric(body, "rhai_task_duration_seconds_bucket{le=\"+Inf\"}"), 4);
    assert_int_equal(th_metric(body, "rhai_queue_wait_seconds_count"), 4);
    assert_int_equal(th_metric(body, "rhai_queue_wait_seconds_bucket{le=\"+Inf\"}"), 4);
    assert_metrics_valid(body);
    assert_non_null(strstr(body, "# TYPE rhai_tasks_total counter"));
    assert_non_null(strstr(body, "rhai_build_info{version=\""));
    assert_non_null(strstr(body, "worker_id=\"default\""));
    rh_free(body);

    /* gauges are refreshed per heartbeat */
    rh_free(th_metrics_wait(port, "rhai_executors", 2, 10000));
    body = th_metrics_wait(port, "rhai_redis_up", 1, 10000);
    assert_non_null(body);
    assert_int_equal(th_metric(body, "rhai_executors"), 2);
    assert_int_equal(th_metric(body, "rhai_redis_up"), 1);
    rh_free(body);

    body = th_http_get(port, "/healthz");
    assert_non_null(strstr(body, " 200 "));
    assert_non_null(strstr(body, "ok"));
    rh_free(body);
    body = th_http_get(port, "/readyz");
    assert_non_null(strstr(body, " 200 "));
    assert_non_null(strstr(body, "ready"));
    rh_free(body);
    body = th_http_get(port, "/nope");
    assert_non_null(strstr(body, " 404 "));
    rh_free(body);

    redisFree(c);
    th_stop(pid, 10000);
    th_redis_stop(&r);
}

/* Poll /metrics until with_take + by_id reaches 'total' (claims are
 * counted as they apply); returns the body, owned by the caller. */
static char *claims_wait(int port, long long total)
{
    char *body = NULL;

    for (int i = 0; i < 250; i++) {
        rh_free(body);
        body = th_http_get(port, "/metrics");
        assert_non_null(body);
        if (th_metric(body, "rhai_claims_total{path=\"with_take\"}") +
            th_metric(body, "rhai_claims_total{path=\"by_id\"}") >= total)
            break;
        usleep(20000);
    }
    return body;
}

/* A take and its claim share one round trip: the claim of the head of the
 * processing list rides behind each BLMOVE (wk_lua_claim_head). Plain
 * tasks are all claimed that way; after SCRIPT FLUSH the claim behind the
 * take fails (NOSCRIPT) and the id is claimed by id, nothing lost; an id
 * left unclaimed in the processing list (a claim whose reply was lost) is
 * claimed by the claim behind the next take, even one that times out. */
static void test_a_take_and_its_claim_share_one_round_trip(void **state)
{
    th_redis r;
    pid_t pid;
    redisContext *c;
    redisReply *rep;
    char id[16], proc[RH_KEY_MAX], *body;
    int port = th_free_port();
    rh_task t;
    (void)state;

    pid = start_with_metrics(&r, port, &c);
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "plain-%d", i);
        assert_int_equal(th_submit(c, "default", id, "i = 1; i + 1", NULL, 5000, NULL), 0);
        rh_task_init(&t);
        assert_int_equal(th_reply(c, NULL, id, 10, &t), 0);
        assert_int_equal(t.status, RHAI_STATUS_DONE);
        assert_int_equal(t.attempts, 1);
        rh_task_clear(&t);
    }
    body = claims_wait(port, 5);
    assert_int_equal(th_metric(body, "rhai_claims_total{path=\"with_take\"}"), 5);
    assert_int_equal(th_metric(body, "rhai_claims_total{path=\"by_id\"}"), 0);
    rh_free(body);

    rep = redisCommand(c, "SCRIPT FLUSH");
    assert_non_null(rep);
    freeReplyObject(rep);
    for (int i = 0; i < 2; i++) {
        snprintf(id, sizeof id, "flushed-%d", i);
        assert_int_equal(th_submit(c, "default", id, "40 + 2", NULL, 5000, NULL), 0);
        rh_task_init(&t);
        assert_int_equal(th_reply(c, NULL, id, 10, &t), 0);
        assert_int_equal(t.status, RHAI_STATUS_DONE);
        assert_int_equal(t.attempts, 1);
        rh_task_clear(&t);
    }
    body = claims_wait(port, 7);
    assert_true(th_metric(body, "rhai_claims_total{path=\"by_id\"}") >= 1);
    assert_int_equal(th_metric(body, "rhai_claims_total{path=\"with_take\"}") +
                     th_metric(body, "rhai_claims_total{path=\"by_id\"}"), 7);
    rh_free(body);

    /* An id moved into our list whose claim never ran: not submitted to
     * the queue at all, so only the claim behind a (timed-out) take finds
     * it at the head of the processing list. */
    rep = redisCommand(c, "SMEMBERS rhai:workers");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
    assert_int_equal(rep->elements, 1);
    snprintf(proc, sizeof proc, "rhai:processing:%s", rep->element[0]->str);
    freeReplyObject(rep);
    hset(c, "HSET rhai:task:{default}:orphan id orphan worker_id default status queued "
         "created_at 1 attempts 0 timeout_ms 5000 script %s", "'found'");
    hset(c, "SET rhai:taskw:{orphan} default");
    rep = redisCommand(c, "LPUSH %s orphan", proc);
    freeReplyObject(rep);
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, "orphan", 10, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "\"found\"");
    rh_task_clear(&t);
    rep = redisCommand(c, "LLEN %s", proc);
    assert_int_equal(rep->integer, 0);
    freeReplyObject(rep);

    redisFree(c);
    th_stop(pid, 10000);
    th_redis_stop(&r);
}

/* Read datagrams until one contains 'want' or timeout_ms passes. Counts
 * every datagram holding 'count' into *n (if not NULL). */
static int notify_wait(int fd, const char *want, int timeout_ms, const char *count, int *n)
{
    int64_t deadline = rh_mono_ms() + timeout_ms;
    char msg[1024];
    for (;;) {
        struct pollfd p = { fd, POLLIN, 0 };
        int64_t left = deadline - rh_mono_ms();
        ssize_t len;
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return -1;
        len = recv(fd, msg, sizeof msg - 1, 0);
        if (len <= 0)
            continue;
        msg[len] = '\0';
        if (count && n && strstr(msg, count))
            (*n)++;
        if (want && strstr(msg, want))
            return 0;
    }
}

static void test_systemd_notify_ready_watchdog_status_stopping(void **state)
{
    th_redis r;
    struct sockaddr_un sa;
    char sock_env[200], bin[512], log[300];
    char *env[] = { sock_env, "WATCHDOG_USEC=200000", NULL };
    char *argv[] = { (char *)th_bin("rhaid", bin, sizeof bin), "--redis-url", NULL,
                     "--worker-id", "notify", "--concurrency", "1", NULL };
    int fd, watchdogs = 0, status;
    pid_t pid;
    (void)state;

    assert_int_equal(th_redis_start(&r, 0), 0);
    argv[2] = r.url;
    fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    assert_true(strlen(r.dir) + 20 < sizeof sa.sun_path);
    memcpy(sa.sun_path, r.dir, strlen(r.dir));
    strcat(sa.sun_path, "/notify.sock");
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    snprintf(sock_env, sizeof sock_env, "NOTIFY_SOCKET=%s", sa.sun_path);
    snprintf(log, sizeof log, "%s/rhaid-notify.log", r.dir);
    pid = th_spawn(argv, env, log);
    assert_true(pid > 0);

    assert_int_equal(notify_wait(fd, "READY=1", 10000, NULL, NULL), 0);
    /* WATCHDOG every 100 ms (half of 200 ms): at least 3 within 1.5 s */
    notify_wait(fd, NULL, 1500, "WATCHDOG=1", &watchdogs);
    print_message("watchdog pings in 1.5 s: %d\n", watchdogs);
    assert_true(watchdogs >= 3);
    assert_int_equal(notify_wait(fd, "STATUS=worker notify:", 3000, NULL, NULL), 0);
    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(notify_wait(fd, "STOPPING=1", 5000, NULL, NULL), 0);
    status = th_wait(pid, 10000);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(fd);
    th_redis_stop(&r);
}

static void test_a_bad_metrics_address_stops_rhaid_at_start(void **state)
{
    th_redis r;
    char bin[512], log[300];
    char *argv[] = { (char *)th_bin("rhaid", bin, sizeof bin), "--redis-url", NULL,
                     "--metrics-listen", "nowhere:99999", NULL };
    int status;
    (void)state;
    assert_int_equal(th_redis_start(&r, 0), 0);
    argv[2] = r.url;
    snprintf(log, sizeof log, "%s/rhaid-bad.log", r.dir);
    status = th_wait(th_spawn(argv, NULL, log), 10000);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 2);
    assert_int_equal(th_sh("grep -q 'metrics_listen' '%s'", log), 0);
    th_redis_stop(&r);
}

/* Submit a task with a caller and a context, as a client would. */
static void submit_as(redisContext *c, const char *id, const char *script, const char *caller)
{
    redisReply *rep;

    rep = redisCommand(c, "HSET rhai:task:{default}:%s id %s worker_id default status queued "
                       "created_at %lld attempts 0 script %s caller_id %s context_id ops",
                       id, id, (long long)rh_now_ms(), script, caller);
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
    freeReplyObject(rep);
    rep = redisCommand(c, "LPUSH rhai:queue:{default} %s", id);
    freeReplyObject(rep);
}

/* Issue 22: a failed task was logged as `status=error kind=script ms=0`
 * with no message, and every success at info. A failure is logged at
 * info with its message (escaped, cut to 200 bytes), caller, context,
 * worker and kind; a success only at debug. */
static void test_a_failed_task_is_logged_with_its_message_and_a_done_one_only_at_debug(
    void **state)
{
    th_redis r;
    redisContext *c;
    rh_task t;
    pid_t pid;
    (void)state;

    assert_int_equal(th_redis_start(&r, 0), 0);
    pid = th_rhaid_start(&r, "default", 1, NULL);
    assert_true(pid > 0);
    c = th_redis_connect(&r);
    submit_as(c, "fails", "throw new Error('no \"stock\"\\nfor sku')", "alice");
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, "fails", 10, &t), 0);
    assert_int_equal(t.error_kind, RH_EK_SCRIPT);
    rh_task_clear(&t);
    submit_as(c, "long", "throw new Error(new Array(400).join('ab'))", "bob");
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, "long", 10, &t), 0);
    rh_task_clear(&t);
    submit_as(c, "works", "1 + 1", "alice");
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, "works", 10, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    rh_task_clear(&t);
    th_stop(pid, 10000);                 /* the log is complete */

    assert_int_equal(th_sh("grep 'event=task_end task=fails ' %s/rhaid-*.log | grep 'level=info' "
                           "| grep 'status=error kind=script' | grep 'worker=default' "
                           "| grep 'caller=\"alice\" context=\"ops\"' "
                           "| grep -qF 'error=\"Error: no \\\"stock\\\"\\nfor sku'", r.dir), 0);
    /* 200 bytes of the message, then "..." */
    assert_int_equal(th_sh("grep -qE 'event=task_end task=long .*error=\"Error: (ab){96}a\\.\\.\\.\"'"
                           " %s/rhaid-*.log", r.dir), 0);
    assert_int_equal(th_sh("grep -q 'task_end task=works' %s/rhaid-*.log", r.dir), 1);
    redisFree(c);
    th_redis_stop(&r);
}

/* log_format = json: every line rhaid writes (executors' too) is one JSON
 * object, whatever a script put in its error: quotes, newlines, control
 * characters, and a lone surrogate, which is not UTF-8. */
static void test_json_logs_are_one_object_per_line_whatever_a_script_throws(void **state)
{
    static const char *const extra[] = { "--log-format", "json", "--log-level", "debug", NULL };
    th_redis r;
    redisContext *c;
    rh_task t;
    pid_t pid;
    char cmd[400], line[16384];
    FILE *f;
    int lines = 0, found = 0, done = 0;
    (void)state;

    assert_int_equal(th_redis_start(&r, 0), 0);
    pid = th_rhaid_start(&r, "default", 1, extra);
    assert_true(pid > 0);
    c = th_redis_connect(&r);
    submit_as(c, "nasty", "throw 'q\"uote\\\\ nl\\n cr\\r ctl\\u0001\\u001f sur\\ud800 end'",
              "eve\"il");
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, "nasty", 10, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_ERROR);
    rh_task_clear(&t);
    submit_as(c, "fine", "'ok'", "alice");
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, "fine", 10, &t), 0);
    rh_task_clear(&t);
    th_stop(pid, 10000);

    snprintf(cmd, sizeof cmd, "cat %s/rhaid-*.log", r.dir);
    f = popen(cmd, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f)) {
        json_error_t jerr;
        json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
        const char *ev;
        if (o == NULL)
            fail_msg("not one JSON object: %s (%s)", line, jerr.text);
        lines++;
        assert_non_null(json_string_value(json_object_get(o, "ts")));
        assert_non_null(json_string_value(json_object_get(o, "level")));
        assert_non_null(json_string_value(json_object_get(o, "msg")));
        ev = json_string_value(json_object_get(o, "event"));
        assert_non_null(ev);
        if (strcmp(ev, "task_end") == 0 &&
            strcmp(json_string_value(json_object_get(o, "task")), "nasty") == 0) {
            const char *e = json_string_value(json_object_get(o, "error"));
            found++;
            assert_string_equal(json_string_value(json_object_get(o, "caller")), "eve\"il");
            assert_string_equal(json_string_value(json_object_get(o, "kind")), "script");
            assert_non_null(strstr(e, "q\"uote\\ nl\n cr\r ctl\x01\x1f sur"));
            assert_non_null(strstr(e, " end"));
        }
        if (strcmp(ev, "task_end") == 0 &&
            strcmp(json_string_value(json_object_get(o, "task")), "fine") == 0) {
            done++;
            assert_string_equal(json_string_value(json_object_get(o, "level")), "debug");
            assert_true(json_is_integer(json_object_get(o, "ms")));
        }
        json_decref(o);
    }
    pclose(f);
    print_message("%d JSON lines\n", lines);
    assert_true(lines > 5);
    assert_int_equal(found, 1);
    assert_int_equal(done, 1);
    redisFree(c);
    th_redis_stop(&r);
}

/* A configuration error is the first line an operator's log shipper sees
 * of a misconfigured rhaid: with JSON chosen (by flag, wherever it stands,
 * or by environment) it is JSON too; exit 2 either way. A format that is
 * not one is itself a config error, said in key=value. */
static void test_a_config_error_is_one_json_line_when_json_logs_were_asked_for(void **state)
{
    static const struct { const char *a1, *a2, *a3, *env; int json; } runs[] = {
        { "--log-format", "json", "--bogus-flag", NULL, 1 },
        { "--bogus-flag", "--log-format", "json", NULL, 1 },
        { "--log-format=json", "--worker-id", "bad id\"x", NULL, 1 },
        { "--bogus-flag", NULL, NULL, "RHAI_LOG_FORMAT=json", 1 },
        { "--bogus-flag", NULL, NULL, NULL, 0 },
        { "--log-format", "xml", NULL, NULL, 0 },
        { "--concurrency", "0", NULL, "RHAI_LOG_FORMAT=xml", 0 },
    };
    char bin[512], log[300], line[4096];
    (void)state;

    th_bin("rhaid", bin, sizeof bin);
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        char *argv[] = { bin, (char *)runs[i].a1, (char *)runs[i].a2, (char *)runs[i].a3, NULL };
        char *env[] = { (char *)runs[i].env, NULL };
        int status, lines = 0;
        FILE *f;

        snprintf(log, sizeof log, "/tmp/rhai-test-operate-cfg-%d-%zu.log", (int)getpid(), i);
        unlink(log);
        status = th_wait(th_spawn(argv, runs[i].env ? env : NULL, log), 10000);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 2);
        f = fopen(log, "r");
        assert_non_null(f);
        while (fgets(line, sizeof line, f)) {
            json_error_t jerr;
            json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
            lines++;
            if (runs[i].json) {
                if (o == NULL)
                    fail_msg("run %zu: not one JSON object: %s (%s)", i, line, jerr.text);
                assert_string_equal(json_string_value(json_object_get(o, "level")), "error");
                assert_string_equal(json_string_value(json_object_get(o, "event")),
                                    "config_error");
                assert_non_null(json_string_value(json_object_get(o, "reason")));
            } else {
                assert_null(o);
                assert_int_equal(strncmp(line, "rhaid: ", 7), 0);
            }
            json_decref(o);
        }
        fclose(f);
        unlink(log);
        assert_int_equal(lines, 1);
    }
}

/* rhaid (worker "misconf") on 'url', logging to R/NAME.log, until it made
 * at least 'attempts' reconnect attempts (both connections together, as
 * its metrics count them); then stopped, exit 0. */
static void run_until_attempts(const th_redis *r, const char *url, const char *name,
                               long long attempts)
{
    char bin[512], log[300], data[300], listen[64];
    char *argv[] = { bin, "--redis-url", (char *)url, "--worker-id", "misconf",
                     "--concurrency", "1", "--data-dir", data, "--metrics-listen", listen,
                     "--heartbeat-ms", "100", "--heartbeat-ttl-ms", "1000", NULL };
    int port = th_free_port(), st;
    char *body;
    pid_t pid;

    th_bin("rhaid", bin, sizeof bin);
    snprintf(log, sizeof log, "%s/%s.log", r->dir, name);
    snprintf(data, sizeof data, "%s/data-%s", r->dir, name);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    pid = th_spawn(argv, NULL, log);
    assert_true(pid > 0);
    body = th_metrics_wait(port, "rhai_redis_reconnects_total", attempts, 30000);
    assert_non_null(body);
    print_message("%s: %lld reconnect attempts\n", name,
                  th_metric(body, "rhai_redis_reconnects_total"));
    assert_true(th_metric(body, "rhai_redis_reconnects_total") >= attempts);
    assert_int_equal(th_metric(body, "rhai_redis_up"), 0);
    rh_free(body);
    st = th_stop(pid, 5000);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* Lines of R/NAME.log matching the extended regex 're'. */
static int log_count(const th_redis *r, const char *name, const char *re)
{
    char cmd[600];
    int n = -1;
    FILE *f;

    snprintf(cmd, sizeof cmd, "grep -cE '%s' %s/%s.log", re, r->dir, name);
    f = popen(cmd, "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%d", &n), 1);
    pclose(f);
    return n;
}

/* Issue 22: a wrong password retried ~20 times a second, each time logging
 * `redis_up connected` before `redis_auth_failed`, and a bad db was called
 * an auth failure. Now: nothing says up before the handshake passed; the
 * failure is named (auth vs select), logged at error once per reason and
 * window per connection whatever the number of attempts, and retried from
 * 1 s on (the first delay is drawn in [500, 1000] ms). */
static void test_redis_misconfiguration_is_named_logged_at_error_once_and_retried_slowly(
    void **state)
{
    th_redis r;
    redisContext *c;
    redisReply *rep;
    char url[160];
    (void)state;

    assert_int_equal(th_redis_start(&r, 0), 0);
    c = th_redis_connect(&r);
    rep = redisCommand(c, "CONFIG SET requirepass s3cret");
    assert_int_equal(rep->type, REDIS_REPLY_STATUS);
    freeReplyObject(rep);

    snprintf(url, sizeof url, "redis://:wrong@127.0.0.1:%d", r.port);
    run_until_attempts(&r, url, "wrongpass", 4);
    assert_int_equal(log_count(&r, "wrongpass", "level=error event=redis_auth_failed conn=.*"
                               "reason=\"WRONGPASS"), 2);
    assert_int_equal(log_count(&r, "wrongpass", "redis_auth_failed"), 2);
    assert_int_equal(log_count(&r, "wrongpass", "redis_up|redis_select_failed"), 0);
    assert_int_equal(th_sh("grep -oE 'retry_in_ms=[0-9]+' %s/wrongpass.log | cut -d= -f2 | "
                           "awk '$1 < 500 { bad = 1 } END { exit bad }'", r.dir), 0);

    snprintf(url, sizeof url, "redis://127.0.0.1:%d", r.port);      /* none given */
    run_until_attempts(&r, url, "nopass", 4);
    assert_int_equal(log_count(&r, "nopass", "level=error event=redis_auth_failed .*NOAUTH"), 2);
    assert_int_equal(log_count(&r, "nopass", "redis_up"), 0);

    snprintf(url, sizeof url, "redis://:s3cret@127.0.0.1:%d/99", r.port);
    run_until_attempts(&r, url, "baddb", 4);
    assert_int_equal(log_count(&r, "baddb", "level=error event=redis_select_failed .*"
                               "db=99 reason=\"ERR DB index is out of range"), 2);
    assert_int_equal(log_count(&r, "baddb", "redis_auth_failed|redis_up"), 0);

    rep = redisCommand(c, "AUTH s3cret");
    freeReplyObject(rep);
    rep = redisCommand(c, "CONFIG SET requirepass ''");
    freeReplyObject(rep);
    redisFree(c);
    th_redis_stop(&r);
}

/* Issue 22: Redis down at start logged nothing at info (refused
 * connections were debug). Now the first refusal of each connection is
 * a warning, and the retries (50 ms doubling) are not logged again
 * within the window. */
static void test_redis_down_at_start_is_a_warning_logged_once(void **state)
{
    th_redis r;
    char url[400];
    (void)state;

    assert_int_equal(th_redis_start(&r, 0), 0);     /* for its temp dir */
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", th_free_port());
    run_until_attempts(&r, url, "refused", 8);
    assert_int_equal(log_count(&r, "refused", "level=warn event=redis_connect_failed conn="), 2);
    assert_int_equal(log_count(&r, "refused", "redis_connect_failed"), 2);
    assert_int_equal(log_count(&r, "refused", "redis_up"), 0);
    /* a socket path is named as one, quoted: not "path:0", not cut at a space */
    snprintf(url, sizeof url, "unix://%s/no such dir/redis.sock", r.dir);
    run_until_attempts(&r, url, "nosock", 4);
    assert_int_equal(log_count(&r, "nosock", "event=redis_connect_failed conn=[a-z]+ "
                               "redis=\"unix:/.*/no such dir/redis.sock\" db=0 "
                               "reason=\"No such file or directory\""), 2);
    th_redis_stop(&r);
}


/* Issue 22: no queue wait, no oldest queued age, no dead instances. Two
 * executors busy (and nothing taken ahead of them): a task created 2 min
 * ago waits in the queue, its age shows, and once it runs it lands in the
 * wait histogram above 60 s. A registered instance with no heartbeat is
 * found dead and its task requeued. */
static void test_metrics_show_queue_wait_oldest_age_and_dead_instances(void **state)
{
    static const char *const extra_base[] = { "--prefetch", "0", "--pipeline-max-us", "0",
                                              "--heartbeat-ms", "100", "--heartbeat-ttl-ms",
                                              "1000", "--metrics-listen", NULL, NULL };
    const char *extra[sizeof extra_base / sizeof extra_base[0]];
    th_redis r;
    redisContext *c;
    char listen[64], *body;
    int port = th_free_port();
    rh_task t;
    pid_t pid;
    (void)state;

    memcpy(extra, extra_base, sizeof extra);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    extra[9] = listen;
    assert_int_equal(th_redis_start(&r, 0), 0);
    pid = th_rhaid_start(&r, "default", 2, extra);
    assert_true(pid > 0);
    c = th_redis_connect(&r);

    assert_int_equal(th_submit(c, "default", "busy-1", "while (true) {}", NULL, 60000, NULL), 0);
    assert_int_equal(th_submit(c, "default", "busy-2", "while (true) {}", NULL, 60000, NULL), 0);
    body = th_metrics_wait(port, "rhai_executors_busy", 2, 10000);
    assert_int_equal(th_metric(body, "rhai_executors_busy"), 2);
    rh_free(body);
    hset(c, "HSET rhai:task:{default}:old id old worker_id default status queued created_at %lld "
         "attempts 0 script %s", (long long)(rh_now_ms() - 120000), "'late'");
    hset(c, "LPUSH rhai:queue:{default} old");
    body = th_metrics_wait(port, "rhai_queue_oldest_age_seconds{worker_id=\"default\"}", 100,
                           10000);
    assert_true(th_metric(body, "rhai_queue_oldest_age_seconds{worker_id=\"default\"}") >= 100);
    rh_free(body);
    body = th_metrics_wait(port, "rhai_queue_depth{worker_id=\"default\"}", 1, 10000);
    assert_int_equal(th_metric(body, "rhai_queue_depth{worker_id=\"default\"}"), 1);
    assert_metrics_valid(body);
    rh_free(body);

    /* free an executor: the old task runs, after 2 min in the queue */
    hset(c, "HSET rhai:task:{default}:busy-1 cancel_requested 1");
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, "old", 10, &t), 0);
    assert_string_equal(t.output, "\"late\"");
    rh_task_clear(&t);
    body = th_metrics_wait(port, "rhai_queue_wait_seconds_count", 3, 10000);
    assert_int_equal(th_metric(body, "rhai_queue_wait_seconds_count"), 3);
    assert_int_equal(th_metric(body, "rhai_queue_wait_seconds_bucket{le=\"60\"}"), 2);
    assert_int_equal(th_metric(body, "rhai_queue_wait_seconds_bucket{le=\"300\"}"), 3);
    assert_true(th_metric(body, "rhai_queue_wait_seconds_sum") >= 120);
    rh_free(body);
    body = th_metrics_wait(port, "rhai_queue_depth{worker_id=\"default\"}", 0, 10000);
    rh_free(body);

    /* a dead instance: registered, no heartbeat, one task in its list */
    hset(c, "HSET rhai:task:{default}:orphaned id orphaned worker_id default status queued "
         "created_at 1 attempts 0 timeout_ms 5000 script %s", "'saved'");
    hset(c, "SET rhai:taskw:{orphaned} default");
    hset(c, "LPUSH rhai:processing:{default}:ghost orphaned");
    hset(c, "SADD rhai:workers {default}:ghost");
    body = th_metrics_wait(port, "rhai_instances_dead_total", 1, 10000);
    assert_int_equal(th_metric(body, "rhai_instances_dead_total"), 1);
    assert_int_equal(th_metric(body, "rhai_recovered_tasks_total{outcome=\"requeued\"}"), 1);
    assert_int_equal(th_metric(body, "rhai_recovered_tasks_total{outcome=\"failed\"}"), 0);
    assert_metrics_valid(body);
    rh_free(body);
    hset(c, "HSET rhai:task:{default}:busy-2 cancel_requested 1");
    rh_task_init(&t);
    assert_int_equal(th_reply(c, NULL, "orphaned", 10, &t), 0);
    assert_string_equal(t.output, "\"saved\"");
    rh_task_clear(&t);

    redisFree(c);
    th_stop(pid, 10000);
    th_redis_stop(&r);
}

/* Issue 22: /healthz said 200 while the instance drained. /readyz is 503
 * from the moment a drain starts (and while Redis is unreachable);
 * /healthz, liveness, stays 200 so that the drain is let finish. */
static void test_readiness_is_503_while_draining_and_liveness_stays_200(void **state)
{
    th_redis r;
    redisContext *c;
    char listen[64], *body = NULL;
    const char *extra[] = { "--metrics-listen", listen, "--grace-ms", "60000", NULL };
    int port = th_free_port(), st;
    pid_t pid;
    (void)state;

    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    assert_int_equal(th_redis_start(&r, 0), 0);
    pid = th_rhaid_start(&r, "default", 1, extra);
    assert_true(pid > 0);
    c = th_redis_connect(&r);
    body = th_metrics_wait(port, "rhai_redis_up", 1, 10000);
    rh_free(body);
    body = th_http_get(port, "/readyz");
    assert_non_null(strstr(body, " 200 "));
    rh_free(body);

    assert_int_equal(th_submit(c, "default", "long", "while (true) {}", NULL, 60000, NULL), 0);
    body = th_metrics_wait(port, "rhai_executors_busy", 1, 10000);
    assert_int_equal(th_metric(body, "rhai_executors_busy"), 1);
    rh_free(body);
    assert_int_equal(kill(pid, SIGTERM), 0);
    for (int i = 0; i < 500; i++) {
        body = th_http_get(port, "/readyz");
        assert_non_null(body);
        if (strstr(body, " 503 "))
            break;
        rh_free(body);
        body = NULL;
        usleep(10000);
    }
    assert_non_null(body);
    assert_non_null(strstr(body, " 503 "));
    assert_non_null(strstr(body, "draining"));
    rh_free(body);
    body = th_http_get(port, "/healthz");
    assert_non_null(strstr(body, " 200 "));
    rh_free(body);
    body = th_metrics_wait(port, "rhai_draining", 1, 10000);
    assert_int_equal(th_metric(body, "rhai_draining"), 1);
    assert_metrics_valid(body);
    rh_free(body);

    assert_int_equal(kill(pid, SIGINT), 0);            /* skip the grace */
    st = th_wait(pid, 10000);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    redisFree(c);
    th_redis_stop(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_count_tasks_and_health_is_served),
        cmocka_unit_test(test_a_take_and_its_claim_share_one_round_trip),
        cmocka_unit_test(test_metrics_show_queue_wait_oldest_age_and_dead_instances),
        cmocka_unit_test(test_readiness_is_503_while_draining_and_liveness_stays_200),
        cmocka_unit_test(test_systemd_notify_ready_watchdog_status_stopping),
        cmocka_unit_test(test_a_bad_metrics_address_stops_rhaid_at_start),
        cmocka_unit_test(test_a_failed_task_is_logged_with_its_message_and_a_done_one_only_at_debug),
        cmocka_unit_test(test_json_logs_are_one_object_per_line_whatever_a_script_throws),
        cmocka_unit_test(test_a_config_error_is_one_json_line_when_json_logs_were_asked_for),
        cmocka_unit_test(test_redis_misconfiguration_is_named_logged_at_error_once_and_retried_slowly),
        cmocka_unit_test(test_redis_down_at_start_is_a_warning_logged_once),
    };
    return cmocka_run_group_tests_name("operate", tests, NULL, NULL);
}
