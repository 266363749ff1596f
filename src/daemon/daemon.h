/* daemon.h -- the one internal header of rhaid (prefix wk_).
 *
 * rhaid is one libuv loop on one thread: two hiredis async connections
 * (blocking pops on one, everything else pipelined on the other), a pool of
 * executor child processes that run scripts, and periodic work (heartbeat,
 * recovery of dead instances) off one timer; only the /metrics server has
 * a thread of its own. config.c holds the option table, redis.c the
 * connections, pool.c the executors (execuser.c the user they run as),
 * take.c the take, claim and checks of a task, start.c its start, worker.c
 * its run and finish, instance.c the instance around them (tick, drain,
 * signals) and heartbeat.c its heartbeat and the recovery of dead
 * instances, scripts.c the Lua that makes each Redis step atomic, metrics.c
 * and notify.c /metrics and systemd. The executor process itself is
 * executor_entry.c and confine_linux.c (executor_entry.h). */
#ifndef WK_DAEMON_H
#define WK_DAEMON_H

#include <stdint.h>
#include <uv.h>
#include <hiredis/hiredis.h>

#include "common/common.h"
#include "common/rconn.h"
#include "common/rcluster.h"
#include "engine/engine.h"

typedef struct store store;

/* ======================== config ======================== */

/* The parsed configuration: immutable once built. SIGHUP builds a new one
 * and copies only the fields marked reloadable in the option table. */
typedef struct wk_config {
    char    *redis_url;
    char    *tls_ca, *tls_cert, *tls_key, *tls_sni, *tls_verify; /* "": as the URL says */
    char    *prefix;
    char    *worker_id;
    char    *instance;            /* derived: host-pid-random, not an option */
    char    *data_dir;            /* sqlite: the data dir; postgres: "" */
    char    *data_url;            /* the store: sqlite://DIR or postgres (secret) */
    char     data_dir_from[96];   /* where each was given ("" : not given), */
    char     data_url_from[96];   /* for the error naming a conflict */
    char    *config_file;
    int      log_level;
    int      log_format;          /* RH_LOG_FMT_KV or RH_LOG_FMT_JSON */
    int      concurrency;
    int64_t  default_timeout_ms;
    int64_t  max_timeout_ms;
    int64_t  memory;              /* js heap per task, bytes */
    int64_t  max_script;
    int64_t  max_args;            /* bytes of a task's args (JSON text) */
    int64_t  max_output;
    int64_t  max_logs;
    int64_t  executor_as_limit;   /* RLIMIT_AS of executors, 0: none */
    int64_t  max_tasks_per_executor;
    int64_t  result_ttl_ms;
    int64_t  heartbeat_ms;
    int64_t  heartbeat_ttl_ms;
    int64_t  max_attempts;
    int64_t  store_retry_ms;      /* a task whose store fails is run again this long */
    int64_t  grace_ms;
    int64_t  reconnect_max_ms;
    int64_t  task_index_max;      /* recent task ids kept per worker id */
    int64_t  dead_max;            /* dead-letter tasks kept per worker id */
    int64_t  dead_max_age_ms;     /* and for at most this long */
    int64_t  pipeline_max_us;     /* queue behind busy executors while runs are this short */
    int64_t  start_defer_ms;      /* a start is recorded this late, or with its finish */
    int64_t  prefetch;            /* at most, tasks taken ahead of free executors */
    int64_t  require_signatures;  /* 1: unsigned tasks are denied */
    int64_t  signature_skew_ms;   /* created_at must be this close to now */
    int64_t  dev_mode;            /* 1: unknown contexts are created on use */
    int64_t  event_depth_max;     /* longest event chain (executors' depth_max) */
    int64_t  event_repair_ms;     /* unrelayed outbox rows this old are swept */
    int64_t  event_stream_max;    /* XADD MAXLEN ~ of a context's stream */
    char    *metrics_listen;      /* "" : no metrics endpoint */
    char    *executor_user;       /* executors' user when rhaid is root */
    int64_t  executor_seccomp;    /* 1: executors install the syscall filter */
    const char *executor_path;    /* not an option: the executors' binary, borrowed;
                                     NULL: rhai-executor beside rhaid (pool.c).
                                     Unit tests point it at a fake executor. */
    int      argc;                /* the command line it was built from, */
    char   **argv;                /* copied: a reload applies it again */
} wk_config;

enum { WK_CONFIG_OK = 0, WK_CONFIG_EXIT_OK = 1 };   /* --help, --version */

/* Build a config from defaults, then the file (--config or $RHAID_CONFIG),
 * then the environment, then argv (copied into cfg for reloads). Returns
 * 0, WK_CONFIG_EXIT_OK after printing help/version, or RHAI_EINVAL with
 * err naming the file and line, variable or flag. 'cfg' must be freed
 * with wk_config_free either way. */
