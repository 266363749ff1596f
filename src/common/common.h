/* common.h -- the one internal header of src/common (prefix rh_).
 *
 * Shared by every binary and by librhai-client: errors, allocation, logging,
 * time, byte buffers, the executor frame codec, Redis URL parsing, key names
 * of the wire protocol, ids, and the task model (hash fields and the reply
 * JSON of docs/protocol.md). Depends on nothing of ours but the public
 * headers, and on jansson. */
#ifndef RH_COMMON_H
#define RH_COMMON_H

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "rhai/error.h"
#include "defaults.h"

#if defined(__GNUC__)
#define RH_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define RH_PRINTF(a, b)
#endif

/* ======================== errors ======================== */

/* Fill 'err' (may be NULL) with 'code' and a formatted message; returns
 * 'code' so callers can write `return rh_error_set(err, RHAI_EINVAL, ...)`. */
int rh_error_set(rhai_error *err, int code, const char *fmt, ...) RH_PRINTF(3, 4);

/* Assert that stays on in release builds; for our own bugs only. */
#define rh_assert(e) ((e) ? (void)0 : rh_assert_fail(#e, __FILE__, __LINE__))
void rh_assert_fail(const char *expr, const char *file, int line)
    __attribute__((noreturn));

/* ======================== allocation ======================== */
/* All our allocations go through these. They return NULL on failure (never
 * abort), check nmemb*size for overflow and count live bytes. */
void  *rh_malloc(size_t size);
void  *rh_calloc(size_t nmemb, size_t size);
void  *rh_realloc(void *ptr, size_t size);
void   rh_free(void *ptr);
char  *rh_strdup(const char *s);                 /* NULL in: NULL out */
char  *rh_strndup(const char *s, size_t n);      /* copies n bytes + NUL */
char  *rh_sprintf(const char *fmt, ...) RH_PRINTF(1, 2);   /* new string */
size_t rh_alloc_live_bytes(void);
/* Test hook: the n-th allocation from now fails (0 disables). */
void   rh_alloc_fail_after(unsigned long n);

/* ======================== logging ======================== */
enum { RH_LOG_DEBUG, RH_LOG_INFO, RH_LOG_NOTICE, RH_LOG_WARN, RH_LOG_ERROR };
extern int rh_log_level;                          /* default RH_LOG_INFO */
/* Checks the level before evaluating its arguments. Lines are key=value
 * fields then a sentence: rh_log(RH_LOG_INFO, "event=start worker=%s ...", w) */
#define rh_log(level, ...) \
    do { if ((level) >= rh_log_level) rh_log_write((level), __VA_ARGS__); } while (0)
void rh_log_write(int level, const char *fmt, ...) RH_PRINTF(2, 3);
int  rh_log_level_parse(const char *name);        /* -1 when unknown */
const char *rh_log_level_name(int level);
/* A program's choice to log to stderr: until it is called, lines go to
 * the sink alone (or nowhere), so code linked into librhai-client never
 * writes to its host's stderr. Under systemd (stderr is the $JOURNAL_STREAM) lines
 * get a <N> prefix and no time. */
void rh_log_init(const char *ident);
/* Where lines go instead of stderr when set (NULL: back to stderr after
 * rh_log_init, else nowhere): the message alone, without time, program or
 * level, which comes as 'level'. librhai-client's rhai_set_log_cb uses it. */
typedef void (*rh_log_sink_fn)(int level, const char *msg);
void rh_log_set_sink(rh_log_sink_fn fn);

/* Line formats. KV: "TIME ident[pid] level=L " then the line as written.
 * JSON: one object per line, {"ts","level","prog","pid", each leading
 * key=value field as a member (bare integers as numbers), "msg": the
 * sentence after them}; every string is escaped, bytes that are not UTF-8
 * become U+FFFD, so each line parses whatever a field held. */
enum { RH_LOG_FMT_KV, RH_LOG_FMT_JSON };
extern int rh_log_format;                         /* default RH_LOG_FMT_KV */
int  rh_log_format_parse(const char *name);       /* "kv", "json"; -1 when unknown */
const char *rh_log_format_name(int format);
/* The line rh_log_write would write for 'body' (without its <N> journal
 * prefix) into out (n bytes, NUL-terminated, ends with '\n'); its length.
 * For tests and for rh_log_write. */
