/* test_chaos.c -- rhaid under failure, as a repeatable suite with figures.
 *
 * N tasks go through several rhaid instances sharing one worker id while
 * a schedule of faults runs: instances killed -9 and restarted; executors
 * killed -9 from outside; redis-server killed -9 and restarted (AOF,
 * fsync always); redis-server, or one instance, SIGSTOPped for longer
 * than the heartbeat TTL and then continued. At the end every task must
 * have exactly one reply on the shared reply list (none lost, none
 * duplicated), each reply names its own task, and no instance died unless
 * we killed it.
 *
 * ctest runs each variant short (a few thousand tasks, a few faults);
 * tools/chaos runs them long through the same code, configured by
 * environment: CHAOS_ONLY (variant name), CHAOS_TASKS, CHAOS_RATE
 * (tasks/s submitted), CHAOS_KILLS, CHAOS_EXEC_KILLS,
 * CHAOS_REDIS_RESTARTS, CHAOS_REDIS_STOPS, CHAOS_INSTANCE_STOPS,
 * CHAOS_READONLY (windows with the data dir read-only), CHAOS_READONLY_MS,
 * CHAOS_INSTANCES, CHAOS_TASK_MS, CHAOS_SEED, CHAOS_DEADLINE_S,
 * CHAOS_KEEP (1: keep the Redis dir and rhaid logs),
 * CHAOS_EFFECTS (0: tasks do not touch the DSL).
 *
 * Exactly-once effects: every task increments a counter in its context
 * (one of 8, SQLite through the DSL, one data dir shared by all
 * instances) and writes a row naming itself, in one transaction. At the
 * end, task by task: answered done means its effects applied exactly
 * once, answered crashed (executor killed) at most once, never twice;
 * and each counter equals its context's rows. The contexts are created up
 * front (store_context_create, owner "chaos") and every task names the
 * caller "chaos", as authorization requires.
 *
 * Data dir read-only: for a few seconds the shared data dir and its files
 * lose their write bits, then get them back. An executor that opens a
 * context meanwhile gets it read-only (files already open stay writable),
 * so its task's write fails ("attempt to write a readonly database") and
 * nothing of it commits; rhaid runs it again after 250 ms, 500 ms ... (a
 * store failure is transient), and answers it with an error only once the
 * store has failed for store_retry_ms (60 s). Such an error is accepted only for a task whose run
 * overlapped a window; a task answered with an error has no effects; every
 * task claimed after the dir is writable again must succeed. Root ignores
 * file modes, so when the test runs as root the instances of such a run
 * are started as "nobody" through setpriv(1).
 *
 * Each run prints one line starting "chaos " with its figures.
 *
 * Nothing sleeps for timing: the loop polls Redis and the clock, and the
 * fault schedule is a list of deadlines. Processes are only ever signalled
 * by the pids this test started (instances) or their children (executors,
 * found through /proc). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"
#include "dsl/dsl.h"            /* dsl_schema, store_context_create */

#define WORKER "chaos"
#define CALLER "chaos"                 /* every task's caller, owner of every context */
#define REPLY_LIST "rhai:reply:client:chaos"
#define CONTEXTS 8
#define MAX_INSTANCES 8
#define BATCH 100                      /* tasks per pipelined submit */
#define MAX_RO 64                      /* read-only windows per run */

/* The submit step of docs/protocol.md made idempotent, so a batch whose
 * acknowledgement was lost (Redis killed mid-batch) can be sent again
 * without queueing an id twice. KEYS[1] task hash, KEYS[2] queue;
 * ARGV[1] id, ARGV[2..] field/value pairs. */
static const char submit_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
    "redis.call('HSET', KEYS[1], unpack(ARGV, 2))\n"
    "redis.call('LPUSH', KEYS[2], ARGV[1])\n"
    "return 1\n";

/* Every task increments a counter in its context (the balance of the
 * account "chaos", through the DSL: one SQLite transaction with the
 * task's ledger row), works for CHAOS_TASK_MS so that faults catch tasks
 * mid-run, and returns its own id, so a reply carrying another task's
 * output would show. With CHAOS_EFFECTS=0 the DSL part is left out. */
static char script[512];
static const char counter_js[] =
    "var a = Account.list({ where: { name: 'chaos' }, limit: 1 });\n"
    "if (a.length) Account.update(a[0].id, { balance: a[0].balance + 1 });\n"
    "else Account.create({ name: 'chaos', owner: 'chaos', balance: 1 });\n"
    "Contact.create({ name: ctx.task_id });\n";
/* The counter and the ids of the tasks whose effects committed (one
 * contact row each, written in the same transaction as the increment). */
static const char read_js[] =
    "var a = Account.list({ where: { name: 'chaos' }, limit: 1 });\n"
    "var ids = [], off = 0, page;\n"
    "do {\n"
    "  page = Contact.list({ limit: 1000, offset: off, order: 'id' });\n"
    "  for (var i = 0; i < page.length; i++) ids.push(page[i].name);\n"
    "  off += page.length;\n"
    "} while (page.length === 1000);\n"
    "({ n: a.length ? a[0].balance : 0, ids: ids })\n";

typedef struct chaos_cfg {
    const char *name;
    int  tasks;
    int  rate;              /* tasks/s submitted (open loop) */
    int  instances;         /* rhaid instances serving WORKER */
    int  concurrency;       /* executors each */
    int  kills;             /* instance kill -9 + restart */
    int  exec_kills;        /* rounds of kill -9 of every executor */
    int  redis_restarts;    /* redis-server kill -9 + restart (AOF) */
    int  redis_stops;       /* SIGSTOP > heartbeat TTL, then SIGCONT */
    int  inst_stops;        /* an instance SIGSTOPped > heartbeat TTL */
    int  readonly;          /* windows with the data dir read-only */
    int  readonly_ms;       /* length of each */
    int  task_ms;           /* busy time of each task */
    int  effects;           /* tasks increment a DSL counter in their context */
    int  deadline_s;        /* the whole run, faults included */
    unsigned seed;
} chaos_cfg;

