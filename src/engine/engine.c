/* engine.c -- run one script in a fresh mujs state under limits.
 *
 * eng_run() is the whole sandbox: a pristine js_State per task (a copy of
 * a snapshot, see "the library state") whose heap is capped (arena.c), the
 * ES5 library plus `args`, `ctx` and `print`, the script, and the JSON
 * text of its last expression. Everything a script did dies with its
 * state. The wall clock
 * is enforced by whoever owns the process (executor.c's parent, or
 * isolated.c): mujs has no interrupt hook.
 *
 * mujs reports errors by longjmp. Every js_* call here runs under a js_try
 * in a function that keeps its state behind a pointer (so nothing local is
 * clobbered by the longjmp), and no malloc'd memory is held across a js_*
 * call except through that pointer, where the cleanup path finds it. */
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <jansson.h>
#include <mujs.h>

#include "engine_int.h"

/* Longest error message kept; longer ones are cut (thrown values can be
 * arbitrarily large objects). */
#define ENG_ERROR_MAX 1024

/* Registry names of the library functions the engine itself calls: a
 * script may replace JSON.stringify, but not the one serialising its
 * result. */
#define REG_STRINGIFY "eng.stringify"
#define REG_PARSE     "eng.parse"

static const char truncated_mark[] = "[truncated]";

/* Set by eng_set_hooks (dsl/ installs the store bindings). */
static eng_hooks hooks;

/* The library state every task copies: see "the library state". */
static struct {
    eng_arena *arena;       /* NULL until the first task */
    js_State  *J;           /* lives in arena, at a fixed address */
    size_t     memory;      /* the largest cap the arena was sized for */
    int        dirty;       /* a task ran since the last restore */
    int        paced;       /* eng__gc_find found mujs's counters */
} lib;

static void lib_drop(void);

const eng_hooks *eng__hooks(void)
{
    return &hooks;
}

/* The library state holds the hooks' globals: build it again. */
void eng_set_hooks(const eng_hooks *h)
{
    if (h)
        hooks = *h;
    else
        memset(&hooks, 0, sizeof hooks);
    lib_drop();
}

/* ======================== limits and output ======================== */

void eng_limits_default(eng_limits *l)
{
    l->memory = ENG_DEFAULT_MEMORY;
    l->max_script = ENG_DEFAULT_MAX_SCRIPT;
    l->max_output = ENG_DEFAULT_MAX_OUTPUT;
    l->max_logs = ENG_DEFAULT_MAX_LOGS;
}

void eng__limits_resolve(const eng_limits *in, eng_limits *out)
{
    eng_limits_default(out);
    if (in == NULL)
        return;
    if (in->memory)
        out->memory = in->memory;
    if (in->max_script)
        out->max_script = in->max_script;
    if (in->max_output)
        out->max_output = in->max_output;
    if (in->max_logs)
        out->max_logs = in->max_logs;
}

void eng_output_init(eng_output *o)
{
    memset(o, 0, sizeof *o);
    o->status = RHAI_STATUS_UNKNOWN;
    o->kind = RH_EK_NONE;
}

void eng_output_clear(eng_output *o)
{
    if (o == NULL)
        return;
    rh_free(o->output);
    rh_free(o->error);
    rh_free(o->logs);
    rh_free(o->events);
    eng_output_init(o);
}

/* ======================== UTF-8 ======================== */

/* The longest prefix of s[0..n) that does not end inside a UTF-8
 * sequence, so a cut string stays well formed. */
static size_t utf8_prefix(const char *s, size_t n)
{
    size_t k = n;

    while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
        k--;
    return k;
}

/* ======================== one task ======================== */

/* What eng_run was doing when mujs threw: it decides the error kind. */
enum {
    STAGE_SETUP,        /* globals: only memory can fail here */
    STAGE_ARGS,         /* JSON.parse(args): kind invalid */
    STAGE_EVENT,        /* JSON.parse(event) for ctx.event: kind invalid */
    STAGE_LOAD,         /* compiling the script: syntax errors */
    STAGE_RUN,          /* running it */
    STAGE_RESULT        /* JSON.stringify of the last value */
};

