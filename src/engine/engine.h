/* engine.h -- the sandbox (prefix eng_): run one script in a fresh mujs
 * state under limits, and the executor process that does so for rhaid.
 *
 * A task gets a pristine js_State with a capped heap, the ES5
 * library, `args`, `ctx`, `print` and nothing else: no files, network,
 * environment, timers or process access. The wall-clock timeout is not
 * enforced here: mujs has no interrupt hook, so the parent kills the
 * process (rhaid's pool, or eng_run_isolated for rhaictl run). */
#ifndef ENG_ENGINE_H
#define ENG_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include "../common/common.h"

/* Safe defaults; every one is configurable in rhaid.conf. */
#ifndef ENG_DEFAULT_MEMORY
/* The js heap cap counts garbage too: mujs collects after ~5 allocations
 * per live object, not by bytes, so `s += chunk` in a loop holds thousands
 * of dead copies of s (64 MB fails near a 40 KB string built 10 bytes at
 * a time; an array joined at the end does not have this problem). */
#define ENG_DEFAULT_MEMORY     (64u * 1024u * 1024u)  /* js heap cap */
#endif
#ifndef ENG_ARENA_KEEP
/* Bytes past the library state that a task's heap keeps touched between
 * tasks; what a larger task touched goes back to the system. */
#define ENG_ARENA_KEEP         (1024u * 1024u)
#endif
#ifndef ENG_LIB_ROOM
/* Bytes of arena beyond 1.5 x the memory cap, for the library state. */
#define ENG_LIB_ROOM           (8u * 1024u * 1024u)
#endif
#ifndef ENG_DEFAULT_MAX_SCRIPT
#define ENG_DEFAULT_MAX_SCRIPT (1024u * 1024u)        /* script bytes */
#endif
#ifndef ENG_DEFAULT_MAX_OUTPUT
#define ENG_DEFAULT_MAX_OUTPUT (1024u * 1024u)        /* result JSON bytes */
#endif
#ifndef ENG_DEFAULT_MAX_LOGS
#define ENG_DEFAULT_MAX_LOGS   (64u * 1024u)          /* print() bytes kept */
#endif
#ifndef ENG_DEFAULT_DEPTH_MAX
#define ENG_DEFAULT_DEPTH_MAX  8                      /* event chain depth */
#endif
#ifndef ENG_DEFAULT_EVENT_REPAIR_MS
#define ENG_DEFAULT_EVENT_REPAIR_MS 10000             /* outbox repair sweep age */
#endif
#ifndef ENG_DEFAULT_TIMEOUT_MS
#define ENG_DEFAULT_TIMEOUT_MS RH_DEF_TIMEOUT_MS        /* when a task gives none */
#endif

/* A field of 0 means its default, so a zeroed eng_limits is safe. */
typedef struct eng_limits {
    size_t memory;        /* bytes the script's js_State may hold */
    size_t max_script;    /* longer scripts: error_kind invalid */
    size_t max_output;    /* longer result JSON: error_kind memory */
    size_t max_logs;      /* print() output past this is cut, "[truncated]" */
} eng_limits;

/* What a task gives the engine; all borrowed. args_json NULL means {}. */
typedef struct eng_input {
    const char *task_id;
    const char *script;
    size_t      script_len;
    const char *args_json;
    const char *worker_id;
    const char *context_id;
    const char *caller_id;
    int64_t     attempt;      /* ctx.attempt, 1-based; 0 is 1 (docs/scheduling.md) */
    /* Events (docs/events.md). A task started by an event carries the
     * emitting task as parent, the root task's id as trace, the event's
     * depth and the event object; a task submitted by a client has none
     * (trace: its own id, depth 0). */
    const char *parent_id;    /* ctx.parent; NULL: none */
    const char *trace_id;     /* ctx.trace; NULL: the task's own id */
    int64_t     depth;        /* ctx.depth, >= 0; emit() makes depth + 1 */
    const char *event_json;   /* ctx.event (JSON text of the event object); NULL: null */
    int64_t     depth_max;    /* emit() beyond it throws; <= 0: ENG_DEFAULT_DEPTH_MAX */
    int64_t     event_repair_ms; /* sweep: unrelayed outbox rows older than this
                                 are returned again; <= 0: the default */
} eng_input;

