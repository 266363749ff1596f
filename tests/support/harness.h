/* harness.h -- test support: throwaway redis-server and rhaid processes.
 *
 * Everything binds to 127.0.0.1 on a port found free by the kernel. Every
 * start has a bounded wait; every stop reaps the child. A missing
 * redis-server is a failure, never a skip. */
#ifndef TH_HARNESS_H
#define TH_HARNESS_H

#include <stdarg.h>
#include <sys/types.h>
#include <hiredis/hiredis.h>

typedef struct th_redis {
    pid_t pid;
    int   port;
    int   aof;            /* appendonly yes, fsync always */
    int   cluster;        /* --cluster-enabled yes (th_redis_start_cluster) */
    int   bus_port;       /* its cluster bus port */
    char  dir[256];       /* temp dir, removed by th_redis_stop */
    char  url[64];        /* redis://127.0.0.1:PORT */
} th_redis;

/* A free TCP port on 127.0.0.1 (bind to 0, read it, close). */
int  th_free_port(void);
/* A TCP socket listening on 127.0.0.1 on a free port (backlog 16,
 * close-on-exec): connects queue in its backlog and nothing answers until
 * the test accepts. Its fd and *port, or -1. */
int  th_listen(int *port);
/* Start redis-server in a new temp dir; waits until it answers PING (10 s).
 * Returns 0, or -1 after printing why. */
int  th_redis_start(th_redis *r, int aof);
int  th_redis_start_as(th_redis *r, int aof, int cluster);
/* A one-node Redis Cluster: redis-server --cluster-enabled yes, owning
 * every slot (CLUSTER ADDSLOTSRANGE 0 16383), waited for until
 * cluster_state:ok. Every key is local (no MOVED), but Redis refuses any
 * script or MULTI whose keys span two hash slots (CROSSSLOT, "Script
 * attempted to access keys that do not hash to the same slot"): the check
 * of key layout v2. 0 or -1 after printing why. */
int  th_redis_start_cluster(th_redis *r);
/* Stop it (SHUTDOWN, or SIGKILL after 5 s), keep the dir when keep_dir. */
void th_redis_stop_keep(th_redis *r);
void th_redis_stop(th_redis *r);
/* Stop and start again on the same port and dir (data kept with aof). */
int  th_redis_restart(th_redis *r);
/* New blocking connection; NULL on failure. */
redisContext *th_redis_connect(const th_redis *r);
/* From a process that is not its parent (a forked child): SIGKILL it and
 * return once its port refuses connections and its FIN has had time to
 * reach our sockets (clients connected to it stay unaware). */
void th_redis_kill_from_child(const th_redis *r);
/* A malloc'd script of n bytes (spaces, then "1+1;"), NULL-terminated. */
char *th_big_script(size_t n);
/* Wait for a forked child: its exit status, or -N when signal N ended it
 * (printed, so a test's failure says which). */
int th_child_status(pid_t child);

/* Path of a built binary ("rhaid", "rhaictl") in the build's bin dir. */
const char *th_bin(const char *name, char *buf, size_t n);
/* Path of a file in the source tree. */
const char *th_src(const char *rel, char *buf, size_t n);

/* Spawn argv (argv[0] a path) with stdout+stderr appended to log_path (may
 * be NULL: inherit). Extra environment "K=V" strings in env (NULL ok).
 * Returns the pid or -1. */
pid_t th_spawn(char *const argv[], char *const env[], const char *log_path);
/* Wait up to timeout_ms for pid to exit. Returns its wait status, or -1
 * on timeout (the child is left running). */
int   th_wait(pid_t pid, int timeout_ms);
/* SIGTERM, wait up to timeout_ms, then SIGKILL and reap. Returns status. */
int   th_stop(pid_t pid, int timeout_ms);

/* Start rhaid for 'worker' against r with 'concurrency' executors, extra
 * args appended (NULL-terminated, may be NULL), and --data-dir
 * r->dir/data-N unless extra names a store (--data-dir or --data-url).
 * Log in r->dir/rhaid-N.log.
 * Waits until its heartbeat key exists (10 s). Returns pid or -1. */
pid_t th_rhaid_start(const th_redis *r, const char *worker, int concurrency,
                     const char *const extra[]);
/* setpriv(1), which th_rhaid_start_as runs rhaid through. */
#define TH_SETPRIV "/usr/bin/setpriv"
/* th_rhaid_start() as uid/gid, through TH_SETPRIV (which execs rhaid in the
 * same pid and sets its parent-death signal again), without the default
 * --data-dir: extra names one. Log in r->dir/rhaid-as-N.log. */
pid_t th_rhaid_start_as(const th_redis *r, const char *worker, int concurrency, uid_t uid,
                        gid_t gid, const char *const extra[]);