typedef struct eng_task {
    js_State         *J;
    const eng_input  *in;
    eng_limits        lim;       /* resolved: no zeros */
    char             *script;    /* NUL-terminated copy (new) */
    rh_buf            logs;      /* print() output, at most lim.max_logs */
    int               logs_cut;  /* marker written; later prints dropped */
    int               host_oom;  /* one of our own allocations failed */
    int               stage;
    int               hooked;    /* hooks.setup was called: finish runs */
    rh_error_kind     kind;      /* NONE while the task has not failed */
    char             *error;     /* new, NULL until failed */
    char             *output;    /* new JSON text on success */
    jmp_buf           panic;     /* where task_panic() lands */
} eng_task;

static void task_fail(eng_task *t, rh_error_kind kind, const char *fmt, ...)
    RH_PRINTF(3, 4);

/* Record the first failure only: the first cause is the one to report. */
static void task_fail(eng_task *t, rh_error_kind kind, const char *fmt, ...)
{
    char msg[ENG_ERROR_MAX];
    va_list ap;

    if (t->kind != RH_EK_NONE)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    t->kind = kind;
    if ((t->error = rh_strdup(msg)) == NULL)
        t->host_oom = 1;
}

/* An uncaught throw with no js_try on the stack: mujs would return to
 * the interpreter and abort(). Leave through our own jmp_buf instead. */
static void task_panic(js_State *J)
{
    eng_task *t = js_getcontext(J);
    longjmp(t->panic, 1);
}

/* ---- print ---------------------------------------------------------- */

void eng__logs_add(rh_buf *logs, size_t max, int *cut_flag, int *oom, const char *s,
                   size_t n)
{
    size_t room = max - logs->len;   /* len <= max */
    int cut = 0;

    if (*cut_flag)
        return;
    if (n > room) {
        n = utf8_prefix(s, room);
        cut = 1;
    }
    if (rh_buf_append(logs, s, n) != 0) {
        *oom = 1;
        cut = 1;
    }
    if (cut) {
        /* The marker goes on a line of its own, after max bytes. */
        if (logs->len > 0 && logs->data[logs->len - 1] != '\n')
            rh_buf_append(logs, "\n", 1);
        rh_buf_append(logs, truncated_mark, sizeof truncated_mark - 1);
        *cut_flag = 1;
    }
}

/* print(a, b, ...): the arguments as strings joined by spaces, then a
 * newline. js_tostring may run a script's toString and throw; the buffer
 * is owned by the task (or session run), so nothing leaks when it does. */
void eng__print(js_State *J, rh_buf *logs, size_t max, int *cut_flag, int *oom)
{
    int top = js_gettop(J);

    for (int i = 1; i < top; i++) {
        const char *s = js_tostring(J, i);
        if (logs == NULL)
            continue;
        if (i > 1)
            eng__logs_add(logs, max, cut_flag, oom, " ", 1);
        eng__logs_add(logs, max, cut_flag, oom, s, strlen(s));
    }
    if (logs)
        eng__logs_add(logs, max, cut_flag, oom, "\n", 1);
    js_pushundefined(J);
}

static void js_print(js_State *J)
{
    eng_task *t = js_getcontext(J);
    eng__print(J, &t->logs, t->lim.max_logs, &t->logs_cut, &t->host_oom);
}

/* mujs's reports (parser warnings such as "script:1: warning: function
 * statements are not standard") go by default to stderr, unquoted and
 * without a newline: in rhaid, its log. They are about the script, so
 * they become a line of the task's logs ("warning: script:1: ..."); one
 * outside a task (building the library) is a debug line. */
static void js_report_cb(js_State *J, const char *msg)
{
    eng_task *t = js_getcontext(J);

    if (t == NULL) {
        char q[300];
        rh_log(RH_LOG_DEBUG, "event=interpreter_report msg=\"%s\"",
               rh_log_quote(q, sizeof q, msg, 200));
        return;
    }
    eng__report(&t->logs, t->lim.max_logs, &t->logs_cut, &t->host_oom, msg);
}