size_t rh_log_render(int format, int level, const char *body, char *out, size_t n);
/* Text that is safe inside a quoted key=value field: at most 'max' bytes
 * of s (cut on a UTF-8 boundary, "..." appended when cut), with '"', '\\'
 * and control characters escaped C-style (\n, \t, \xNN) and bytes that
 * are not UTF-8 written as \xNN. Written into out (n bytes, cut to fit);
 * returns out. NULL s: "". */
const char *rh_log_quote(char *out, size_t n, const char *s, size_t max);
/* rh_log_quote of 's' (at most 400 bytes of it) into a temporary that
 * lives as long as the block around the call, for one argument of one
 * rh_log: rh_log(L, "event=x reason=\"%s\"", RH_LOG_Q(err.msg)). Every
 * text that may come from outside (a task's fields, a message quoting
 * them, a path, a Redis error) goes through it. */
#define RH_LOG_QMAX 512
#define RH_LOG_Q(s) rh_log_quote((char[RH_LOG_QMAX]){ 0 }, RH_LOG_QMAX, (s), 400)

/* Rate limit of repeated lines: at most one per key (say event and
 * reason) per window. rh_log_limit_pass returns 1 when the line is to be
 * logged, with *suppressed (may be NULL) the lines held back for that key
 * since its last logged one; 0 when it is held back (counted). Keys are
 * compared on their first RH_LOG_LIMIT_KEY - 1 bytes; the limiter
 * remembers RH_LOG_LIMIT_SLOTS keys, forgetting the longest quiet one.
 * Zero-initialise it; one thread. */
#define RH_LOG_LIMIT_SLOTS 4
#define RH_LOG_LIMIT_KEY 160
typedef struct rh_log_limit {
    struct {
        char     key[RH_LOG_LIMIT_KEY];
        int64_t  since_ms;         /* when its last line was logged */
        uint64_t suppressed;       /* held back since */
        int      used;
    } slot[RH_LOG_LIMIT_SLOTS];
} rh_log_limit;
int  rh_log_limit_pass(rh_log_limit *l, const char *key, int64_t now_ms, int64_t window_ms,
                       uint64_t *suppressed);
/* Forget every key (a condition cleared: the next occurrence is logged). */
void rh_log_limit_reset(rh_log_limit *l);

/* ======================== time ======================== */
int64_t rh_now_ms(void);      /* unix time, ms */
int64_t rh_mono_ms(void);     /* monotonic, ms */
int64_t rh_mono_us(void);     /* monotonic, us */
/* Days since 1970-01-01 of proleptic Gregorian date y-m-d (m 1..12,
 * d 1..31; Howard Hinnant's days_from_civil), for any year. */
int64_t rh_days_from_civil(int64_t y, int64_t m, int64_t d);

/* ======================== SIGPIPE ======================== */
/* hiredis 0.14 writes with write(2): a write to a socket whose peer is
 * gone raises SIGPIPE, whose default action kills the process. rhaid
 * ignores it (rh_sigpipe_ignore); an application linking librhai-client
 * may not, so the library's writes run between rh_nopipe_begin and
 * rh_nopipe_end: SIGPIPE blocked in the calling thread, and one that the
 * write raised taken off it, so the write fails with EPIPE and the call
 * with RHAI_ECONN. Three syscalls per guarded write; none after
 * rh_sigpipe_ignore. errno is kept across rh_nopipe_end. */
typedef struct rh_nopipe {
    sigset_t old;           /* the thread's mask before begin */
    int      active;        /* begin blocked SIGPIPE: end restores */
} rh_nopipe;

void rh_sigpipe_ignore(void);
void rh_nopipe_begin(rh_nopipe *g);
void rh_nopipe_end(rh_nopipe *g);

/* ======================== buffers ======================== */
typedef struct rh_buf {
    char  *data;    /* always NUL-terminated when cap > 0 */
    size_t len;
    size_t cap;
} rh_buf;

void rh_buf_init(rh_buf *b);
void rh_buf_free(rh_buf *b);                      /* leaves b empty, reusable */
int  rh_buf_append(rh_buf *b, const void *p, size_t n);    /* 0 / RHAI_ENOMEM */
int  rh_buf_appendf(rh_buf *b, const char *fmt, ...) RH_PRINTF(2, 3);
int  rh_buf_reserve(rh_buf *b, size_t extra);
void rh_buf_consume(rh_buf *b, size_t n);         /* drop n bytes from front */
static inline size_t rh_buf_len(const rh_buf *b) { return b->len; }