int  wk_config_load(wk_config *cfg, int argc, char **argv, rhai_error *err);
void wk_config_free(wk_config *cfg);
/* The log format to report a wk_config_load error in: the one asked for
 * by the file (if read before the error, in 'partial'), $RHAI_LOG_FORMAT
 * and --log-format, wherever it stands, skipping values that are not
 * formats; RH_LOG_FMT_KV when none. */
int  wk_config_error_format(const wk_config *partial, int argc, char **argv);
void wk_config_print(const wk_config *cfg, FILE *f);
void wk_config_limits(const wk_config *cfg, eng_limits *lim);
/* Compare 'fresh' with 'cur' option by option. Each option whose value
 * differs is named in 'changed' (comma-separated, in table order, "" when
 * none); a reloadable one is moved into 'cur' (strings are moved, fresh's
 * pointer set to NULL), any other is also named in 'restart' and 'cur'
 * keeps its value. Names that do not fit end the list with "...". */
void wk_config_apply_reloadable(wk_config *cur, wk_config *fresh, char *changed,
                                size_t changed_n, char *restart, size_t restart_n);
/* SIGHUP: build the config again from the same sources, in the same order
 * (file < environment < the command line 'cur' was built from), and apply
 * it with wk_config_apply_reloadable. On failure (RHAI_EINVAL, with err
 * naming the file and line) 'cur' is unchanged. */
int  wk_config_reload(wk_config *cur, char *changed, size_t changed_n, char *restart,
                      size_t restart_n, rhai_error *err);

/* ======================== Redis connections ======================== */

typedef struct wk_conn wk_conn;
typedef void (*wk_conn_cb)(wk_conn *c, void *data);

/* One of rhaid's two Redis connections (redis.c): an rh_aconn (rconn.h:
 * reconnect with backoff, 50 ms doubling to backoff_max_ms with jitter;
 * AUTH/SELECT/PING handshake; TLS; a refused AUTH/SELECT or a TLS
 * verification failure retried from RH_RCONN_MISCONF_MIN_MS to
 * RH_RCONN_MISCONF_MAX_MS and logged at error; failed attempts logged once
 * per reason per RH_RCONN_LOG_WINDOW_MS) pointed at the master of the
 * worker id's slot, following MOVED for that slot. on_up runs each time
 * the handshake succeeds; on_down once per loss of an up connection, after
 * every pending command's callback saw a NULL reply.
 *
 * On a Redis Cluster the connection with the router ("cmd") also follows a
 * failover that no node announces with MOVED (a kill -9 of the master):
 * while either connection stays down for WK_REMAP_MS, it asks the router
 * for the slot of {W} (which re-reads the map from the other nodes and
 * the seed) and points both at the master it names. And a command of
 * either connection answered ASK for the slot of {W} (the slot is
 * migrating and the key is on the target already) is sent again through
 * the router, which sends ASKING and the command to the named node; the
 * connections stay where they are. */
#ifndef WK_REMAP_MS
#define WK_REMAP_MS 1000
#endif
struct wk_conn {
    rh_aconn    *ac;              /* NULL before start and once closed */
    uv_loop_t   *loop;
    rh_redis_cfg cfg;             /* where it points first (wk_redis_probe) */
    const char  *name;            /* "pop" or "cmd", for logs */
    int          slot;            /* slot of {W} */
    int          up;              /* connected and usable */
    int          closing;
    int64_t      backoff_max_ms;
    wk_conn     *peer;            /* the other connection: a MOVED moves both */
    int          cluster;         /* a Redis Cluster (wk_redis_probe): commands
                                     of another slot go through 'router' */
    rh_acluster *router;          /* cluster only */
    char         tag[RH_NAME_MAX + 3];  /* "{W}" */
    int64_t      down_at;         /* rh_mono_ms() when it went down; 0: up */
    uv_timer_t  *remap;           /* with 'router': re-reads the map while down */
    int          remapping;       /* a probe through the router is in flight */
    int          in_multi;        /* between MULTI and EXEC: no ASK followed */
    rh_log_limit refused;         /* redis_routed_failed, once per reason per
                                     WK_REFUSED_LOG_MS */
    int          moved_port;      /* > 0: a MOVED to apply once its callback ran */
    char         moved_host[RH_CLUSTER_HOST_MAX];
    wk_conn_cb   on_up;
    wk_conn_cb   on_down;
    wk_conn_cb   on_closed;       /* after wk_conn_close finished */
    void        *data;
};

/* The Redis settings of cfg (redis_url and the tls_* options, checked)
 * into *out; 0 or RHAI_EINVAL (config.c). */