void eng__report(rh_buf *logs, size_t max, int *cut_flag, int *oom, const char *msg)
{
    const char *w = strstr(msg, ": warning: ");

    eng__logs_add(logs, max, cut_flag, oom, "warning: ", 9);
    if (w) {
        eng__logs_add(logs, max, cut_flag, oom, msg, (size_t)(w - msg) + 2); /* "script:1: " */
        msg = w + 11;
    }
    eng__logs_add(logs, max, cut_flag, oom, msg, strlen(msg));
    eng__logs_add(logs, max, cut_flag, oom, "\n", 1);
}

/* ---- globals -------------------------------------------------------- */

static void push_str_or_null(js_State *J, const char *s)
{
    if (s)
        js_pushstring(J, s);
    else
        js_pushnull(J);
}

/* ctx: the task's identity, frozen and read-only. Events
 * (docs/events.md): ctx.parent (the emitting task, or null), ctx.trace
 * (the root task's id: the task's own when it has no parent), ctx.depth
 * (0 for a submitted task, the event's depth for a subscriber) and
 * ctx.event (the event object that started the task, or null). */
static void globals_init(eng_task *t)
{
    js_State *J = t->J;
    const eng_input *in = t->in;
    const char *trace = in->trace_id && *in->trace_id ? in->trace_id : in->task_id;

    js_getglobal(J, "Object");
    js_getproperty(J, -1, "freeze");
    js_rot2(J);                         /* freeze, this = Object */
    js_newobject(J);
    push_str_or_null(J, in->task_id);
    js_setproperty(J, -2, "task_id");
    push_str_or_null(J, in->worker_id);
    js_setproperty(J, -2, "worker_id");
    push_str_or_null(J, in->context_id);
    js_setproperty(J, -2, "context_id");
    push_str_or_null(J, in->caller_id);
    js_setproperty(J, -2, "caller_id");
    js_pushnumber(J, in->attempt > 0 ? (double)in->attempt : 1.0);
    js_setproperty(J, -2, "attempt");        /* 1-based: retries (docs/scheduling.md) */
    push_str_or_null(J, in->parent_id && *in->parent_id ? in->parent_id : NULL);
    js_setproperty(J, -2, "parent");
    push_str_or_null(J, trace);
    js_setproperty(J, -2, "trace");
    js_pushnumber(J, in->depth > 0 ? (double)in->depth : 0.0);
    js_setproperty(J, -2, "depth");
    if (in->event_json && *in->event_json) {
        t->stage = STAGE_EVENT;
        js_getregistry(J, REG_PARSE);
        js_getglobal(J, "JSON");
        js_pushstring(J, in->event_json);
        js_call(J, 1);
        t->stage = STAGE_SETUP;
    } else {
        js_pushnull(J);
    }
    js_setproperty(J, -2, "event");
    js_call(J, 1);
    js_defglobal(J, "ctx", JS_READONLY | JS_DONTCONF);
}

/* args = JSON.parse(args_json), or {} when there is none. */
static void args_init(eng_task *t)
{
    js_State *J = t->J;

    if (t->in->args_json == NULL || t->in->args_json[0] == '\0') {
        js_newobject(J);
    } else {
        js_getregistry(J, REG_PARSE);
        js_getglobal(J, "JSON");
        js_pushstring(J, t->in->args_json);
        js_call(J, 1);
    }
    js_setglobal(J, "args");
}

/* 1 when 's' (JSON.stringify text) is JSON that jansson, and so the
 * worker and every client, can read. JSON.stringify writes one thing
 * beyond it: U+0000 inside an object key ("\u0000"; jansson takes it in
 * string values with JSON_ALLOW_NUL, never in keys). Only text holding
 * that escape is parsed, so ordinary results cost a scan. */