/* ======================== frames ======================== */
/* Executor pipe framing: a 4-byte big-endian payload length, then the
 * payload (one message of src/engine/message.c). Lengths above RH_FRAME_MAX are a protocol
 * error: the decoder consumes nothing and returns RHAI_EPROTO. */
#ifndef RH_FRAME_MAX
#define RH_FRAME_MAX (64u * 1024u * 1024u)
#endif
#define RH_FRAME_HDR 4

/* Append one frame holding 'n' bytes of 'payload'. RHAI_ETOOBIG, RHAI_ENOMEM. */
int rh_frame_encode(rh_buf *b, const void *payload, size_t n);
/* Take one frame from the front of 'b'. On 0, *payload is a new
 * NUL-terminated copy (rh_free) of *len bytes and the frame is consumed.
 * RHAI_EAGAIN: incomplete, nothing consumed. RHAI_EPROTO: length over
 * RH_FRAME_MAX, nothing consumed. RHAI_ENOMEM. */
int rh_frame_decode(rh_buf *b, char **payload, size_t *len);

/* ======================== Redis URLs ======================== */
#define RH_URL_FILE_MAX 1024        /* a TLS file path, NUL included */
typedef struct rh_url {
    int  is_unix;           /* 1: unix socket at 'path' */
    char host[256];
    int  port;              /* default 6379 */
    char path[108];
    char user[128];         /* empty: none */
    char pass[256];         /* empty: no AUTH */
    int  db;                /* default 0 */
    /* TLS (rediss://, or the tls_* options of rconn.h's rh_redis_cfg_set) */
    int  tls;               /* 1: rediss:// */
    int  tls_noverify;      /* 1: verify=no (chain and name not checked) */
    char tls_ca[RH_URL_FILE_MAX];    /* CA file; "": the system store */
    char tls_cert[RH_URL_FILE_MAX];  /* client certificate file; "": none */
    char tls_key[RH_URL_FILE_MAX];   /* its private key file */
    char tls_sni[256];      /* name sent (SNI) and verified; "": host */
} rh_url;

/* "redis://[[user]:pass@]host[:port][/db]", "redis://[::1]:6379",
 * "unix:///path[?db=N]". NULL or "" means 127.0.0.1:6379.
 * RHAI_EINVAL with a message naming the problem. rediss:// is refused
 * here: the users of hiredis's own connections cannot do TLS (issue 18,
 * wave 2 moves them to rconn.h, whose rh_redis_cfg_init accepts it). */
int rh_url_parse(const char *url, rh_url *out, rhai_error *err);
/* rh_url_parse, and with RH_URL_TLS in 'flags' also
 *   rediss://...[/db][?ca=FILE&cert=FILE&key=FILE&sni=NAME&verify=yes|no]
 * (options in any order, each at most once, no percent-decoding: a value
 * runs to the next '&'). The options are refused on redis:// and unix://. */
#define RH_URL_TLS 1
int rh_url_parse_ex(const char *url, int flags, rh_url *out, rhai_error *err);
/* The URL without its password, for logs. Writes at most n bytes. */
void rh_url_format_safe(const rh_url *u, char *buf, size_t n);

/* ======================== ids and keys ======================== */
#define RH_PREFIX_MAX 64
#define RH_KEY_MAX 512
#define RH_NAME_MAX 128     /* ids, worker ids, context ids, instances */

/* 1..128 chars of [A-Za-z0-9_.:@-]; used for task and worker ids. */
int  rh_name_valid(const char *s);

/* Context ids name a file in the data directory (ID.db), so they are
 * names with more rules: the one rule for a context id, used by the
 * protocol's check of a task (rh_task_validate), the client library, the
 * store and rhaictl alike. */
#define RH_CONTEXT_MAX 100  /* longest context id */
#define RH_CONTEXT_RULE "1..100 of [A-Za-z0-9_.:@-], not starting with '.', without '..'"
/* 1 when 's' is a valid context id: rh_name_valid, at most RH_CONTEXT_MAX
 * chars, not starting with '.', no "..". NULL: 0. */
int  rh_context_id_valid(const char *s);
/* The caller a task without caller_id runs as (docs/protocol.md): it
 * names nobody in particular, so it never owns a context. */
