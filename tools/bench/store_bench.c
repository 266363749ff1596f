/* store_bench.c -- rhai_bench_store: the store's costs on either backend.
 *
 * In-process (eng_run with the DSL installed on URL, no Redis), on the
 * backend URL names (a data dir: sqlite; postgres://...: postgres):
 *
 *   rhai_bench_store URL pairs N        one task of N Company create+get
 *                                       pairs: us per pair
 *   rhai_bench_store URL writes50 T     T tasks of 50 creates each: us per
 *                                       task
 *   rhai_bench_store URL hot P T        P processes, each its own store
 *                                       (connection), T tasks each, all in
 *                                       one context; a task creates a row,
 *                                       reads it back and updates it:
 *                                       tasks/s of all P together, and the
 *                                       runs the store asked to repeat
 *   rhai_bench_store URL contexts N     create N contexts: ms per create,
 *                                       then a create+get task in a context
 *                                       among them (first open and warm)
 *
 * Prints "name value unit" lines (docs/performance.md keeps them, with the
 * command: tools/bench-store.sh). Nothing is asserted. Every task is an
 * ordinary DSL task: its own transaction, ledger row and audit rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dsl/dsl.h"

static int seq;

/* Run 'script' as a task in 'ctx'; 1 done, 0 the store asked for a rerun
 * (transient), exits on any other outcome. */
static int task(const char *ctx, const char *script)
{
    char id[64];
    eng_input in;
    eng_output out;
    int ok;

    snprintf(id, sizeof id, "bench-%d-%d", (int)getpid(), ++seq);
    memset(&in, 0, sizeof in);
    in.task_id = id;
    in.script = script;
    in.script_len = strlen(script);
    in.context_id = ctx;
    in.caller_id = "owner";
    in.worker_id = "w";
    if (eng_run(&in, NULL, &out) != 0) {
        fprintf(stderr, "rhai_bench_store: eng_run failed\n");
        exit(1);
    }
    ok = out.status == RHAI_STATUS_DONE;
    if (!ok && !out.transient) {
        fprintf(stderr, "rhai_bench_store: %s: %s\n", ctx, out.error ? out.error : "failed");
        exit(1);
    }
    eng_output_clear(&out);
    return ok;
}

/* A task that must be done, rerun while the store asks (counted). */
static long task_until_done(const char *ctx, const char *script)
{
    long reruns = 0;

    while (!task(ctx, script))
        reruns++;
    return reruns;
}

static void install(const char *url)
{
    rhai_error err;

    if (dsl_install(url, &err) != 0) {
        fprintf(stderr, "rhai_bench_store: %s\n", err.msg);
        exit(1);
    }
}

/* Create context 'ctx' (owner "owner") unless it exists. */
static void context(const char *url, const char *ctx)
{
    rhai_error err;
    store *st;
    int rc;

    if (store_new(url, &dsl_schema, &st, &err) != 0) {
        fprintf(stderr, "rhai_bench_store: %s\n", err.msg);
        exit(1);
    }
    rc = store_context_create(st, ctx, "owner", &err);
    if (rc != 0 && rc != RHAI_ESTATE) {
        fprintf(stderr, "rhai_bench_store: context %s: %s\n", ctx, err.msg);
        exit(1);
    }
    store_free(st);
}

static void bench_pairs(const char *url, long n)
{
    char script[256];
    int64_t t0, empty, full;

    context(url, "bench");
    install(url);
    snprintf(script, sizeof script, "var x = 0; for (var i = 0; i < %ld; i++) x += i; x", n);
    t0 = rh_mono_us();
    task_until_done("bench", script);
    empty = rh_mono_us() - t0;
    snprintf(script, sizeof script,
             "var x = 0; for (var i = 0; i < %ld; i++) "
             "x += Company.get(Company.create({name: 'c' + i}).id).id; x", n);
    task_until_done("bench", script);           /* warm: tables, statements */
    t0 = rh_mono_us();
    task_until_done("bench", script);
    full = rh_mono_us() - t0;
    printf("store_create_get_pair_us %.2f us\n", (double)(full - empty) / (double)n);
    dsl_uninstall();
}