int eng__result_readable(const char *s)
{
    json_t *j;

    if (strstr(s, "\\u0000") == NULL)
        return 1;
    j = json_loads(s, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, NULL);
    json_decref(j);
    return j != NULL;
}

/* The value on top of the stack as JSON text, through the original
 * JSON.stringify. undefined and functions serialise as "null". */
static void result_serialise(eng_task *t)
{
    js_State *J = t->J;
    const char *s = "null";
    size_t n;

    js_getregistry(J, REG_STRINGIFY);
    js_getglobal(J, "JSON");
    js_copy(J, -3);
    js_call(J, 1);
    if (js_isstring(J, -1))
        s = js_tostring(J, -1);
    n = strlen(s);
    if (n > t->lim.max_output) {
        task_fail(t, RH_EK_MEMORY, "output too large: %zu bytes > max_output %zu",
                  n, t->lim.max_output);
        return;
    }
    /* Answered done, it would reach the client as output null (found by
     * fuzz_args: {"\u0000": 1}) */
    if (!eng__result_readable(s)) {
        task_fail(t, RH_EK_SCRIPT, "result cannot be serialised: an object key holds "
                  "U+0000, which JSON readers refuse");
        return;
    }
    if ((t->output = rh_strndup(s, n)) == NULL)
        t->host_oom = 1;
}

/* ---- errors --------------------------------------------------------- */

/* "script:12: rest" -> 12 and *rest; 0 when s does not start so. */
static int chunk_line(const char *s, const char **rest)
{
    static const char prefix[] = ENG_CHUNK_NAME ":";
    const char *p;
    long line = 0;

    if (strncmp(s, prefix, sizeof prefix - 1) != 0)
        return 0;
    p = s + sizeof prefix - 1;
    if (*p < '0' || *p > '9')
        return 0;
    while (*p >= '0' && *p <= '9' && line < 100000000)
        line = line * 10 + (*p++ - '0');
    if (rest) {
        if (*p == ':')
            p++;
        while (*p == ' ')
            p++;
        *rest = p;
    }
    return (int)line;
}

/* The innermost script line in a mujs stackTrace ("\n\tat f (script:3)
 * \n\tat script:7" -> 3), or 0. */
static int trace_line(const char *st)
{
    static const char needle[] = ENG_CHUNK_NAME ":";
    const char *p = st;
    int line;

    while ((p = strstr(p, needle)) != NULL) {
        if ((line = chunk_line(p, NULL)) > 0)
            return line;
        p += sizeof needle - 1;
    }
    return 0;
}

/* Describe the thrown value on top of the stack into buf and pick its
 * kind. May throw (a getter on the error object, memory): the caller
 * holds a js_try. */
rh_error_kind eng__error_describe(js_State *J, char *buf, size_t n)
{
    if (js_isstring(J, -1)) {
        /* mujs throws its own failures as plain strings. */
        const char *s = js_tostring(J, -1);
        rh_error_kind kind = eng_kind_of_error(s);

        if (strcmp(s, "stack overflow") == 0)
            snprintf(buf, n, "RangeError: stack overflow (call depth limit)");
        else if (strcmp(s, "exception stack overflow") == 0)
            snprintf(buf, n, "RangeError: exception stack overflow "
                     "(too many nested try blocks)");
        else if (kind == RH_EK_MEMORY)
            snprintf(buf, n, "%s", s);
        else
            snprintf(buf, n, "Uncaught %s", s);
        return kind;
    }
    if (js_iserror(J, -1)) {
        const char *name;
        const char *msg;
        const char *rest;
        rh_error_kind kind;
        int line;

        js_getproperty(J, -1, "name");
        name = js_isundefined(J, -1) ? "Error" : js_tostring(J, -1);
        js_getproperty(J, -2, "message");
        msg = js_isundefined(J, -1) ? "" : js_tostring(J, -1);
        js_getproperty(J, -3, "stackTrace");
        /* Syntax errors carry the place in the message: "script:3: ..." */
        if ((line = chunk_line(msg, &rest)) > 0)
            msg = rest;
        else if (js_isstring(J, -1))
            line = trace_line(js_tostring(J, -1));
        if (line > 0)
            snprintf(buf, n, "%s%s%s (line %d)", name, *msg ? ": " : "", msg, line);
        else
            snprintf(buf, n, "%s%s%s", name, *msg ? ": " : "", msg);
        /* Every Error is the script's. The DSL's finish hook turns the
         * PermissionDenied and UnknownContext errors it really threw into
         * their kinds (dsl/task.c): a name alone proves nothing. */
        kind = RH_EK_SCRIPT;
        js_pop(J, 3);
        return kind;
    }
    snprintf(buf, n, "Uncaught %s", js_tryrepr(J, -1, "(unprintable value)"));
    return RH_EK_SCRIPT;
}

