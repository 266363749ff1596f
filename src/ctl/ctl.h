/* ctl.h -- the one private header of rhaictl (prefix ctl_).
 *
 * main.c parses the global options and dispatches to one command-table
 * entry per file (cmd_submit.c exports ctl_cmd_submit, ...), as tmux does.
 * A command parses its own options with getopt_long, does its work and
 * returns the process exit code; the helpers below turn scripts, results
 * and library errors into output and exit codes the same way everywhere:
 * options, usage errors and exit codes in main.c, scripts in script.c,
 * output in print.c, Redis connections in redis.c. */
#ifndef CTL_CTL_H
#define CTL_CTL_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>

#include "common/common.h"
#include "common/rlink.h"
#include "engine/engine.h"
#include "store/store.h"
#include "rhai/client.h"

/* Exit codes of every command. Each means one thing, so scripts can act
 * on them without parsing messages:
 *
 *   code  name                meaning
 *   0     CTL_EXIT_OK         done (the task succeeded, or the command did)
 *   1     CTL_EXIT_FAILED     the script failed: error_kind script, memory,
 *                             crashed, invalid or internal; or another
 *                             error (refused cancel, protocol, I/O)
 *   2     CTL_EXIT_USAGE      bad command line, unreadable or oversized
 *                             script file, invalid --args JSON
 *   3     CTL_EXIT_TIMEOUT    the task timed out, or no result came in time
 *   4     CTL_EXIT_DENIED     authorization refused the task
 *   5     CTL_EXIT_CONN       Redis unreachable (RHAI_ECONN)
 *   6     CTL_EXIT_CANCELLED  the task was cancelled
 *   7     CTL_EXIT_NOTFOUND   no such task (unknown or expired), or no
 *                             such context in the store (local admin),
 *                             or no such queue (queue purge)
 *   8     CTL_EXIT_NOWORKER   no live instance serves the worker id (submit,
 *                             retry --wait: said at once, not after a
 *                             timeout) */
enum {
    CTL_EXIT_OK = 0,
    CTL_EXIT_FAILED = 1,
    CTL_EXIT_USAGE = 2,
    CTL_EXIT_TIMEOUT = 3,
    CTL_EXIT_DENIED = 4,
    CTL_EXIT_CONN = 5,
    CTL_EXIT_CANCELLED = 6,
    CTL_EXIT_NOTFOUND = 7,
    CTL_EXIT_NOWORKER = 8
};

/* The exit-code table as printed by every --help. */
#define CTL_EXIT_HELP                                                        \
    "Exit codes:\n"                                                          \
    "  0  done\n"                                                            \
    "  1  script error (error_kind script, memory, crashed, invalid,\n"       \
    "     internal), or another failure (cancel refused, protocol, I/O)\n"   \
    "  2  usage error (bad option, unreadable or oversized script, bad JSON)\n" \
    "  3  timeout (the task's own, or no result in time)\n"                  \
    "  4  denied\n"                                                          \
    "  5  connection error (Redis unreachable)\n"                            \
    "  6  cancelled\n"                                                       \
    "  7  task not found (unknown or expired), no such context or queue\n"  \
    "  8  no live instance serves the worker id (nothing was queued)\n"

/* A script file (or stdin) larger than this is refused before anything
 * is sent: workers cap scripts far lower (max_script, 1 MiB by default),
 * so this only guards rhaictl's own memory. */
#ifndef CTL_SCRIPT_MAX
#define CTL_SCRIPT_MAX (16u * 1024u * 1024u)
#endif

/* Options shared by every command; set before the command name, or after
 * it (`rhaictl submit x.js --json`). Strings are borrowed from argv or the
 * environment and live as long as the process. */
typedef struct ctl_global {
    const char *url;        /* NULL: $RHAI_REDIS_URL, else 127.0.0.1:6379 */
    const char *prefix;     /* NULL: $RHAI_PREFIX, else "rhai" */
    int         json;       /* --json: machine output on stdout */
} ctl_global;

/* One command-table entry. 'exec' gets argv starting at the command name
 * (argv[0] == name) and returns the exit code. */
typedef struct ctl_cmd {
    const char *name;
    const char *args;       /* "FILE | -e SCRIPT [options]" for usage lines */
    const char *summary;    /* one line for the top-level help */
    int (*exec)(ctl_global *g, int argc, char **argv);
} ctl_cmd;