int  wk_config_redis(const wk_config *cfg, rh_redis_cfg *out, rhai_error *err);
/* At start: connect once to the configured Redis (TLS verified, AUTH,
 * SELECT), read the slot map and point *out at the master of the worker
 * id's slot (a plain Redis: unchanged). The TLS files are loaded first,
 * Redis up or not. 0; RHAI_ETLS (a TLS file that cannot be loaded, a
 * certificate not verified: rhaid exits 5), RHAI_ECONN/RHAI_ETIMEOUT (Redis unreachable:
 * rhaid starts anyway and keeps trying, *out is then the configured
 * server), RHAI_EINVAL. */
int  wk_redis_probe(const wk_config *cfg, rh_redis_cfg *out, int *cluster, rhai_error *err);
int  wk_conn_init(wk_conn *c, uv_loop_t *loop, const rh_redis_cfg *cfg,
                  const char *worker_id, const char *name, int64_t backoff_max_ms,
                  rhai_error *err);
/* Start connecting (the first attempt at once). 0, RHAI_ETLS (TLS files
 * unreadable), RHAI_ENOMEM. */
int  wk_conn_start(wk_conn *c, rhai_error *err);
/* Drop the connection (pending callbacks see NULL), then call on_closed. */
void wk_conn_close(wk_conn *c);
uint64_t wk_conn_reconnects(const wk_conn *c);
/* Write what this loop turn queued now (rh_aconn_flush). */
void wk_conn_flush(wk_conn *c);
/* Send a command; 0, or RHAI_ECONN when not connected (callback not run).
 * Every command of rhaid goes through these two: any callback (of the
 * other connection, of an executor) may run while a connection is down.
 * On a Redis Cluster a command whose first key is of another slot than
 * {W} (the registry rhai:workers, another worker id's keys, an events
 * stream's {C}) goes through the cluster router instead, to its slot's
 * master; the callback gets this connection's rh_aconn all the same.
 * The callback's reply is borrowed (freed after it returns); NULL when
 * the connection was lost or closed first. */
int  wk_conn_argv(wk_conn *c, rh_reply_fn fn, void *privdata, int argc,
                  const char **argv, const size_t *lens);
/* The same with a hiredis format string (redisFormatCommand's). */
int  wk_conn_cmd(wk_conn *c, rh_reply_fn fn, void *privdata, const char *fmt, ...);

/* ======================== executor user ======================== */

/* Who executors run as (execuser.c). */
typedef struct wk_execuser {
    int   drop;                   /* 1: spawn executors as uid/gid */
    uid_t uid;
    gid_t gid;
    char  data_dir[4096];         /* the data dir, absolute ("" : none) */
} wk_execuser;

/* Create the data dir (mkdir -p, 0700) and find its absolute path. When
 * rhaid runs as root: resolve 'user' (a name, or a number; NULL or "" is
 * "nobody"); unless it is uid 0, give it the data dir and the root-owned
 * context files in it (never through a link), and check it can reach the
 * dir and read and write every context file there. Otherwise executors
 * keep rhaid's user. 0 and *out filled; RHAI_EINVAL (no such user, path
 * too long, a root-owned data dir holding more than context files) or
 * RHAI_EIO, 'err' naming the path and what to change. Call
 * at start, before executors exist. */
int wk_execuser_prepare(const char *user, const char *data_dir, wk_execuser *out,
                        rhai_error *err);
/* The kernel's Landlock ABI version, 0 when it has none. */
int wk_execuser_landlock_abi(void);

/* ======================== a postgres store's network ======================== */

#define WK_STORE_NET_PORTS 8

/* What an executor must reach of a postgres store (store_net.c). */
typedef struct wk_store_net {
    int  unix_sock;               /* a unix socket (a host that is a directory, or none) */
    int  tcp;                     /* TCP, to these ports */
    int  ports[WK_STORE_NET_PORTS];
    int  nports;
    int  nhosts;                  /* hosts the url lists (libpq tries each) */
    char name[256];               /* a host given by name ("": none), resolved by libpq */
    char passfile[4096];          /* the passfile libpq reads ("": none given) */
} wk_store_net;

/* Read 'url' (postgres URI or conninfo) as libpq does, with the PGHOST,
 * PGHOSTADDR, PGPORT and PGPASSFILE defaults. 0, or RHAI_EINVAL. */
int  wk_store_net_of(const char *url, wk_store_net *out, rhai_error *err);
/* "unix", "tcp:5432", "unix,tcp:5432,tcp:5433": the executor's --store-net. */
void wk_store_net_format(const wk_store_net *n, char *buf, size_t len);
/* 'url' with the address of its one host given by name added as libpq's
 * hostaddr (a confined executor cannot resolve names: no /etc/hosts, no
 * DNS): *out new, or NULL when there is nothing to pin (an address, a
 * socket dir, several hosts, hostaddr given). 0, RHAI_EIO (the name does
 * not resolve), RHAI_EINVAL, RHAI_ENOMEM. */
int  wk_store_url_pin(const char *url, char **out, rhai_error *err);