/* The task threw (at t->stage) with the thrown value on top of the stack. */
static void task_fail_thrown(eng_task *t)
{
    js_State *J = t->J;
    char msg[ENG_ERROR_MAX];
    rh_error_kind kind;

    if (eng__arena_refused(lib.arena))
        return;                         /* eng_run reports the memory cap */
    if (js_try(J)) {
        /* Describing the value threw in turn; the state is discarded
         * anyway, so the stack is left as it is. */
        if (!eng__arena_refused(lib.arena))
            task_fail(t, RH_EK_SCRIPT, "uncaught exception (cannot be described)");
        return;
    }
    kind = eng__error_describe(J, msg, sizeof msg);
    js_endtry(J);

    switch (t->stage) {
    case STAGE_SETUP:
        task_fail(t, RH_EK_INTERNAL, "sandbox setup failed: %s", msg);
        break;
    case STAGE_ARGS:
        task_fail(t, RH_EK_INVALID, "args: %s", msg);
        break;
    case STAGE_EVENT:
        task_fail(t, RH_EK_INVALID, "event: %s", msg);
        break;
    case STAGE_RESULT:
        task_fail(t, kind, "result cannot be serialised: %s", msg);
        break;
    default:
        task_fail(t, kind, "%s", msg);
        break;
    }
}

/* Everything that touches the state, under one js_try. Its only local
 * (J) is never modified, and all results go through 't'. */
static void task_run_protected(eng_task *t)
{
    js_State *J = t->J;

    if (js_try(J)) {
        task_fail_thrown(t);
        return;
    }
    t->stage = STAGE_SETUP;
    globals_init(t);
    t->stage = STAGE_ARGS;
    args_init(t);
    if (hooks.setup) {
        t->stage = STAGE_SETUP;
        t->hooked = 1;
        hooks.setup(J, t->in, hooks.data);
    }
    t->stage = STAGE_LOAD;
    js_loadstring(J, ENG_CHUNK_NAME, t->script);
    t->stage = STAGE_RUN;
    js_pushundefined(J);                /* this: the global object */
    js_call(J, 0);
    t->stage = STAGE_RESULT;
    result_serialise(t);
    js_endtry(J);
}

/* Returns -1 when mujs panicked (a throw with no handler: a bug of ours
 * or of mujs), 0 otherwise. */
static int task_run_guarded(eng_task *t)
{
    if (setjmp(t->panic))
        return -1;
    task_run_protected(t);
    return 0;
}

/* Check the input before spending a state on it. 0 or -1 (task failed). */
static int task_check_input(eng_task *t)
{
    const eng_input *in = t->in;

    if (in == NULL || in->script == NULL) {
        task_fail(t, RH_EK_INVALID, "no script");
        return -1;
    }
    if (in->script_len > t->lim.max_script) {
        task_fail(t, RH_EK_INVALID, "script too large: %zu bytes > max_script %zu",
                  in->script_len, t->lim.max_script);
        return -1;
    }
    if (memchr(in->script, '\0', in->script_len) != NULL) {
        task_fail(t, RH_EK_INVALID, "script contains a NUL byte");
        return -1;
    }
    /* The input need not be NUL-terminated at script_len: copy it. */
    if ((t->script = rh_strndup(in->script, in->script_len)) == NULL) {
        t->host_oom = 1;
        return -1;
    }
    return 0;
}