extern const ctl_cmd ctl_cmd_submit;
extern const ctl_cmd ctl_cmd_run;
extern const ctl_cmd ctl_cmd_on;
extern const ctl_cmd ctl_cmd_task;
extern const ctl_cmd ctl_cmd_keygen;
extern const ctl_cmd ctl_cmd_workers;
extern const ctl_cmd ctl_cmd_queues;
extern const ctl_cmd ctl_cmd_tasks;
extern const ctl_cmd ctl_cmd_queue;
extern const ctl_cmd ctl_cmd_top;
extern const ctl_cmd ctl_cmd_dsl;
extern const ctl_cmd ctl_cmd_context;
extern const ctl_cmd ctl_cmd_acl;
extern const ctl_cmd ctl_cmd_audit;
extern const ctl_cmd ctl_cmd_cron;
extern const ctl_cmd ctl_cmd_dead;
extern const ctl_cmd ctl_cmd_repl;
extern const ctl_cmd ctl_cmd_events;
extern const ctl_cmd ctl_cmd_trace;

/* ---- options (main.c) ------------------------------------------------------
 * Each command's getopt_long table ends with CTL_GLOBAL_LONGOPTS so the
 * global options also work after the command name. Their values are above
 * any character so they never clash with a command's short options. */
enum { CTL_OPT_URL = 0x100, CTL_OPT_PREFIX, CTL_OPT_JSON, CTL_OPT_HELP };
#define CTL_GLOBAL_LONGOPTS                                     \
    { "redis-url", required_argument, NULL, CTL_OPT_URL },      \
    { "prefix", required_argument, NULL, CTL_OPT_PREFIX },      \
    { "json", no_argument, NULL, CTL_OPT_JSON },                \
    { "help", no_argument, NULL, CTL_OPT_HELP }

#define CTL_GLOBAL_HELP                                                      \
    "Global options (before or after the command):\n"                        \
    "  --redis-url URL   Redis to use (default $RHAI_REDIS_URL, else\n"       \
    "                    redis://127.0.0.1:6379)\n"                          \
    "  --prefix P        key prefix (default $RHAI_PREFIX, else rhai)\n"     \
    "  --json            print JSON on stdout instead of text\n"            \
    "  --help            this help\n"

/* Handle a global option returned by getopt_long (CTL_OPT_URL, _PREFIX,
 * _JSON). Returns 1 when 'c' was one, 0 otherwise. */
int ctl_global_option(ctl_global *g, int c, const char *arg);

/* Reset getopt for a new argv: options first or anywhere (permuting),
 * errors reported by us, not by getopt. */
void ctl_getopt_reset(void);

/* Print "rhaictl CMD: <reason>" and "try 'rhaictl CMD --help'" on stderr;
 * returns CTL_EXIT_USAGE. 'cmd' NULL for the top level. */
int ctl_usage_error(const char *cmd, const char *fmt, ...) RH_PRINTF(2, 3);
/* The usage error for getopt's return 'c' ('?' or ':'), naming the bad
 * option from argv[optind - 1] / optopt. Returns CTL_EXIT_USAGE. */
int ctl_option_error(const char *cmd, int c, char **argv);

/* Print "rhaictl CMD: <message>" on stderr ("rhaictl: " when cmd is NULL).
 * The message is kept: a command run with --json that fails without having
 * printed its JSON document prints {"error": message, "exit": code}. */
void ctl_errorf(const char *cmd, const char *fmt, ...) RH_PRINTF(2, 3);
/* The message of the last ctl_errorf or usage error ("" before any).
 * Borrowed until the next one. */
const char *ctl_last_error(void);
/* 1 once ctl_json_printed() was called. */
int ctl_json_was_printed(void);
/* 1: errors are kept (ctl_last_error) but not printed on stderr, for a
 * program that links rhai_ctl_core and reports them its own way
 * (rhai-web). Not thread-safe: one caller at a time. */
void ctl_errors_quiet(int quiet);
/* A JSON document went to stdout (ctl_print_json, ctl_print_result do it):
 * no error document is added when the command fails after it. */
void ctl_json_printed(void);

/* Parse a positive decimal integer in [min, max], optionally followed by a
 * binary suffix k, m or g when 'suffixes' is set. 0 / -1. */
int ctl_parse_int(const char *s, long long min, long long max, int suffixes,
                  long long *out);
/* The --timeout MS (1..max) and --memory BYTES (64k..4g, suffixes k, m,
 * g) of the local runs (`run`, `repl`): 0, or ctl_usage_error's code after
 * saying what is wrong. */
