/* cmd_repl.c -- `rhaictl repl`: an interactive loop over the sandbox.
 *
 * Local mode (the default) keeps one engine session (src/engine/session.c)
 * in a child process it can kill (repl_local.c: mujs cannot be interrupted)
 * with the DSL bound to a data dir or URL, as `rhaictl run` does: each entry
 * runs in that one state, so what it defines stays, and each entry is its
 * own DSL transaction under its own task id (repl-PID-RAND-N), committed
 * once when the entry succeeds. Remote mode (--worker W) submits each entry
 * as a task and waits; what it carries between entries is repl_carry.c's.
 * Either way no entry is ever run again, so no entry's DSL effects happen
 * twice (docs/repl.md). Lines come from libedit when stdin is a terminal
 * (prompts, editing, a history file), else from stdin as they are, with no
 * prompts, so the loop can be scripted. */
#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

#include "ctl.h"
#include "dsl/dsl.h"
#include "repl.h"

#define REPL_PROMPT      "rhai> "
#define REPL_PROMPT_MORE "...   "
#define REPL_HISTORY_MAX 1000
#define REPL_TIMEOUT_MAX_MS ((long long)RH_DEF_TIMEOUT_MAX_MS)

static const char repl_help[] =
    "Usage: rhaictl repl [--worker W] [options]\n"
    "\n"
    "Read JavaScript (ES5) entries and run them one by one, printing each\n"
    "value. Locally (the default) in the sandbox `rhaictl run` uses, on a\n"
    "data dir or URL, keeping one state: functions and variables of earlier\n"
    "entries stay. With --worker, each entry is a task of worker W; function\n"
    "declarations and JSON-serialisable globals are carried to the next\n"
    "entry. No entry is ever run twice, so no DSL effect happens twice.\n"
    "An entry goes on over several lines while a bracket, a block comment\n"
    "or a string ending in a backslash is open. Type .help for the dot\n"
    "commands. Without a terminal on stdin, lines are read as they come,\n"
    "without prompts, and the exit code is 1 when some entry failed.\n"
    "\n"
    "Options:\n"
    "  -w, --worker W        remote mode: submit each entry to worker id W\n"
    "  -a, --args JSON       `args` of every entry (default: {}; .args)\n"
    "  -c, --context C       ctx.context_id (default: default; .context)\n"
    "  -u, --caller U        ctx.caller_id (default: anonymous; .caller)\n"
    "  -k, --key FILE        remote: sign each entry's task with this Ed25519\n"
    "                        secret key (rhaictl keygen); the caller is its\n"
    "                        public key (workers with require_signatures)\n"
    "  -t, --timeout MS      each entry's wall-clock limit (default "
    RH_DEF_STR(RH_DEF_TIMEOUT_MS) ");\n"
    "                        locally, an entry past it (or stopped with\n"
    "                        Ctrl-C) ends the session: a new one starts\n"
    "  -m, --memory BYTES    local: the session's JS heap cap, definitions\n"
    "                        included, suffix k, m or g (default: 64m)\n"
    "  -d, --data-dir DIR    local: where the DSL keeps context databases\n"
    "                        (default $RHAI_DATA_DIR, else ./rhai-data); a\n"
    "                        context an entry uses is created if missing,\n"
    "                        owned by --caller, as with rhaictl run\n"
    "      --data-url URL    local: the store as a URL instead (sqlite:///DIR,\n"
    "                        postgres://...)\n"
    "      --history FILE    history file (default ~/.rhai_history; '' for\n"
    "                        none); used when stdin is a terminal\n"
    "      --json            print each entry's result as one JSON object\n"
    "                        (.json on)\n"
    "\n"
    CTL_GLOBAL_HELP
    "\n"
    "Examples:\n"
    "  rhaictl repl -d ./rhai-data --caller alice\n"
    "  rhaictl repl --worker default --redis-url redis://127.0.0.1:6379\n"
    "  printf 'var x = 2\\nx * 21\\n' | rhaictl repl\n"
    "\n"
    CTL_EXIT_HELP;