typedef struct chaos_result {
    int     replies;        /* elements on the reply list */
    int     lost;           /* tasks without a reply */
    int     duplicated;     /* replies beyond the first of a task */
    int     wrong;          /* replies whose output is not their id */
    int     done;
    int     crashed;        /* error_kind crashed (executor killed mid-run) */
    int     other;          /* any other status */
    int     ro_failed;      /* error: the store was read-only */
    int     ro_outside;     /* ... yet ran entirely outside every read-only window */
    int     failed_committed;   /* answered with an error, yet their effects committed */
    int     effects_unread; /* contexts whose counter and rows could not be read */
    int     redelivered;    /* tasks whose attempts > 1 */
    int     kills, exec_kills, executors_killed, redis_restarts, redis_stops, inst_stops;
    int     ro_windows;
    int     ro_retries;     /* runs failed by the read-only store, run again */
    int     ro_probe_writable;  /* windows where the instances' user could still write */
    int     unexpected_exits;
    int     stuck;          /* ids left in a queue or processing list */
    long    counter[CONTEXTS];      /* the DSL counter of each context */
    long    rows;           /* effect rows found, all contexts */
    int     effects_lost;   /* tasks answered done whose effects are missing */
    int     effects_dup;    /* effects applied more than once for a task */
    int     counter_off;    /* contexts whose counter differs from their rows */
    int     crashed_committed;  /* answered crashed, yet their effects committed */
    int     recovered;      /* ids requeued by recovery (rhaid logs) */
    int64_t ms;
} chaos_result;

typedef enum {
    EV_KILL, EV_EXEC_KILL, EV_REDIS_RESTART, EV_REDIS_STOP, EV_INST_STOP, EV_READONLY
} ev_kind;

typedef struct chaos_event {
    int64_t at;             /* ms after start */
    ev_kind kind;
} chaos_event;

typedef struct instance {
    pid_t   pid;            /* <= 0: down */
    int64_t restart_at;     /* mono ms, when down */
    int64_t cont_at;        /* mono ms, when SIGSTOPped (0: running) */
} instance;

typedef struct chaos {
    const chaos_cfg *cfg;
    chaos_result    *res;
    th_redis         redis;
    redisContext    *c;
    instance         inst[MAX_INSTANCES];
    chaos_event     *ev;
    int              nev, next_ev;
    int64_t          t0;
    int64_t          cont_at;       /* redis stopped until then (0: running) */
    unsigned         rng;
    unsigned char   *seen;          /* replies per task, saturating at 255 */
    unsigned char   *final;         /* 1 done, 2 crashed, 3 other (first reply) */
    unsigned char   *applied;       /* effect rows per task, saturating */
    int64_t          ro_until;      /* mono ms: data dir read-only until (0: writable) */
    int              ro_pending;    /* windows due while one was open: they follow it */
    int64_t          ro_from[MAX_RO], ro_to[MAX_RO];   /* wall ms of each window */
    int              as_user;       /* instances run as uid/gid (we are root) */
    uid_t            uid;
    gid_t            gid;
} chaos;

/* All instances share one data dir: a context is one SQLite file, and
 * its ledger can only answer a redelivered task if every instance that
 * may run it opens the same file. */
static char data_dir[300];
static const char *const rhaid_args[] = {
    "--heartbeat-ms", "200", "--heartbeat-ttl-ms", "1000", "--max-attempts", "10",
    "--log-level", "notice", "--data-dir", data_dir, NULL
};
/* With read-only windows: executors are recycled often, so that fresh
 * ones open their contexts while the dir is read-only, as after an
 * instance restart or an executor crash. (A file already open for writing
 * stays writable whatever its mode: chmod revokes nothing.) */
static const char *const rhaid_ro_args[] = {
    "--heartbeat-ms", "200", "--heartbeat-ttl-ms", "1000", "--max-attempts", "10",
    "--log-level", "notice", "--data-dir", data_dir, "--max-tasks-per-executor", "10", NULL
};
static const char setpriv_path[] = "/usr/bin/setpriv";

/* ======================== helpers ======================== */

static unsigned rnd(chaos *ch)
{
    ch->rng = ch->rng * 1103515245u + 12345u;
    return (ch->rng >> 8) & 0xffffff;
}

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : def;
}

static void nap_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int64_t elapsed(const chaos *ch)
{
    return rh_mono_ms() - ch->t0;
}

/* A connection with a command timeout: while Redis is stopped a command
 * fails after 500 ms instead of hanging the loop that must resume it. */
static redisContext *conn(chaos *ch)
{
    struct timeval tv = { 0, 500000 };
    if (ch->c && ch->c->err) {
        redisFree(ch->c);
        ch->c = NULL;
    }
    if (ch->c == NULL && ch->cont_at == 0) {
        ch->c = th_redis_connect(&ch->redis);
        if (ch->c)
            redisSetTimeout(ch->c, tv);
    }
    return ch->c;
}

static long long cmd_int(chaos *ch, const char *fmt, ...)
{
    redisContext *c = conn(ch);
    redisReply *r;
    long long v = -1;
    va_list ap;

    if (c == NULL)
        return -1;
    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (r && r->type == REDIS_REPLY_INTEGER)
        v = r->integer;
    if (r)
        freeReplyObject(r);
    return v;
}

/* ======================== faults ======================== */

/* th_rhaid_start() as ch->uid/gid through setpriv (which execs rhaid in
 * the same pid and keeps its parent-death signal); -1 on failure. */
static pid_t rhaid_start_as(chaos *ch, const char *const extra[])
{
    static int seq;
    char bin[512], conc[16], uid[16], gid[16], log[300];
    char *argv[64];
    int argc = 0;
    pid_t pid;

    snprintf(conc, sizeof conc, "%d", ch->cfg->concurrency);
    snprintf(uid, sizeof uid, "%d", (int)ch->uid);
    snprintf(gid, sizeof gid, "%d", (int)ch->gid);
    snprintf(log, sizeof log, "%s/rhaid-as-%d.log", ch->redis.dir, ++seq);
    argv[argc++] = (char *)setpriv_path;
    argv[argc++] = "--reuid";
    argv[argc++] = uid;
    argv[argc++] = "--regid";
    argv[argc++] = gid;
    argv[argc++] = "--clear-groups";
    argv[argc++] = "--pdeathsig";       /* credentials changed: set it again */
    argv[argc++] = "KILL";
    argv[argc++] = "--";
    argv[argc++] = (char *)th_bin("rhaid", bin, sizeof bin);
    argv[argc++] = "--redis-url";
    argv[argc++] = ch->redis.url;
    argv[argc++] = "--worker-id";
    argv[argc++] = WORKER;
    argv[argc++] = "--concurrency";
    argv[argc++] = conc;
    for (size_t i = 0; extra[i] && argc < 62; i++)
        argv[argc++] = (char *)extra[i];
    argv[argc] = NULL;
    if ((pid = th_spawn(argv, NULL, log)) < 0)
        return -1;
    return th_rhaid_ready(&ch->redis, WORKER, pid, log) == 0 ? pid : -1;
}

static void instance_start(chaos *ch, int i)
{
    const char *const *extra = ch->cfg->readonly ? rhaid_ro_args : rhaid_args;

    if (ch->as_user)
        ch->inst[i].pid = rhaid_start_as(ch, extra);
    else
        ch->inst[i].pid = th_rhaid_start(&ch->redis, WORKER, ch->cfg->concurrency, extra);
    if (ch->inst[i].pid <= 0)           /* retried on the next pass */
        ch->inst[i].restart_at = rh_mono_ms() + 500;
}

