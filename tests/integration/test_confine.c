/* test_confine.c -- an executor of a real rhaid, started as root, cannot do
 * what a compromised interpreter would want: its probe (confine_linux.c,
 * RHAI_TEST_CONFINE_PROBE, test builds only) tries each forbidden
 * operation once confined and logs the outcome, which this test reads
 * from rhaid's log. Tasks, DSL writes included, still work.
 *
 * Needs root (CI and the dev container run tests as root): otherwise
 * rhaid cannot change users and the tests skip. The file-system probes
 * are asserted only where the kernel has Landlock, and say so otherwise. */
#include <glob.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"
#include "th_asan.h"
#include "dsl/dsl.h"

/* What every probe must report: it failed (whatever the errno). */
static const char *const forbidden[] = {
    "connect_redis", "socket_inet", "socket_unix", "socket_udp", "fork", "ptrace_parent", "kill_parent",
    "setuid_root", "unshare_user", "mmap_exec", "raise_nofile", "raise_nproc", "raise_core",
};
/* Denied by Landlock alone (the kernel may not have it). */
static const char *const forbidden_fs[] = { "read_etc_passwd", "write_outside" };

/* The first line of rhaid's log in 'dir' holding 'event', new, or NULL. */
static char *log_line(const char *dir, const char *event)
{
    char pat[400], buf[4096];
    glob_t g;
    char *found = NULL;

    snprintf(pat, sizeof pat, "%s/rhaid-*.log", dir);
    if (glob(pat, 0, NULL, &g) != 0)
        return NULL;
    for (size_t i = 0; i < g.gl_pathc && !found; i++) {
        FILE *f = fopen(g.gl_pathv[i], "r");
        while (f && !found && fgets(buf, sizeof buf, f))
            if (strstr(buf, event))
                found = strdup(buf);
        if (f)
            fclose(f);
    }
    globfree(&g);
    return found;
}

/* The value of " key=" in 'line' into 'out'; NULL when absent. */
static const char *field(const char *line, const char *key, char *out, size_t n)
{
    char pat[64];
    const char *p;
    size_t len = 0;

    snprintf(pat, sizeof pat, " %s=", key);
    if ((p = strstr(line, pat)) == NULL)
        return NULL;
    p += strlen(pat);
    while (p[len] && p[len] != ' ' && p[len] != '\n' && len + 1 < n)
        len++;
    memcpy(out, p, len);
    out[len] = '\0';
    return out;
}

static void run(redisContext *c, const char *id, const char *ctx, const char *caller,
                const char *script, rh_task *t)
{
    assert_int_equal(th_submit_as(c, "default", id, ctx, caller, script, NULL, 20000, NULL), 0);
    rh_task_init(t);
    assert_int_equal(th_reply(c, NULL, id, 60, t), 0);
}

/* Start rhaid as root with the probe on ('extra' appended), run a task
 * (the executor has probed by then); return the probe's line (new) and
 * in *done whether the task ran (an unconfined probe's execve ends it). */
static char *probe(th_redis *redis, const char *const extra[], pid_t *pid, int *done)
{
    char port[16], *line;
    redisContext *c;
    rh_task t;

    snprintf(port, sizeof port, "%d", redis->port);
    assert_int_equal(setenv("RHAI_TEST_CONFINE_PROBE", port, 1), 0);
    *pid = th_rhaid_start(redis, "default", 1, extra);
    assert_true(*pid > 0);
    assert_int_equal(unsetenv("RHAI_TEST_CONFINE_PROBE"), 0);
    assert_non_null(c = th_redis_connect(redis));
    run(c, "plain-1", NULL, NULL, "1 + 1", &t);
    *done = t.status == RHAI_STATUS_DONE && t.output && strcmp(t.output, "2") == 0;
    rh_task_clear(&t);
    redisFree(c);
    line = log_line(redis->dir, "event=confine_probe ");
    assert_non_null(line);
    print_message("%s", line);
    return line;
}

/* Every forbidden operation failed; file access outside the data dir too
 * when the kernel has Landlock; the data dir is writable. */