#define CTL_MEMORY_MIN (64LL * 1024)
#define CTL_MEMORY_MAX (4096LL * 1024 * 1024)
int ctl_opt_timeout(const char *cmd, const char *arg, long long max, long long *out);
int ctl_opt_memory(const char *cmd, const char *arg, long long *out);

/* ---- selection of bulk commands (filter.c) ------------------------------- */

/* The longest duration accepted: 100 years. */
#define CTL_DURATION_MAX_MS (100LL * 365 * 86400000LL)
/* Distinct error kinds one filter may name. */
#define CTL_FILTER_KINDS 8

/* What a bulk command (dead list|retry|delete --all) selects: tasks of one
 * of the kinds (none: any) that died more than older_than_ms ago (0: any
 * age). Zero-initialised: everything. */
typedef struct ctl_filter {
    char      kinds[CTL_FILTER_KINDS][16];
    int       nkinds;
    long long older_than_ms;
} ctl_filter;

/* A duration: digits and one unit of ms, s, m, h, d, w ("500ms", "90s",
 * "7d"); no sign, no space, no bare number. 0 and *ms, or -1 (also past
 * CTL_DURATION_MAX_MS). */
int  ctl_duration_parse(const char *s, long long *ms);
/* Add the error kinds of 's' ("crashed" or "crashed,timeout"; each one of
 * rh_kind_parse's names) to f, once each. 0, or -1 (unknown or empty kind,
 * a stray comma, more than CTL_FILTER_KINDS). */
int  ctl_kinds_parse(const char *s, ctl_filter *f);
/* The kinds as the scripts take them: ",crashed,timeout," or "" (any). */
void ctl_kinds_arg(const ctl_filter *f, char *buf, size_t n);
/* Whether a task of error kind 'kind' (NULL: none) that died at 'dead_at'
 * (unix ms) is selected at 'now'. 1 / 0. */
int  ctl_filter_match(const ctl_filter *f, const char *kind, long long dead_at, long long now);

/* ---- scripts, --args and --key (script.c) -------------------------------- */

/* Read the script of a command: 'inline_src' (from -e) when not NULL,
 * else the file 'path' ("-": stdin). *out is new (rh_free), NUL-terminated,
 * *len bytes. Prints the reason and returns CTL_EXIT_USAGE when the file is
 * unreadable, over CTL_SCRIPT_MAX, or holds a NUL byte; 0 on success. */
int ctl_script_load(const char *cmd, const char *path, const char *inline_src,
                    char **out, size_t *len);

/* Check that 'json' (--args) is one JSON value (any type). 0 / -1. */
int ctl_script_args_valid(const char *json);
/* Sign 't' with the hex Ed25519 secret key on the first line of 'path'
 * (rhaictl keygen); the caller becomes its public key. 0, or -1 after
 * printing why. The key is wiped from our buffer. */
int ctl_script_sign(const char *cmd, rhai_task *t, const char *path);

/* ---- exit codes (main.c) ------------------------------------------------- */

/* The exit code of a finished task, from its status and error_kind name
 * (NULL or "" when none). */
int ctl_exit_for_result(rhai_status status, const char *kind);

/* The exit code for a library error code (RHAI_ECONN -> CTL_EXIT_CONN...). */
int ctl_exit_for_rc(int rc);

/* Report a library error on stderr ("rhaictl: <err.msg or strerror>") and
 * return its exit code. */
int ctl_report_rc(int rc, const rhai_error *err);

/* ---- Redis connections (redis.c) ----------------------------------------- */

/* Connect with the global URL and prefix; on failure print why and return
 * the exit code (CTL_EXIT_CONN, or CTL_EXIT_USAGE for a bad URL/prefix). */
int ctl_connect(const ctl_global *g, rhai_client **out);

/* The monitoring and admin commands read keys of docs/protocol.md that the
 * client library has no call for (heartbeats, queues, the task index), so
 * they use a link of their own (common/rlink.h), configured by the
 * library's code (rh_link_config: same URL rules, TLS settings, AUTH,
 * SELECT, timeouts, messages). Not thread-safe. */
typedef struct ctl_redis_cmd {        /* a queued command */
    char         *raw;                 /* encoded; argv points into it */
    int           argc;
    const char  **argv;
    size_t       *lens;
} ctl_redis_cmd;

