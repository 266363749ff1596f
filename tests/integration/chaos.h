/* chaos.h -- the chaos suite's machinery, shared by its two halves and
 * its variants: chaos_faults.c (starting instances, the fault schedule
 * and each fault), chaos_run.c (tasks submitted open-loop, replies and
 * effects checked, one run with its figures) and test_chaos.c (the
 * variants, configured by CHAOS_* variables; see its header). */
#ifndef TEST_CHAOS_H
#define TEST_CHAOS_H

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
#define REPLY_LIST "rhai:reply:{" WORKER "}:client:chaos"
#define CONTEXTS 8
#define MAX_INSTANCES 8
#define BATCH 100                      /* tasks per pipelined submit */
#define MAX_RO 64                      /* read-only windows per run */

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
    int  postgres;          /* the store is $RHAI_TEST_PG_URL, not a data dir */
    int  pg_restarts;       /* postgres kill -9 of its postmaster + restart */
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
    int     pg_restarts;
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
    EV_KILL, EV_EXEC_KILL, EV_REDIS_RESTART, EV_REDIS_STOP, EV_INST_STOP, EV_READONLY,
    EV_PG_RESTART
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
    int64_t          pg_start_at;   /* mono ms: postgres killed, start it then (0: up) */
    int64_t          pg_kill_at;    /* mono ms: a kill that came due while it was down */
    int              pg_pending;    /* kills due while it was down: they follow */
    int              as_user;       /* instances run as uid/gid (we are root) */
    uid_t            uid;
    gid_t            gid;
} chaos;

/* chaos_faults.c */
extern char data_dir[300];     /* shared by every instance of a run: a dir or a postgres URL */
extern char data_flag[16];     /* "--data-dir" or "--data-url" */
int64_t elapsed(const chaos *ch);
void instance_start(chaos *ch, int i);
void faults(chaos *ch);
int  frozen(const chaos *ch);
void reap_unexpected(chaos *ch);
void schedule(chaos *ch, int64_t window_ms);
void readonly_end(chaos *ch);
/* Start a killed postgres if its time has come: 1 while it is down. */
int  pg_restart_due(chaos *ch);
const char *readonly_unsupported(chaos *ch);

/* chaos_run.c */
int  env_int(const char *name, int def);
void chaos_run(const chaos_cfg *cfg, chaos_result *res);

#endif