static void assert_confined(const th_redis *redis, const char *line)
{
    char v[64], *exec;

    for (size_t i = 0; i < sizeof forbidden / sizeof forbidden[0]; i++) {
        assert_non_null(field(line, forbidden[i], v, sizeof v));
        if (strcmp(v, "ok") == 0)
            fail_msg("the executor could %s", forbidden[i]);
    }
    assert_non_null(field(line, "landlock", v, sizeof v));
    if (atoi(v) > 0) {
        for (size_t i = 0; i < sizeof forbidden_fs / sizeof forbidden_fs[0]; i++) {
            assert_non_null(field(line, forbidden_fs[i], v, sizeof v));
            assert_string_equal(v, "EACCES");
        }
    } else {
        print_message("no Landlock in this kernel: file access outside the data dir "
                      "not asserted\n");
    }
    assert_string_equal(field(line, "write_data_dir", v, sizeof v), "ok");
    assert_string_equal(field(line, "nproc_hard", v, sizeof v), "0");
    /* hard = soft = executor_as_limit (default 1 GiB); none under
     * AddressSanitizer, whose shadow memory needs terabytes */
    {
        char soft[32], hard[32];
        assert_non_null(field(line, "as_soft", soft, sizeof soft));
        assert_non_null(field(line, "as_hard", hard, sizeof hard));
        assert_string_equal(soft, hard);
        assert_string_equal(hard, TH_ASAN ? "-1" : "1073741824");
        if (!TH_ASAN)
            assert_string_not_equal(field(line, "raise_as", v, sizeof v), "ok");
    }
    exec = log_line(redis->dir, "event=confine_probe_exec ");
    assert_non_null(exec);
    assert_non_null(field(exec, "execve", v, sizeof v));
    assert_string_not_equal(v, "ok");
    free(exec);
}

static void test_an_executor_of_root_rhaid_runs_as_nobody_and_cannot_escape(void **state)
{
    th_redis redis;
    char data[300], v[32];
    const char *extra[] = { "--data-dir", data, NULL };
    struct passwd *nobody = getpwnam("nobody");
    redisContext *c;
    rh_task t;
    char *line;
    pid_t pid;
    int done;

    (void)state;
    if (geteuid() != 0 || nobody == NULL)
        skip();
    assert_int_equal(th_redis_start(&redis, 0), 0);
    snprintf(data, sizeof data, "%s/data", redis.dir);
    {
        store *s;
        rhai_error err;
        assert_int_equal(store_new(data, &dsl_schema, &s, &err), 0);
        assert_int_equal(store_context_create(s, "shop", "alice", &err), 0);
        store_free(s);
    }
    line = probe(&redis, extra, &pid, &done);
    assert_int_equal(atoi(field(line, "uid", v, sizeof v)), (int)nobody->pw_uid);
    assert_int_equal(atoi(field(line, "gid", v, sizeof v)), (int)nobody->pw_gid);
    assert_confined(&redis, line);
    free(line);
    assert_true(done);

    /* and it still does its work: the DSL reads and writes its context */
    assert_non_null(c = th_redis_connect(&redis));
    run(c, "dsl-1", "shop", "alice", "Company.create({name: 'A'}); Company.count()", &t);
    if (t.status != RHAI_STATUS_DONE)
        print_message("dsl-1: %s\n", t.error ? t.error : "?");
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "1");
    rh_task_clear(&t);
    /* a statement that rewrites more than SQLite's statement journal keeps
     * in memory (64 KiB) spills it to a temporary file, which SQLite opens
     * outside the data dir, where Landlock refuses: temp files stay in
     * memory (temp_store), or the task fails "unable to open database
     * file" every time it runs (seen in tools/chaos --long) */
    run(c, "dsl-2", "shop", "alice", "var s = new Array(300001).join('x');\n"
        "var m = Markdown.create({title: 'a', content: 'b'});\n"
        "Markdown.update(m.id, {content: s});\n"
        "Markdown.update(m.id, {content: s + 'y'});\n"
        "Markdown.get(m.id).content.length", &t);
    if (t.status != RHAI_STATUS_DONE)
        print_message("dsl-2: %s\n", t.error ? t.error : "?");
    assert_int_equal(t.status, RHAI_STATUS_DONE);
    assert_string_equal(t.output, "300001");
    rh_task_clear(&t);
    redisFree(c);
    assert_int_equal(WEXITSTATUS(th_stop(pid, 10000)), 0);
    th_redis_stop(&redis);
}

/* executor_user = root keeps uid 0, yet without capabilities and under
 * the same filter: still nothing of the forbidden list works. */