typedef struct ctl_redis {
    rh_link      *link;                /* NULL while disconnected */
    rh_sconn     *raw;                 /* direct: one connection to the URL's
                                          server (top's SUBSCRIBE) */
    int           direct;              /* 1: reopen opens 'raw', not 'link' */
    const char   *cmd;                 /* command name for messages */
    int           quiet;               /* 1: keep messages in msg only (top) */
    int64_t       retry_ms;            /* > 0: the router's retry of a lost
                                          node or CLUSTERDOWN (default 10 s) */
    int           code;                /* exit code of the last failure */
    char          msg[300];            /* message of the last failure */
    rh_redis_cfg  cfg;
    char          prefix[RH_PREFIX_MAX + 1];
    char          where[400];          /* url without password */
    /* commands queued by ctl_redis_append, sent at the first reply */
    ctl_redis_cmd *pend;
    int          *pend_argc;
    const char ***vargv;
    const size_t **vlens;
    int           npend, pend_cap, pend_read, pend_sent;
} ctl_redis;

/* Record a failure in r (code, msg) and print it unless r->quiet.
 * Returns 'code'. */
int ctl_redis_fail(ctl_redis *r, int code, const char *fmt, ...) RH_PRINTF(3, 4);

/* Connect with the global URL and prefix. 0, or the exit code after
 * reporting why (CTL_EXIT_USAGE for a bad URL or prefix, CTL_EXIT_CONN). */
int ctl_redis_open(const ctl_global *g, const char *cmd, ctl_redis *r);
/* The same with the router's retry of a lost node or CLUSTERDOWN cut to
 * retry_ms (0: the default 10 s), kept by r for its reopens. */
int ctl_redis_open_retry(const ctl_global *g, const char *cmd, int64_t retry_ms, ctl_redis *r);
/* Connect again after a lost connection. 0 / exit code (r->msg says why). */
int ctl_redis_reopen(ctl_redis *r);
void ctl_redis_close(ctl_redis *r);    /* the struct stays reusable */
/* 1 while connected. */
int  ctl_redis_up(const ctl_redis *r);

/* One command (hiredis format, e.g. "LLEN %s"). Returns a new reply
 * (freeReplyObject), or NULL after reporting why: an error reply
 * (r->code CTL_EXIT_FAILED) or a lost connection (CTL_EXIT_CONN, and the
 * connection is dropped). */
redisReply *ctl_redis_command(ctl_redis *r, const char *fmt, ...);
/* Pipelining: queue commands with ctl_redis_append, then read one reply
 * per command, in order, with ctl_redis_reply (NULL as above; after a
 * NULL the remaining replies are lost: close or reopen). */
int ctl_redis_append(ctl_redis *r, const char *fmt, ...);      /* 0 / -1 */
int ctl_redis_append_argv(ctl_redis *r, int argc, const char **argv); /* 0 / -1 */
redisReply *ctl_redis_reply(ctl_redis *r);
/* The W of every "<prefix>:KIND:{W}" key (KIND "queue", "tasks", "dead",
 * "paused"...), found with SCAN, each valid worker id passed to fn (0 to
 * go on, nonzero: out of memory). 0 or an exit code (reported). */
int ctl_redis_scan_workers(ctl_redis *r, const char *kind,
                           int (*fn)(void *u, const char *worker), void *u);

/* The worker id of task 'id' (key layout v2: its keys carry it): from
 * its lookup hint rhai:taskw:{ID}, else by looking for its hash under
 * every worker id Redis knows (the registry, cron, queues, instance sets,
 * task indexes, dead and delayed sets). 0 with 'worker' filled, 1 when
 * there is no such task, or an exit code (reported). */
int ctl_task_worker(ctl_redis *r, const char *id, char worker[RH_NAME_MAX + 1]);
/* The task hash key of 'id' by ctl_task_worker, or (no such task, or the
 * lookup failed: r->code says) one under worker id "-" that holds nothing,
 * so the command that reads it reads nothing. Returns key. */
char *ctl_task_key(ctl_redis *r, const char *id, char key[RH_KEY_MAX]);
/* Tell client 'c' the worker id of task 'id' (ctl_task_worker on a
 * connection of its own), so that rhai_task_status / rhai_wait /
 * rhai_cancel find a task whose hint is gone. 0 when found or not found
 * (the library's own lookup then says so); the exit code, after saying
 * why, when Redis failed (the search may have missed the task: the caller
 * stops rather than say "no such task"). */
int ctl_client_learn(const ctl_global *g, const char *cmd, rhai_client *c, const char *id);

