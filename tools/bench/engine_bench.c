/* engine_bench.c -- rhai_bench_engine: the per-task cost of the sandbox,
 * broken down, one line per figure ("name value unit"), no Redis.
 *
 *   rhai_bench_engine EXECUTOR_PATH [ROUNDS]
 *
 * (c) of issue 7: an interpreter state alone (js_newstate + js_freestate),
 * eng_run of a trivial task (state, globals, compile, run, result,
 * teardown) without and with the DSL installed, the DSL bound for one
 * model and for all, and the round trip of a trivial task through a real
 * executor process (`rhai-executor --executor`, or `rhaid --executor`,
 * the frames rhaid sends) so that the pipe and framing cost shows as the
 * difference, beside the floor of any such hop (a socketpair ping-pong); back to back (the
 * executor has no idle time) and paced (1 ms between tasks, the p50 of
 * each round trip: what a task waits for when the executor had time to
 * prepare). (d): a DSL-heavy
 * task, 50 creates + 50 gets of Company by the context's owner.
 *
 * Each figure is the mean over N runs; the run is repeated ROUNDS times
 * (default 5) and the lowest mean is printed, because the machine is
 * shared and interference only ever adds time. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <mujs.h>

#include "common/common.h"
#include "engine/engine.h"
#include "dsl/dsl.h"

static int rounds = 5;
static long task_seq;

/* Nanoseconds per call of fn(arg), the best of 'rounds' means over n. */
typedef int (*bench_fn)(void *arg);

static double best_ns(bench_fn fn, void *arg, int n)
{
    double best = -1;

    for (int r = 0; r < rounds; r++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (int i = 0; i < n; i++)
            if (fn(arg) != 0) {
                fprintf(stderr, "rhai_bench_engine: a run failed\n");
                exit(1);
            }
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / n;
        if (best < 0 || ns < best)
            best = ns;
    }
    return best;
}

static int state_pair(void *arg)
{
    (void)arg;
    js_State *J = js_newstate(NULL, NULL, 0);
    if (J == NULL)
        return -1;
    js_freestate(J);
    return 0;
}

typedef struct run_arg {
    const char *script;
    const char *context;
    const char *caller;
} run_arg;

static int run_once(void *arg)
{
    const run_arg *ra = arg;
    char id[64];
    eng_input in;
    eng_output out;
    int rc;

    snprintf(id, sizeof id, "bench-%ld", ++task_seq);   /* the ledger keys on it */
    memset(&in, 0, sizeof in);
    in.task_id = id;
    in.script = ra->script;
    in.script_len = strlen(ra->script);
    in.args_json = "{}";
    in.worker_id = "bench";
    in.context_id = ra->context;
    in.caller_id = ra->caller;
    eng_run(&in, NULL, &out);
    rc = out.status == RHAI_STATUS_DONE ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "rhai_bench_engine: %s\n", out.error ? out.error : "?");
    eng_output_clear(&out);
    return rc;
}

/* ---- a real executor process over a socketpair, as rhaid runs it ---- */

typedef struct exec_arg {
    int      fd;
    rh_buf   in;
    rh_buf   frame;
} exec_arg;