static int instances_up(const chaos *ch)
{
    int n = 0;
    for (int i = 0; i < ch->cfg->instances; i++)
        n += ch->inst[i].pid > 0;
    return n;
}

static void kill_instance(chaos *ch)
{
    int up = instances_up(ch), pick;
    if (up < 2)
        return;                         /* keep one serving: progress continues */
    pick = (int)(rnd(ch) % (unsigned)up);
    for (int i = 0; i < ch->cfg->instances; i++) {
        if (ch->inst[i].pid <= 0 || pick-- > 0)
            continue;
        kill(ch->inst[i].pid, SIGKILL);     /* works on a frozen one too */
        th_wait(ch->inst[i].pid, 5000);
        ch->inst[i].pid = -1;
        ch->inst[i].cont_at = 0;
        ch->inst[i].restart_at = rh_mono_ms() + 300 + rnd(ch) % 1200;
        ch->res->kills++;
        return;
    }
}

/* kill -9 every executor of our instances: children found in /proc. */
static void kill_executors(chaos *ch)
{
    DIR *d = opendir("/proc");
    struct dirent *de;

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        char path[300], buf[512], *p;
        FILE *f;
        int pid, ppid;
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        if ((f = fopen(path, "r")) == NULL)
            continue;
        p = fgets(buf, sizeof buf, f);
        fclose(f);
        /* pid (comm) state ppid ...: comm may hold spaces, skip to ')' */
        if (p == NULL || (p = strrchr(buf, ')')) == NULL || sscanf(p + 2, "%*c %d", &ppid) != 1)
            continue;
        pid = atoi(de->d_name);
        for (int i = 0; i < ch->cfg->instances; i++)
            if (ch->inst[i].pid > 0 && ppid == ch->inst[i].pid) {
                kill(pid, SIGKILL);
                ch->res->executors_killed++;
            }
    }
    closedir(d);
    ch->res->exec_kills++;
}

/* Freeze a running instance past the heartbeat TTL (a VM pause, a
 * debugger, swap): the others recover its tasks while it still holds
 * them, and it finishes them when it wakes up. */
static void stop_instance(chaos *ch)
{
    int up = instances_up(ch), pick;
    if (up < 2)
        return;
    pick = (int)(rnd(ch) % (unsigned)up);
    for (int i = 0; i < ch->cfg->instances; i++) {
        if (ch->inst[i].pid <= 0 || pick-- > 0)
            continue;
        if (ch->inst[i].cont_at)
            return;                     /* already frozen */
        kill(ch->inst[i].pid, SIGSTOP);
        ch->inst[i].cont_at = rh_mono_ms() + 2500;
        ch->res->inst_stops++;
        return;
    }
}

static void redis_restart(chaos *ch)
{
    if (ch->c) {
        redisFree(ch->c);
        ch->c = NULL;
    }
    kill(ch->redis.pid, SIGKILL);       /* no shutdown: only the AOF saves us */
    assert_int_equal(th_redis_restart(&ch->redis), 0);
    ch->res->redis_restarts++;
}

static void redis_stop(chaos *ch)
{
    if (ch->c) {
        redisFree(ch->c);
        ch->c = NULL;
    }
    kill(ch->redis.pid, SIGSTOP);
    ch->cont_at = rh_mono_ms() + 2500;  /* heartbeat TTL is 1000 ms */
    ch->res->redis_stops++;
}

/* Take the write bits off the data dir and every file in it, or give the
 * owner's back. The dir goes first, so no file appears unseen; a file
 * that vanishes meanwhile (a -wal removed at close) is skipped. */
static void data_dir_writable(int on)
{
    static mode_t dir_mode;             /* the dir's own, given back */
    struct stat dsb;
    DIR *d;
    struct dirent *de;

    if (!on) {
        assert_int_equal(stat(data_dir, &dsb), 0);
        dir_mode = dsb.st_mode & 07777;
        assert_int_equal(chmod(data_dir, dir_mode & 07555), 0);
    }
    assert_non_null(d = opendir(data_dir));
    while ((de = readdir(d)) != NULL) {
        char path[600];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", data_dir, de->d_name);
        if (de->d_name[0] == '.' || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        if (chmod(path, on ? (sb.st_mode & 07777) | S_IWUSR : sb.st_mode & 07555) != 0)
            assert_int_equal(errno, ENOENT);
    }
    closedir(d);
    if (on)
        assert_int_equal(chmod(data_dir, dir_mode), 0);
}

/* 1 when the instances' user can still create a file in the data dir or
 * open a context for writing: the fault would test nothing. */
static int data_dir_probe_writable(const chaos *ch)
{
    pid_t pid = fork();
    int st;

    assert_true(pid >= 0);
    if (pid == 0) {
        char path[600];
        int fd;
        if (ch->as_user && (setgroups(0, NULL) != 0 || setresgid(ch->gid, ch->gid, ch->gid) != 0 ||
                            setresuid(ch->uid, ch->uid, ch->uid) != 0))
            _exit(2);
        snprintf(path, sizeof path, "%s/probe", data_dir);
        if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644)) >= 0) {
            unlink(path);
            _exit(1);
        }
        snprintf(path, sizeof path, "%s/chaos-0.db", data_dir);
        _exit(open(path, O_WRONLY) >= 0 ? 1 : 0);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return !WIFEXITED(st) || WEXITSTATUS(st) != 0;
}

static void readonly_begin(chaos *ch)
{
    int w = ch->res->ro_windows;

    if (w >= MAX_RO)
        return;
    if (ch->ro_until) {                 /* already read-only: right after this one */
        ch->ro_pending++;
        return;
    }
    ch->ro_from[w] = rh_now_ms();
    data_dir_writable(0);
    ch->res->ro_probe_writable += data_dir_probe_writable(ch);
    ch->ro_until = rh_mono_ms() + ch->cfg->readonly_ms;
}

static void readonly_end(chaos *ch)
{
    if (ch->ro_until == 0)
        return;
    data_dir_writable(1);
    /* stamped after the chmod: a task claimed later opens a writable dir */
    ch->ro_to[ch->res->ro_windows++] = rh_now_ms();
    ch->ro_until = 0;
}