/* ======================== executor pool ======================== */

typedef struct wk_job wk_job;
typedef struct wk_pool wk_pool;
typedef struct wk_executor wk_executor;

/* Called when a job's run ended: 'out' is the result (status error with a
 * kind on timeout or crash); the callee takes its strings (may steal them
 * and must leave 'out' cleared or let the pool clear it). */
typedef void (*wk_run_cb)(wk_pool *p, wk_job *job, eng_output *out, void *data);

struct wk_pool {
    uv_loop_t   *loop;
    wk_executor **ex;             /* concurrency slots, NULL while respawning */
    int          n;
    int          busy;
    char         exe[4096];       /* executors' binary: rhai-executor, or
                                     our own, both run with --executor */
    int          exe_fd;          /* that binary, opened at start, or -1 */
    char         spawn[64];       /* what is executed: /proc/self/fd/N */
    int64_t      as_limit;
    int64_t      max_tasks;
    int64_t      queue_max_us;    /* wk_pool_queue: only behind a job that has
                                     run less than this (pipeline_max_us) */
    wk_execuser  user;            /* executors' uid/gid and data dir */
    int          seccomp;         /* executor_seccomp */
    int          postgres;        /* the store is postgres: no data dir */
    char         store_net[160];  /* its --store-net, "" for sqlite */
    char        *passfile;        /* its --store-read, NULL: none */
    char        *url_env;         /* "RHAI_DATA_URL=..." for executors, NULL: none */
    int          dev_mode;        /* pass --dev-mode to executors */
    int          closing;
    int          open;            /* executors not yet fully closed */
    uint64_t     restarts;
    wk_run_cb    run_cb;
    void       (*ready_cb)(wk_pool *p, void *data);  /* a respawned executor is idle */
    /* A job queued behind another (wk_pool_queue) comes back unrun: its
     * executor died or was killed before starting it. */
    void       (*back_cb)(wk_pool *p, wk_job *job, void *data);
    /* A job queued behind another becomes the running one: the executor
     * has just gone on to it (NULL: not told). */
    void       (*start_cb)(wk_pool *p, wk_job *job, void *data);
    void        *data;
    void       (*closed_cb)(wk_pool *p);
};

int  wk_pool_init(wk_pool *p, uv_loop_t *loop, const wk_config *cfg,
                  wk_run_cb cb, void *data, rhai_error *err);
/* Executors idle and ready for a job. */
int  wk_pool_idle(const wk_pool *p);
/* Start 'job' on an idle executor with its input, limits and timeout;
 * RHAI_ESTATE when none is idle. The run callback runs exactly once. */
int  wk_pool_run(wk_pool *p, wk_job *job, const eng_input *in,
                 const eng_limits *lim, int64_t timeout_ms);
/* Queue 'job' behind the job a busy executor runs, its frame written now,
 * so that the executor starts it as soon as it has answered the first,
 * without waiting for us: one job at most behind each, none behind one
 * due for recycling, and none behind a job that has run queue_max_us or
 * longer already (a long task would hold it until its own end, while the
 * other executors free up); of those left, behind the job that started
 * first. Its timeout starts when the first one's result arrives. The run callback runs exactly once, or the back callback if
 * the executor dies first. RHAI_ESTATE when no executor can take it. A
 * queued job cannot be cancelled before it starts (wk_pool_cancel finds
 * only running ones). */
int  wk_pool_queue(wk_pool *p, wk_job *job, const eng_input *in,
                   const eng_limits *lim, int64_t timeout_ms);
/* Respawn slots whose executor could not be started (called per tick). */
void wk_pool_maintain(wk_pool *p);
/* Kill the executor running 'job'; the job ends with kind 'cancelled'
 * and message 'why'. RHAI_ENOTFOUND when no executor runs it. */
int  wk_pool_cancel(wk_pool *p, wk_job *job, const char *why);
/* Kill every busy executor; their jobs end with kind 'cancelled'. */
void wk_pool_kill_busy(wk_pool *p);
/* Close all executors (EOF on their pipes, SIGKILL if busy); closed_cb
 * after the last one is reaped. */
void wk_pool_close(wk_pool *p, void (*closed_cb)(wk_pool *p));

/* ======================== metrics and systemd ======================== */

typedef struct wk_metrics wk_metrics;
/* Serve /metrics, /healthz and /readyz on 'listen' ("127.0.0.1:9464", "[::1]:9464")
 * from an HTTP thread; "" or NULL: *out = NULL, nothing served. Every other
 * function accepts NULL. RHAI_EINVAL (bad address), RHAI_EIO (cannot bind).
 * /healthz is 503 once the loop has not ticked (wk_metrics_state) for
 * 'stall_ms'. */
int  wk_metrics_start(wk_metrics **out, const char *listen, const char *worker,
                      const char *instance, uint64_t stall_ms, rhai_error *err);