#define RH_CALLER_ANONYMOUS "anonymous"
/* A new random id (UUID v4 text, 36 chars + NUL). 0 or RHAI_EIO. */
int  rh_id_generate(char out[37]);

/* Key names (docs/protocol.md, "Keys", layout v2). Each writes into
 * buf[RH_KEY_MAX] and returns buf. Inputs are assumed validated
 * (rh_name_valid). Every key a worker id's traffic touches carries its hash
 * tag {W}; no key is built anywhere else (Lua scripts use RH_LUA_KEYS, the
 * same names). */
char *rh_key_task(char *buf, const char *prefix, const char *worker, const char *id);
/* Protocol v1's task hash rhai:task:{ID} and reply list rhai:reply:{ID}:
 * only to refuse a v1 task (docs/operations.md, "Upgrading to protocol 2"). */
char *rh_key_task_v1(char *buf, const char *prefix, const char *id);
char *rh_key_reply_v1(char *buf, const char *prefix, const char *id);
/* 1 when 'key' was a valid v1 reply_to: under "<prefix>:reply:". */
int   rh_reply_to_valid_v1(const char *prefix, const char *key);
/* rhai:taskw:{ID}: string W, the worker id of task ID (a lookup hint
 * written by the submit, TTL RH_TASKW_TTL_MS + its delay). */
char *rh_key_taskw(char *buf, const char *prefix, const char *id);
/* rhai:seen:{W}:ID, a signed task's replay mark. */
char *rh_key_seen(char *buf, const char *prefix, const char *worker, const char *id);
/* rhai:reply:{W}: -- every reply list of worker id W starts with it. */
char *rh_key_reply_base(char *buf, const char *prefix, const char *worker);
/* rhai:reply:{W}:client:NAME, a client's shared reply list for W. */
char *rh_key_reply_client(char *buf, const char *prefix, const char *worker, const char *name);
/* 1 when 'key' is a reply list a task of worker id W may name in
 * reply_to: rh_key_reply_base(W) and at least one byte more. */
int   rh_reply_to_valid(const char *prefix, const char *worker, const char *key);
/* rhai:instances:{W}: set of the instance names of W (recovery's list). */
char *rh_key_instances(char *buf, const char *prefix, const char *worker);
/* rhai:tasks:{W}: the recent-task index (zset id -> finished ms). */
char *rh_key_tasks(char *buf, const char *prefix, const char *worker);
/* rhai:failed:{W}:MINUTE: failed tasks per minute (unix ms / 60000). */
char *rh_key_failed(char *buf, const char *prefix, const char *worker, long long minute);
/* "{W}:INSTANCE": a member of the registry rhai:workers. */
char *rh_key_member(char *buf, const char *worker, const char *instance);
/* The worker id of a registry member; RHAI_EINVAL when malformed. */
int   rh_member_worker(const char *member, char worker[RH_NAME_MAX + 1]);
char *rh_key_queue(char *buf, const char *prefix, const char *worker);
char *rh_key_processing(char *buf, const char *prefix, const char *worker,
                        const char *instance);
char *rh_key_reply(char *buf, const char *prefix, const char *worker, const char *id);
char *rh_key_worker(char *buf, const char *prefix, const char *worker,
                    const char *instance);
char *rh_key_workers(char *buf, const char *prefix);
char *rh_key_events(char *buf, const char *prefix);
/* Cron (schedule.h): the schedules of worker id W (hash NAME -> JSON),
 * their next ticks (zset NAME -> unix ms), the recent firings of one
 * (list, newest first), and the worker ids that have schedules (set). */
char *rh_key_cron(char *buf, const char *prefix, const char *worker);
char *rh_key_cron_next(char *buf, const char *prefix, const char *worker);
char *rh_key_cron_runs(char *buf, const char *prefix, const char *worker, const char *name);
char *rh_key_cron_workers(char *buf, const char *prefix);
/* The dead-letter set of a worker id (zset: task id -> unix ms it died). */
char *rh_key_dead(char *buf, const char *prefix, const char *worker);
/* Exists while the worker id is paused (value: JSON {by, at}). */
char *rh_key_paused(char *buf, const char *prefix, const char *worker);
/* Delayed tasks (docs/scheduling.md): zset task id -> unix ms it is due. */
char *rh_key_delayed(char *buf, const char *prefix, const char *worker);
/* Events (docs/events.md). The stream of a context's events (XADD MAXLEN
 * ~ event_stream_max); the ids of the events already appended to it (zset
 * event id -> unix ms relayed, trimmed by age); the subscriber tasks ever
 * created for worker id W (zset task id -> unix ms created, trimmed by
 * age): the gate that makes a re-relay start nothing twice; the tasks of
 * one trace in a context (zset task id -> created_at ms). */