/* Run the faults that are due; restart instances whose time has come. */
static void faults(chaos *ch)
{
    int64_t now = rh_mono_ms();

    if (ch->cont_at && now >= ch->cont_at) {
        kill(ch->redis.pid, SIGCONT);
        ch->cont_at = 0;
    }
    for (int i = 0; i < ch->cfg->instances; i++)
        if (ch->inst[i].cont_at && now >= ch->inst[i].cont_at) {
            kill(ch->inst[i].pid, SIGCONT);
            ch->inst[i].cont_at = 0;
        }
    if (ch->ro_until && now >= ch->ro_until) {
        readonly_end(ch);
        if (ch->ro_pending > 0) {
            ch->ro_pending--;
            readonly_begin(ch);
        }
    }
    if (ch->cont_at)
        return;                         /* nothing else while Redis is frozen */
    for (int i = 0; i < ch->cfg->instances; i++)
        if (ch->inst[i].pid <= 0 && now >= ch->inst[i].restart_at)
            instance_start(ch, i);
    while (ch->next_ev < ch->nev && elapsed(ch) >= ch->ev[ch->next_ev].at) {
        switch (ch->ev[ch->next_ev++].kind) {
        case EV_KILL:          kill_instance(ch);  break;
        case EV_EXEC_KILL:     kill_executors(ch); break;
        case EV_REDIS_RESTART: redis_restart(ch);  break;
        case EV_REDIS_STOP:    redis_stop(ch);     return;
        case EV_INST_STOP:     stop_instance(ch);  break;
        case EV_READONLY:      readonly_begin(ch); break;
        }
    }
}

static int frozen(const chaos *ch)
{
    if (ch->ro_until || ch->ro_pending)
        return 1;                       /* a read-only window is not over */
    for (int i = 0; i < ch->cfg->instances; i++)
        if (ch->inst[i].cont_at)
            return 1;
    return 0;
}

/* Instances that exited without being killed by us: a crash of rhaid. */
static void reap_unexpected(chaos *ch)
{
    for (int i = 0; i < ch->cfg->instances; i++) {
        int st;
        if (ch->inst[i].pid > 0 && waitpid(ch->inst[i].pid, &st, WNOHANG) == ch->inst[i].pid) {
            fprintf(stderr, "chaos: rhaid pid %d exited by itself (status 0x%x), logs in %s\n",
                    (int)ch->inst[i].pid, st, ch->redis.dir);
            ch->res->unexpected_exits++;
            ch->inst[i].pid = -1;
            ch->inst[i].restart_at = rh_mono_ms();
        }
    }
}

/* Fault times spread over the submission window, kinds shuffled. */
static void schedule(chaos *ch, int64_t window_ms)
{
    const chaos_cfg *cfg = ch->cfg;
    int n = cfg->kills + cfg->exec_kills + cfg->redis_restarts + cfg->redis_stops +
            cfg->inst_stops + cfg->readonly, k = 0;

    ch->ev = rh_calloc((size_t)n + 1, sizeof *ch->ev);
    assert_non_null(ch->ev);
    for (int i = 0; i < cfg->kills; i++)
        ch->ev[k++].kind = EV_KILL;
    for (int i = 0; i < cfg->exec_kills; i++)
        ch->ev[k++].kind = EV_EXEC_KILL;
    for (int i = 0; i < cfg->redis_restarts; i++)
        ch->ev[k++].kind = EV_REDIS_RESTART;
    for (int i = 0; i < cfg->redis_stops; i++)
        ch->ev[k++].kind = EV_REDIS_STOP;
    for (int i = 0; i < cfg->inst_stops; i++)
        ch->ev[k++].kind = EV_INST_STOP;
    for (int i = 0; i < cfg->readonly; i++)
        ch->ev[k++].kind = EV_READONLY;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(rnd(ch) % (unsigned)(i + 1));
        ev_kind t = ch->ev[i].kind;
        ch->ev[i].kind = ch->ev[j].kind;
        ch->ev[j].kind = t;
    }
    /* slot i of n, jittered inside the slot; the first at 10% of the window */
    for (int i = 0; i < n; i++) {
        int64_t slot = window_ms * 9 / 10 / n;
        int64_t jitter = slot > 1 ? (int64_t)(rnd(ch) % (unsigned)slot) : 0;
        ch->ev[i].at = window_ms / 10 + slot * i + jitter;
    }
    ch->nev = n;
}

/* ======================== tasks ======================== */

/* Submit tasks [from, from+n) in one pipeline; 0 when every one was
 * acknowledged, -1 to send the batch again later. */
static int submit_batch(chaos *ch, int from, int n)
{
    redisContext *c = conn(ch);
    char id[32], key[RH_KEY_MAX], qkey[RH_KEY_MAX], ctxid[32], args[32], now[24];
    int ok = 1;

    if (c == NULL)
        return -1;
    rh_key_queue(qkey, "rhai", WORKER);
    snprintf(now, sizeof now, "%lld", (long long)rh_now_ms());
    for (int i = from; i < from + n; i++) {
        const char *argv[32];
        int argc = 0;
        snprintf(id, sizeof id, "c-%d", i);
        snprintf(ctxid, sizeof ctxid, "chaos-%d", i % CONTEXTS);
        snprintf(args, sizeof args, "{\"i\":%d}", i);
        argv[argc++] = "EVAL";
        argv[argc++] = submit_lua;
        argv[argc++] = "2";
        argv[argc++] = rh_key_task(key, "rhai", id);
        argv[argc++] = qkey;
        argv[argc++] = id;
        argv[argc++] = "id";         argv[argc++] = id;
        argv[argc++] = "script";     argv[argc++] = script;
        argv[argc++] = "worker_id";  argv[argc++] = WORKER;
        argv[argc++] = "context_id"; argv[argc++] = ctxid;
        argv[argc++] = "caller_id";  argv[argc++] = CALLER;
        argv[argc++] = "args";       argv[argc++] = args;
        argv[argc++] = "timeout_ms"; argv[argc++] = "20000";
        argv[argc++] = "reply_to";   argv[argc++] = REPLY_LIST;
        argv[argc++] = "status";     argv[argc++] = "queued";
        argv[argc++] = "attempts";   argv[argc++] = "0";
        argv[argc++] = "created_at"; argv[argc++] = now;
        redisAppendCommandArgv(c, argc, argv, NULL);
    }
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            ok = 0;
            break;                      /* context dead: reconnect later */
        }
        if (r->type != REDIS_REPLY_INTEGER)
            ok = 0;                     /* e.g. LOADING after a restart */
        freeReplyObject(r);
    }
    return ok ? 0 : -1;
}

/* Nothing left anywhere: queue empty and no processing list holds an id. */
static int quiet(chaos *ch)
{
    redisContext *c = conn(ch);
    redisReply *r;
    int empty;

    if (c == NULL || cmd_int(ch, "LLEN rhai:queue:{%s}", WORKER) != 0)
        return 0;
    r = redisCommand(c, "KEYS rhai:processing:{%s}:*", WORKER);
    if (r == NULL)
        return 0;
    empty = r->type == REDIS_REPLY_ARRAY;
    for (size_t i = 0; empty && i < r->elements; i++)
        if (cmd_int(ch, "LLEN %s", r->element[i]->str) != 0)
            empty = 0;
    freeReplyObject(r);
    return empty;
}

