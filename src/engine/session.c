/* session.c -- one mujs state kept across runs, for rhaictl repl.
 *
 * eng_run gives every task a pristine state; an interactive loop wants the
 * opposite for the script's own definitions: what entry 1 defines, entry 2
 * calls. A session is one state built once (in an arena of its own, with
 * the library the tasks get: print, the registry copies of JSON, the
 * hooks' globals) and every run loads one more chunk into it. What makes
 * a run a task is kept: ctx and args are set again for each run, the hooks'
 * setup and finish surround it (with the DSL: one transaction per run,
 * under the run's task id, committed once when it succeeds), the heap cap
 * holds, errors and results read as eng_run's do.
 *
 * mujs reports errors by longjmp: as in engine.c, everything that touches
 * the state runs under a js_try in a function whose state is behind a
 * pointer, and no malloc'd memory is held across a js_* call except there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <mujs.h>

#include "engine_int.h"

#define SESSION_ERROR_MAX 1024
#define REG_STRINGIFY "eng.session.stringify"
#define REG_PARSE     "eng.session.parse"

/* One run: what engine.c's eng_task is to a task. */
typedef struct session_run {
    const eng_input *in;
    eng_limits       lim;       /* resolved */
    char            *script;    /* NUL-terminated copy (new) */
    rh_buf           logs;      /* print() output, at most lim.max_logs */
    int              logs_cut;
    int              host_oom;
    int              hooked;    /* hooks.setup was called: finish runs */
    int              args_stage;
    rh_error_kind    kind;      /* NONE while the run has not failed */
    char            *error;     /* new */
    char            *output;    /* new JSON text on success */
    jmp_buf          panic;
} session_run;

struct eng_session {
    eng_arena  *arena;          /* the state lives in it */
    js_State   *J;
    eng_limits  lim;            /* resolved */
    int         broken;         /* the cap was hit, or mujs panicked */
    session_run *run;           /* the run in progress, else NULL */
};

static void run_fail(session_run *r, rh_error_kind kind, const char *fmt, ...)
    RH_PRINTF(3, 4);

static void run_fail(session_run *r, rh_error_kind kind, const char *fmt, ...)
{
    char msg[SESSION_ERROR_MAX];
    va_list ap;

    if (r->kind != RH_EK_NONE)
        return;                 /* the first cause is the one to report */
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->kind = kind;
    if ((r->error = rh_strdup(msg)) == NULL)
        r->host_oom = 1;
}

/* ======================== print and reports ======================== */

static void js_session_print(js_State *J)
{
    session_run *r = ((eng_session *)js_getcontext(J))->run;

    if (r == NULL)                      /* outside a run: evaluated, dropped */
        eng__print(J, NULL, 0, NULL, NULL);
    else
        eng__print(J, &r->logs, r->lim.max_logs, &r->logs_cut, &r->host_oom);
}

/* Parser warnings become log lines of the run, as a task's (eng__report). */
static void js_session_report(js_State *J, const char *msg)
{
    eng_session *s = js_getcontext(J);

    if (s == NULL || s->run == NULL)
        return;
    eng__report(&s->run->logs, s->run->lim.max_logs, &s->run->logs_cut, &s->run->host_oom, msg);
}

static void session_panic(js_State *J)
{
    eng_session *s = js_getcontext(J);
    longjmp(s->run->panic, 1);
}

/* ======================== the state ======================== */

/* What the library state of a task holds, once. 0 or -1. */
static int session_init(js_State *J)
{
    const eng_hooks *h = eng__hooks();

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
    js_newcfunction(J, js_session_print, "print", 0);
    js_setglobal(J, "print");
    if (h->prepare)
        h->prepare(J, h->data);
    js_endtry(J);
    return 0;
}