static const char repl_dot_help[] =
    "Dot commands (at the start of an entry):\n"
    "  .help          this text\n"
    "  .load FILE     run the file as one entry\n"
    "  .args JSON     `args` of the next entries\n"
    "  .context C     ctx.context_id of the next entries\n"
    "  .caller U      ctx.caller_id of the next entries\n"
    "  .json on|off   print results as JSON objects, or as values\n"
    "  .exit          leave (so does end of input, Ctrl-D)\n"
    "Each entry is one task: its DSL writes commit together when it succeeds\n"
    "and are rolled back when it fails; no entry is run again.\n"
    "Local: one state kept; what an entry defines stays, also when it fails\n"
    "after defining it; an entry past --timeout or stopped with Ctrl-C ends\n"
    "the state (a new one starts). Remote: function declarations of entries that\n"
    "succeeded, and the globals whose values JSON can hold, are carried to\n"
    "the next entry; functions made another way (var f = function...,\n"
    "closures) and values JSON cannot hold are not.\n";

typedef struct repl_opts {
    const char *worker;
    const char *args;
    const char *context;
    const char *caller;
    long long   timeout_ms;
    long long   memory;
    const char *data_dir;
    const char *data_url;
    const char *history;        /* NULL: ~/.rhai_history; "": none */
    const char *key_file;       /* remote: sign the tasks */
} repl_opts;

typedef struct repl {
    ctl_global     *g;
    repl_opts       o;
    char           *args;           /* new; NULL: {} */
    char           *context;        /* new */
    char           *caller;         /* new */
    int             json;
    int             tty;
    char           *history;        /* new path, NULL: none */
    int             failed;         /* some entry failed */
    unsigned        seq;            /* entries run */
    char            session_id[16]; /* PID-RAND of the task ids */
    /* local */
    ctl_repl_local  local;          /* the session's process */
    int             local_started;
    eng_limits      lim;
    /* remote */
    rhai_client    *client;
    ctl_repl_carry  carry;
} repl;

enum { REPL_OPT_HISTORY = 0x200 };

static int repl_parse(ctl_global *g, int argc, char **argv, repl_opts *o)
{
    static const struct option longopts[] = {
        { "worker", required_argument, NULL, 'w' },
        { "args", required_argument, NULL, 'a' },
        { "context", required_argument, NULL, 'c' },
        { "caller", required_argument, NULL, 'u' },
        { "timeout", required_argument, NULL, 't' },
        { "memory", required_argument, NULL, 'm' },
        { "data-dir", required_argument, NULL, 'd' },
        { "history", required_argument, NULL, REPL_OPT_HISTORY },
        { "key", required_argument, NULL, 'k' },
        CTL_DATA_URL_LONGOPT,
        CTL_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 }
    };
    int c, rc;

    while ((c = getopt_long(argc, argv, ":w:a:c:u:k:t:m:d:h", longopts, NULL)) != -1) {
        if (ctl_global_option(g, c, optarg))
            continue;
        switch (c) {
        case 'w': o->worker = optarg; break;
        case 'a': o->args = optarg; break;
        case 'c': o->context = optarg; break;
        case 'u': o->caller = optarg; break;
        case 'd': o->data_dir = optarg; break;
        case 'k': o->key_file = optarg; break;
        case CTL_OPT_DATA_URL: o->data_url = optarg; break;
        case REPL_OPT_HISTORY: o->history = optarg; break;
        case 't':
            if ((rc = ctl_opt_timeout("repl", optarg, REPL_TIMEOUT_MAX_MS, &o->timeout_ms)) != 0)
                return rc;
            break;
        case 'm':
            if ((rc = ctl_opt_memory("repl", optarg, &o->memory)) != 0)
                return rc;
            break;
        case 'h':
        case CTL_OPT_HELP:
            fputs(repl_help, stdout);
            return -1;
        default:
            return ctl_option_error("repl", c, argv);
        }
    }
    if (optind < argc)
        return ctl_usage_error("repl", "unexpected argument '%s'", argv[optind]);
    if (o->worker && !rh_name_valid(o->worker))
        return ctl_usage_error("repl", "invalid worker id '%s' (1..%d of "
                               "[A-Za-z0-9_.:@-])", o->worker, RH_NAME_MAX);
    if (o->worker && (o->data_dir || o->data_url || o->memory))
        return ctl_usage_error("repl", "--data-dir, --data-url and --memory are for "
                               "local mode: drop them with --worker");
    if (o->key_file && !o->worker)
        return ctl_usage_error("repl", "--key signs remote tasks: give --worker");
    if (o->key_file && o->caller)
        return ctl_usage_error("repl", "--key sets the caller (its public key): "
                               "drop --caller");
    if (o->context && !rh_name_valid(o->context))
        return ctl_usage_error("repl", "invalid context id '%s' (1..%d of "
                               "[A-Za-z0-9_.:@-])", o->context, RH_NAME_MAX);
    if (o->caller && !ctl_caller_valid(o->caller))
        return ctl_usage_error("repl", "invalid caller '%s' (printable ASCII, no "
                               "spaces)", o->caller);
    if (o->args && ctl_script_args_valid(o->args) != 0)
        return ctl_usage_error("repl", "--args is not valid JSON: %s", o->args);
    return 0;
}