void wk_metrics_stop(wk_metrics *m);
void wk_metrics_task(wk_metrics *m, rhai_status st, rh_error_kind kind, int64_t ms);
/* queue_depth < 0 leaves the last known depth. */
/* A task claimed in the round trip of its take (1) or by id (0). */
void wk_metrics_claim(wk_metrics *m, int with_take);
/* One Redis call of the take (finish 0) or finish (1) step and the tasks
 * it took or finished. */
void wk_metrics_step(wk_metrics *m, int finish, unsigned tasks);
void wk_metrics_state(wk_metrics *m, int busy, int executors, long queue_depth, int redis_up,
                      uint64_t restarts, uint64_t reconnects);
/* A task started on an executor 'ms' after it was created. */
void wk_metrics_wait(wk_metrics *m, int64_t ms);
/* Age of the task next in the queue (0: empty). */
void wk_metrics_oldest(wk_metrics *m, int64_t age_ms);
/* One recovery scan: dead instances found, their tasks requeued and failed. */
void wk_metrics_recovery(wk_metrics *m, long long dead, long long requeued, long long failed);
/* Readiness inputs, at once (a drain must show before the next tick). */
void wk_metrics_ready(wk_metrics *m, int redis_up, int draining);
/* Whether the worker id is paused (rhai_queue_paused). */
void wk_metrics_paused(wk_metrics *m, int paused);

/* sd_notify(3) with a formatted message; no-op outside systemd. */
void    wk_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Watchdog ping period (half of $WATCHDOG_USEC) in ms, 0 when disabled. */
int64_t wk_notify_watchdog_ms(void);

/* ======================== the store (store_watch.c) ======================== */

/* The store's health is probed this often (store_probe, off the loop). */
#ifndef WK_STORE_PROBE_MS
#define WK_STORE_PROBE_MS 3000
#endif
/* The file in a sqlite data dir holding its data id (the split guard). */
#define WK_DATA_ID_FILE ".rhai-data-id"

/* The id of the sqlite data dir 'dir' into id (n bytes): read from its
 * WK_DATA_ID_FILE, which is made (random, mode 0644) when missing. 0, or
 * RHAI_EIO naming the file. */
int wk_data_id(const char *dir, char *id, size_t n, rhai_error *err);

/* A store's state for /healthz, /readyz and /metrics: 1 up, 0 down. */
void wk_metrics_store(wk_metrics *m, int up, const char *backend);

/* ======================== the worker ======================== */

/* While paused, the pause key is checked this often. */
#ifndef WK_PAUSE_POLL_MS
#define WK_PAUSE_POLL_MS 200
#endif
/* Dead-letter ids trimmed at most per heartbeat (wk_lua_dead_trim). */
#ifndef WK_DEAD_TRIM_BATCH
#define WK_DEAD_TRIM_BATCH 1000
#endif

/* Bytes of a failed task's error message in its info log line. */
#ifndef WK_LOG_ERROR_MAX
#define WK_LOG_ERROR_MAX 200
#endif

/* take.c takes, claims and checks each task, start.c starts it, worker.c
 * runs and finishes it; instance.c runs the instance around them
 * (connections, tick, drain, signals), heartbeat.c its heartbeat and
 * recovery. They share these structures. */
typedef struct wk_worker wk_worker;

typedef enum {
    WK_JOB_CLAIMING,  /* claim script in flight */
    WK_JOB_READY,     /* claimed and valid, waiting for an executor */
    WK_JOB_RUNNING,   /* on an executor */
    WK_JOB_FINISHING  /* finish built; sent, or waiting for a connection */
} wk_job_state;

struct wk_job {
    wk_worker *w;
    wk_job_state  state;
    int        sent;            /* finish in flight on the current connection */
    int        cancelled;       /* killed on a client's request */
    int        retry;           /* Redis refused the claim or finish: resend on tick */
    int        rebuild;         /* FINISHING, its finish not built (out of memory):
                                 * wk_job_rebuild on tick */
    int        retaken;         /* its id was taken again while we held it */
    int        unstarted;       /* answered without a claim (invalid) */
    int        start_pending;   /* its start waits for the next flush (wk_starts_send) */
    int64_t    start_due_ms;    /* ... not before then (monotonic ms; 0: the next
                                   flush): start_defer_ms, see wk_start_send */
    int        start_folded;    /* its start goes with its finish (never sent alone) */
    int        dead;            /* crashed max_attempts times: finish puts it
                                   in the dead-letter set (dead_at) */
    int        fin_mode;        /* finish: 0 done, 1 failed, 2 dead, 3 retry (wk_lua_finish) */
    int64_t    retry_due;       /* fin_mode 3: unix ms of the next attempt */
    char      *attempt_error;   /* finish: this attempt's entry of 'errors', or NULL */
    int        crashes;         /* runs whose executor died (retried locally) */
    int        store_fails;     /* runs whose store failed (retried locally) */
    int64_t    store_fail_at_ms; /* monotonic ms of the first store failure, 0: none */
    int64_t    not_before_ms;   /* READY: not started before (monotonic ms) */
    int64_t    run_at_us;       /* RUNNING since (monotonic us) */
    rh_task    task;
    char       id[RH_NAME_MAX + 1];
    char      *reply;           /* finish: reply JSON */
    char      *event;           /* finish: event JSON */
    char      *events;          /* the result's events (JSON array text), NULL: none */
    json_t    *relay;           /* those validated, to relay before the finish */
    int        relay_wait;      /* relay calls in flight */
    int        relaying;        /* 1 until every event is relayed: no finish yet */
    int        relay_bad;       /* a relay call of this round was refused */
    wk_job    *prev, *next;
};