int eng_session_new(const eng_limits *lim, eng_session **out)
{
    eng_session *s;
    size_t want;

    *out = NULL;
    if ((s = rh_calloc(1, sizeof *s)) == NULL)
        return RHAI_ENOMEM;
    eng__limits_resolve(lim, &s->lim);
    want = s->lim.memory + s->lim.memory / 2 + ENG_LIB_ROOM;
    if ((s->arena = eng__arena_new(want)) == NULL) {
        rh_free(s);
        return RHAI_ENOMEM;
    }
    s->J = js_newstate(eng__arena_alloc, s->arena, 0);
    if (s->J == NULL) {
        eng_session_free(s);
        return RHAI_ENOMEM;
    }
    js_setcontext(s->J, s);
    js_setreport(s->J, js_session_report);
    if (session_init(s->J) != 0) {
        eng_session_free(s);
        return RHAI_EINTERNAL;
    }
    (void)eng__gc_find(s->J, s->arena);     /* pace by bytes when it can */
    *out = s;
    return 0;
}

void eng_session_free(eng_session *s)
{
    if (s == NULL)
        return;
    eng__arena_free(s->arena);              /* the state lives there */
    rh_free(s);
}

int eng_session_broken(const eng_session *s)
{
    return s == NULL || s->broken;
}

/* ======================== one run ======================== */

/* ctx for this run: frozen, read-only; configurable so that the next run
 * can put its own in place. */
static void run_globals(eng_session *s, session_run *r)
{
    js_State *J = s->J;
    const eng_input *in = r->in;
    const char *names[] = { "task_id", "worker_id", "context_id", "caller_id" };
    const char *vals[] = { in->task_id, in->worker_id, in->context_id, in->caller_id };

    js_pushglobal(J);
    js_delproperty(J, -1, "ctx");
    js_pop(J, 1);
    js_getglobal(J, "Object");
    js_getproperty(J, -1, "freeze");
    js_rot2(J);
    js_newobject(J);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (vals[i])
            js_pushstring(J, vals[i]);
        else
            js_pushnull(J);
        js_setproperty(J, -2, names[i]);
    }
    js_pushnumber(J, in->attempt > 0 ? (double)in->attempt : 1.0);
    js_setproperty(J, -2, "attempt");
    js_call(J, 1);
    js_defglobal(J, "ctx", JS_READONLY);

    r->args_stage = 1;
    if (in->args_json == NULL || in->args_json[0] == '\0') {
        js_newobject(J);
    } else {
        js_getregistry(J, REG_PARSE);
        js_getglobal(J, "JSON");
        js_pushstring(J, in->args_json);
        js_call(J, 1);
    }
    js_setglobal(J, "args");
    r->args_stage = 0;
}

static void run_result(eng_session *s, session_run *r)
{
    js_State *J = s->J;
    const char *str = "null";
    size_t n;

    js_getregistry(J, REG_STRINGIFY);
    js_getglobal(J, "JSON");
    js_copy(J, -3);
    js_call(J, 1);
    if (js_isstring(J, -1))
        str = js_tostring(J, -1);
    n = strlen(str);
    if (n > r->lim.max_output)
        run_fail(r, RH_EK_MEMORY, "output too large: %zu bytes > max_output %zu",
                 n, r->lim.max_output);
    else if (!eng__result_readable(str))
        run_fail(r, RH_EK_SCRIPT, "result cannot be serialised: an object key holds "
                 "U+0000, which JSON readers refuse");
    else if ((r->output = rh_strndup(str, n)) == NULL)
        r->host_oom = 1;
    js_pop(J, 1);                       /* the text; the value stays */
}

static void run_thrown(eng_session *s, session_run *r)
{
    js_State *J = s->J;
    char msg[SESSION_ERROR_MAX];
    rh_error_kind kind;

    if (eng__arena_refused(s->arena))
        return;                         /* eng_session_run reports the cap */
    if (js_try(J)) {
        js_pop(J, 2);                   /* what describing threw, and the value */
        run_fail(r, RH_EK_SCRIPT, "uncaught exception (cannot be described)");
        return;
    }
    kind = eng__error_describe(J, msg, sizeof msg);
    js_endtry(J);
    js_pop(J, 1);                       /* the thrown value: the state lives on */
    if (r->args_stage)
        run_fail(r, RH_EK_INVALID, "args: %s", msg);
    else
        run_fail(r, kind, "%s", msg);
}