/* ======================== printing ======================== */

/* Append 's' as a JSON string, or null. 0 / RHAI_ENOMEM. */
static int repl_json_str(rh_buf *b, const char *s)
{
    json_t *v = s ? json_string(s) : NULL;
    char *text;
    int rc;

    if (v == NULL)
        return rh_buf_append(b, "null", 4);
    text = json_dumps(v, JSON_ENCODE_ANY);
    json_decref(v);
    if (text == NULL)
        return RHAI_ENOMEM;
    rc = rh_buf_append(b, text, strlen(text));
    free(text);
    return rc;
}

/* The source line 'line' (1-based) of 'src' printed as "  N | text". */
static void repl_show_line(const char *src, size_t n, long line)
{
    const char *p = src, *end = src + n, *nl;

    for (long i = 1; i < line && p < end; i++) {
        if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
            return;
        p = nl + 1;
    }
    if (p >= end)
        return;
    nl = memchr(p, '\n', (size_t)(end - p));
    fprintf(stderr, "  %ld | %.*s\n", line, (int)((nl ? nl : end) - p), p);
}

/* The N of an error's trailing "(line N)", or 0. */
static long repl_error_line(const char *error)
{
    const char *p;
    long line = 0;

    if (error == NULL || (p = strstr(error, "(line ")) == NULL)
        return 0;
    while (strstr(p + 1, "(line ") != NULL)
        p = strstr(p + 1, "(line ");
    for (p += 6; *p >= '0' && *p <= '9' && line < 100000000; p++)
        line = line * 10 + (*p - '0');
    return *p == ')' ? line : 0;
}

/* Print one entry's outcome: a value on stdout, or the error on stderr
 * with the entry's line it names; print() lines as "log: ...". */
static void repl_print(repl *r, const char *id, rhai_status status, const char *kind,
                       const char *value, const char *error, const char *logs,
                       const char *src, size_t n)
{
    if (status != RHAI_STATUS_DONE)
        r->failed = 1;
    if (r->json) {
        rh_buf b;
        int rc;

        rh_buf_init(&b);
        rc = rh_buf_appendf(&b, "{\"id\":\"%s\",\"status\":\"%s\",\"output\":%s,\"error\":",
                            id, rh_status_str(status),
                            status == RHAI_STATUS_DONE && value ? value : "null");
        rc = rc ? rc : repl_json_str(&b, status == RHAI_STATUS_DONE ? NULL : error);
        rc = rc ? rc : rh_buf_append(&b, ",\"error_kind\":", 14);
        rc = rc ? rc : repl_json_str(&b, kind && *kind ? kind : NULL);
        rc = rc ? rc : rh_buf_append(&b, ",\"logs\":", 8);
        rc = rc ? rc : repl_json_str(&b, logs ? logs : "");
        rc = rc ? rc : rh_buf_append(&b, "}", 1);
        if (rc == 0)
            printf("%s\n", b.data);
        rh_buf_free(&b);
        fflush(stdout);
        return;
    }
    ctl_print_logs(logs);
    if (status == RHAI_STATUS_DONE) {
        printf("%s\n", value && *value ? value : "null");
    } else {
        long line = repl_error_line(error);
        fprintf(stderr, "%s: %s\n", kind && *kind ? kind : rh_status_str(status),
                error && *error ? error : "(no message)");
        if (line > 0)
            repl_show_line(src, n, line);
    }
    fflush(stdout);
    fflush(stderr);
}

/* ======================== local mode ======================== */