/* Redis refusing what rhaid retries every tick (CLUSTERDOWN while a
 * shard is lost, OOM, LOADING) is logged once per event per
 * WK_REFUSED_LOG_MS, with the count of lines held back since (not a line
 * per tick for as long as it lasts). */
#ifndef WK_REFUSED_LOG_MS
#define WK_REFUSED_LOG_MS 30000
#endif

/* Log 'event' (Redis refused what the tick retries) with 'reason' and
 * what happens 'then', within WK_REFUSED_LOG_MS (instance.c). */
void wk_log_refused(wk_worker *w, const char *event, const char *reason, const char *then);

struct wk_worker {
    uv_loop_t  *loop;
    wk_config  *cfg;
    rh_log_limit refused;       /* retake_failed, guard_failed, pop_failed */
    wk_conn     pop;            /* BLMOVE only */
    wk_conn     cmd;            /* everything else, pipelined */
    wk_pool     pool;
    uv_timer_t  tick;
    uv_timer_t  grace;
    uv_timer_t  watchdog;       /* systemd WATCHDOG=1, when enabled */
    uv_timer_t  later;          /* wakes wk_pump for a job's not_before_ms */
    uv_timer_t  start_timer;    /* sends deferred starts when due (start.c) */
    wk_metrics *metrics;
    long        queue_depth;
    int         ready_sent;
    char        sha_claim[41];  /* SCRIPT LOAD digests; "" until loaded */
    char        sha_claim_head[41];
    char        sha_take[41];
    char        ev_started[1024];       /* started event up to "at": (no id) */
    size_t      ev_started_id;          /* its length up to and with "id": */
    char        sha_finish[41];
    char        lim_script[24];         /* max_script, max_args as text (wk_limit_args) */
    char        lim_args[24];
    char        sha_start[41];
    char        sha_promote[41];
    char        sha_relay[41];
    char        sha_relay_sub[41];
    struct wk_relay *relay;     /* events relay and outbox marks (relay.c) */
    char        k_delayed[RH_KEY_MAX];  /* delayed set of our worker id (delay.c) */
    uv_timer_t  promote;        /* promotes due delayed tasks (delay.c) */
    int         promoting;      /* its script call in flight */
    uint64_t    rand_state;     /* the retries' jitter */
    uv_prepare_t fin_flush;     /* sends the finishes ready (wk_finish_send) */
    int         fin_inflight;   /* finish calls sent, not yet answered */
    uv_signal_t sig[3];
    char        member[RH_KEY_MAX];     /* {W}:INSTANCE in the workers set */
    char        k_queue[RH_KEY_MAX];
    char        k_proc[RH_KEY_MAX];
    char        k_worker[RH_KEY_MAX];
    char        k_workers[RH_KEY_MAX];
    char        k_events[RH_KEY_MAX];
    char        k_index[RH_KEY_MAX];    /* recent tasks of our worker id */
    char        k_instances[RH_KEY_MAX]; /* instance names of our worker id */
    char        k_dead[RH_KEY_MAX];     /* its dead-letter set */
    char        k_paused[RH_KEY_MAX];   /* exists while it is paused */
    int         paused;         /* the worker id is paused: take nothing, start
                                   no claimed task (take.c) */
    uv_timer_t  pause_poll;     /* while paused: is it still? (heartbeat.c) */
    char        reply_prefix[RH_KEY_MAX];
    char        host[256];
    int64_t     started_at;
    int         popping;        /* takes in flight on the pop connection */
    int         taking;         /* ids they may bring */
    int         hot;            /* the last take found work: take in batches */
    double      run_us_avg;     /* moving mean of a run, start to result */
    int         pop_paused;     /* Redis refused a take: wait for the tick */
    int64_t     cmd_up_at;      /* monotonic ms the command connection last came up */
    int         scanned;        /* processing list re-read since last (re)connect */
    int         scanning;       /* that LRANGE is in flight */
    wk_job     *jobs;           /* every job until its finish is acknowledged, */
    wk_job     *jobs_tail;      /* oldest first: ready jobs start in take order */
    int         njobs;
    uint64_t    done, failed;
    double      rate;           /* answered tasks/s, moving average */
    uint64_t    rate_last;      /* done + failed at the last tick */
    int64_t     rate_at;        /* when, monotonic ms */
    int         draining;
    int         final_sent;
    int         stopping;       /* connections and pool closing */
    int         exit_code;      /* wk_worker_run's, once stopped */
    store      *st;             /* the store, probed only (store_watch.c) */
    uv_work_t   probe_req;
    int         probing;        /* probe_req in flight */
    int         probe_rc;       /* its result, and why */
    rhai_error  probe_err;
    int64_t     probe_at;       /* monotonic ms of the last probe */
    int         store_up;       /* 1 up, 0 down, -1 not probed yet */
    char        data_id[40];    /* sqlite: the data dir's id; "" postgres */
    char        store_where[4200];  /* published: data dir, or the masked url */
    int         guard_wait;     /* 1 until the split guard passed: no beat, no take */
    int         guard_sent;     /* its check in flight */
    struct wk_cron *cron;       /* the firing of cron schedules (cron.c) */
};