static void run_protected(eng_session *s, session_run *r)
{
    js_State *J = s->J;
    const eng_hooks *h = eng__hooks();

    if (js_try(J)) {
        run_thrown(s, r);
        return;
    }
    run_globals(s, r);
    if (h->setup) {
        r->hooked = 1;
        h->setup(J, r->in, h->data);
    }
    js_loadstring(J, ENG_CHUNK_NAME, r->script);
    js_pushundefined(J);
    js_call(J, 0);
    run_result(s, r);
    js_pop(J, 1);                       /* the entry's value */
    js_endtry(J);
}

static int run_guarded(eng_session *s, session_run *r)
{
    if (setjmp(r->panic))
        return -1;
    run_protected(s, r);
    return 0;
}

static void run_execute(eng_session *s, session_run *r)
{
    const eng_input *in = r->in;

    if (s->broken) {
        run_fail(r, RH_EK_INTERNAL, "the session's state was lost (out of memory or "
                 "interpreter panic): start a new session");
        return;
    }
    if (in == NULL || in->script == NULL) {
        run_fail(r, RH_EK_INVALID, "no script");
        return;
    }
    if (in->script_len > r->lim.max_script) {
        run_fail(r, RH_EK_INVALID, "script too large: %zu bytes > max_script %zu",
                 in->script_len, r->lim.max_script);
        return;
    }
    if (memchr(in->script, '\0', in->script_len) != NULL) {
        run_fail(r, RH_EK_INVALID, "script contains a NUL byte");
        return;
    }
    if ((r->script = rh_strndup(in->script, in->script_len)) == NULL) {
        r->host_oom = 1;
        return;
    }
    s->run = r;
    js_atpanic(s->J, session_panic);
    eng__arena_arm(s->arena, r->lim.memory);
    if (run_guarded(s, r) != 0) {
        s->broken = 1;
        run_fail(r, RH_EK_INTERNAL, "interpreter panic");
    }
    eng__arena_disarm(s->arena);
    s->run = NULL;
    if (eng__arena_refused(s->arena)) {
        /* A state that was refused memory mid-operation is not whole. */
        s->broken = 1;
        r->kind = RH_EK_NONE;
        rh_free(r->error);
        r->error = NULL;
        run_fail(r, RH_EK_MEMORY, "out of memory: session heap limit of %zu bytes "
                 "reached (the session's state is lost)", r->lim.memory);
    }
}

int eng_session_run(eng_session *s, const eng_input *in, eng_output *out)
{
    int64_t t0 = rh_mono_us();
    const eng_hooks *h = eng__hooks();
    session_run r;

    eng_output_init(out);
    memset(&r, 0, sizeof r);
    r.in = in;
    r.lim = s->lim;
    r.kind = RH_EK_NONE;
    rh_buf_init(&r.logs);

    run_execute(s, &r);
    rh_free(r.script);
    if (r.kind == RH_EK_NONE && r.output == NULL)
        run_fail(&r, RH_EK_INTERNAL, "out of host memory");
    if (r.kind != RH_EK_NONE) {
        rh_free(r.output);
        out->status = RHAI_STATUS_ERROR;
        out->kind = r.kind;
        out->error = r.error;
    } else {
        out->status = RHAI_STATUS_DONE;
        out->output = r.output;
    }
    if (r.hooked && h->finish)
        h->finish(in, out, h->data);    /* commit or roll back this run */
    if (r.logs.data == NULL)
        rh_buf_append(&r.logs, "", 0);
    out->logs = r.logs.data;
    eng__utf8_repair(out->output);
    eng__utf8_repair(out->error);
    eng__utf8_repair(out->logs);
    out->run_us = rh_mono_us() - t0;
    return r.host_oom ? RHAI_ENOMEM : 0;
}