static int repl_local_open(repl *r)
{
    rhai_error derr;
    ctl_where w;
    int rc;

    if (ctl_where_resolve("repl", r->o.data_url, r->o.data_dir, &w) != 0)
        return CTL_EXIT_USAGE;
    if (dsl_install(w.url, &derr) != 0) {
        ctl_errorf("repl", "%s", derr.msg);
        return CTL_EXIT_USAGE;
    }
    dsl_set_dev_mode(1);                        /* a local development loop */
    eng_limits_default(&r->lim);
    if (r->o.memory > 0)
        r->lim.memory = (size_t)r->o.memory;
    if ((rc = ctl_repl_local_start(&r->local, &r->lim)) != 0) {
        ctl_errorf("repl", "cannot start the session: %s", rhai_strerror(rc));
        return CTL_EXIT_FAILED;
    }
    r->local_started = 1;
    return 0;
}

/* Ctrl-C while an entry runs stops that entry (its process is killed),
 * not the REPL; at the prompt it ends the REPL as usual. */
static volatile sig_atomic_t repl_interrupted;

static void repl_on_sigint(int sig)
{
    (void)sig;
    repl_interrupted = 1;
}

static void repl_local_entry(repl *r, const char *src, size_t n)
{
    eng_input in;
    eng_output out;
    rhai_status status;
    char id[64];
    int lost;

    snprintf(id, sizeof id, "repl-%s-%u", r->session_id, ++r->seq);
    memset(&in, 0, sizeof in);
    in.task_id = id;
    in.script = src;
    in.script_len = n;
    in.args_json = r->args;
    in.worker_id = "local";
    in.context_id = r->context ? r->context : "default";
    in.caller_id = r->caller ? r->caller : "anonymous";
    {
        struct sigaction sa, old;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = repl_on_sigint;     /* no SA_RESTART: poll wakes */
        sigemptyset(&sa.sa_mask);
        repl_interrupted = 0;
        sigaction(SIGINT, &sa, &old);
        lost = ctl_repl_local_run(&r->local, &in, r->o.timeout_ms, &repl_interrupted, &out);
        sigaction(SIGINT, &old, NULL);
    }
    /* the engine says "error" with kind timeout; a reply says "timeout" */
    status = out.status == RHAI_STATUS_ERROR && out.kind == RH_EK_TIMEOUT
                 ? RHAI_STATUS_TIMEOUT : out.status;
    if (status == RHAI_STATUS_UNKNOWN) {
        ctl_errorf("repl", "%s", rhai_strerror(RHAI_EINTERNAL));
        r->failed = 1;
    } else {
        repl_print(r, id, status, out.kind == RH_EK_NONE ? NULL : rh_kind_str(out.kind),
                   out.output, out.error, out.logs, src, n);
    }
    eng_output_clear(&out);
    if (lost)
        fprintf(stderr, "repl: the session's state was lost: a new one started "
                "(earlier definitions are gone; committed DSL writes stay)\n");
}

/* ======================== remote mode ======================== */

static int repl_remote_open(repl *r)
{
    int code;

    if ((code = ctl_worker_check(r->g, "repl", r->o.worker)) != 0)
        return code;
    return ctl_connect(r->g, &r->client);
}

static void repl_remote_entry(repl *r, const char *src, size_t n)
{
    rhai_error err = { 0, "" };
    rhai_task *task = NULL;
    rhai_result *res = NULL;
    char id[RHAI_ID_MAX];
    char *script;
    char *value = NULL;
    int rc;

    r->seq++;
    if ((script = ctl_repl_remote_script(&r->carry, src, n)) == NULL) {
        ctl_errorf("repl", "out of memory");
        r->failed = 1;
        return;
    }
    rc = rhai_task_new(script, &task);
    rh_free(script);
    if (rc == 0 && (rc = rhai_task_set_worker(task, r->o.worker)) == 0 &&
        (!r->context || (rc = rhai_task_set_context(task, r->context)) == 0) &&
        (!r->caller || (rc = rhai_task_set_caller(task, r->caller)) == 0) &&
        (!r->args || (rc = rhai_task_set_args(task, r->args)) == 0))
        rc = rhai_task_set_timeout(task, r->o.timeout_ms);
    if (rc == 0 && r->o.key_file && ctl_script_sign("repl", task, r->o.key_file) != 0) {
        r->failed = 1;
        goto out;
    }
    if (rc == 0)
        rc = rhai_submit(r->client, task, id, &err);
    if (rc != 0) {
        ctl_report_rc(rc, &err);
        r->failed = 1;
        goto out;
    }
    if (ctl_wait_task(r->g, "repl", r->client, id, r->o.worker, r->o.timeout_ms, 0,
                      &res) != 0) {
        r->failed = 1;
        goto out;
    }
    if (rhai_result_status(res) == RHAI_STATUS_DONE) {
        if (ctl_repl_remote_output(&r->carry, rhai_result_output(res), &value) != 0) {
            ctl_errorf("repl", "the entry's task answered something else than the "
                       "REPL sent: %s", rhai_result_output(res) ? rhai_result_output(res)
                                                                : "null");
            r->failed = 1;
            goto out;
        }
        if (ctl_repl_carry_functions(&r->carry, src, n) != 0)
            ctl_errorf("repl", "out of memory: the entry's functions are not carried");
    }
    repl_print(r, id, rhai_result_status(res), rhai_result_error_kind(res), value,
               rhai_result_error(res), rhai_result_logs(res), src, n);
out:
    rh_free(value);
    rhai_result_free(res);
    rhai_task_free(task);
}