/* Ids still in the queue or in a processing list. */
static int held(chaos *ch)
{
    redisContext *c = conn(ch);
    redisReply *r;
    long long n = cmd_int(ch, "LLEN rhai:queue:{%s}", WORKER);

    if (c == NULL || (r = redisCommand(c, "KEYS rhai:processing:{%s}:*", WORKER)) == NULL)
        return -1;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        n += cmd_int(ch, "LLEN %s", r->element[i]->str);
    freeReplyObject(r);
    return (int)n;
}

/* A task ended by a read-only store (after store_retry_ms): error_kind
 * internal ("store unavailable"), or script from a DSL that threw the
 * store's error as a plain one; either way the message says read-only. */
static int readonly_error(const rh_task *t)
{
    return t->status == RHAI_STATUS_ERROR &&
           (t->error_kind == RH_EK_SCRIPT || t->error_kind == RH_EK_INTERNAL) && t->error &&
           (strstr(t->error, "read-only") || strstr(t->error, "readonly"));
}

/* 1 when the task's run (claimed .. finished, rhaid's wall clock) overlaps
 * a read-only window: claimed before the dir was writable again and
 * finished after it became read-only. A task claimed after the window
 * opens its context in a writable dir and must succeed. */
static int readonly_overlaps(const chaos *ch, const rh_task *t)
{
    for (int w = 0; w < ch->res->ro_windows; w++)
        if (t->started_at <= ch->ro_to[w] && t->finished_at >= ch->ro_from[w])
            return 1;
    return 0;
}

/* Read every reply (without consuming them) and the task hashes. */
static void verify(chaos *ch)
{
    chaos_result *res = ch->res;
    redisContext *c = conn(ch);
    long long n;
    int tasks = ch->cfg->tasks;

    assert_non_null(c);
    n = cmd_int(ch, "LLEN %s", REPLY_LIST);
    res->replies = (int)n;
    for (long long at = 0; at < n; at += 5000) {
        redisReply *r = redisCommand(c, "LRANGE %s %lld %lld", REPLY_LIST, at, at + 4999);
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        for (size_t k = 0; k < r->elements; k++) {
            rh_task t;
            int i;
            rh_task_init(&t);
            assert_int_equal(rh_task_from_reply(&t, r->element[k]->str, r->element[k]->len,
                                                NULL), 0);
            assert_true(strncmp(t.id, "c-", 2) == 0);
            i = atoi(t.id + 2);
            assert_true(i >= 0 && i < tasks);
            if (ch->seen[i] < 255)
                ch->seen[i]++;
            if (t.status == RHAI_STATUS_DONE) {
                char want[40];
                snprintf(want, sizeof want, "\"%s\"", t.id);
                res->done++;
                if (ch->seen[i] == 1)
                    ch->final[i] = 1;
                if (t.output == NULL || strcmp(t.output, want) != 0)
                    res->wrong++;
            } else if (t.error_kind == RH_EK_CRASHED) {
                res->crashed++;
                if (ch->seen[i] == 1)
                    ch->final[i] = 2;
            } else if (readonly_error(&t)) {
                if (res->ro_failed++ == 0)
                    fprintf(stderr, "chaos: first read-only failure: task %s %s/%s: %s\n",
                            t.id, rh_status_str(t.status), rh_kind_str(t.error_kind), t.error);
                if (ch->seen[i] == 1)
                    ch->final[i] = 3;
                if (!readonly_overlaps(ch, &t) && res->ro_outside++ < 5)
                    fprintf(stderr, "chaos: task %s (claimed %lld, finished %lld) failed on "
                            "a read-only store outside every read-only window: %s\n", t.id,
                            (long long)t.started_at, (long long)t.finished_at, t.error);
            } else {
                if (ch->seen[i] == 1)
                    ch->final[i] = 3;
                if (res->other++ < 5)
                    fprintf(stderr, "chaos: task %s ended %s/%s: %s\n", t.id,
                            rh_status_str(t.status), rh_kind_str(t.error_kind),
                            t.error ? t.error : "");
            }
            rh_task_clear(&t);
        }
        freeReplyObject(r);
    }
    for (int i = 0; i < tasks; i++) {
        if (ch->seen[i] == 0 && res->lost++ < 10)
            fprintf(stderr, "chaos: task c-%d has no reply\n", i);
        if (ch->seen[i] > 1)
            res->duplicated += ch->seen[i] - 1;
    }
    /* attempts > 1: delivered again after an instance died */
    for (int from = 0; from < tasks; from += 1000) {
        int to = from + 1000 < tasks ? from + 1000 : tasks;
        char key[RH_KEY_MAX];
        for (int i = from; i < to; i++) {
            char id[32];
            snprintf(id, sizeof id, "c-%d", i);
            redisAppendCommand(c, "HGET %s attempts", rh_key_task(key, "rhai", id));
        }
        for (int i = from; i < to; i++) {
            redisReply *r = NULL;
            assert_int_equal(redisGetReply(c, (void **)&r), REDIS_OK);
            if (r->type == REDIS_REPLY_STRING && atoi(r->str) > 1)
                res->redelivered++;
            freeReplyObject(r);
        }
    }
}

/* Sum requeued=N over the "event=recovered" lines of every rhaid log, and
 * count the runs of a task that a read-only store failed and rhaid ran
 * again ("event=task_retry" naming the read-only database). */
static int count_recovered(const chaos *ch, int *store_retries)
{
    DIR *d = opendir(ch->redis.dir);
    struct dirent *de;
    int total = 0;

    *store_retries = 0;
    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        char path[600], line[1024];
        FILE *f;
        if (strncmp(de->d_name, "rhaid-", 6) != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", ch->redis.dir, de->d_name);
        if ((f = fopen(path, "r")) == NULL)
            continue;
        while (fgets(line, sizeof line, f)) {
            const char *p = strstr(line, "event=recovered");
            if (p && (p = strstr(p, "requeued=")) != NULL)
                total += atoi(p + 9);
            if (strstr(line, "event=task_retry") && strstr(line, "readonly"))
                (*store_retries)++;
        }
        fclose(f);
    }
    closedir(d);
    return total;
}

/* Read each context's counter and effect rows with one more task per
 * context, then compare task by task: a task answered done applied its
 * effects exactly once; one answered crashed (its executor killed) at most
 * once; none twice; and each counter equals its context's rows. */