/* What a run produced. Strings new (rh_free) or NULL. */
typedef struct eng_output {
    rhai_status   status;     /* RHAI_STATUS_DONE or RHAI_STATUS_ERROR */
    rh_error_kind kind;       /* RH_EK_NONE when done */
    char         *output;     /* JSON text of the last expression ("null") */
    char         *error;      /* "TypeError: x is undefined (line 3)" */
    char         *logs;       /* print() lines joined by '\n' */
    int64_t       run_us;     /* state creation to teardown */
    int           transient;  /* the host failed the task, not the script
                                 (its store was unavailable): running it
                                 again may succeed (kind internal) */
    char         *events;     /* JSON text: an array of event objects for
                                 rhaid to relay (committed by this run, a
                                 replay's unrelayed ones, the repair sweep's);
                                 NULL when none */
} eng_output;

void eng_limits_default(eng_limits *l);
void eng_output_init(eng_output *o);
void eng_output_clear(eng_output *o);

/* Run one script in a fresh state. Always fills 'out' (status error with a
 * kind on failure); returns 0, or RHAI_ENOMEM when even the host side ran
 * out of memory. Never longjmps out, never aborts on script behaviour.
 * 'out' is overwritten without being freed: clear a previous result first.
 * On success output is set; on error, error is; logs is "" or the print()
 * lines. Strings are valid UTF-8 (invalid bytes become '?'). */
int eng_run(const eng_input *in, const eng_limits *lim, eng_output *out);

/* ---- hooks ----------------------------------------------------------------
 * How dsl/ binds the store into every task without src/engine knowing about
 * it. Process-wide: set once (before the first eng_run) in a process that
 * runs tasks. Every member may be NULL.
 *   prepare: once per process (and again after eng_set_hooks), on the
 *           library state that every task gets a copy of, under a js_try:
 *           define the globals that do not depend on the task. What it
 *           leaves in the state must not point outside it at anything
 *           that changes between tasks. A throw leaves the engine without
 *           a state: every task then fails (kind internal).
 *   setup:  on the task's new state, after args and ctx, before the script,
 *           under the engine's js_try: define globals. A throw fails the
 *           task (kind internal). Must not hold resources across js_* calls.
 *   finish: once after every run whose setup was called, with the outcome
 *           in 'out' (status, kind, output or error; logs not yet set):
 *           commit or roll back, and rewrite 'out' when needed (a recorded
 *           result, a failed commit). Strings in 'out' are rh_malloc'd:
 *           free what is replaced. Never called with the state alive. */
struct js_State;
typedef struct eng_hooks {
    void (*setup)(struct js_State *J, const eng_input *in, void *data);
    void (*finish)(const eng_input *in, eng_output *out, void *data);
    void  *data;
    void (*prepare)(struct js_State *J, void *data);
} eng_hooks;

/* Install 'h' (copied; NULL removes the hooks). */
void eng_set_hooks(const eng_hooks *h);

/* Prebuilt states (executors). Every task runs in a copy of one library
 * state, built once per process. On: eng_idle restores the copy after a
 * task (and builds the library at first), so that cost is not paid between
 * a task's arrival and its result. Off (the default): eng_run restores it
 * when the task starts. Either way every task runs in a state no other
 * script has touched. Not thread-safe: one eng_run at a time per process. */
void eng_set_prebuild(int on);
/* Prepare the next task's state (prebuild on). Call when there is nothing
 * to run; a no-op otherwise. */
void eng_idle(void);

/* Map a thrown mujs message to its kind: "out of memory" -> MEMORY,
 * "stack overflow" -> SCRIPT ... anything else -> SCRIPT. */
rh_error_kind eng_kind_of_error(const char *msg);

/* ---- executor process ---------------------------------------------------
 * rhaid starts executors with uv_spawn("rhaid --executor"); they read task
 * frames on in_fd and write result frames on out_fd until EOF. A message
 * is one rh_frame frame whose payload is binary (message.c has the tag
 * table and every rule):
 *   kind (1 byte: 'T' task, parent -> child; 'R' result, child -> parent),
 *   format version (1 byte: 1), then fields, each: tag (1 byte), length
 *   (uint32 little-endian), value (that many bytes).
 *   task   id 'i', script 's', args 'a' (JSON text), worker_id 'w',
 *          context_id 'c', caller_id 'u'; limits memory 'M', max_script
 *          'S', max_output 'O', max_logs 'L' (8 bytes each, little-endian,
 *          non-negative); attempt 'n'; events: parent_id 'p', trace_id
 *          'x', depth 'd' (int64), event 'E' (JSON text), depth_max 'D',
 *          event_repair_ms 'R' (int64)
 *   result id 'i', status 's', output 'o' (JSON text), error 'e',
 *          error_kind 'k', logs 'l', run_us 'r' (8 bytes, little-endian,
 *          signed), transient 't' (length 0, present only when set),
 *          events 'v' (JSON text: an array of event objects)
 * Strings are raw UTF-8 bytes without NUL (the script may hold NULs); an
 * absent (NULL) string is a field that is not there. Decoders refuse
 * anything else (RHAI_EPROTO), including args given as a JSON value, which
 * the JSON format of before accepted. A frame the executor cannot parse is
 * answered with kind invalid when its id field can be read (header and
 * every field up to the id whole), and ends the executor with exit code 2
 * otherwise.
 * Returns the process exit code (0 on EOF). Applies process hardening
 * first (RLIMIT_CORE 0, no new privileges, RLIMIT_AS = as_limit if > 0). */