static void test_an_executor_kept_root_is_confined_all_the_same(void **state)
{
    th_redis redis;
    char data[300], v[32];
    const char *extra[] = { "--data-dir", data, "--executor-user", "root", NULL };
    char *line;
    pid_t pid;
    int done;

    (void)state;
    if (geteuid() != 0)
        skip();
    assert_int_equal(th_redis_start(&redis, 0), 0);
    snprintf(data, sizeof data, "%s/data", redis.dir);
    line = probe(&redis, extra, &pid, &done);
    assert_string_equal(field(line, "uid", v, sizeof v), "0");
    assert_confined(&redis, line);
    free(line);
    assert_true(done);
    assert_int_equal(WEXITSTATUS(th_stop(pid, 10000)), 0);
    th_redis_stop(&redis);
}

/* executor_seccomp = 0 (debugging) lifts the filter, nothing else: a
 * socket can be made, the file system is still closed. */
static void test_executor_seccomp_off_lifts_only_the_filter(void **state)
{
    th_redis redis;
    char data[300], v[32];
    const char *extra[] = { "--data-dir", data, "--executor-seccomp", "0", NULL };
    char *line;
    pid_t pid;
    int done;

    (void)state;
    if (geteuid() != 0)
        skip();
    assert_int_equal(th_redis_start(&redis, 0), 0);
    snprintf(data, sizeof data, "%s/data", redis.dir);
    line = probe(&redis, extra, &pid, &done);
    assert_true(done);
    assert_string_equal(field(line, "socket_inet", v, sizeof v), "ok");
    assert_string_not_equal(field(line, "fork", v, sizeof v), "ok");    /* nproc 0 */
    assert_string_not_equal(field(line, "setuid_root", v, sizeof v), "ok");
    if (atoi(field(line, "landlock", v, sizeof v)) > 0)
        assert_string_equal(field(line, "read_etc_passwd", v, sizeof v), "EACCES");
    free(line);
    assert_int_equal(WEXITSTATUS(th_stop(pid, 10000)), 0);
    th_redis_stop(&redis);
}

/* A listening TCP socket on 127.0.0.1 (a stand-in for a postgres server:
 * connect() succeeds once the kernel queued it); its port in *port. */
static int listener(int *port)
{
    int fd = th_listen(port);

    assert_true(fd >= 0);
    return fd;
}

/* With a postgres store (issue 17) an executor has no data dir and may
 * open TCP stream sockets, and (Landlock ABI >= 4) connect only to the
 * store's port: not to Redis, no UDP, no unix socket, no file; nothing
 * else of the confinement moves. Over a unix socket: AF_UNIX streams
 * only, no TCP at all. */
static void test_a_postgres_store_opens_only_its_own_port_to_executors(void **state)
{
    th_redis redis;
    char url[300], v[64], pv[16];
    const char *extra[] = { "--data-url", url, NULL };
    static const char *const still[] = {
        "socket_unix", "socket_udp", "fork", "ptrace_parent", "kill_parent", "setuid_root",
        "unshare_user", "mmap_exec", "raise_nofile", "raise_nproc", "raise_core",
    };
    char *line;
    pid_t pid;
    int done, port, lfd;

    (void)state;
    if (geteuid() != 0 || getpwnam("nobody") == NULL)
        skip();
    {   /* a build without the postgres backend refuses such a store */
        store *s = NULL;
        rhai_error err;
        if (store_new("postgres://rhai@127.0.0.1:1/rhai", &dsl_schema, &s, &err) != 0) {
            print_message("no postgres backend: %s\n", err.msg);
            skip();
        }
        store_free(s);
    }
    assert_int_equal(th_redis_start(&redis, 0), 0);
    lfd = listener(&port);
    snprintf(url, sizeof url, "postgres://rhai:s3cret@127.0.0.1:%d/rhai", port);
    snprintf(pv, sizeof pv, "%d", port);
    assert_int_equal(setenv("RHAI_TEST_CONFINE_STORE", pv, 1), 0);
    line = probe(&redis, extra, &pid, &done);
    assert_int_equal(unsetenv("RHAI_TEST_CONFINE_STORE"), 0);
    assert_true(done);
    for (size_t i = 0; i < sizeof still / sizeof still[0]; i++) {
        assert_non_null(field(line, still[i], v, sizeof v));
        if (strcmp(v, "ok") == 0)
            fail_msg("the executor could %s", still[i]);
    }
    assert_string_equal(field(line, "socket_inet", v, sizeof v), "ok");
    assert_null(field(line, "write_data_dir", v, sizeof v));      /* there is none */
    if (atoi(field(line, "landlock", v, sizeof v)) >= 4) {
        assert_string_equal(field(line, "connect_store", v, sizeof v), "ok");
        assert_string_equal(field(line, "connect_redis", v, sizeof v), "EACCES");
    } else {
        print_message("Landlock ABI < 4: TCP ports not asserted\n");
    }
    if (atoi(field(line, "landlock", v, sizeof v)) > 0) {
        assert_string_equal(field(line, "read_etc_passwd", v, sizeof v), "EACCES");
        assert_string_equal(field(line, "write_outside", v, sizeof v), "EACCES");
    }
    free(line);
    /* the password never reaches an executor's command line (it travels in
     * the environment), and there are executors to look at */
    assert_int_equal(th_sh("for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' <$f 2>/dev/null | "
                           "grep -q -- '--executor --executor-as-limi[t]' && exit 0; done; exit 1"),
                     0);
    assert_int_not_equal(th_sh("for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' <$f 2>/dev/null"
                               " | grep -q -- '--executor .*s3[c]ret' && exit 0; done; exit 1"), 0);
    assert_int_equal(WEXITSTATUS(th_stop(pid, 10000)), 0);
    th_redis_stop(&redis);

    /* over a unix socket: AF_UNIX, and no TCP */
    assert_int_equal(th_redis_start(&redis, 0), 0);
    snprintf(url, sizeof url, "postgresql:///rhai?host=%s", redis.dir);
    line = probe(&redis, extra, &pid, &done);
    assert_true(done);
    assert_string_equal(field(line, "socket_unix", v, sizeof v), "ok");
    assert_string_not_equal(field(line, "socket_inet", v, sizeof v), "ok");
    assert_string_not_equal(field(line, "connect_redis", v, sizeof v), "ok");
    assert_string_not_equal(field(line, "socket_udp", v, sizeof v), "ok");
    free(line);
    assert_int_equal(WEXITSTATUS(th_stop(pid, 10000)), 0);
    th_redis_stop(&redis);
    close(lfd);
}