/* An integer reply or a decimal string element as long long; 'def' for
 * nil, other types and text that is not a number. */
long long ctl_reply_ll(const redisReply *e, long long def);
/* A string element's text, or NULL. Borrowed from the reply. */
const char *ctl_reply_str(const redisReply *e);

/* ---- traces (cmd_trace.c) ------------------------------------------------ */

/* The tasks of the trace task 'id' belongs to, from the trace index and
 * the task hashes, as a JSON array of nodes {"id", "status" ("expired"
 * when its hash is gone), "worker", "parent", "depth", "event" (name),
 * "event_id", "subscription", "created_at", "started_at", "finished_at"}
 * (*out new); the trace id and context into trace/context. 0, or an exit
 * code after saying why (CTL_EXIT_NOTFOUND: no task 'id'). */
int ctl_trace_load(ctl_redis *r, const char *id, json_t **out, char *trace, size_t trace_n,
                   char *context, size_t context_n);

/* ---- waiting for a task (wait.c) ------------------------------------------ */

/* Count in *live the instances of worker id 'w' that are live and not
 * draining (their heartbeat key exists), and in *draining (may be NULL)
 * the live ones that drain: they finish what they hold but take nothing
 * new. 0 or an exit code. */
int ctl_worker_live(ctl_redis *r, const char *w, int *live, int *draining);
/* Before queueing a task for 'w': 0 when some instance serves it, else
 * CTL_EXIT_NOWORKER after saying "no live instance for W" (or the exit
 * code of a Redis failure). Opens its own connection. */
int ctl_worker_check(const ctl_global *g, const char *cmd, const char *w);
/* Wait for the result of task 'id' of worker id 'w': until timeout_ms plus
 * a 5 s margin (timeout_ms 0: no deadline). Every 2 s without a result it
 * checks that a live instance still serves 'w', unless 'wait_for_worker'.
 * 0 with *out new (rhai_result_free), or an exit code after saying why:
 * CTL_EXIT_TIMEOUT, CTL_EXIT_NOWORKER, or a library error's. */
int ctl_wait_task(const ctl_global *g, const char *cmd, rhai_client *c, const char *id,
                  const char *w, long long timeout_ms, int wait_for_worker,
                  rhai_result **out);

/* ---- output (print.c) ---------------------------------------------------- */

/* Print a finished task the way submit and run both do. Text mode: the
 * output JSON on stdout (one line) when done, "error_kind: error" on stderr
 * otherwise, and each print() line on stderr as "log: LINE". JSON mode:
 * 'json' (the whole reply) on stdout, nothing on stderr. Returns the exit
 * code. */
int ctl_print_result(const ctl_global *g, rhai_status status, const char *kind,
                     const char *output, const char *error, const char *logs,
                     const char *json);

/* Print 'logs' on stderr, one "log: LINE" per line. NULL or "": nothing. */
void ctl_print_logs(const char *logs);

/* A duration for tables: "850ms", "12.3s", "3m04s", "2h05m", "3d04h"; "-"
 * for a negative one. */
void ctl_fmt_duration(int64_t ms, char *buf, size_t n);
/* Print 'doc' (stolen) as one compact JSON line on stdout. Returns 0 or
 * CTL_EXIT_FAILED (NULL doc: out of memory; or a write error). */
int ctl_print_json(json_t *doc);
/* fflush(stdout): CTL_EXIT_OK, or CTL_EXIT_FAILED after saying why. */
int ctl_print_flush(void);

/* ---- workers and queues (shared with top) ---------------------------------- */

/* One member `{W}:INSTANCE` of the workers set, with its heartbeat when
 * the heartbeat key still exists (live) and the length of its processing
 * list (what a dead one still holds until recovery). */
typedef struct ctl_instance {
    char      worker_id[RH_NAME_MAX + 1];
    char      instance[RH_NAME_MAX + 1];
    int       live;                    /* heartbeat key present */
    int       draining;                /* heartbeat field draining = 1 */
    char      host[256];
    char      version[32];
    long long protocol;             /* its heartbeat's `protocol`; 0: none (v1) */
    long long pid;
    long long started_at;              /* unix ms, 0 unknown */
    long long heartbeat_at;            /* unix ms, 0 unknown */
    long long concurrency;
    long long busy;
    long long done;
    long long failed;
    double    tasks_per_s;
    long long processing;              /* LLEN of its processing list */
    char      store[16];               /* "up", "down", "unknown"; "" not published */
    char      backend[16];             /* "sqlite", "postgres"; "" not published */
    int       paused;                  /* its worker id is paused (queue pause) */
} ctl_instance;