/* ======================== the library state ======================== */

/* Building the ES5 library (js_newstate, ~120 us) was most of a trivial
 * task. It is built once per process in an arena (arena.c), with what does
 * not depend on the task: print, the registry copies of JSON.stringify and
 * JSON.parse, Math.random, and the hooks' globals (the DSL). The arena is
 * then snapshotted, and every task runs in a byte copy of that snapshot,
 * restored after the previous task or, in executors, while idle
 * (eng_idle). Every task starts from the same bytes, so nothing a script
 * did survives it; the state is never freed, the arena is. */
static int prebuild;            /* eng_set_prebuild: an executor */

/* Math.random. mujs seeds its own from time() inside the state, so every
 * copy of the snapshot would repeat one sequence: this one is seeded from
 * getrandom() on a task's first call (splitmix64). */
static uint64_t rng;
static int rng_seeded;

static void js_math_random(js_State *J)
{
    uint64_t x;

    if (!rng_seeded) {
        if (getrandom(&rng, sizeof rng, GRND_NONBLOCK) != (ssize_t)sizeof rng)
            rng ^= (uint64_t)rh_mono_us() * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
        rng_seeded = 1;
    }
    x = (rng += 0x9e3779b97f4a7c15ull);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    x ^= x >> 31;
    js_pushnumber(J, (double)(x >> 11) * 0x1.0p-53);
}

/* Everything the snapshot holds beyond the bare library. 0 or -1. */
static int lib_init(js_State *J)
{
    if (js_try(J)) {
        js_pop(J, 1);
        return -1;
    }
    js_getglobal(J, "JSON");
    js_getproperty(J, -1, "stringify");
    js_setregistry(J, REG_STRINGIFY);
    js_getproperty(J, -1, "parse");
    js_setregistry(J, REG_PARSE);
    js_pop(J, 1);

    js_newcfunction(J, js_print, "print", 0);
    js_setglobal(J, "print");

    js_getglobal(J, "Math");
    js_newcfunction(J, js_math_random, "random", 0);
    js_defproperty(J, -2, "random", JS_DONTENUM);
    js_pop(J, 1);

    if (hooks.prepare)
        hooks.prepare(J, hooks.data);
    js_endtry(J);
    return 0;
}

int eng__gc_paced(void)
{
    return lib.arena != NULL && lib.paced;
}

static void lib_drop(void)
{
    eng__arena_free(lib.arena);     /* the state with it: it lives there */
    lib.arena = NULL;
    lib.J = NULL;
    lib.dirty = 0;
    lib.paced = 0;
}

/* Map an arena for a cap of 'memory' bytes: room for the cap plus half of
 * it again (freed blocks are reused only within their size class) and the
 * library. Under a tight RLIMIT_AS settle for less: a task that fills the
 * mapping fails as one over its cap would. */
static eng_arena *lib_map(size_t memory)
{
    size_t want = memory + memory / 2 + ENG_LIB_ROOM;
    eng_arena *a;

    while ((a = eng__arena_new(want)) == NULL && want > 2 * ENG_LIB_ROOM)
        want /= 2;
    return a;
}

static int lib_build(size_t memory)
{
    lib_drop();
    if ((lib.arena = lib_map(memory)) == NULL)
        return -1;
    lib.memory = memory;
    lib.J = js_newstate(eng__arena_alloc, lib.arena, 0);
    if (lib.J != NULL) {
        js_setcontext(lib.J, NULL);
        js_setreport(lib.J, js_report_cb);
    }
    if (lib.J == NULL || lib_init(lib.J) != 0) {
        lib_drop();
        return -1;
    }
    lib.paced = eng__gc_find(lib.J, lib.arena) == 0;
    if (!lib.paced)
        rh_log(RH_LOG_WARN, "event=gc_pacing_off reason=\"mujs counters not found\"");
    js_gc(lib.J, 0);
    if (eng__arena_snapshot(lib.arena) != 0) {
        lib_drop();
        return -1;
    }
    return 0;
}