/* cron.c: every instance fires the due cron schedules of its worker id
 * (each tick once across all instances) and checks the firings it claims. */
typedef struct wk_cron wk_cron;
int  wk_cron_start(wk_worker *w);           /* 0 / RHAI_ENOMEM */
void wk_cron_stop(wk_worker *w);            /* after the connections closed */
/* A claimed task that names a schedule: 1 when it is not a firing of a
 * signed schedule (check it as any task), 0 when it is one and its
 * cron_sig verifies against the task's own fields and id, else
 * RHAI_EINVAL with why (the task is denied). */
int  wk_cron_firing_check(const wk_config *cfg, const rh_task *t, int64_t now,
                          rhai_error *err);

/* worker.c */
wk_job *wk_job_new(wk_worker *w, const char *id, size_t len);  /* appended, NULL: no memory */
void    wk_job_free(wk_job *j);
wk_job *wk_job_find(wk_worker *w, const char *id, size_t len);
int     wk_count_jobs(wk_worker *w, wk_job_state s);
/* On an idle executor, or queued: 1 started, 0 still READY (no executor
 * can take it now), -1 ended (answered, or freed: do not touch j). */
int     wk_job_start(wk_job *j, int queue);
void    wk_job_fail(wk_job *j, rh_error_kind kind, const char *msg);
void    wk_job_cancel_ready(wk_job *j);         /* answer a READY job cancelled */
void    wk_finish_send(wk_job *j);
void    wk_job_rebuild(wk_job *j);              /* build a finish memory failed (tick) */
void    wk_on_run(wk_pool *p, wk_job *j, eng_output *out, void *data);
char   *wk_event_json(wk_worker *w, const char *event, const rh_task *t);
/* take.c */
void    wk_take_id(wk_worker *w, const char *id, size_t len);
void    wk_claim_send(wk_job *j);
void    wk_limit_args(wk_worker *w, const char **argv);  /* ARGV max_script, max_args */
/* start.c */
/* The job goes onto an executor: a task still claimed becomes running
 * (started_at, attempts + 1, started event; wk_lua_start), here and in
 * Redis. Started before (a rerun after its executor died): nothing. */
void    wk_start_send(wk_job *j);
/* Send every pending start in one wk_lua_start call (worker.c's flush
 * calls it before the finishes, so a task's start is ahead of its finish
 * on the command connection). */
void    wk_starts_send(wk_worker *w);
/* The started event of task 'id' at 'at' (unix ms) into *out, which the
 * caller frees (also on error). 0, or -1. */
int     wk_started_event(wk_worker *w, const char *id, int64_t at, rh_buf *out);
void    wk_flush_kick(wk_worker *w);   /* worker.c: the flush of starts and finishes */
/* take.c */
void    wk_pump(wk_worker *w);                  /* start ready jobs, take more */
void    wk_on_pool_ready(wk_pool *p, void *data);
void    wk_on_pool_back(wk_pool *p, wk_job *j, void *data);
void    wk_on_pool_start(wk_pool *p, wk_job *j, void *data);
/* The reply callbacks of a claim by id (privdata: the job) and of a batch
 * take (privdata: the worker), reachable for unit tests, which feed them
 * replies parsed from RESP bytes (tests/unit/test_daemon_take.c). */