char *rh_key_evstream(char *buf, const char *prefix, const char *context);
char *rh_key_evseen(char *buf, const char *prefix, const char *context);
char *rh_key_evsubs(char *buf, const char *prefix, const char *worker);
char *rh_key_trace(char *buf, const char *prefix, const char *context, const char *trace);
/* The Lua twin of the functions above, prepended to every script that
 * derives a key (docs/protocol.md says which): p the prefix, w a worker id.
 * tag(k) is the worker id in the hash tag of key k (a key of the layout;
 * prefixes and names hold no braces), so that a script derives its keys in
 * the slot of its KEYS[1]. reply_ok(p, w, k) is rh_reply_to_valid. */
#define RH_LUA_KEYS \
    "local function tag(k) return string.match(k, '{([^}]*)}') end\n" \
    "local function k_task(p, w, id) return p .. ':task:{' .. w .. '}:' .. id end\n" \
    "local function k_seen(p, w, id) return p .. ':seen:{' .. w .. '}:' .. id end\n" \
    "local function k_reply(p, w, id) return p .. ':reply:{' .. w .. '}:' .. id end\n" \
    "local function k_queue(p, w) return p .. ':queue:{' .. w .. '}' end\n" \
    "local function k_delayed(p, w) return p .. ':delayed:{' .. w .. '}' end\n" \
    "local function k_dead(p, w) return p .. ':dead:{' .. w .. '}' end\n" \
    "local function k_tasks(p, w) return p .. ':tasks:{' .. w .. '}' end\n" \
    "local function k_failed(p, w, minute) return p .. ':failed:{' .. w .. '}:' .. minute end\n" \
    "local function k_worker(p, w, inst) return p .. ':worker:{' .. w .. '}:' .. inst end\n" \
    "local function k_processing(p, w, inst) return p .. ':processing:{' .. w .. '}:' .. inst end\n" \
    "local function reply_ok(p, w, k)\n" \
    "  local base = p .. ':reply:{' .. w .. '}:'\n" \
    "  return type(k) == 'string' and #k > #base and string.sub(k, 1, #base) == base\n" \
    "end\n"

/* The task id of the subscriber task that event 'event_id' starts for
 * subscription 'sub': "ev:EVENT:SUB", or when that is longer than
 * RH_NAME_MAX, "ev:" + a head of EVENT + ":" + 32 hex digits of a hash of
 * both. Deterministic: the same pair always gives the same id.
 * RHAI_EINVAL when either is not a valid name. */
int   rh_event_task_id(char out[RH_NAME_MAX + 1], const char *event_id, const char *sub);

/* ======================== task model ======================== */
typedef enum rh_error_kind {
    RH_EK_NONE = 0,
    RH_EK_SCRIPT,       /* uncaught JS exception, syntax error */
    RH_EK_TIMEOUT,      /* wall clock exceeded */
    RH_EK_MEMORY,       /* memory cap or output cap exceeded */
    RH_EK_DENIED,       /* authorization */
    RH_EK_CRASHED,      /* executor died, or worker died max_attempts times */
    RH_EK_INVALID,      /* malformed task */
    RH_EK_CANCELLED,
    RH_EK_INTERNAL
} rh_error_kind;

const char   *rh_status_str(rhai_status s);       /* "queued", ... "unknown" */
rhai_status   rh_status_parse(const char *s);      /* UNKNOWN when unknown */
int           rh_status_final(rhai_status s);      /* done/error/timeout/cancelled */
const char   *rh_kind_str(rh_error_kind k);        /* "" for NONE */
rh_error_kind rh_kind_parse(const char *s);        /* NONE when unknown/empty */

/* Task field limits: how many bytes each field of the task hash a worker
 * reads may hold (docs/protocol.md, "Field limits"). rhaid checks them in
 * the claim scripts, with HSTRLEN before a field is fetched (or on the
 * whole hash with MEMORY USAGE, when that already bounds it), so a field
 * over its limit never crosses the wire: the task is answered `invalid`.
 * 'script' and 'args' are limited by max_script and max_args (rhaid
 * options); every other field by a constant here. Fields a worker does not
 * read (unknown ones, the result fields) are never fetched. The numbers
 * are plain literals: they are pasted into the Lua text. */
