/* test_daemon.c -- rhaid against a real redis-server: the task life cycle,
 * hostile scripts, malformed tasks, drain on SIGTERM. Tasks are submitted
 * with plain hiredis exactly as docs/protocol.md says, so these tests also
 * pin the wire protocol. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon_fixture.h"

static int setup(void **state)
{
    static const char *const extra[] = { "--max-script", "4096", "--heartbeat-ms", "200",
                                         "--heartbeat-ttl-ms", "1000", NULL };
    return start_with(state, 0, extra);
}

static long llen(redisContext *c, const char *key)
{
    redisReply *r = redisCommand(c, "LLEN %s", key);
    long n = r && r->type == REDIS_REPLY_INTEGER ? (long)r->integer : -1;
    if (r)
        freeReplyObject(r);
    return n;
}

static long long pttl(redisContext *c, const char *key)
{
    redisReply *r = redisCommand(c, "PTTL %s", key);
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -99;
    if (r)
        freeReplyObject(r);
    return n;
}

/* Submit and wait for the reply; the reply is stored in *t. */
static void run_task(fixture *f, const char *id, const char *script, const char *args,
                     long timeout_ms, rh_task *t)
{
    rh_task_init(t);
    assert_int_equal(th_submit(f->c, "default", id, script, args, timeout_ms, NULL), 0);
    assert_int_equal(th_reply(f->c, NULL, id, 30, t), 0);
    assert_string_equal(t->id, id);
}

static void assert_alive(fixture *f)
{
    assert_int_equal(kill(f->rhaid, 0), 0);
    assert_int_equal(waitpid(f->rhaid, NULL, WNOHANG), 0);
}

static void test_a_task_is_answered_once_with_every_field(void **state)
{
    fixture *f = *state;
    char buf[256], key[RH_KEY_MAX];
    rh_task t;

    run_task(f, "t1", "var n = args.n; print('n is', n); ({double: n * 2})", "{\"n\":21}",
             5000, &t);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "{\"double\":42}");
    assert_null(t.error);
    assert_int_equal(t.error_kind, RH_EK_NONE);
    assert_string_equal(t.logs, "n is 21\n");
    assert_string_equal(t.worker_id, "default");
    assert_non_null(t.instance);
    assert_int_equal(t.attempts, 1);
    assert_true(t.created_at > 0 && t.started_at >= t.created_at);
    assert_true(t.finished_at >= t.started_at);
    rh_task_clear(&t);

    assert_string_equal(th_task_field(f->c, "t1", "status", buf, sizeof buf), "done");
    assert_string_equal(th_task_field(f->c, "t1", "output", buf, sizeof buf), "{\"double\":42}");
    assert_true(pttl(f->c, rh_key_task(key, "rhai", "default", "t1")) > 0);       /* result TTL set */
    assert_int_equal(llen(f->c, rh_key_reply(key, "rhai", "default", "t1")), 0);  /* exactly one reply */
    assert_int_equal(llen(f->c, rh_key_queue(key, "rhai", "default")), 0);
}

static void test_tasks_survive_a_script_cache_flush(void **state)
{
    fixture *f = *state;
    rh_task t;
    redisReply *r;

    run_task(f, "f1", "1", NULL, 5000, &t);      /* scripts loaded by now */
    rh_task_clear(&t);
    run_task(f, "f2", "2", NULL, 5000, &t);
    rh_task_clear(&t);
    r = redisCommand(f->c, "SCRIPT FLUSH");
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    for (int i = 0; i < 3; i++) {                 /* NOSCRIPT -> EVAL -> reload */
        char id[16];
        snprintf(id, sizeof id, "f3-%d", i);
        run_task(f, id, "40 + 2", NULL, 5000, &t);
        assert_int_equal(t.status, RHAI_STATUS_DONE);
        assert_string_equal(t.output, "42");
        rh_task_clear(&t);
    }
}

/* Redis refusing writes (maxmemory reached): takes are refused, rhaid
 * backs off to one attempt per heartbeat instead of spinning, and the
 * queued task runs once Redis accepts writes again. */