/* Started as root with an executor user it cannot use, rhaid stops at
 * once with a configuration error (exit 2: systemd does not restart it,
 * RestartPreventExitStatus=2) and changes nothing: an unknown user, or a
 * data dir that is not rhaid's own (a careless --data-dir naming a
 * directory of the system must not hand it and its files to nobody). */
static void test_an_unusable_executor_user_or_data_dir_is_a_configuration_error(void **state)
{
    char top[] = "/tmp/rhai-confine-cfg-XXXXXX";
    char bin[512], data[300], log[300];
    char *argv[] = { (char *)th_bin("rhaid", bin, sizeof bin), "--redis-url",
                     "redis://127.0.0.1:1", "--worker-id", "cfg", "--concurrency", "1",
                     "--data-dir", data, "--executor-user", "no-such-user-rhai", NULL };
    struct stat st;
    int status;
    pid_t pid;

    (void)state;
    if (geteuid() != 0 || getpwnam("nobody") == NULL)
        skip();
    assert_non_null(mkdtemp(top));
    snprintf(data, sizeof data, "%s/etc", top);
    snprintf(log, sizeof log, "%s/rhaid.log", top);
    assert_int_equal(th_sh("mkdir -m 755 %s && echo x > %s/shadow && chmod 600 %s/shadow",
                           data, data, data), 0);
    assert_true((pid = th_spawn(argv, NULL, log)) > 0);
    status = th_wait(pid, 10000);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 2);
    assert_int_equal(th_sh("grep -q 'no such user' %s", log), 0);

    argv[10] = "nobody";
    assert_true((pid = th_spawn(argv, NULL, log)) > 0);
    status = th_wait(pid, 10000);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 2);
    assert_int_equal(th_sh("grep -q \"holds 'shadow'\" %s", log), 0);
    assert_int_equal(stat(data, &st), 0);
    assert_int_equal(st.st_uid, 0);
    assert_int_equal(th_sh("test \"$(stat -c %%u %s/shadow)\" = 0", data), 0);
    assert_int_equal(th_sh("rm -rf %s", top), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_an_executor_of_root_rhaid_runs_as_nobody_and_cannot_escape),
        cmocka_unit_test(test_an_executor_kept_root_is_confined_all_the_same),
        cmocka_unit_test(test_executor_seccomp_off_lifts_only_the_filter),
        cmocka_unit_test(test_a_postgres_store_opens_only_its_own_port_to_executors),
        cmocka_unit_test(test_an_unusable_executor_user_or_data_dir_is_a_configuration_error),
    };
    return cmocka_run_group_tests_name("confine", tests, NULL, NULL);
}