static void bench_writes50(const char *url, long t)
{
    static const char script[] =
        "for (var i = 0; i < 50; i++) Company.create({name: 'w' + i}); 50";
    int64_t t0;

    context(url, "bench");
    install(url);
    task_until_done("bench", script);
    t0 = rh_mono_us();
    for (long i = 0; i < t; i++)
        task_until_done("bench", script);
    printf("store_task_50_writes_us %.1f us\n", (double)(rh_mono_us() - t0) / (double)t);
    dsl_uninstall();
}

static void bench_hot(const char *url, int p, long t)
{
    static const char script[] =
        "var c = Company.create({name: 'hot'}); Company.get(c.id); "
        "Company.update(c.id, {name: 'hot2'}); c.id";
    int fds[2];
    long reruns = 0;
    int64_t t0;
    int failed = 0;

    context(url, "hot");
    if (pipe(fds) != 0)
        exit(1);
    t0 = rh_mono_us();
    for (int i = 0; i < p; i++) {
        pid_t pid = fork();
        if (pid < 0)
            exit(1);
        if (pid == 0) {
            long r = 0;
            close(fds[0]);
            install(url);
            for (long k = 0; k < t; k++)
                r += task_until_done("hot", script);
            dsl_uninstall();
            if (write(fds[1], &r, sizeof r) != (ssize_t)sizeof r)
                _exit(1);
            _exit(0);
        }
    }
    close(fds[1]);
    for (int i = 0; i < p; i++) {
        long r;
        int status;
        if (read(fds[0], &r, sizeof r) == (ssize_t)sizeof r)
            reruns += r;
        if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failed = 1;
    }
    close(fds[0]);
    if (failed) {
        fprintf(stderr, "rhai_bench_store: a hot-context process failed\n");
        exit(1);
    }
    printf("store_hot_context_p%d_tasks_per_s %.0f tasks/s\n", p,
           (double)(p * t) * 1e6 / (double)(rh_mono_us() - t0));
    printf("store_hot_context_p%d_reruns %ld runs\n", p, reruns);
}

static void bench_contexts(const char *url, long n)
{
    rhai_error err;
    store *st;
    char ctx[64];
    int64_t t0;
    static const char script[] = "Company.get(Company.create({name: 'x'}).id).id";

    if (store_new(url, &dsl_schema, &st, &err) != 0) {
        fprintf(stderr, "rhai_bench_store: %s\n", err.msg);
        exit(1);
    }
    t0 = rh_mono_us();
    for (long i = 0; i < n; i++) {
        snprintf(ctx, sizeof ctx, "ctx-%06ld", i);
        if (store_context_create(st, ctx, "owner", &err) != 0) {
            fprintf(stderr, "rhai_bench_store: %s: %s\n", ctx, err.msg);
            exit(1);
        }
    }
    printf("store_context_create_ms %.3f ms\n", (double)(rh_mono_us() - t0) / 1000.0 / (double)n);
    store_free(st);

    install(url);
    snprintf(ctx, sizeof ctx, "ctx-%06ld", n / 2);
    t0 = rh_mono_us();
    task_until_done(ctx, script);
    printf("store_first_task_in_a_context_us %lld us\n", (long long)(rh_mono_us() - t0));
    task_until_done(ctx, script);
    t0 = rh_mono_us();
    for (int i = 0; i < 100; i++)
        task_until_done(ctx, script);
    printf("store_task_create_get_among_%ld_contexts_us %.1f us\n", n,
           (double)(rh_mono_us() - t0) / 100.0);
    dsl_uninstall();
}

int main(int argc, char **argv)
{
    const char *url = argc > 2 ? argv[1] : NULL;
    const char *what = argc > 2 ? argv[2] : "";
    long a = argc > 3 ? atol(argv[3]) : 0, b = argc > 4 ? atol(argv[4]) : 0;

    if (url && strcmp(what, "pairs") == 0 && a > 0)
        bench_pairs(url, a);
    else if (url && strcmp(what, "writes50") == 0 && a > 0)
        bench_writes50(url, a);
    else if (url && strcmp(what, "hot") == 0 && a > 0 && b > 0)
        bench_hot(url, (int)a, b);
    else if (url && strcmp(what, "contexts") == 0 && a > 0)
        bench_contexts(url, a);
    else {
        fprintf(stderr, "usage: rhai_bench_store URL pairs N | writes50 T | hot P T | "
                "contexts N\n");
        return 2;
    }
    return 0;
}