static void test_a_refusing_redis_is_retried_per_heartbeat_without_spinning(void **state)
{
    fixture *f = *state;
    char key[RH_KEY_MAX];
    redisReply *r;
    rh_task t;
    int lines;

    r = redisCommand(f->c, "HSET %s id oom1 script %s worker_id default",
                     rh_key_task(key, "rhai", "default", "oom1"), "'kept'");
    freeReplyObject(r);
    r = redisCommand(f->c, "CONFIG SET maxmemory 1");
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    /* LPUSH is refused now too: put the id in place with a script that
     * frees memory first (Redis then allows the rest of the script) */
    r = redisCommand(f->c, "EVAL %s 1 %s", "redis.call('DEL', 'nothing') "
                     "return redis.call('LPUSH', KEYS[1], 'oom1')",
                     rh_key_queue(key, "rhai", "default"));
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    rh_task_init(&t);
    assert_int_equal(th_reply(f->c, NULL, "oom1", 1, &t), -1);      /* refused meanwhile */
    r = redisCommand(f->c, "CONFIG SET maxmemory 0");
    freeReplyObject(r);
    assert_int_equal(th_reply(f->c, NULL, "oom1", 10, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "\"kept\"");
    rh_task_clear(&t);
    /* ~1 s of refusals at a 200 ms heartbeat: one logged line
     * (WK_REFUSED_LOG_MS), not one per tick */
    lines = th_sh("test $(grep -c 'event=pop_failed' %s/rhaid-*.log) -eq 1", f->redis.dir);
    assert_int_equal(lines, 0);
    assert_int_equal(th_sh("grep -q 'event=pop_failed' %s/rhaid-*.log", f->redis.dir), 0);
    assert_alive(f);
}

/* A password-protected Redis: the URL's credentials are used; a wrong
 * password is logged and retried with backoff, never fatal. */
static void test_rhaid_authenticates_and_survives_a_wrong_password(void **state)
{
    fixture *f = *state;
    char url[128], bin[512], log[300];
    char *argv[] = { (char *)th_bin("rhaid", bin, sizeof bin), "--redis-url", url,
                     "--worker-id", "auth", "--concurrency", "1", NULL };
    redisReply *r;
    rh_task t;
    pid_t bad, good;

    r = redisCommand(f->c, "CONFIG SET requirepass s3cret");
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    r = redisCommand(f->c, "AUTH s3cret");
    freeReplyObject(r);

    snprintf(url, sizeof url, "redis://:wrong@127.0.0.1:%d", f->redis.port);
    snprintf(log, sizeof log, "%s/rhaid-badpass.log", f->redis.dir);
    bad = th_spawn(argv, NULL, log);
    snprintf(url, sizeof url, "redis://default:s3cret@127.0.0.1:%d/0", f->redis.port);
    snprintf(log, sizeof log, "%s/rhaid-goodpass.log", f->redis.dir);
    good = th_spawn(argv, NULL, log);
    assert_true(bad > 0 && good > 0);

    rh_task_init(&t);
    assert_int_equal(th_submit(f->c, "auth", "pw1", "'authenticated'", NULL, 5000, NULL), 0);
    assert_int_equal(th_reply(f->c, NULL, "pw1", 10, &t), 0);
    assert_string_equal(t.output, "\"authenticated\"");
    rh_task_clear(&t);
    for (int i = 0; i < 300 && th_sh("grep -q redis_auth_failed %s/rhaid-badpass.log",
                                     f->redis.dir) != 0; i++)
        usleep(10000);
    assert_int_equal(th_sh("grep -q redis_auth_failed %s/rhaid-badpass.log", f->redis.dir), 0);
    assert_int_equal(kill(bad, 0), 0);                   /* still alive, retrying */
    {   /* holding nothing, it stops at once on SIGTERM without Redis */
        int st = th_stop(bad, 3000);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    assert_int_equal(WEXITSTATUS(th_stop(good, 10000)), 0);
    r = redisCommand(f->c, "CONFIG SET requirepass ''");
    freeReplyObject(r);
}

static int setup_recycle(void **state)
{
    static const char *const extra[] = { "--max-tasks-per-executor", "2", NULL };
    return start_with(state, 0, extra);
}

static void test_executors_are_recycled_without_losing_a_task(void **state)
{
    fixture *f = *state;
    char id[16], want[16], args[32];
    rh_task t;

    for (int i = 0; i < 9; i++) {             /* 2 tasks per executor: >= 3 recycles */
        snprintf(id, sizeof id, "rc-%d", i);
        snprintf(args, sizeof args, "{\"i\":%d}", i);
        snprintf(want, sizeof want, "%d", i * 3);
        run_task(f, id, "args.i * 3", args, 5000, &t);
        assert_int_equal(t.status, RHAI_STATUS_DONE);
        assert_string_equal(t.output, want);
        rh_task_clear(&t);
    }
    assert_int_equal(th_sh("test $(grep -c event=executor_recycle %s/rhaid-*.log) -ge 3",
                           f->redis.dir), 0);
    assert_alive(f);
}

/* The exe of each child of 'pid' ends with "/name": 0 when all do and
 * there are 'n' children. */
static int children_run(pid_t pid, const char *name, int n)
{
    return th_sh("set -e; c=0; for p in $(pgrep -P %d); do "
                 "case $(readlink /proc/$p/exe) in */%s) c=$((c+1));; *) exit 1;; esac; "
                 "done; test $c -eq %d", (int)pid, name, n);
}

/* Executors are rhai-executor, the small binary beside rhaid. */
static void test_executors_run_from_rhai_executor(void **state)
{
    fixture *f = *state;
    rh_task t;

    run_task(f, "ex-1", "40 + 2", NULL, 5000, &t);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "42");
    rh_task_clear(&t);
    assert_int_equal(children_run(f->rhaid, "rhai-executor", 2), 0);
}

/* Stop the fixture's rhaid and start, for worker "default", a copy of
 * rhaid (and of rhai-executor when 'with_executor') in REDIS_DIR/NAME,
 * logging to REDIS_DIR/NAME.log (into 'log'); 'extra' is one more
 * argument or NULL. The copy's directory goes into 'dir'. Its pid, also
 * the fixture's rhaid now. */
static pid_t rhaid_copy_start(fixture *f, const char *name, int with_executor,
                              const char *extra, char dir[300], char log[400])
{
    char bin[512], ebin[512], exe[400], data[400];
    char *argv[12];
    pid_t pid;

    th_stop(f->rhaid, 10000);
    f->rhaid = -1;
    snprintf(dir, 300, "%s/%s", f->redis.dir, name);
    snprintf(exe, sizeof exe, "%s/rhaid", dir);
    snprintf(log, 400, "%s/%s.log", f->redis.dir, name);
    snprintf(data, sizeof data, "%s/%s-data", f->redis.dir, name);
    assert_int_equal(th_sh("mkdir -p %s && cp %s %s/", dir,
                           th_bin("rhaid", bin, sizeof bin), dir), 0);
    if (with_executor)
        assert_int_equal(th_sh("cp %s %s/", th_bin("rhai-executor", ebin, sizeof ebin), dir),
                         0);
    argv[0] = exe;
    argv[1] = "--redis-url";
    argv[2] = f->redis.url;
    argv[3] = "--worker-id";
    argv[4] = "default";
    argv[5] = "--concurrency";
    argv[6] = "2";
    argv[7] = "--data-dir";
    argv[8] = data;
    argv[9] = (char *)extra;
    argv[10] = NULL;
    assert_true((pid = th_spawn(argv, NULL, log)) > 0);
    assert_int_equal(th_rhaid_ready(&f->redis, "default", pid, log), 0);
    f->rhaid = pid;
    return pid;
}

/* run_task as 'caller': dev mode creates a context for a task with one. */
static void run_task_as(fixture *f, const char *id, const char *caller, const char *script,
                        rh_task *t)
{
    assert_int_equal(th_submit_as(f->c, "default", id, NULL, caller, script, NULL, 5000, NULL),
                     0);
    rh_task_init(t);
    assert_int_equal(th_reply(f->c, NULL, id, 30, t), 0);
}

/* An rhaid without rhai-executor beside it runs its executors itself
 * (rhaid --executor), DSL and all. */
static void test_without_rhai_executor_rhaid_runs_executors_itself(void **state)
{
    fixture *f = *state;
    char dir[300], log[400];
    pid_t pid;
    rh_task t;

    pid = rhaid_copy_start(f, "alone", 0, "--dev-mode", dir, log);
    run_task_as(f, "alone-1", "alice", "Company.create({name: 'A'}).id > 0", &t);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "true");
    rh_task_clear(&t);
    assert_int_equal(children_run(pid, "rhaid", 2), 0);
    assert_int_equal(th_sh("grep -q event=executor_fallback %s", log), 0);
}