/* ======================== the loop ======================== */

static void repl_entry(repl *r, const char *src, size_t n)
{
    const char *p = src;

    while (p < src + n && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    if (p == src + n)
        return;                                 /* blank: nothing to run */
    if (r->o.worker)
        repl_remote_entry(r, src, n);
    else
        repl_local_entry(r, src, n);
}

static int repl_set(char **field, const char *value)
{
    char *copy = rh_strdup(value);

    if (copy == NULL)
        return -1;
    rh_free(*field);
    *field = copy;
    return 0;
}

/* A dot command (line starts with '.'). 1 to leave the loop, else 0. */
static int repl_dot(repl *r, char *line)
{
    char *cmd = line + 1, *arg;
    size_t k = strlen(line);

    while (k > 0 && (line[k - 1] == ' ' || line[k - 1] == '\t' || line[k - 1] == '\r'))
        line[--k] = '\0';
    arg = cmd + strcspn(cmd, " \t");
    if (*arg) {
        *arg++ = '\0';
        arg += strspn(arg, " \t");
    }
    if (strcmp(cmd, "exit") == 0 || strcmp(cmd, "quit") == 0)
        return 1;
    if (strcmp(cmd, "help") == 0) {
        fputs(repl_dot_help, stdout);
    } else if (strcmp(cmd, "load") == 0) {
        char *src = NULL;
        size_t n;
        if (*arg == '\0')
            fprintf(stderr, "repl: .load needs a FILE\n");
        else if (ctl_script_load("repl", arg, NULL, &src, &n) == 0)
            repl_entry(r, src, n);
        else
            r->failed = 1;
        rh_free(src);
    } else if (strcmp(cmd, "args") == 0) {
        if (*arg == '\0' || ctl_script_args_valid(arg) != 0)
            fprintf(stderr, "repl: .args needs one JSON value: %s\n", arg);
        else
            repl_set(&r->args, arg);
    } else if (strcmp(cmd, "context") == 0) {
        if (!rh_name_valid(arg))
            fprintf(stderr, "repl: invalid context id '%s' (1..%d of "
                    "[A-Za-z0-9_.:@-])\n", arg, RH_NAME_MAX);
        else
            repl_set(&r->context, arg);
    } else if (strcmp(cmd, "caller") == 0) {
        if (r->o.key_file)
            fprintf(stderr, "repl: the caller is --key's public key\n");
        else if (!ctl_caller_valid(arg))
            fprintf(stderr, "repl: invalid caller '%s' (printable ASCII, no spaces)\n",
                    arg);
        else
            repl_set(&r->caller, arg);
    } else if (strcmp(cmd, "json") == 0) {
        if (strcmp(arg, "on") == 0)
            r->json = 1;
        else if (strcmp(arg, "off") == 0)
            r->json = 0;
        else
            fprintf(stderr, "repl: .json on or .json off\n");
    } else {
        fprintf(stderr, "repl: unknown command '.%s' (.help lists them)\n", cmd);
    }
    fflush(stdout);
    return 0;
}

/* One line without its newline, new (free()), or NULL at end of input. */
static char *repl_read(repl *r, int more)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;

    if (r->tty)
        return readline(more ? REPL_PROMPT_MORE : REPL_PROMPT);
    if ((len = getline(&line, &cap, stdin)) < 0) {
        free(line);
        return NULL;
    }
    if (len > 0 && line[len - 1] == '\n')
        line[len - 1] = '\0';
    return line;
}