/* Wait (10 s) until rhaid 'pid' of 'worker' wrote its heartbeat key to r.
 * 0; -1 when it exited or gave none (then it is stopped), with a message
 * naming 'log'. */
int   th_rhaid_ready(const th_redis *r, const char *worker, pid_t pid, const char *log);

/* Run a shell command, return its exit status (-1 on failure to run). */
int   th_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* GET path from 127.0.0.1:port (rhaid's /metrics): the whole response
 * (rh_free it), or NULL. */
char     *th_http_get(int port, const char *path);
/* Value of the first line of 'text' starting with 'series ', or -1. */
long long th_metric(const char *text, const char *series);
/* Poll GET /metrics on 127.0.0.1:port every 20 ms until 'series' is at
 * least 'min' or timeout_ms passes: the last body (rh_free it), or NULL
 * when /metrics was never served. */
char     *th_metrics_wait(int port, const char *series, long long min, int timeout_ms);
/* Check 'body' (an HTTP response or bare text) against the Prometheus text
 * exposition format 0.0.4: every line a comment or a sample
 * `name{label="value",...} number`, each family with one # HELP and one
 * # TYPE before its samples, known types, histogram suffixes only on
 * histograms, no series twice. 0, or -1 with the reason in why. */
int       th_metrics_check(const char *body, char *why, size_t n);

#endif

/* ---- raw protocol helpers (plain hiredis, per docs/protocol.md) ---- */
#include "common/common.h"
/* HSET the task hash and LPUSH its id on worker's queue. script/args/
 * reply_to may be NULL (field omitted); timeout_ms <= 0 omits it. 0 / -1. */
int th_submit(redisContext *c, const char *worker, const char *id, const char *script,
              const char *args, long timeout_ms, const char *reply_to);
/* th_submit() with the task's context_id and caller_id set (NULL: field
 * omitted). 0 / -1. */
int th_submit_as(redisContext *c, const char *worker, const char *id, const char *ctx,
                 const char *caller, const char *script, const char *args, long timeout_ms,
                 const char *reply_to);
/* BLPOP 'list' (NULL: the task's default reply list of 'id') up to
 * timeout_s and parse the reply into 'out'. 0, or -1 on timeout/error. */
int th_reply(redisContext *c, const char *list, const char *id, int timeout_s, rh_task *out);
/* The integer reply of a command, or -1 (no reply, or not an integer). */
long long th_cmd_int(redisContext *c, const char *fmt, ...);
long long th_vcmd_int(redisContext *c, const char *fmt, va_list ap);
/* The worker id of task 'id' (key layout v2): its hint rhai:taskw:{ID},
 * which th_submit and every client write, else "default". Returns worker. */
const char *th_worker_of(redisContext *c, const char *id, char worker[RH_NAME_MAX + 1]);
/* The task hash key of 'id' under th_worker_of's worker id. Returns key. */
char *th_task_key(redisContext *c, const char *id, char key[RH_KEY_MAX]);
/* HGET of one task field into buf ("" when absent). */
const char *th_task_field(redisContext *c, const char *id, const char *field, char *buf,
                          size_t n);

/* ---- cluster routing of hiredis calls (tests/support/th_route.c) ---- */
void *th_rt_command(redisContext *c, const char *fmt, ...);
void *th_rt_vcommand(redisContext *c, const char *fmt, va_list ap);
void *th_rt_command_argv(redisContext *c, int argc, const char **argv, const size_t *argvlen);
int   th_rt_append(redisContext *c, const char *fmt, ...);
int   th_rt_append_argv(redisContext *c, int argc, const char **argv, const size_t *argvlen);
int   th_rt_get_reply(redisContext *c, void **reply);
/* On a cluster (RHAI_TEST_CLUSTER_NODES, tools/with-redis-cluster.sh),
 * th_redis_start hands out the cluster itself instead of a new server:
 * r->url is the seed node's, every master is flushed first, and pid is
 * -1 (th_redis_restart and kills fail). 1 when that is so. */
int   th_cluster_mode(void);
#ifndef TH_NO_ROUTE
#define redisCommand           th_rt_command
#define redisvCommand          th_rt_vcommand
#define redisCommandArgv       th_rt_command_argv
#define redisAppendCommand     th_rt_append
#define redisAppendCommandArgv th_rt_append_argv
#define redisGetReply          th_rt_get_reply
#endif
/* kill(2) in tests and the harness: pid <= 0 (a failed start's -1, or the
 * cluster's pid -1 above) is refused with a message instead of signalling
 * every process we may signal. */
int   th_kill(pid_t pid, int sig);
#ifndef TH_NO_ROUTE
#define kill(pid, sig) th_kill(pid, sig)
#endif
