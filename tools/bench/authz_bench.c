/* authz_bench.c -- rhai_bench_authz: what authorization adds to a DSL call.
 *
 * In-process (eng_run with the DSL installed on a temp data dir, no
 * Redis): N Company.get calls inside one task, as the context's owner and
 * as a caller with a model-wide read grant (among G other grants), and
 * store_authorize alone, called N times on the open context, for an
 * owner, a grantee and a denied caller. Prints microseconds per call.
 * Figures go to docs/performance.md; nothing is asserted.
 *
 *   rhai_bench_authz [N [G]]      (default N 20000, G 100) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl.h"

static int seq;

static double task_us(const char *caller, const char *script)
{
    char id[32];
    eng_input in;
    eng_output out;
    int64_t t0;
    double us;

    snprintf(id, sizeof id, "bench-%d", ++seq);
    memset(&in, 0, sizeof in);
    in.task_id = id;
    in.script = script;
    in.script_len = strlen(script);
    in.context_id = "bench";
    in.caller_id = caller;
    in.worker_id = "w";
    t0 = rh_mono_us();
    if (eng_run(&in, NULL, &out) != 0 || out.status != RHAI_STATUS_DONE) {
        fprintf(stderr, "rhai_bench_authz: %s: %s\n", caller, out.error ? out.error : "failed");
        exit(1);
    }
    us = (double)(rh_mono_us() - t0);
    eng_output_clear(&out);
    return us;
}

static double authorize_us(store_db *db, const char *caller, long n, int want)
{
    rhai_error err;
    int64_t t0 = rh_mono_us();

    for (long i = 0; i < n; i++)
        if (store_authorize(db, caller, "company", STORE_OP_READ, 1 + i % 100, rh_now_ms(),
                            &err) != want) {
            fprintf(stderr, "rhai_bench_authz: unexpected decision for %s\n", caller);
            exit(1);
        }
    return (double)(rh_mono_us() - t0) / (double)n;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000;
    long g = argc > 2 ? atol(argv[2]) : 100;
    char dir[] = "/tmp/rhai-bench-authz-XXXXXX";
    char script[256], cmd[128];
    double owner, grantee, empty, a_owner, a_grantee, a_denied;
    rhai_error err;
    store *st;
    store_db *db;

    if (n < 1 || g < 0 || mkdtemp(dir) == NULL || dsl_install(dir, &err) != 0 ||
        store_new(dir, &dsl_schema, &st, &err) != 0 ||
        store_context_create(st, "bench", "owner", &err) != 0 ||
        store_open(st, "bench", &db, &err) != 0) {
        fprintf(stderr, "usage: rhai_bench_authz [N [G]] (setup failed)\n");
        return 2;
    }
    for (long i = 0; i < g; i++) {     /* other callers' grants, as in a used context */
        char who[32];
        store_grant gr = { who, "company", STORE_OP_ALL, 0, 0, "owner" };
        snprintf(who, sizeof who, "other-%ld", i);
        store_grant_add(db, &gr, NULL, &err);
    }
    {
        store_grant gr = { "grantee", "company", STORE_OP_READ, 0, 0, "owner" };
        store_grant_add(db, &gr, NULL, &err);
    }
    task_us("owner", "for (var i = 0; i < 100; i++) Company.create({name: 'c' + i}); 0");

    /* the loop without DSL calls, to subtract */
    snprintf(script, sizeof script,
             "var x = 0; for (var i = 0; i < %ld; i++) x += 1 + i %% 100; x", n);
    empty = task_us("owner", script);
    snprintf(script, sizeof script,
             "var x = 0; for (var i = 0; i < %ld; i++) x += Company.get(1 + i %% 100).id; x", n);
    task_us("owner", script);                  /* warm the caches */
    owner = task_us("owner", script);
    grantee = task_us("grantee", script);

    if (store_begin(db, &err) != 0)
        return 1;
    authorize_us(db, "owner", n, 1);           /* warm */
    a_owner = authorize_us(db, "owner", n, 1);
    a_grantee = authorize_us(db, "grantee", n, 2);
    a_denied = authorize_us(db, "nobody", n, 0);
    store_rollback(db);

    printf("rhai_bench_authz: N=%ld gets per task, %ld other grants in the context\n", n, g);
    printf("Company.get as owner           %7.2f us/call\n", (owner - empty) / (double)n);
    printf("Company.get as grantee         %7.2f us/call\n", (grantee - empty) / (double)n);
    printf("store_authorize, owner         %7.2f us/call\n", a_owner);
    printf("store_authorize, grantee       %7.2f us/call\n", a_grantee);
    printf("store_authorize, denied        %7.2f us/call\n", a_denied);

    store_free(st);
    dsl_uninstall();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