/* An upgrade replaces the binaries on disk while rhaid runs (a new file
 * renamed over the old one, as dpkg does): executors started after it
 * are still the rhai-executor this rhaid started with, not whatever the
 * path now holds (the next release may speak another frame format). Here
 * the new "executor" is a script that leaves a mark and fails; the
 * executors are killed so that they respawn after the swap. */
static void test_respawned_executors_are_the_binary_rhaid_started_with(void **state)
{
    fixture *f = *state;
    char dir[300], log[400];
    pid_t pid;
    rh_task t;

    pid = rhaid_copy_start(f, "pinned", 1, NULL, dir, log);
    assert_int_equal(children_run(pid, "rhai-executor", 2), 0);
    run_task(f, "pin-1", "40 + 2", NULL, 5000, &t);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    rh_task_clear(&t);

    /* the upgrade: a new file renamed over the executor, then every
     * executor killed (they respawn from the pinned binary) */
    assert_int_equal(th_sh("printf '#!/bin/sh\\ntouch %s/new-ran\\nexit 3\\n' > %s/new && "
                           "chmod +x %s/new && mv %s/new %s/rhai-executor && "
                           "pkill -KILL -P %d", dir, dir, dir, dir, dir, (int)pid), 0);
    run_task(f, "pin-2", "40 + 2", NULL, 10000, &t);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "42");
    rh_task_clear(&t);
    assert_int_not_equal(th_sh("test -e %s/new-ran", dir), 0);
    /* both respawned, named after their binary though started from
     * /proc/self/fd/N (a child caught between fork and exec is "rhaid") */
    assert_int_equal(th_sh("for i in $(seq 100); do n=0; for p in $(pgrep -P %d); do "
                           "test \"$(cat /proc/$p/comm)\" = rhai-executor && n=$((n+1)); "
                           "done; test $n -eq 2 && exit 0; sleep 0.1; done; exit 1",
                           (int)pid), 0);
}