void eng_set_prebuild(int on)
{
    prebuild = on;
}

void eng_idle(void)
{
    if (!prebuild)
        return;
    if (lib.arena == NULL) {
        (void)lib_build(lib.memory ? lib.memory : ENG_DEFAULT_MEMORY);
    } else if (lib.dirty) {
        eng__arena_restore(lib.arena);
        lib.dirty = 0;
    }
}

/* A pristine state for a task with a cap of 'memory'. 0 or -1. */
static int state_take(size_t memory)
{
    if (lib.arena == NULL || memory > lib.memory) {
        if (lib_build(memory > lib.memory ? memory : lib.memory) != 0)
            return -1;
    } else if (lib.dirty) {
        eng__arena_restore(lib.arena);
    }
    lib.dirty = 1;
    rng_seeded = 0;
    return 0;
}

static void task_execute(eng_task *t)
{
    if (state_take(t->lim.memory) != 0) {
        /* Building the library is not capped, so only the host can be
         * out of memory here. */
        t->host_oom = 1;
        task_fail(t, RH_EK_INTERNAL, "cannot create an interpreter state");
        return;
    }
    t->J = lib.J;
    js_setcontext(t->J, t);
    js_atpanic(t->J, task_panic);
    eng__arena_arm(lib.arena, t->lim.memory);
    if (task_run_guarded(t) != 0)
        task_fail(t, RH_EK_INTERNAL, "interpreter panic at stage %d", t->stage);
    /* The script is over: its state is never run again, the next task
     * gets a copy of the snapshot. */
    eng__arena_disarm(lib.arena);
    t->J = NULL;
    if (eng__arena_refused(lib.arena)) {
        /* The cap wins over whatever the script did next. */
        t->kind = RH_EK_NONE;
        rh_free(t->error);
        t->error = NULL;
        task_fail(t, RH_EK_MEMORY, "out of memory: script heap limit of %zu bytes "
                  "reached", t->lim.memory);
    }
}

int eng_run(const eng_input *in, const eng_limits *lim, eng_output *out)
{
    int64_t t0 = rh_mono_us();
    eng_task t;

    eng_output_init(out);
    memset(&t, 0, sizeof t);
    t.in = in;
    eng__limits_resolve(lim, &t.lim);
    rh_buf_init(&t.logs);
    t.kind = RH_EK_NONE;

    if (task_check_input(&t) == 0)
        task_execute(&t);
    rh_free(t.script);

    if (t.kind == RH_EK_NONE && t.output == NULL)
        task_fail(&t, RH_EK_INTERNAL, "out of host memory");
    if (t.kind != RH_EK_NONE) {
        rh_free(t.output);
        t.output = NULL;
        out->status = RHAI_STATUS_ERROR;
        out->kind = t.kind;
        out->error = t.error;
    } else {
        out->status = RHAI_STATUS_DONE;
        out->output = t.output;
    }
    if (t.hooked && hooks.finish)
        hooks.finish(in, out, hooks.data);
    /* Logs and errors may hold a script's strings: lone surrogates and
     * U+0000 are not UTF-8 in mujs's encoding. */
    if (t.logs.data == NULL)
        rh_buf_append(&t.logs, "", 0);
    out->logs = t.logs.data;            /* stolen from the buffer */
    eng__utf8_repair(out->output);
    eng__utf8_repair(out->error);
    eng__utf8_repair(out->logs);
    out->run_us = rh_mono_us() - t0;
    return t.host_oom ? RHAI_ENOMEM : 0;
}

rh_error_kind eng_kind_of_error(const char *msg)
{
    if (msg != NULL && strcmp(msg, "out of memory") == 0)
        return RH_EK_MEMORY;
    /* "stack overflow" and "exception stack overflow" are limits of the
     * script's own making (depth), reported as script errors. */
    return RH_EK_SCRIPT;
}