/* Every member of the workers set, sorted by worker id then instance
 * (members that are not `{W}:INSTANCE` with valid names are skipped).
 * *out is new (rh_free; NULL when *n is 0). 0 or an exit code (reported
 * through r). */
int ctl_instances_load(ctl_redis *r, ctl_instance **out, size_t *n);
/* The same for the members of worker id 'w' alone (NULL: every one): it
 * reads W's keys only, so it works while another worker id's shard of a
 * Redis Cluster is down. */
int ctl_instances_load_of(ctl_redis *r, const char *w, ctl_instance **out, size_t *n);

/* One worker id's queue (cmd_queues.c). */
typedef struct ctl_queue {
    char      worker_id[RH_NAME_MAX + 1];
    long long queued;                  /* LLEN of its queue */
    long long processing;              /* sum over its instances' lists */
    long long oldest_created_at;       /* created_at of the next task, 0 none */
    long long failed_1h;               /* sum of the last 60 minute counters */
    int       live;                    /* live instances taking tasks */
    int       draining;                /* live but draining: take no task */
    int       dead;                    /* dead members not yet recovered */
    int       paused;                  /* rhaictl queue pause: <prefix>:paused:{W} */
    long long dead_letters;            /* ZCARD of its dead-letter set */
} ctl_queue;

/* Worker ids from the queue keys (SCAN) and from 'inst', sorted, with
 * their figures. *out is new (rh_free; NULL when *n is 0). 0 or an exit
 * code. */
int ctl_queues_load(ctl_redis *r, const ctl_instance *inst, size_t ninst,
                    ctl_queue **out, size_t *n);


/* ---- actions shared with rhai-web (rhai_ctl_core) ---------------------------
 * The parts of queue, dead and task that change something, without their
 * printing: rhaictl prints what they did, rhai-web answers it as JSON.
 * Each returns 0 or an exit code after ctl_errorf / ctl_redis_fail. */

/* 0 when W is a known queue (its queue key exists, or an instance of W is
 * in the workers set), else CTL_EXIT_NOTFOUND (cmd_queue.c). */
int ctl_queue_known(ctl_redis *r, const char *w);
/* Pause (1) or resume (0) worker id w, recording 'by' ("user@host") in
 * the pause key and the event; *changed: it was not paused (resumed)
 * before; *known: W has a queue or an instance (cmd_queue.c). */
int ctl_queue_pause_set(ctl_redis *r, const char *w, int pause, const char *by,
                        int *changed, int *known);
/* Purge W's queue: every queued task answered cancelled; v[0] cancelled,
 * v[1] stale ids dropped. Answers and hashes live ttl ms (cmd_queue.c). */
int ctl_queue_purge_run(ctl_redis *r, const char *w, long long ttl, long long v[2]);
/* Retry (1) or delete (0) the dead tasks ids[0..n) of worker id w that
 * 'f' (NULL: any) selects, atomically per id; the ids changed are
 * appended to 'changed' (may be NULL) and counted in *nchanged, the ones
 * skipped (gone, changed meanwhile) in *nskipped. ttl_ms: lifetime of a
 * deleted task's hash (0: a day) (cmd_dead.c). */
int ctl_dead_apply(ctl_redis *r, int retry, const ctl_filter *f, long long ttl_ms,
                   const char *w, const char **ids, size_t n, json_t *changed,
                   long long *nchanged, long long *nskipped);
/* Read finished task 'id' (through g's Redis) and build its retry, a new
 * task with the same submit fields and retry_of = id, into *out (new).
 * *signed_task: the original was signed; worker: its worker id
 * (cmd_task.c). */
/* The filters of `rhaictl tasks`. Strings NULL and times 0 when not
 * given; status and error_kind already checked (rh_status_parse,
 * rh_kind_parse). */
typedef struct ctl_tasks_filter {
    const char *status;
    const char *error_kind;
    const char *caller;
    const char *context;
    long long   since;                 /* unix ms */
    long long   until;
} ctl_tasks_filter;
/* The tasks of worker id 'worker' (NULL: every one) that 'f' keeps, at
 * most 'limit' (1..1000), as `rhaictl tasks --json` prints them:
 * *out new {"tasks":[...], "count"} (cmd_tasks.c). */
int ctl_tasks_query(ctl_redis *r, const char *worker, const ctl_tasks_filter *f,
                    long long limit, json_t **out);