int eng_executor_main(int in_fd, int out_fd, size_t as_limit);

/* Append one task frame for 'in' to 'b', limits resolved (lim NULL: the
 * defaults). RHAI_EINVAL for a string that is not UTF-8 or a limit over
 * INT64_MAX, RHAI_ETOOBIG past RH_FRAME_MAX, RHAI_ENOMEM; 'b' is unchanged
 * on failure. */
int eng_msg_encode_task(rh_buf *b, const eng_input *in, const eng_limits *lim);
/* Decode a parent->child message (a frame's payload). Strings in 'in' are
 * new (rh_free each, or eng_input_free); absent limits are the defaults
 * (lim may be NULL). 'in' and 'lim' are written on success only.
 * RHAI_EPROTO with the reason in 'err', or RHAI_ENOMEM. */
int eng_msg_decode_task(const char *text, size_t len, eng_input *in,
                        eng_limits *lim, rhai_error *err);
void eng_input_free(eng_input *in);
/* Append one result frame to 'b' (id may be NULL). RHAI_EINVAL for a
 * string that is not UTF-8 or an unknown status, RHAI_ETOOBIG past
 * RH_FRAME_MAX, RHAI_ENOMEM; 'b' is unchanged on failure. */
int eng_msg_encode_result(rh_buf *b, const char *id, const eng_output *o);
/* Decode a child->parent message; *id is new (NULL when absent, and on
 * failure), strings in 'o' are new (eng_output_clear); 'o' is written on
 * success only. RHAI_EPROTO with the reason in 'err', or RHAI_ENOMEM. */
int eng_msg_decode_result(const char *text, size_t len, char **id,
                          eng_output *o, rhai_error *err);

/* For rhaictl run: fork a child that runs eng_run, kill it after
 * 'timeout_ms' (status error, kind timeout), report a child that died as
 * kind crashed. Not for use in a process running a libuv loop. */
int eng_run_isolated(const eng_input *in, const eng_limits *lim,
                     int64_t timeout_ms, eng_output *out);

/* ---- sessions (rhaictl repl) ----------------------------------------------
 * One state kept across runs, for an interactive loop: what an entry
 * defines (functions, var) stays for the next, unlike eng_run's fresh state
 * per task. The hooks (eng_set_hooks) work as for tasks: prepare once when
 * the session is made, setup and finish around every run, so with the DSL
 * each run is its own transaction under its own task id, committed once
 * when it succeeds. Not for untrusted multi-user use: nothing a run does is
 * undone in the state. No wall-clock limit (mujs has no interrupt hook):
 * a caller that needs one runs the session in a child it can kill. One
 * session at a time per process, and no eng_run while it lives (the hooks'
 * per-task state is process-wide). */
typedef struct eng_session eng_session;

/* A new session with limits 'lim' (NULL: defaults; memory caps what the
 * state may hold at once, definitions included): *out new, free it with
 * eng_session_free. 0; RHAI_ENOMEM, or RHAI_EINTERNAL when the hooks'
 * prepare threw (*out NULL). */
int eng_session_new(const eng_limits *lim, eng_session **out);
/* Run one entry in the session, as eng_run runs a task: 'in' as for
 * eng_run (ctx and args are set again for every run), 'out' filled the
 * same way (the error's "(line N)" is a line of this entry). Returns 0,
 * or RHAI_ENOMEM when the host ran out of memory. After a run that hit
 * the memory cap or panicked the state is unusable: eng_session_broken
 * says so and every later run fails (kind internal). */
int eng_session_run(eng_session *s, const eng_input *in, eng_output *out);
/* 1 when the session's state was lost (see eng_session_run). */
int eng_session_broken(const eng_session *s);
void eng_session_free(eng_session *s);      /* NULL: no-op */

#endif