/* Nothing a task does survives into the next one on the same executor:
 * globals, prototype pollution, replaced built-ins. */
static void test_a_task_sees_nothing_a_previous_task_left_behind(void **state)
{
    static const char *polluter =
        "leaked = 42; Object.prototype.evil = 1; Array.prototype.push = null;"
        "JSON.stringify = function () { return '\"pwned\"'; }; Math.PI = 3; 'polluted'";
    static const char *checker =
        "[typeof leaked, ({}).evil === undefined, typeof [].push, Math.PI > 3.14]";
    fixture *f = *state;
    char id[32];
    rh_task t;

    for (int i = 0; i < 4; i++) {             /* enough to pass over both executors */
        snprintf(id, sizeof id, "pollute-%d", i);
        run_task(f, id, polluter, NULL, 5000, &t);
        assert_int_equal(t.status, RHAI_STATUS_DONE);
        rh_task_clear(&t);
        snprintf(id, sizeof id, "check-%d", i);
        run_task(f, id, checker, NULL, 5000, &t);
        assert_int_equal(t.status, RHAI_STATUS_DONE);
        assert_string_equal(t.output, "[\"undefined\",true,\"function\",true]");
        rh_task_clear(&t);
    }
}

static void test_script_errors_carry_message_and_line(void **state)
{
    fixture *f = *state;
    rh_task t;

    run_task(f, "e1", "var a = 1;\nvar b = 2;\nnull.x;", NULL, 5000, &t);
    assert_int_equal(t.status, RHAI_STATUS_ERROR);
    assert_int_equal(t.error_kind, RH_EK_SCRIPT);
    assert_non_null(strstr(t.error, "TypeError"));
    assert_non_null(strstr(t.error, "line 3"));
    rh_task_clear(&t);

    run_task(f, "e2", "var x = ;", NULL, 5000, &t);
    assert_int_equal(t.error_kind, RH_EK_SCRIPT);
    assert_non_null(strstr(t.error, "SyntaxError"));
    rh_task_clear(&t);
}