static void effects(chaos *ch)
{
    chaos_result *res = ch->res;
    redisContext *c = conn(ch);
    int64_t deadline = rh_mono_ms() + 60000;
    int got = 0, tasks = ch->cfg->tasks;
    long rows_in[CONTEXTS];

    assert_non_null(c);
    for (int k = 0; k < CONTEXTS; k++) {
        char id[48], ctxid[32], key[RH_KEY_MAX];
        redisReply *r;
        snprintf(id, sizeof id, "read-%d", k);
        snprintf(ctxid, sizeof ctxid, "chaos-%d", k);
        r = redisCommand(c, "HSET %s id %s script %s worker_id %s context_id %s caller_id %s "
                         "status queued attempts 0 timeout_ms 20000 "
                         "reply_to rhai:reply:client:chaos-read",
                         rh_key_task(key, "rhai", id), id, read_js, WORKER, ctxid, CALLER);
        assert_true(r && r->type == REDIS_REPLY_INTEGER);
        freeReplyObject(r);
        r = redisCommand(c, "LPUSH rhai:queue:{%s} %s", WORKER, id);
        assert_true(r && r->type == REDIS_REPLY_INTEGER);
        freeReplyObject(r);
        res->counter[k] = -1;
        rows_in[k] = 0;
    }
    while (got < CONTEXTS && rh_mono_ms() < deadline) {
        redisReply *r = redisCommand(c, "BLPOP rhai:reply:client:chaos-read 1");
        json_t *o = NULL, *ids;
        rh_task t;
        if (r == NULL)
            break;
        rh_task_init(&t);
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            rh_task_from_reply(&t, r->element[1]->str, r->element[1]->len, NULL) == 0 &&
            t.status == RHAI_STATUS_DONE && strncmp(t.id, "read-", 5) == 0 &&
            (o = json_loads(t.output, 0, NULL)) != NULL &&
            json_is_array(ids = json_object_get(o, "ids"))) {
            int k = atoi(t.id + 5);
            res->counter[k] = (long)json_integer_value(json_object_get(o, "n"));
            for (size_t j = 0; j < json_array_size(ids); j++) {
                const char *name = json_string_value(json_array_get(ids, j));
                int i = name && strncmp(name, "c-", 2) == 0 ? atoi(name + 2) : -1;
                rows_in[k]++;
                if (i >= 0 && i < tasks && ch->applied[i] < 255)
                    ch->applied[i]++;
            }
            got++;
        } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
            fprintf(stderr, "chaos: effects read failed: %.300s\n", r->element[1]->str);
        }
        json_decref(o);
        rh_task_clear(&t);
        freeReplyObject(r);
    }
    /* a context left unread fails the run in check(), after the figures */
    res->effects_unread = CONTEXTS - got;
    for (int k = 0; k < CONTEXTS; k++) {
        res->rows += rows_in[k];
        if (res->counter[k] >= 0 && res->counter[k] != rows_in[k]) {
            fprintf(stderr, "chaos: context chaos-%d: counter %ld but %ld effect rows\n", k,
                    res->counter[k], rows_in[k]);
            res->counter_off++;
        }
    }
    for (int i = 0; i < tasks; i++) {
        int lost = ch->final[i] == 1 && ch->applied[i] == 0 && res->counter[i % CONTEXTS] >= 0;
        int dup = ch->applied[i] > 1;
        res->effects_lost += lost;
        res->effects_dup += dup;
        res->crashed_committed += ch->final[i] == 2 && ch->applied[i] == 1;
        if (ch->final[i] == 3 && ch->applied[i] > 0 && res->failed_committed++ < 10)
            fprintf(stderr, "chaos: task c-%d answered with an error, yet its effects "
                    "committed\n", i);
        if ((lost || dup) && res->effects_lost + res->effects_dup <= 10)
            fprintf(stderr, "chaos: task c-%d: reply %d, effects applied %d times\n", i,
                    ch->final[i], ch->applied[i]);
    }
}

/* ======================== the run ======================== */

/* Why read-only windows cannot be run here (NULL: they can). As root, the
 * instances must run as an unprivileged user for file modes to bite; on
 * success ch->uid/gid name it. */
static const char *readonly_unsupported(chaos *ch)
{
    const struct passwd *pw;

    if (geteuid() != 0)
        return NULL;
    if (access(setpriv_path, X_OK) != 0)
        return "running as root without /usr/bin/setpriv to start rhaid as nobody";
    if ((pw = getpwnam("nobody")) == NULL)
        return "running as root and no user 'nobody' to run rhaid as";
    ch->as_user = 1;
    ch->uid = pw->pw_uid;
    ch->gid = pw->pw_gid;
    return NULL;
}

/* The contexts every task uses, created before any instance starts, with
 * CALLER as their owner; handed over to the instances' user when they run
 * as another one (the Redis dir then lets them through to the data dir). */
static void contexts_create(const chaos *ch)
{
    store *st = NULL;
    rhai_error err;
    DIR *d;
    struct dirent *de;

    memset(&err, 0, sizeof err);
    assert_int_equal(store_new(data_dir, &dsl_schema, &st, &err), 0);
    for (int k = 0; k < CONTEXTS; k++) {
        char ctxid[32];
        int rc;
        snprintf(ctxid, sizeof ctxid, "chaos-%d", k);
        if ((rc = store_context_create(st, ctxid, CALLER, &err)) != 0)
            fprintf(stderr, "chaos: context %s: %s\n", ctxid, err.msg);
        assert_int_equal(rc, 0);
    }
    store_free(st);
    if (!ch->as_user)
        return;
    assert_int_equal(chmod(ch->redis.dir, 0711), 0);
    assert_int_equal(chown(data_dir, ch->uid, ch->gid), 0);
    assert_non_null(d = opendir(data_dir));
    while ((de = readdir(d)) != NULL) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", data_dir, de->d_name);
        if (de->d_name[0] != '.')
            assert_int_equal(chown(path, ch->uid, ch->gid), 0);
    }
    closedir(d);
}