static void repl_history_open(repl *r)
{
    const char *home;
    char path[4096];

    if (!r->tty || (r->o.history && *r->o.history == '\0'))
        return;
    if (r->o.history) {
        r->history = rh_strdup(r->o.history);
    } else if ((home = getenv("HOME")) != NULL && *home) {
        snprintf(path, sizeof path, "%s/.rhai_history", home);
        r->history = rh_strdup(path);
    }
    using_history();
    stifle_history(REPL_HISTORY_MAX);
    if (r->history)
        read_history(r->history);               /* none yet is fine */
}

static void repl_history_add(repl *r, const char *line)
{
    if (!r->tty || *line == '\0')
        return;
    add_history(line);
    if (r->history && write_history(r->history) != 0)
        fprintf(stderr, "repl: cannot write history %s: %s\n", r->history,
                strerror(errno));
}

static int repl_loop(repl *r)
{
    rh_buf entry;
    char *line;
    int done = 0;

    rh_buf_init(&entry);
    while (!done && (line = repl_read(r, entry.len > 0)) != NULL) {
        const char *p = line + strspn(line, " \t");
        repl_history_add(r, line);
        if (entry.len == 0 && *p == '.') {
            done = repl_dot(r, line);
        } else if (rh_buf_append(&entry, line, strlen(line)) != 0 ||
                   rh_buf_append(&entry, "\n", 1) != 0) {
            ctl_errorf("repl", "out of memory");
            done = 1;
        } else if (ctl_repl_complete(entry.data, entry.len)) {
            repl_entry(r, entry.data, entry.len);
            rh_buf_consume(&entry, entry.len);
        }
        free(line);
    }
    if (!done && entry.len > 0)                 /* end of input mid-entry */
        repl_entry(r, entry.data, entry.len);
    if (r->tty && !done)
        fputc('\n', stdout);
    rh_buf_free(&entry);
    return 0;
}

static int repl_exec(ctl_global *g, int argc, char **argv)
{
    repl r;
    char rnd[37];
    int code;

    memset(&r, 0, sizeof r);
    r.g = g;
    r.o.timeout_ms = ENG_DEFAULT_TIMEOUT_MS;
    if ((code = repl_parse(g, argc, argv, &r.o)) != 0)
        return code < 0 ? CTL_EXIT_OK : code;
    r.json = g->json;
    g->json = 0;                    /* per entry, not one document at exit */
    r.tty = isatty(STDIN_FILENO);
    signal(SIGPIPE, SIG_IGN);       /* a dead session process is an error */
    /* task ids unique across sessions: the ledger refuses an id reused
     * for another submission */
    if (rh_id_generate(rnd) != 0)
        snprintf(rnd, sizeof rnd, "%08x", (unsigned)rh_mono_us());
    snprintf(r.session_id, sizeof r.session_id, "%d-%.6s", (int)getpid(), rnd);
    if ((r.o.args && repl_set(&r.args, r.o.args) != 0) ||
        (r.o.context && repl_set(&r.context, r.o.context) != 0) ||
        (r.o.caller && repl_set(&r.caller, r.o.caller) != 0)) {
        ctl_errorf("repl", "out of memory");
        return CTL_EXIT_FAILED;
    }
    code = r.o.worker ? repl_remote_open(&r) : repl_local_open(&r);
    if (code == 0) {
        setlocale(LC_CTYPE, "");
        repl_history_open(&r);
        if (r.tty)
            printf("rhaictl repl (%s%s): .help for help, .exit or Ctrl-D to leave\n",
                   r.o.worker ? "remote, worker " : "local",
                   r.o.worker ? r.o.worker : "");
        code = repl_loop(&r);
        if (code == 0 && !r.tty && r.failed)
            code = CTL_EXIT_FAILED;
    }
    if (r.local_started)
        ctl_repl_local_stop(&r.local);
    if (!r.o.worker)
        dsl_uninstall();
    rhai_client_free(r.client);
    ctl_repl_carry_free(&r.carry);
    rh_free(r.args);
    rh_free(r.context);
    rh_free(r.caller);
    rh_free(r.history);
    return code;
}

const ctl_cmd ctl_cmd_repl = {
    "repl",
    "[--worker W] [--data-dir DIR] [--args JSON] [--context C] [--caller U]",
    "read, run and print scripts interactively (local, or on a worker)",
    repl_exec
};