void    wk_on_claim(rh_aconn *ac, redisReply *reply, void *job);
/* ... and of the look-up of a protocol v1 task behind a 'missing' claim. */
void    wk_on_v1(rh_aconn *ac, redisReply *reply, void *job);
void    wk_on_take(rh_aconn *ac, redisReply *reply, void *worker);
/* store_watch.c */
int     wk_store_open(wk_worker *w, rhai_error *err);   /* after wk_pool_init */
void    wk_store_probe(wk_worker *w);           /* per tick: probe when due */
const char *wk_store_state(const wk_worker *w); /* "up", "down", "unknown" */
void    wk_store_close(wk_worker *w);           /* after the loop ended */
/* delay.c: delayed tasks and retries (docs/scheduling.md) */
/* Every WK_PROMOTE_MS, and sooner when the earliest due task is nearer,
 * each instance moves due tasks of its worker id from the delayed set to
 * the queue (wk_lua_promote), WK_PROMOTE_BATCH per call, again at once
 * while a call found a full batch. */
#ifndef WK_PROMOTE_MS
#define WK_PROMOTE_MS 100
#endif
#ifndef WK_PROMOTE_BATCH
#define WK_PROMOTE_BATCH 1000
#endif
void    wk_delay_init(wk_worker *w);            /* keys, timer; before the loop runs */
void    wk_delay_close(wk_worker *w, uv_close_cb cb);
/* Decide how job j, whose run ended with 'kind', finishes: fin_mode,
 * retry_due and attempt_error (docs/scheduling.md, "Retries"). 0, or
 * RHAI_ENOMEM. */
int     wk_delay_finish_mode(wk_job *j, rh_error_kind kind);
/* 1 when a run that ended with 'kind' may be retried. */
int     wk_delay_retryable(rh_error_kind kind);
/* relay.c: the events a result carries (docs/events.md). Relayed before
 * the finish: subscriber tasks created and the stream appended (both
 * idempotent, wk_lua_relay); after it, marked relayed in the store off the
 * loop (one job in flight, batched). */
int     wk_relay_start(wk_worker *w);           /* 0 / RHAI_ENOMEM */
void    wk_relay_stop(wk_worker *w);            /* after the loop ended */
/* Events one result may carry, at most (more: none is relayed). */
#define WK_RELAY_EVENTS_MAX 1000
/* Check 'events' (JSON text, from an executor's result: outside input)
 * against task t (id task_id) that rhaid sent: each event's identity
 * (context; for the task's own events also caller, trace and depth + 1),
 * its fields, and its subscriptions as a task would be (docs/protocol.md,
 * "Script events"). *ok is a new array of the valid events (NULL when
 * 'events' is not an array of at most WK_RELAY_EVENTS_MAX); the refused
 * ones are logged. Returns how many were refused, -1 for a refused whole,
 * RHAI_ENOMEM. */
int     wk_relay_check(const wk_config *cfg, const rh_task *t, const char *task_id,
                       const char *events, json_t **ok);
/* Check j->events against the task rhaid sent and keep the valid ones in
 * j->relay (relaying set when there are any); invalid ones are logged and
 * dropped. Called once, when the result is in. */
void    wk_relay_prepare(wk_job *j);
/* Send the relay calls of a job still relaying; when all are answered,
 * relaying is cleared and the finish sent. */
void    wk_relay_send(wk_job *j);
/* The job's finish was acknowledged: queue its events' marks. */
void    wk_relay_finished(wk_job *j);
/* instance.c */
void    wk_drain_check(wk_worker *w);           /* finish a drain when idle */
int     wk_worker_run(wk_config *cfg, const char *config_path_for_reload);
/* heartbeat.c */
/* Publish our heartbeat and registration (not before the split guard
 * passed), read the queue's depth and age, check the pause, trim the
 * dead-letter set, and, once our command connection has been up for
 * heartbeat_ttl_ms, recover dead instances. Each tick and at once on a
 * change (connect, guard passed, drain). */
void    wk_heartbeat(wk_worker *w);
/* The worker id is paused (1) or not (0), as a take script or the pause
 * check found: logged on a change; while paused, nothing new is taken and
 * the pause key is checked every WK_PAUSE_POLL_MS, so a resume is
 * noticed within that without spinning; on resume, taking starts again. */
void    wk_pause_set(wk_worker *w, int paused);

/* ======================== Lua ======================== */
/* scripts.c */
void    wk_scripts_load(wk_worker *w);          /* SCRIPT LOAD on a new connection */
/* argv[0..1] for a script: EVALSHA digest or EVAL text. */
void    wk_script_args(const char *sha, const char *text, const char **argv, size_t *lens);
int     wk_is_noscript(const redisReply *reply);
extern const char wk_lua_claim[];
extern const char wk_lua_claim_head[];
extern const char wk_lua_finish[];
extern const char wk_lua_take[];
extern const char wk_lua_start[];
extern const char wk_lua_requeue[];
extern const char wk_lua_dead_trim[];
extern const char wk_lua_promote[];
extern const char wk_lua_relay[];
extern const char wk_lua_relay_sub[];

#endif