/* A time of --since/--until: unix ms, an ISO date or time, or an age
 * ("90s": that long before 'now'). 0 / -1 (cmd_tasks.c). */
int ctl_tasks_parse_time(const char *s, int64_t now, long long *out);
int ctl_task_retry_build(const ctl_global *g, const char *id, rhai_task **out,
                         int *signed_task, long long *timeout_ms,
                         char worker[RH_NAME_MAX + 1]);

/* The dead tasks of worker id w (NULL: every one), at most 'limit' (0:
 * all), as `rhaictl dead list --json` prints them: *out new {"dead":[...],
 * "count", "total"} (cmd_dead.c). */
int ctl_dead_query(ctl_redis *r, const char *w, long long limit, json_t **out);
/* Every model of the DSL as `rhaictl dsl list --json` prints it: [{domain,
 * model, global, fields, ops, guarded, refs}] (new; NULL: out of memory)
 * (cmd_dsl.c). */
json_t *ctl_dsl_models(void);

/* ---- contexts, grants and audit (admin.c) -----------------------------------
 * `context`, `acl` and `audit` work on a context either locally, through
 * the store API on the data dir (as the user rhaid runs as), or remotely,
 * by submitting an owner task to a worker whose script calls the DSL's
 * acl/audit objects with every value in the task's args. Both modes print
 * the same tables and the same --json documents. */

/* The caller recorded in the audit log (and as granted_by) for changes
 * made through the store directly; the OS user goes into the reason. */
#define CTL_LOCAL_CALLER "rhaictl:local"
#define CTL_DATA_DIR_DEFAULT "./rhai-data"

/* Mode options shared by acl and audit (parsed by ctl_admin_option). */
typedef struct ctl_admin {
    const char *data_dir;   /* --data-dir (local, a sqlite store) */
    const char *data_url;   /* --data-url (local, any store) */
    int         remote;     /* --remote, or implied by --worker */
    const char *worker;     /* --worker (remote; NULL: "default") */
    const char *as;         /* --as / --caller: caller id of the task */
    const char *key_file;   /* --key: sign; caller = its public key */
    long long   timeout_ms; /* --timeout of the owner task, 0: default */
} ctl_admin;

enum { CTL_OPT_DATA_DIR = 0x200, CTL_OPT_REMOTE, CTL_OPT_WORKER, CTL_OPT_AS,
       CTL_OPT_KEY, CTL_OPT_TIMEOUT, CTL_OPT_DATA_URL };
#define CTL_DATA_URL_LONGOPT                                        \
    { "data-url", required_argument, NULL, CTL_OPT_DATA_URL }
#define CTL_ADMIN_LONGOPTS                                          \
    { "data-dir", required_argument, NULL, CTL_OPT_DATA_DIR },      \
    CTL_DATA_URL_LONGOPT,                                           \
    { "remote", no_argument, NULL, CTL_OPT_REMOTE },                \
    { "worker", required_argument, NULL, CTL_OPT_WORKER },          \
    { "as", required_argument, NULL, CTL_OPT_AS },                  \
    { "caller", required_argument, NULL, CTL_OPT_AS },              \
    { "key", required_argument, NULL, CTL_OPT_KEY },                \
    { "timeout", required_argument, NULL, CTL_OPT_TIMEOUT }

#define CTL_ADMIN_HELP                                                         \
    "Where (local unless --remote or --worker is given):\n"                   \
    "  -d, --data-dir DIR    local: the worker's data dir, used directly\n"    \
    "                        (default $RHAI_DATA_DIR, else ./rhai-data); run\n" \
    "                        as the user rhaid runs as. Changes are audited\n"  \
"                        as caller " CTL_LOCAL_CALLER " with the OS user\n"  \
    "      --data-url URL    local: the worker's store (data_url), sqlite:///DIR\n" \
    "                        or postgres://USER@HOST:PORT/DB or a libpq conninfo\n" \
    "                        (default $RHAI_DATA_URL); --data-dir DIR is\n"   \
    "                        sqlite:DIR. A password in it is masked in messages\n" \
    "      --remote          remote: submit an owner task to a worker over\n"  \
    "                        Redis and print its result\n"                     \
    "  -w, --worker W        remote, to worker id W (default: default)\n"     \
    "  -u, --caller CALLER   remote: the task's caller (an owner of the\n"     \
    "                        context), as in submit; default anonymous.\n"     \
    "      --as CALLER       the same\n"                                        \
    "  -k, --key FILE        remote: sign the task with this Ed25519 secret\n" \
    "                        key (rhaictl keygen); the caller is its public key\n" \
    "      --timeout MS      remote: limit of the owner task (default 30000)\n"