static int exec_once(void *arg)
{
    exec_arg *x = arg;
    char id[64];
    eng_input in;
    char *reply;
    size_t len;
    int rc;

    snprintf(id, sizeof id, "bench-x-%ld", ++task_seq);
    memset(&in, 0, sizeof in);
    in.task_id = id;
    in.script = "40 + 2";
    in.script_len = 6;
    in.args_json = "{}";
    in.worker_id = "bench";
    x->frame.len = 0;
    if (eng_msg_encode_task(&x->frame, &in, NULL) != 0)     /* one frame */
        return -1;
    for (size_t off = 0; off < x->frame.len;) {
        ssize_t w = write(x->fd, x->frame.data + off, x->frame.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        off += (size_t)w;
    }
    while ((rc = rh_frame_decode(&x->in, &reply, &len)) == RHAI_EAGAIN) {
        if (rh_buf_reserve(&x->in, 65536) != 0)
            return -1;
        ssize_t r = read(x->fd, x->in.data + x->in.len, 65536);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        x->in.len += (size_t)r;
    }
    if (rc != 0)
        return -1;
    {
        eng_output out;
        char *rid = NULL;

        eng_output_init(&out);
        rc = eng_msg_decode_result(reply, len, &rid, &out, NULL) == 0 &&
             out.status == RHAI_STATUS_DONE ? 0 : -1;
        rh_free(rid);
        eng_output_clear(&out);
    }
    rh_free(reply);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Round trips one at a time with 'gap_us' of quiet between them, as
 * rhaid's executors see tasks arriving from Redis: the p50 in ns. */
static double paced_p50_ns(exec_arg *x, int n, int gap_us)
{
    double *v = malloc(sizeof *v * (size_t)n);

    if (v == NULL)
        exit(1);
    for (int i = 0; i < n; i++) {
        struct timespec a, b;
        usleep((useconds_t)gap_us);
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (exec_once(x) != 0) {
            fprintf(stderr, "rhai_bench_engine: a run failed\n");
            exit(1);
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        v[i] = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
    }
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    double p50 = v[n / 2];
    free(v);
    return p50;
}

static pid_t exec_start(const char *exe, int *fd)
{
    int sv[2];
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return -1;
    if ((pid = fork()) == 0) {
        dup2(sv[1], 0);
        close(sv[0]);
        close(sv[1]);
        execl(exe, exe, "--executor", (char *)NULL);
        _exit(127);
    }
    close(sv[1]);
    *fd = sv[0];
    return pid;
}

/* ---- the floor of a process hop ---- */

/* One 200-byte message and its echo over a socketpair: what any exchange
 * between two processes (rhaid and an executor, a client and Redis) costs
 * at least. On a VM a wake-up on the other CPU can cost far more than one
 * on the same CPU, so both are measured: pinned runs both ends on the
 * first CPU this process may use. */
static int pp_fd;

static int pingpong_once(void *arg)
{
    char b[200];
    size_t got = 0;
    (void)arg;
    memset(b, 'x', sizeof b);
    if (write(pp_fd, b, sizeof b) != (ssize_t)sizeof b)
        return -1;
    while (got < sizeof b) {
        ssize_t n = read(pp_fd, b, sizeof b - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

static double pingpong_ns(int pinned)
{
    cpu_set_t old, one;
    int sv[2], status, cpu = 0;
    char b[256];
    double ns;
    pid_t pid;

    if (sched_getaffinity(0, sizeof old, &old) != 0 ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return -1;
    if (pinned) {
        while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &old))
            cpu++;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        sched_setaffinity(0, sizeof one, &one);
    }
    if ((pid = fork()) == 0) {
        ssize_t n;
        close(sv[0]);
        while ((n = read(sv[1], b, sizeof b)) > 0)
            if (write(sv[1], b, (size_t)n) != n)
                break;
        _exit(0);
    }
    close(sv[1]);
    pp_fd = sv[0];
    ns = pid > 0 ? best_ns(pingpong_once, NULL, 5000) : -1;
    close(sv[0]);
    if (pid > 0)
        waitpid(pid, &status, 0);
    sched_setaffinity(0, sizeof old, &old);
    return ns;
}

static void print_us(const char *name, double ns)
{
    printf("%s %.1f us\n", name, ns / 1000.0);
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/rhai-bench-engine-XXXXXX";
    rhai_error err;
    store *st = NULL;
    exec_arg x;
    pid_t pid;
    int status;

    if (argc < 2) {
        fprintf(stderr, "usage: rhai_bench_engine EXECUTOR_PATH [ROUNDS]\n");
        return 2;
    }
    if (argc > 2 && (rounds = atoi(argv[2])) <= 0)
        rounds = 5;
    signal(SIGPIPE, SIG_IGN);

    double state_ns = best_ns(state_pair, NULL, 2000);
    run_arg trivial = { "40 + 2", NULL, NULL };
    double plain_ns = best_ns(run_once, &trivial, 2000);

    if (mkdtemp(dir) == NULL || dsl_install(dir, &err) != 0 ||
        store_new(dir, &dsl_schema, &st, &err) != 0 ||
        store_context_create(st, "bench", "alice", &err) != 0) {
        fprintf(stderr, "rhai_bench_engine: %s\n", err.msg);
        return 1;
    }
    store_free(st);
    run_arg dsl_none = { "40 + 2", "bench", "alice" };
    run_arg dsl_one = { "typeof Company; 40 + 2", "bench", "alice" };
    run_arg dsl_all = { "this['Company']; 40 + 2", "bench", "alice" };
    run_arg heavy = {
        "var ids = [];\n"
        "for (var i = 0; i < 50; i++) ids.push(Company.create({name: 'c' + i,"
        " email: 'x@y.z', status: 'active'}).id);\n"
        "for (var j = 0; j < 50; j++) Company.get(ids[j]);\n"
        "ids.length", "bench", "alice" };
    double none_ns = best_ns(run_once, &dsl_none, 2000);
    double one_ns = best_ns(run_once, &dsl_one, 2000);
    double all_ns = best_ns(run_once, &dsl_all, 500);
    double heavy_ns = best_ns(run_once, &heavy, 40);
    dsl_uninstall();

    memset(&x, 0, sizeof x);
    rh_buf_init(&x.in);
    rh_buf_init(&x.frame);
    if ((pid = exec_start(argv[1], &x.fd)) < 0) {
        fprintf(stderr, "rhai_bench_engine: cannot start %s\n", argv[1]);
        return 1;
    }
    double exec_ns = best_ns(exec_once, &x, 2000);
    double pp_ns = pingpong_ns(0), pp_pinned_ns = pingpong_ns(1);
    double paced_ns = paced_p50_ns(&x, 1000, 1000);
    close(x.fd);
    waitpid(pid, &status, 0);
    rh_buf_free(&x.in);
    rh_buf_free(&x.frame);

    print_us("engine_state_create_free", state_ns);
    print_us("engine_run_trivial", plain_ns);
    print_us("engine_run_trivial_dsl_installed", none_ns);
    print_us("engine_run_trivial_dsl_one_model", one_ns);
    print_us("engine_run_trivial_dsl_all_models", all_ns);
    print_us("executor_roundtrip_trivial", exec_ns);
    print_us("executor_ipc_overhead", exec_ns - plain_ns);
    print_us("ipc_pingpong_socketpair", pp_ns);
    print_us("ipc_pingpong_socketpair_same_cpu", pp_pinned_ns);
    print_us("executor_roundtrip_trivial_paced_p50", paced_ns);
    print_us("dsl_task_50_creates_50_gets", heavy_ns);
    print_us("dsl_create_plus_get_per_pair", heavy_ns / 50);

    char cmd[sizeof dir + 16];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