/* Each hostile script ends with its kind, rhaid lives, the next task works. */
static void test_hostile_scripts_end_with_their_kind_and_the_worker_survives(void **state)
{
    static const struct {
        const char *id, *script;
        rhai_status status;
        rh_error_kind kind;
    } cases[] = {
        { "h-loop", "while(true){}", RHAI_STATUS_TIMEOUT, RH_EK_TIMEOUT },
        { "h-mem", "var a = []; while (true) a.push('xxxxxxxxxxxxxxxxxxxxxxxx' + a.length);",
          RHAI_STATUS_ERROR, RH_EK_MEMORY },
        { "h-regex", "/^(a+)+$/.test('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaab')",
          RHAI_STATUS_TIMEOUT, RH_EK_TIMEOUT },
        { "h-recursion", "function f(n) { return f(n + 1) + 1; } f(0)",
          RHAI_STATUS_ERROR, RH_EK_SCRIPT },
        { "h-trybomb", "function f() { try { f(); } catch (e) { f(); } } f()",
          RHAI_STATUS_TIMEOUT, RH_EK_TIMEOUT },
        { "h-output", "var s = 'x'; while (s.length < 10 * 1024 * 1024) s += s; s",
          RHAI_STATUS_ERROR, RH_EK_MEMORY },
        /* fits the heap, but its JSON is over max_output (1 MiB) */
        { "h-output-cap", "var s = 'x'; while (s.length < 2 * 1024 * 1024) s += s; s",
          RHAI_STATUS_ERROR, RH_EK_MEMORY },
    };
    fixture *f = *state;
    rh_task t;
    char ok_id[32];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* scripts that must end by timeout get 1.5 s; the others get 20 s so
         * a slow (ASan, loaded) machine still ends them by their own limit */
        run_task(f, cases[i].id, cases[i].script, NULL,
                 cases[i].kind == RH_EK_TIMEOUT ? 1500 : 20000, &t);
        print_message("%s -> %s/%s: %s\n", cases[i].id, rh_status_str(t.status),
                      rh_kind_str(t.error_kind), t.error ? t.error : "");
        assert_int_equal(t.status, cases[i].status);
        assert_int_equal(t.error_kind, cases[i].kind);
        assert_non_null(t.error);
        if (strcmp(cases[i].id, "h-output-cap") == 0)
            assert_non_null(strstr(t.error, "max_output"));
        rh_task_clear(&t);
        assert_alive(f);
        snprintf(ok_id, sizeof ok_id, "ok-after-%zu", i);
        run_task(f, ok_id, "40 + 2", NULL, 5000, &t);
        assert_int_equal(t.status, RHAI_STATUS_DONE);
        assert_string_equal(t.output, "42");
        rh_task_clear(&t);
    }
    /* every task-related log line names its task */
    assert_int_equal(th_sh("grep -E 'event=(task_|executor_died|finish)' %s/rhaid-*.log | "
                           "grep -qv 'task='", f->redis.dir), 1);
    assert_int_equal(th_sh("grep -q 'event=task_timeout task=h-loop' %s/rhaid-*.log",
                           f->redis.dir), 0);
}