/* Handle an option of CTL_ADMIN_LONGOPTS, or its short form 'd', 'w',
 * 'u' or 'k' (put "d:w:u:k:" in the command's optstring). 1 when 'c' was one, 0
 * when not, -1 after printing a usage error (bad --worker, --timeout). */
int ctl_admin_option(ctl_admin *a, const char *cmd, int c, const char *arg);
/* Check the mode options as a whole once parsed. 0 or CTL_EXIT_USAGE. */
int ctl_admin_check(ctl_admin *a, const char *cmd);

/* The data dir: 'opt' when set, else $RHAI_DATA_DIR, else ./rhai-data. */
const char *ctl_data_dir(const char *opt);

/* Where the local commands find the store: --data-url, else --data-dir
 * (a sqlite store), else $RHAI_DATA_URL, else $RHAI_DATA_DIR, else
 * ./rhai-data. 'where' is what messages show: the dir, or the URL with
 * any password masked; 'hint' the option that names it again in a
 * suggested command ("--data-dir DIR" or "--data-url MASKED"). */
#define CTL_URL_MAX 4200
typedef struct ctl_where {
    char url[CTL_URL_MAX];      /* for store_new (may hold a secret) */
    char where[CTL_URL_MAX];    /* masked */
    char hint[CTL_URL_MAX + 16];
    int  is_dir;                /* from --data-dir / $RHAI_DATA_DIR / default */
} ctl_where;

/* Resolve 'url_opt' (--data-url) and 'dir_opt' (--data-dir), either may
 * be NULL, into *w. 0, or CTL_EXIT_USAGE after saying why (both given,
 * one empty, too long). */
int ctl_where_resolve(const char *cmd, const char *url_opt, const char *dir_opt,
                      ctl_where *w);
/* A new store at w (store_free). 0, or an exit code after saying why. */
int ctl_store_new(const char *cmd, const ctl_where *w, store **out);
/* 1 when 's' can be a caller id: 1..256 printable ASCII, no space (the
 * client library's rule). */
int ctl_caller_valid(const char *s);
/* Check a context id given on the command line: 0, or CTL_EXIT_USAGE
 * after saying why. */
int ctl_context_check(const char *cmd, const char *id);

/* An open local context: a store at a data dir or URL, the context in it. */
typedef struct ctl_local {
    const ctl_where *w;     /* borrowed */
    store      *st;
    store_db   *db;         /* borrowed from st */
} ctl_local;

/* Open the existing context 'id' in the store at 'w'. 0, or an exit code
 * after printing why (CTL_EXIT_NOTFOUND when it does not exist: a context
 * is made only by `rhaictl context create` or `import`). Close with
 * ctl_local_close. */
int ctl_local_open(const char *cmd, const ctl_where *w, const char *id, ctl_local *l);
void ctl_local_close(ctl_local *l);     /* zeroed or open: both fine */
/* Append an audit row of a local admin change (caller CTL_LOCAL_CALLER,
 * decision allowed, reason "os user NAME (uid N)[ via sudo from U]:
 * DETAIL"), in the current transaction if any. 0 / RHAI_E*. */
int ctl_local_audit(ctl_local *l, const char *op, const char *model, int64_t object_id,
                    const char *detail, rhai_error *err);

/* Submit 'script' (constant text: values travel in 'args') to the worker
 * of 'a' for 'context', wait, and parse its output: *out new JSON.
 * 0, or the exit code after printing why (a failed task prints
 * "error_kind: error" on stderr: denied -> CTL_EXIT_DENIED...). */
int ctl_remote_call(const ctl_global *g, const char *cmd, const ctl_admin *a,
                    const char *context, const char *script, json_t *args,
                    json_t **out);

/* Unix ms as "2026-11-30T07:45:34Z" ("-" for 0 or less). */
void ctl_fmt_time(int64_t ms, char *buf, size_t n);
/* Grants shaped like store_grant_list's JSON (borrowed) as a table, each
 * line led by 'indent'; "no grants" when empty. 0 / CTL_EXIT_FAILED. */
int ctl_print_grants(json_t *grants, const char *indent);
/* Audit rows shaped like store_audit_query's JSON (borrowed) as a table. */
int ctl_print_audit(json_t *rows);

#endif