#define RH_LIM_NAME         128    /* worker_id, context_id, instance (RH_NAME_MAX) */
#define RH_LIM_CALLER       256    /* caller_id */
#define RH_LIM_REPLY_TO     511    /* reply_to: a key (RH_KEY_MAX - 1) */
#define RH_LIM_SIGNATURE    128    /* signature: hex Ed25519 (RH_SIGN_SIG_HEX) */
#define RH_LIM_CRON_SIG     1024   /* cron_sig of a cron firing (schedule.h) */
#define RH_LIM_NUMBER       20     /* timeout_ms, created_at, attempts, started_at */
#define RH_LIM_STATUS       15     /* status */
#define RH_LIM_EVENT        69632  /* event: the event object of a subscriber task
                                      (a payload of RH_EVENT_PAYLOAD_MAX + its fields) */
/* Room for every field above together, with margin: what a task read
 * holds beyond its script and args. */
#define RH_LIM_FIXED        16384
/* Events (docs/events.md): a payload's serialized bytes, the longest
 * chain a config may allow (event_depth_max), and its default. */
#define RH_EVENT_PAYLOAD_MAX  65536
#define RH_EVENT_DEPTH_LIMIT  64
#define RH_EVENT_DEPTH_DEFAULT 8
#ifndef RH_DEFAULT_MAX_ARGS
#define RH_DEFAULT_MAX_ARGS (1024 * 1024)  /* bytes of args (JSON text) */
#endif

/* Every field of the task hash. Strings are new (rh_free) or NULL when
 * absent. 'args' and 'output' hold JSON text. */
typedef struct rh_task {
    char *id;
    char *script;
    size_t script_len;
    char *worker_id;
    char *context_id;
    char *caller_id;
    char *args;
    char *reply_to;
    int64_t timeout_ms;
    int64_t created_at;
    int64_t started_at;
    int64_t finished_at;
    int attempts;
    rhai_status status;
    char *output;
    char *error;
    rh_error_kind error_kind;
    char *logs;
    char *instance;
    char *signature;      /* hex Ed25519 signature, NULL when unsigned */
    char *schedule;       /* a cron firing: the schedule's name, else NULL */
    int64_t tick;         /* a cron firing: its tick (unix ms) */
    char *cron_sig;       /* a firing of a signed schedule: schedule.h's
                             rh_sched_sig_json, else NULL */
    int64_t run_at;       /* unix ms it is due; 0: now (docs/scheduling.md) */
    int retries;          /* extra attempts after a script/timeout/memory error */
    char *backoff;        /* the retries' backoff spec (rh_backoff_parse), NULL: default */
    int attempt;          /* 1-based attempt number of this run; 0: absent (1) */
    char *parent_id;      /* the task whose event started this one, NULL: a root */
    char *trace_id;       /* the root task of its event chain, NULL: itself */
    int64_t depth;        /* events between the root and this task; 0: a root */
    char *event;          /* a subscriber task: the event (JSON object text) */
} rh_task;

/* Hash field names, in protocol order; NULL-terminated. */
extern const char *const rh_task_fields[];

void rh_task_init(rh_task *t);
void rh_task_clear(rh_task *t);                  /* frees fields, re-inits */
/* Set one field from a hash field/value pair (as HGETALL returns them).
 * Unknown fields are ignored. Numbers that do not parse: RHAI_EINVAL. */
int  rh_task_set_field(rh_task *t, const char *name, const char *val, size_t len);
/* Check a task popped from a queue before running it: script present and
 * at most 'max_script' bytes, args (if any) at most 'max_args' bytes and
 * valid JSON, ids valid, every field within its limit (RH_LIM_*), timeout
 * positive. RHAI_EINVAL or RHAI_ETOOBIG with a message for the reply. */
int  rh_task_validate(const rh_task *t, size_t max_script, size_t max_args, rhai_error *err);
/* The reply object of docs/protocol.md as compact JSON text (new string):
 * id, status, output (embedded JSON value), error, error_kind, logs,
 * worker_id, instance, attempts, created_at, started_at, finished_at.
 * 'error' is null when the task has no message (a success: the task hash
 * holds "" there), as error_kind is null when it has no kind. */