static void chaos_run(const chaos_cfg *cfg, chaos_result *res)
{
    chaos ch;
    int submitted = 0;
    int64_t window_ms = (int64_t)cfg->tasks * 1000 / (cfg->rate > 0 ? cfg->rate : 1);
    int64_t deadline, last_poll = 0;
    long long got = 0;
    long increments = 0;

    memset(&ch, 0, sizeof ch);
    memset(res, 0, sizeof *res);
    snprintf(script, sizeof script,
             "%svar t = Date.now(); while (Date.now() - t < %d) {}\nctx.task_id",
             cfg->effects ? counter_js : "", cfg->task_ms);
    ch.cfg = cfg;
    ch.res = res;
    ch.rng = cfg->seed;
    ch.seen = rh_calloc((size_t)cfg->tasks, 1);
    ch.final = rh_calloc((size_t)cfg->tasks, 1);
    ch.applied = rh_calloc((size_t)cfg->tasks, 1);
    assert_true(ch.seen && ch.final && ch.applied);
    assert_true(cfg->instances >= 2 && cfg->instances <= MAX_INSTANCES);
    assert_int_equal(th_redis_start(&ch.redis, 1), 0);     /* AOF, fsync always */
    snprintf(data_dir, sizeof data_dir, "%s/data", ch.redis.dir);
    if (cfg->readonly)
        assert_null(readonly_unsupported(&ch));    /* the test skips before */
    contexts_create(&ch);
    for (int i = 0; i < cfg->instances; i++) {
        instance_start(&ch, i);
        assert_true(ch.inst[i].pid > 0);
    }
    schedule(&ch, window_ms);
    ch.t0 = rh_mono_ms();
    deadline = ch.t0 + (int64_t)cfg->deadline_s * 1000;

    while (rh_mono_ms() < deadline) {
        int64_t t = elapsed(&ch);
        /* open loop: whatever the schedule says is due by now */
        int due = (int)(t * cfg->rate / 1000);
        if (due > cfg->tasks)
            due = cfg->tasks;
        faults(&ch);
        reap_unexpected(&ch);
        while (submitted < due && ch.cont_at == 0) {
            int n = due - submitted < BATCH ? due - submitted : BATCH;
            if (submit_batch(&ch, submitted, n) != 0)
                break;                  /* again on the next pass */
            submitted += n;
        }
        if (t - last_poll >= 200 && ch.cont_at == 0) {
            last_poll = t;
            got = cmd_int(&ch, "LLEN %s", REPLY_LIST);
            if (submitted == cfg->tasks && ch.next_ev == ch.nev && got >= cfg->tasks &&
                !frozen(&ch) && quiet(&ch))
                break;
        }
        nap_ms(5);
    }
    if (rh_mono_ms() >= deadline)
        fprintf(stderr, "chaos: deadline: submitted=%d replies=%lld events=%d/%d frozen=%d "
                "quiet=%d\n", submitted, got, ch.next_ev, ch.nev, frozen(&ch),
                ch.cont_at ? -1 : quiet(&ch));
    if (rh_mono_ms() >= deadline && ch.cont_at == 0 && conn(&ch) && (res->stuck = held(&ch)))
        th_sh("for k in $(%s -p %d --scan --pattern 'rhai:processing:*') "
              "$(%s -p %d --scan --pattern 'rhai:queue:*'); do echo \"chaos: $k: "
              "$(%s -p %d lrange $k 0 9 | tr '\\n' ' ')\" >&2; done", TH_REDIS_CLI_PATH,
              ch.redis.port, TH_REDIS_CLI_PATH, ch.redis.port, TH_REDIS_CLI_PATH,
              ch.redis.port);
    readonly_end(&ch);                  /* never leave the data dir read-only */
    ch.ro_pending = 0;
    if (ch.cont_at) {                   /* never leave Redis frozen */
        kill(ch.redis.pid, SIGCONT);
        ch.cont_at = 0;
    }
    for (int i = 0; i < cfg->instances; i++)
        if (ch.inst[i].cont_at && ch.inst[i].pid > 0)
            kill(ch.inst[i].pid, SIGCONT);
    res->ms = elapsed(&ch);
    reap_unexpected(&ch);
    verify(&ch);
    if (cfg->effects)
        effects(&ch);
    for (int i = 0; i < cfg->instances; i++)
        if (ch.inst[i].pid > 0) {
            int st = th_stop(ch.inst[i].pid, 15000);
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                fprintf(stderr, "chaos: rhaid pid %d stopped with status 0x%x\n",
                        (int)ch.inst[i].pid, st);
                res->unexpected_exits++;
            }
        }
    if (ch.c)
        redisFree(ch.c);
    res->recovered = count_recovered(&ch, &res->ro_retries);
    for (int k = 0; k < CONTEXTS; k++)
        increments += res->counter[k] > 0 ? res->counter[k] : 0;
    printf("chaos variant=%s tasks=%d submitted=%d instances=%d kills=%d "
           "exec_kill_rounds=%d executors_killed=%d redis_restarts=%d redis_stops=%d "
           "instance_stops=%d readonly_windows=%d replies=%d lost=%d duplicated=%d "
           "wrong=%d done=%d crashed=%d readonly_retries=%d readonly_failed=%d "
           "readonly_outside=%d other=%d "
           "redelivered=%d recovered=%d stuck=%d unexpected_exits=%d "
           "effects=%s increments=%ld effect_rows=%ld effects_lost=%d "
           "effects_duplicated=%d counter_mismatch=%d effects_unread=%d "
           "crashed_committed=%d failed_committed=%d seconds=%.1f seed=%u\n",
           cfg->name, cfg->tasks, submitted, cfg->instances, res->kills, res->exec_kills,
           res->executors_killed, res->redis_restarts, res->redis_stops, res->inst_stops,
           res->ro_windows, res->replies, res->lost, res->duplicated, res->wrong, res->done,
           res->crashed, res->ro_retries, res->ro_failed, res->ro_outside, res->other,
           res->redelivered,
           res->recovered, res->stuck, res->unexpected_exits,
           cfg->effects ? "on" : "off", increments, res->rows, res->effects_lost,
           res->effects_dup, res->counter_off, res->effects_unread, res->crashed_committed,
           res->failed_committed, (double)res->ms / 1000.0, cfg->seed);
    fflush(stdout);
    if (res->lost || res->duplicated || res->unexpected_exits || res->wrong || res->stuck ||
        res->effects_lost || res->effects_dup || res->counter_off || res->ro_outside ||
        res->effects_unread ||
        res->failed_committed || res->ro_probe_writable ||
        env_int("CHAOS_KEEP", 0)) {
        th_redis_stop_keep(&ch.redis);  /* keep the logs for a post mortem */
        fprintf(stderr, "chaos: logs kept in %s\n", ch.redis.dir);
    } else {
        th_redis_stop(&ch.redis);
    }
    rh_free(ch.ev);
    rh_free(ch.seen);
    rh_free(ch.final);
    rh_free(ch.applied);
}

/* The variant's defaults, overridden by the environment (tools/chaos). */
static void configure(chaos_cfg *cfg, const char *name, int tasks, int rate, int task_ms,
                      int kills, int exec_kills, int restarts, int stops, int inst_stops,
                      int readonly)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->name = name;
    cfg->tasks = env_int("CHAOS_TASKS", tasks);
    cfg->rate = env_int("CHAOS_RATE", rate);
    cfg->task_ms = env_int("CHAOS_TASK_MS", task_ms);
    cfg->effects = env_int("CHAOS_EFFECTS", 1);
    cfg->instances = env_int("CHAOS_INSTANCES", 3);
    cfg->concurrency = 2;
    cfg->kills = env_int("CHAOS_KILLS", kills);
    cfg->exec_kills = env_int("CHAOS_EXEC_KILLS", exec_kills);
    cfg->redis_restarts = env_int("CHAOS_REDIS_RESTARTS", restarts);
    cfg->redis_stops = env_int("CHAOS_REDIS_STOPS", stops);
    cfg->inst_stops = env_int("CHAOS_INSTANCE_STOPS", inst_stops);
    cfg->readonly = env_int("CHAOS_READONLY", readonly);
    if (cfg->readonly > MAX_RO)
        cfg->readonly = MAX_RO;
    cfg->readonly_ms = env_int("CHAOS_READONLY_MS", 2000);
    cfg->seed = (unsigned)env_int("CHAOS_SEED", 1);
    cfg->deadline_s = env_int("CHAOS_DEADLINE_S",
                              30 + cfg->tasks / (cfg->rate > 0 ? cfg->rate : 1) * 2);
}