static void assert_invalid(fixture *f, const char *id, const char *needle)
{
    rh_task t;
    rh_task_init(&t);
    assert_int_equal(th_reply(f->c, NULL, id, 10, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_ERROR);
    assert_int_equal(t.error_kind, RH_EK_INVALID);
    assert_non_null(t.error);
    if (strstr(t.error, needle) == NULL)
        fail_msg("error '%s' does not mention '%s'", t.error, needle);
    rh_task_clear(&t);
}

static void test_malformed_tasks_are_answered_invalid(void **state)
{
    fixture *f = *state;
    char big[5000], key[RH_KEY_MAX];
    redisReply *r;
    rh_task t;

    assert_int_equal(th_submit(f->c, "default", "m-noscript", NULL, NULL, 0, NULL), 0);
    assert_invalid(f, "m-noscript", "no script");

    assert_int_equal(th_submit(f->c, "default", "m-args", "1", "{nope", 0, NULL), 0);
    assert_invalid(f, "m-args", "args is not JSON");

    memset(big, ' ', sizeof big - 2);
    big[sizeof big - 2] = '1';
    big[sizeof big - 1] = '\0';
    assert_int_equal(th_submit(f->c, "default", "m-big", big, NULL, 0, NULL), 0);
    assert_invalid(f, "m-big", "max_script");

    r = redisCommand(f->c, "LPUSH %s m-missing", rh_key_queue(key, "rhai", "default"));
    freeReplyObject(r);
    assert_invalid(f, "m-missing", "no hash");

    r = redisCommand(f->c, "HSET %s script 1 timeout_ms soon",
                     rh_key_task(key, "rhai", "default", "m-timeout"));
    freeReplyObject(r);
    r = redisCommand(f->c, "LPUSH %s m-timeout", rh_key_queue(key, "rhai", "default"));
    freeReplyObject(r);
    assert_invalid(f, "m-timeout", "timeout_ms");

    assert_int_equal(th_submit(f->c, "default", "m-reply", "1", NULL, 0, "elsewhere"), 0);
    assert_invalid(f, "m-reply", "reply_to");

    /* context ids the store cannot name a file by: invalid at once, never
     * run (and so never retried as a store failure) */
    {
        static const char *const bad_ctx[] = { ".acme", "a..b", NULL };
        char long_ctx[RH_CONTEXT_MAX + 2], id[16];
        memset(long_ctx, 'c', sizeof long_ctx - 1);
        long_ctx[sizeof long_ctx - 1] = '\0';
        for (int i = 0; i < 3; i++) {
            snprintf(id, sizeof id, "m-ctx-%d", i);
            r = redisCommand(f->c, "HSET %s script %s context_id %s caller_id anonymous",
                             rh_key_task(key, "rhai", "default", id), "Account.list().length",
                             bad_ctx[i] ? bad_ctx[i] : long_ctx);
            freeReplyObject(r);
            r = redisCommand(f->c, "LPUSH %s %s", rh_key_queue(key, "rhai", "default"), id);
            freeReplyObject(r);
            assert_invalid(f, id, "context_id");
        }
        assert_int_not_equal(th_sh("grep -q 'event=task_retry task=m-ctx' %s/rhaid-*.log",
                                   f->redis.dir), 0);
    }

    /* junk in the queue is dropped, and the worker goes on */
    r = redisCommand(f->c, "LPUSH %s %s", rh_key_queue(key, "rhai", "default"), "bad id{}");
    freeReplyObject(r);
    run_task(f, "m-after", "'still here'", NULL, 5000, &t);
    assert_string_equal(t.output, "\"still here\"");
    rh_task_clear(&t);
    assert_alive(f);
}

static void test_a_cancelled_task_is_not_run(void **state)
{
    fixture *f = *state;
    char key[RH_KEY_MAX], buf[64];
    redisReply *r;
    rh_task t;

    /* status already final when taken: skipped, never run, no reply */
    r = redisCommand(f->c, "HSET %s id c1 script %s status cancelled",
                     rh_key_task(key, "rhai", "default", "c1"), "print('ran'); 1");
    freeReplyObject(r);
    r = redisCommand(f->c, "LPUSH %s c1", rh_key_queue(key, "rhai", "default"));
    freeReplyObject(r);
    run_task(f, "c2", "2", NULL, 5000, &t);           /* queued after c1: FIFO */
    rh_task_clear(&t);
    assert_string_equal(th_task_field(f->c, "c1", "status", buf, sizeof buf), "cancelled");
    assert_string_equal(th_task_field(f->c, "c1", "logs", buf, sizeof buf), "");
    assert_int_equal(llen(f->c, rh_key_reply(key, "rhai", "default", "c1")), 0);
}

static void test_sigterm_finishes_the_running_task_and_exits_zero(void **state)
{
    fixture *f = *state;
    char key[RH_KEY_MAX], buf[64], inst_key[RH_KEY_MAX];
    rh_task t;
    int status;
    redisReply *r;

    assert_int_equal(th_submit(f->c, "default", "d1",
                               "var t = Date.now(); while (Date.now() - t < 700) {} 'late'",
                               NULL, 5000, NULL), 0);
    /* wait until it runs */
    for (int i = 0; i < 500 && strcmp(th_task_field(f->c, "d1", "status", buf, sizeof buf),
                                      "running") != 0; i++)
        usleep(10000);
    assert_string_equal(buf, "running");
    th_task_field(f->c, "d1", "instance", buf, sizeof buf);
    rh_key_worker(inst_key, "rhai", "default", buf);
    assert_int_equal(kill(f->rhaid, SIGTERM), 0);
    rh_task_init(&t);
    assert_int_equal(th_reply(f->c, NULL, "d1", 10, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "\"late\"");
    rh_task_clear(&t);
    status = th_wait(f->rhaid, 10000);
    f->rhaid = -1;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    r = redisCommand(f->c, "EXISTS %s", inst_key);          /* left the registry */
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);
    r = redisCommand(f->c, "SCARD %s", rh_key_workers(key, "rhai"));
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);
}