char *rh_task_reply_json(const rh_task *t);
/* Append s as a JSON string to b, escaped by jansson when it needs it
 * (NULL, or a string that is not UTF-8: null). 0 / RHAI_ENOMEM. */
int   rh_json_str_append(rh_buf *b, const char *s);
/* Parse a reply object back into 't' (output re-serialised as JSON text).
 * RHAI_EPROTO when it is not a reply object. */
int  rh_task_from_reply(rh_task *t, const char *text, size_t len, rhai_error *err);

/* ======================== scheduling ======================== */
/* Delayed tasks and retries (sched.c, docs/scheduling.md). */
#define RH_RETRIES_MAX      100             /* most retries a task may ask */
#define RH_BACKOFF_MAX_MS   (7LL * 86400000LL)   /* longest backoff delay: 7 days */
#define RH_BACKOFF_SPEC_MAX 64              /* bytes of a backoff spec */
#define RH_BACKOFF_DEFAULT  "exp:1000:60000"
#define RH_ERRORS_KEEP      20              /* attempts' errors kept on a task */

/* A retry's backoff: "fixed:MS" waits MS before every retry; "exp:BASE:CAP"
 * waits min(CAP, BASE * 2^(k-1)) before retry k, drawn uniformly in
 * [d/2, d] (jitter). Numbers are decimal digits only, 0 <= MS and
 * 1 <= BASE <= CAP <= RH_BACKOFF_MAX_MS. */
typedef struct rh_backoff {
    int     exp;            /* 1 exponential, 0 fixed */
    int64_t base;           /* fixed: the delay; exp: the first delay */
    int64_t cap;            /* exp: the longest delay; fixed: = base */
} rh_backoff;

/* Parse a spec (NULL or "": RH_BACKOFF_DEFAULT). 0, or RHAI_EINVAL with a
 * message naming the problem; *out written only on success. */
int     rh_backoff_parse(const char *spec, rh_backoff *out, rhai_error *err);
/* The delay in ms before retry 'k' (1: the first retry), with 'rnd' a
 * random 64-bit value for the jitter. Always within [0, RH_BACKOFF_MAX_MS]. */
int64_t rh_backoff_delay(const rh_backoff *b, int k, uint64_t rnd);
/* A duration: digits then a unit, ms, s, m, h or d ("1500ms", "90s", "5m",
 * "2h", "1d"); bare digits are seconds. *out in ms, at most 366 days.
 * RHAI_EINVAL with a message. */
int     rh_duration_parse(const char *s, int64_t *out, rhai_error *err);
/* A point in time: unix ms (digits only) or ISO-8601 UTC
 * "YYYY-MM-DDTHH:MM:SS[.mmm]Z" ('T' or ' ', 'Z' or "+00:00"). *out unix ms.
 * RHAI_EINVAL with a message. */
int     rh_time_parse(const char *s, int64_t *out, rhai_error *err);

/* ======================== signatures ======================== */
/* Ed25519 (libsodium) over a canonical form of the task (sign.c). Keys and
 * signatures travel as lowercase hex; a signed task's caller_id is the
 * signer's public key. */
#define RH_SIGN_PK_HEX 64
#define RH_SIGN_SK_HEX 128
#define RH_SIGN_SIG_HEX 128

typedef struct rh_sign_fields {        /* all borrowed */
    const char *id, *worker_id, *context_id, *caller_id;
    const char *script;
    size_t      script_len;
    const char *args;                  /* NULL: "{}" */
    int64_t     created_at;
    const char *prefix;                /* key prefix: the deployment; required */
} rh_sign_fields;

int rh_sign_keygen(char pk_hex[RH_SIGN_PK_HEX + 1], char sk_hex[RH_SIGN_SK_HEX + 1]);
/* Public key of a hex secret key; RHAI_EINVAL for a malformed key. */
int rh_sign_public_key(const char *sk_hex, char pk_hex[RH_SIGN_PK_HEX + 1]);
/* Append the canonical message of 'f' to b (docs/protocol.md, "Signed
 * tasks"). RHAI_EINVAL when a field other than args is NULL (or the
 * prefix is empty), RHAI_ENOMEM. */