static int selected(const char *name)
{
    const char *only = getenv("CHAOS_ONLY");
    return only == NULL || *only == '\0' || strcmp(only, name) == 0;
}

static void check(const chaos_result *res, int crashes_allowed)
{
    assert_int_equal(res->lost, 0);
    assert_int_equal(res->duplicated, 0);
    assert_int_equal(res->wrong, 0);
    assert_int_equal(res->unexpected_exits, 0);
    assert_int_equal(res->other, 0);
    assert_int_equal(res->stuck, 0);    /* everything answered leaves nothing held */
    assert_int_equal(res->effects_lost, 0);
    assert_int_equal(res->effects_dup, 0);
    assert_int_equal(res->counter_off, 0);
    assert_int_equal(res->effects_unread, 0);
    assert_int_equal(res->crashed_committed, 0);    /* crashed means: no effects */
    assert_int_equal(res->failed_committed, 0);     /* so does an error */
    assert_int_equal(res->ro_outside, 0);   /* writable again: tasks succeed again */
    assert_int_equal(res->ro_probe_writable, 0);    /* the fault really was one */
    if (res->ro_windows == 0)
        assert_int_equal(res->ro_failed, 0);
    if (!crashes_allowed)
        assert_int_equal(res->crashed, 0);
}

/* ======================== tests ======================== */

static void test_chaos_instances_killed_lose_and_duplicate_nothing(void **state)
{
    chaos_cfg cfg;
    chaos_result res;
    (void)state;
    if (!selected("instances"))
        skip();
    configure(&cfg, "instances", 2000, 400, 2, 4, 0, 0, 0, 0, 0);
    chaos_run(&cfg, &res);
    check(&res, 0);                     /* a dead instance's tasks run again */
    assert_int_equal(res.kills, cfg.kills);
}

static void test_chaos_executors_killed_answer_each_task_once(void **state)
{
    chaos_cfg cfg;
    chaos_result res;
    (void)state;
    if (!selected("executors"))
        skip();
    configure(&cfg, "executors", 1000, 400, 2, 0, 4, 0, 0, 0, 0);
    chaos_run(&cfg, &res);
    /* a task whose executor died runs again (the ledger answers one that
     * had committed); crashed only after max_attempts such deaths */
    check(&res, 1);
    assert_true(res.executors_killed > 0);
}

static void test_chaos_redis_killed_and_restarted_with_aof_loses_nothing(void **state)
{
    chaos_cfg cfg;
    chaos_result res;
    (void)state;
    if (!selected("redis-restart"))
        skip();
    configure(&cfg, "redis-restart", 1000, 400, 2, 0, 0, 2, 0, 0, 0);
    chaos_run(&cfg, &res);
    check(&res, 0);
    assert_int_equal(res.redis_restarts, cfg.redis_restarts);
}

static void test_chaos_redis_frozen_past_the_heartbeat_ttl_answers_once(void **state)
{
    chaos_cfg cfg;
    chaos_result res;
    (void)state;
    if (!selected("redis-stop"))
        skip();
    /* longer tasks: the freeze must catch some mid-run, so that recovery
     * requeues tasks their (live) instances are still running */
    configure(&cfg, "redis-stop", 800, 200, 20, 0, 0, 0, 2, 0, 0);
    chaos_run(&cfg, &res);
    check(&res, 0);
    assert_int_equal(res.redis_stops, cfg.redis_stops);
}

static void test_chaos_instance_frozen_past_the_heartbeat_ttl_answers_once(void **state)
{
    chaos_cfg cfg;
    chaos_result res;
    (void)state;
    if (!selected("instance-stop"))
        skip();
    configure(&cfg, "instance-stop", 800, 200, 20, 0, 0, 0, 0, 2, 0);
    chaos_run(&cfg, &res);
    check(&res, 0);
    assert_int_equal(res.inst_stops, cfg.inst_stops);
}

static void test_chaos_everything_at_once(void **state)
{
    chaos_cfg cfg;
    chaos_result res;
    chaos probe;
    const char *why;
    (void)state;
    memset(&probe, 0, sizeof probe);
    if (!selected("all"))
        skip();
    /* with frozen instances a task runs twice at once: a run failed by the
     * read-only store must not answer it while the other run commits
     * afterwards (failed_committed; docs/reliability.md) */
    configure(&cfg, "all", 1500, 400, 2, 3, 1, 1, 1, 1, 1);
    if (cfg.readonly && (why = readonly_unsupported(&probe)) != NULL) {
        fprintf(stderr, "chaos: all: no read-only window: %s\n", why);
        cfg.readonly = 0;
    }
    chaos_run(&cfg, &res);
    check(&res, 1);
}

static void test_chaos_data_dir_read_only_fails_tasks_cleanly_then_recovers(void **state)
{
    chaos_cfg cfg;
    chaos_result res;
    chaos probe;
    const char *why;
    (void)state;
    if (!selected("readonly"))
        skip();
    memset(&probe, 0, sizeof probe);
    if ((why = readonly_unsupported(&probe)) != NULL) {
        fprintf(stderr, "chaos: readonly: skipped: %s\n", why);
        skip();
    }
    configure(&cfg, "readonly", 2500, 300, 2, 0, 0, 0, 0, 0, 2);
    chaos_run(&cfg, &res);
    check(&res, 0);
    assert_int_equal(res.ro_windows, cfg.readonly);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chaos_instances_killed_lose_and_duplicate_nothing),
        cmocka_unit_test(test_chaos_executors_killed_answer_each_task_once),
        cmocka_unit_test(test_chaos_redis_killed_and_restarted_with_aof_loses_nothing),
        cmocka_unit_test(test_chaos_redis_frozen_past_the_heartbeat_ttl_answers_once),
        cmocka_unit_test(test_chaos_instance_frozen_past_the_heartbeat_ttl_answers_once),
        cmocka_unit_test(test_chaos_data_dir_read_only_fails_tasks_cleanly_then_recovers),
        cmocka_unit_test(test_chaos_everything_at_once),
    };
    return cmocka_run_group_tests_name("chaos", tests, NULL, NULL);
}