static int setup_short_grace(void **state)
{
    static const char *const extra[] = { "--grace-ms", "300", NULL };
    return start_with(state, 0, extra);
}

static void test_sigterm_past_grace_requeues_the_running_task(void **state)
{
    fixture *f = *state;
    char key[RH_KEY_MAX], buf[64];
    redisReply *r;
    int status;

    assert_int_equal(th_submit(f->c, "default", "g1", "while(true){}", NULL, 60000, NULL), 0);
    for (int i = 0; i < 500 && strcmp(th_task_field(f->c, "g1", "status", buf, sizeof buf),
                                      "running") != 0; i++)
        usleep(10000);
    assert_string_equal(buf, "running");
    assert_int_equal(kill(f->rhaid, SIGTERM), 0);
    status = th_wait(f->rhaid, 10000);
    f->rhaid = -1;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_string_equal(th_task_field(f->c, "g1", "status", buf, sizeof buf), "queued");
    r = redisCommand(f->c, "LRANGE %s 0 -1", rh_key_queue(key, "rhai", "default"));
    assert_int_equal(r->elements, 1);
    assert_string_equal(r->element[0]->str, "g1");
    freeReplyObject(r);
    r = redisCommand(f->c, "KEYS rhai:processing:*");
    assert_int_equal(r->elements, 0);
    freeReplyObject(r);
}

static void test_sighup_reloads_limits_while_tasks_keep_flowing(void **state)
{
    fixture *f = *state;
    static const char *script = "var s = ''; for (var i = 0; i < 100; i++) s += 'x'; print(s); 1";
    char conf[300], id[32];
    const char *extra[3];
    FILE *cf;
    rh_task t;

    /* replace the fixture's worker with one reading a config file */
    th_stop(f->rhaid, 10000);
    snprintf(conf, sizeof conf, "%s/rhaid.conf", f->redis.dir);
    cf = fopen(conf, "w");
    fputs("max_logs = 20\n", cf);
    fclose(cf);
    extra[0] = "--config";
    extra[1] = conf;
    extra[2] = NULL;
    f->rhaid = th_rhaid_start(&f->redis, "default", 1, extra);
    assert_true(f->rhaid > 0);
    run_task(f, "hup-1", script, NULL, 5000, &t);
    assert_true(strlen(t.logs) < 40);                    /* cut near 20 bytes */
    assert_non_null(strstr(t.logs, "[truncated]"));
    rh_task_clear(&t);

    cf = fopen(conf, "w");
    fputs("max_logs = 4096\n", cf);
    fclose(cf);
    assert_int_equal(kill(f->rhaid, SIGHUP), 0);
    /* the reload is asynchronous: poll until a task sees the new limit */
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "hup-2-%d", i);
        run_task(f, id, script, NULL, 5000, &t);
        assert_int_equal(t.status, RHAI_STATUS_DONE);
        if (strlen(t.logs) == 101) {
            rh_task_clear(&t);
            break;
        }
        rh_task_clear(&t);
        assert_true(i < 99);
        usleep(10000);
    }
    assert_alive(f);
}