int rh_sign_message(rh_buf *b, const rh_sign_fields *f);
int rh_sign_task(const char *sk_hex, const rh_sign_fields *f,
                 char sig_hex[RH_SIGN_SIG_HEX + 1]);
/* 0 when sig_hex is f->caller_id's signature of f; else RHAI_EINVAL with
 * the reason in err. */
int rh_sign_verify(const char *sig_hex, const rh_sign_fields *f, rhai_error *err);

/* ======================== Lua ======================== */
/* Recover the dead instances of one worker id W (docs/protocol.md; lua.c
 * says its KEYS and ARGV). Returns {dead instances, ids requeued, ids
 * failed, instance name, ...}. rh_recover_argv builds its command. */
extern const char rh_lua_recover[];
#define RH_RECOVER_ARGC_MAX 80     /* EVAL + script + 4 keys + 7 args + names */
typedef struct rh_recover_cmd {
    char        keys[4][RH_KEY_MAX];
    char        now[24], maxa[24], ttl[24], keep[24];
    const char *argv[RH_RECOVER_ARGC_MAX];
    size_t      lens[RH_RECOVER_ARGC_MAX];
    int         argc;
} rh_recover_cmd;
/* The EVAL of rh_lua_recover for worker id 'worker' into 'c' (argv points
 * into c and into the arguments, which must outlive it): 'self' the
 * instance name never recovered ("" none), 'names' (n) more instance names
 * to look at (the registry's members of W; at most 60 are passed). */
void rh_recover_argv(rh_recover_cmd *c, const char *prefix, const char *worker, int64_t now,
                     long long max_attempts, long long ttl_ms, const char *events,
                     const char *self, long long index_max, const char *const *names,
                     size_t n);

/* Lua source of a function shared by every script that cancels queued
 * tasks (rhai_cancel, rhaictl queue purge), prepended to them after
 * RH_LUA_KEYS:
 *   cancel_queued(p, w, id, v, now, ttl, events, msg)
 * answers task 'id' of worker id 'w' (prefix p) `cancelled`: HSET of the
 * result fields, the reply (docs/protocol.md fields and JSON types) on its
 * reply_to (when it is a list of w's slot, else the default list), TTLs,
 * the finished event and the recent-task index (best effort: a key of
 * another type there fails nothing). Every key is in w's slot. 'v' is HMGET
 * of RH_LUA_CANCEL_FIELDS; now is a number (ms). The caller has checked
 * the task is queued and removes it from its queue. */
#define RH_LUA_CANCEL_FIELDS \
    "'status', 'worker_id', 'reply_to', 'attempts', 'created_at', 'started_at', " \
    "'logs', 'instance'"
#define RH_LUA_CANCEL_QUEUED \
    "local function cancel_queued(p, w, id, v, now, ttl, events, msg)\n" \
    "  local tk = k_task(p, w, id)\n" \
    "  local rk = v[3]\n" \
    "  if not reply_ok(p, w, rk) then rk = k_reply(p, w, id) end\n" \
    "  redis.call('HSET', tk, 'status', 'cancelled', 'error', msg, 'error_kind'," \
    "   'cancelled', 'finished_at', now, 'output', 'null')\n" \
    "  redis.call('LPUSH', rk, cjson.encode({id = id, status = 'cancelled'," \
    "   output = cjson.null, error = msg, error_kind = 'cancelled', logs = v[7] or ''," \
    "   worker_id = v[2] or cjson.null, instance = v[8] or cjson.null," \
    "   attempts = tonumber(v[4] or '0') or 0, created_at = tonumber(v[5] or '0') or 0," \
    "   started_at = tonumber(v[6] or '0') or 0, finished_at = now}))\n" \
    "  redis.call('PEXPIRE', rk, ttl)\n" \
    "  redis.call('PEXPIRE', tk, ttl)\n" \
    "  redis.call('PUBLISH', events, cjson.encode({event = 'finished', id = id," \
    "   worker_id = v[2] or cjson.null, instance = v[8] or cjson.null," \
    "   status = 'cancelled', error_kind = 'cancelled', at = now}))\n" \
    "  local ik = k_tasks(p, w)\n" \
    "  if pcall(redis.call, 'ZADD', ik, now, id) then\n" \
    "    redis.call('ZREMRANGEBYRANK', ik, 0, -" RH_DEF_STR(RH_DEF_TASK_INDEX_MAX) " - 1)\n" \
    "  end\n" \
    "end\n"

#endif
