/* executor_entry.c -- what an executor process runs: `rhai-executor`, or
 * `rhaid --executor` where that binary is missing.
 *
 * The pool starts executors as `EXE --executor --executor-as-limit N
 * (--data-dir DIR | --store-net NET [--store-read PASSFILE]) [--dev-mode]
 * [--no-seccomp]`, already as the executor user (execuser.c), with the
 * store's url in RHAI_DATA_URL (never in argv: it may hold a password). An executor confines itself (confine_linux.c) before
 * it reads its first task, and runs none if it cannot. rhai-executor
 * links only the engine, the DSL and the store: not libuv, hiredis,
 * libmicrohttpd (and its TLS stack) or libsystemd, so an idle executor
 * maps half the pages of an rhaid one (docs/performance.md). */
#include <pwd.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "engine/engine.h"
#include "dsl/dsl.h"
#include "executor_entry.h"

/* LeakSanitizer checks at exit from a thread that ptraces the process:
 * confined, it can do neither, so sanitizer builds leave without it. */
#if defined(__SANITIZE_ADDRESS__)
#define WK_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define WK_LSAN 1
#endif
#endif
#ifndef WK_LSAN
#define WK_LSAN 0
#endif

int wk_confine_net_parse(const char *spec, wk_confine *c)
{
    char one[32];
    const char *p = spec, *e;

    c->net_unix = c->net_tcp = c->nports = 0;
    while (*p) {
        size_t n = (e = strchr(p, ',')) ? (size_t)(e - p) : strlen(p);
        char *end;
        long port;
        if (n == 0 || n >= sizeof one)
            return -1;
        memcpy(one, p, n);
        one[n] = '\0';
        if (strcmp(one, "unix") == 0) {
            c->net_unix = 1;
        } else if (strncmp(one, "tcp:", 4) == 0) {
            port = strtol(one + 4, &end, 10);
            if (*end || port < 1 || port > 65535 || c->nports >= WK_CONFINE_PORTS)
                return -1;
            c->net_tcp = 1;
            c->ports[c->nports++] = (int)port;
        } else {
            return -1;
        }
        p += n + (e != NULL);
    }
    return 0;
}

/* The store's url from RHAI_DATA_URL, copied (new, NULL: none); the
 * variable's text is overwritten where the kernel shows it
 * (/proc/PID/environ) and removed: a password in it outlives no longer
 * than this call. */
static char *take_data_url(void)
{
    char *v = getenv("RHAI_DATA_URL"), *copy;

    if (v == NULL || *v == '\0')
        return NULL;
    copy = rh_strdup(v);
    memset(v, '*', strlen(v));
    unsetenv("RHAI_DATA_URL");
    return copy;
}

int wk_executor_entry(int argc, char **argv)
{
    wk_confine conf;
    char *url;
    long long as = 0;
    int dev = 0, abi = 0, probe = -1, code;
    rhai_error err;

    memset(&conf, 0, sizeof conf);
    conf.seccomp = 1;
    if (argc < 2 || strcmp(argv[1], "--executor") != 0)
        return 2;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--executor-as-limit") == 0 && i + 1 < argc)
            as = atoll(argv[++i]);
        else if (strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc)
            conf.data_dir = argv[++i];
        else if (strcmp(argv[i], "--store-net") == 0 && i + 1 < argc) {
            if (wk_confine_net_parse(argv[++i], &conf) != 0)
                return 2;
        } else if (strcmp(argv[i], "--store-read") == 0 && i + 1 < argc)
            conf.read_file = argv[++i];
        else if (strcmp(argv[i], "--dev-mode") == 0)
            dev = 1;
        else if (strcmp(argv[i], "--log-json") == 0)
            rh_log_format = RH_LOG_FMT_JSON;
        else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc &&
                 rh_log_level_parse(argv[i + 1]) >= 0)
            rh_log_level = rh_log_level_parse(argv[++i]);
        else if (strcmp(argv[i], "--no-seccomp") == 0)
            conf.seccomp = 0;
        else
            return 2;
    }
    conf.as_limit = as > 0 ? (size_t)as : 0;
    rh_log_init("rhaid-executor");
    /* The DSL's contexts live in the daemon's store; without one, scripts
     * run without the DSL. */
    url = take_data_url();
    if (url && dsl_install(url, &err) != 0)
        rh_log(RH_LOG_WARN, "event=dsl_unavailable reason=\"%s\"", RH_LOG_Q(err.msg));
    rh_free(url);
    /* libpq names the user it connects as from the passwd file unless told:
     * confined, no such file can be read, so look it up now. */
    if ((conf.net_unix || conf.net_tcp) && getenv("PGUSER") == NULL) {
        struct passwd *pw = getpwuid(geteuid());
        if (pw)
            setenv("PGUSER", pw->pw_name, 0);
    }
    /* dev_mode: unknown contexts are created by their first task */
    if (dev)
        dsl_set_dev_mode(1);
    /* Started from an open file (/proc/self/fd/N, see pool.c), the
     * process would be named "N": name it after its binary. */
    prctl(PR_SET_NAME, strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0]);
    /* An executor must not outlive its daemon (kill -9 of rhaid would
     * otherwise leave a `while(true){}` spinning forever). */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        return 1;
    /* SQLite seeds its generator from /dev/urandom on first use: seed it
     * now, while files outside the data dir can still be read. */
    sqlite3_randomness(0, NULL);
#ifdef RHAI_TEST_HOOKS
    probe = wk_confine_probe_prepare();
#endif
    if (wk_confine_apply(&conf, &abi, &err) != 0) {
        rh_log(RH_LOG_ERROR, "event=executor_unconfined reason=\"%s\" the executor exits "
               "without running a task", RH_LOG_Q(err.msg));
        return 1;
    }
    /* rhaid said so at start, once (execuser.c). */
    rh_log(RH_LOG_DEBUG, "event=executor_confined uid=%d landlock_abi=%d seccomp=%d",
           (int)getuid(), abi, conf.seccomp);
#ifdef RHAI_TEST_HOOKS
    wk_confine_probe(probe, &conf, abi);
    {   /* test hook: the n-th allocation from the loop's start fails
         * (test_executor_oom); every executor of the pool counts anew */
        const char *f = getenv("RHAI_TEST_EXECUTOR_ALLOC_FAIL_AFTER");
        if (f && *f)
            rh_alloc_fail_after(strtoul(f, NULL, 10));
    }
#else
    (void)probe;
#endif
    code = eng_executor_main(0, 0, 0);
    if (WK_LSAN)
        _exit(code);
    return code;
}