/* Issue 16, item 12: started with --log-level debug, a SIGHUP reload lost
 * it (the reload read the file alone). The debug lines go on after a
 * reload, and the reload says which keys changed and which need a
 * restart. */
static void test_sighup_keeps_the_flags_rhaid_was_started_with(void **state)
{
    fixture *f = *state;
    char conf[300];
    const char *extra[6];
    FILE *cf;
    rh_task t;
    int seen = 0;

    th_stop(f->rhaid, 10000);
    snprintf(conf, sizeof conf, "%s/rhaid-flags.conf", f->redis.dir);
    cf = fopen(conf, "w");
    fputs("log_level = info\nmax_logs = 20\n", cf);
    fclose(cf);
    extra[0] = "--config";
    extra[1] = conf;
    extra[2] = "--log-level";
    extra[3] = "debug";
    extra[4] = NULL;
    f->rhaid = th_rhaid_start(&f->redis, "default", 1, extra);
    assert_true(f->rhaid > 0);

    cf = fopen(conf, "w");
    fputs("log_level = info\nmax_logs = 4096\nreconnect_max_ms = 6000\n", cf);
    fclose(cf);
    assert_int_equal(kill(f->rhaid, SIGHUP), 0);
    for (int i = 0; i < 500 && !seen; i++) {      /* the reload is asynchronous */
        seen = th_sh("grep -qE 'event=(config_reload|reloaded)' %s/rhaid-*.log",
                     f->redis.dir) == 0;
        if (!seen)
            usleep(10000);
    }
    assert_true(seen);
    run_task(f, "hup-debug", "1", NULL, 5000, &t);
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    rh_task_clear(&t);
    /* still at debug: the task's debug line is written after the reload */
    assert_int_equal(th_sh("grep -q 'event=task_start task=hup-debug' %s/rhaid-*.log",
                           f->redis.dir), 0);
    assert_int_equal(th_sh("grep -q 'level=warn event=config_reload .*changed=max_logs,"
                           "reconnect_max_ms restart_needed=reconnect_max_ms these keep their "
                           "old value until rhaid restarts' %s/rhaid-*.log", f->redis.dir), 0);
    assert_alive(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_task_is_answered_once_with_every_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_script_errors_carry_message_and_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tasks_survive_a_script_cache_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_task_sees_nothing_a_previous_task_left_behind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_executors_run_from_rhai_executor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_without_rhai_executor_rhaid_runs_executors_itself, setup, teardown),
        cmocka_unit_test_setup_teardown(test_respawned_executors_are_the_binary_rhaid_started_with, setup, teardown),
        cmocka_unit_test_setup_teardown(test_executors_are_recycled_without_losing_a_task, setup_recycle, teardown),
        cmocka_unit_test_setup_teardown(test_rhaid_authenticates_and_survives_a_wrong_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_refusing_redis_is_retried_per_heartbeat_without_spinning, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_scripts_end_with_their_kind_and_the_worker_survives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_tasks_are_answered_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_cancelled_task_is_not_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_finishes_the_running_task_and_exits_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sighup_reloads_limits_while_tasks_keep_flowing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sighup_keeps_the_flags_rhaid_was_started_with, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_past_grace_requeues_the_running_task, setup_short_grace, teardown),
    };
    return cmocka_run_group_tests_name("daemon", tests, NULL, NULL);
}
