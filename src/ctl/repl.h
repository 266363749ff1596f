/* repl.h -- the parts of `rhaictl repl` that are not the command itself:
 * the scanner that tells when an entry is complete and finds its function
 * declarations (repl_scan.c), and what remote mode carries from one entry
 * to the next (repl_carry.c). Pure text in, text out: tests/unit/test_ctl_repl.c
 * drives them without a terminal, a store or Redis. */
#ifndef CTL_REPL_H
#define CTL_REPL_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>
#include <jansson.h>

#include "engine/engine.h"

/* ======================== scanner ======================== */

/* 1 when the n bytes at 'src' are a whole entry: every ( [ { closed (more
 * closers than openers is whole too: the engine reports it), no block
 * comment open, no string continued by a backslash at the end of a line.
 * A string left open at a line's end without that backslash is whole (a
 * syntax error in JavaScript, which the engine reports with its line);
 * so is a regular expression literal. 0 when more lines are needed. */
int ctl_repl_complete(const char *src, size_t n);

/* A top-level function declaration in an entry: `function NAME(...) {...}`
 * where a statement starts, outside every bracket, string, comment and
 * regular expression. [start, end) covers "function" to the closing '}'. */
typedef struct ctl_repl_decl {
    size_t start;
    size_t end;
    char   name[128];
} ctl_repl_decl;

/* Find up to 'max' declarations in src[0..n), in order: their count
 * (those past 'max' are not reported). Names longer than the field are
 * skipped. A function expression (`var f = function g() {}`, an IIFE)
 * is not a declaration. */
size_t ctl_repl_functions(const char *src, size_t n, ctl_repl_decl *out, size_t max);

/* ======================== remote state ======================== */

/* What remote mode carries between entries, since each entry is a task
 * in a fresh state on a worker: the source of the function declarations
 * of entries that succeeded (by name, a later one replacing an earlier
 * one), and the JSON-serialisable globals the last successful entry's task
 * returned. Earlier entries are never sent again. */
typedef struct ctl_repl_fn {
    char *name;             /* new */
    char *src;              /* new: "function f(a) { ... }" */
} ctl_repl_fn;

typedef struct ctl_repl_carry {
    ctl_repl_fn *fns;
    size_t       nfns;
    json_t      *globals;   /* object, owned; NULL: none yet */
} ctl_repl_carry;

void ctl_repl_carry_free(ctl_repl_carry *c);   /* the struct stays reusable */
/* Remember the declarations of a successful entry. 0 / -1 (memory). */
int ctl_repl_carry_functions(ctl_repl_carry *c, const char *src, size_t n);

/* The script a remote entry is sent as: it restores the globals, defines
 * the carried functions, runs the entry (through eval, so that its value
 * and its own lines are its own: an error reads "(line N)" of the entry),
 * and answers [VALUE_JSON_TEXT, {globals}]. New string (rh_free), NULL
 * when out of memory. */
char *ctl_repl_remote_script(const ctl_repl_carry *c, const char *entry, size_t n);

/* Read a remote entry's output (the task's JSON text): *value a new
 * string, the entry's value as JSON text; the globals replace c's. 0, or
 * -1 when the output is not what ctl_repl_remote_script answers. */
int ctl_repl_remote_output(ctl_repl_carry *c, const char *output, char **value);

/* Append 'n' bytes as a JavaScript string literal ("...", every byte that
 * could end it or a line escaped, U+2028/2029 too) to 'b'. 0 / RHAI_ENOMEM. */
struct rh_buf;
int ctl_repl_js_string(struct rh_buf *b, const char *s, size_t n);

/* ======================== local session process ======================== */

/* Local mode's engine session (eng_session) lives in a forked child, so
 * that an entry past its timeout, or one stopped with Ctrl-C, can be
 * killed: mujs cannot be interrupted. The hooks (the DSL) must be
 * installed before start; the child inherits them. */
typedef struct ctl_repl_local {
    pid_t      pid;         /* the child, -1 when none */
    int        to_fd;       /* task frames to it */
    int        from_fd;     /* result frames from it */
    eng_limits lim;         /* the session's */
} ctl_repl_local;

/* Start the child with a new session under 'lim'. 0 or RHAI_EIO. */
int ctl_repl_local_start(ctl_repl_local *l, const eng_limits *lim);
/* Run one entry: 'out' filled as eng_session_run fills it, or failed with
 * kind timeout (past timeout_ms), cancelled (*interrupted set, by a
 * SIGINT handler), crashed or internal. Returns 1 when the session was
 * lost doing so (the child was killed or died, and a new one started:
 * earlier definitions are gone), else 0. */
int ctl_repl_local_run(ctl_repl_local *l, const eng_input *in, int64_t timeout_ms,
                       volatile sig_atomic_t *interrupted, eng_output *out);
/* Stop the child (its session with it). */
void ctl_repl_local_stop(ctl_repl_local *l);

#endif
