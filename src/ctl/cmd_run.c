/* cmd_run.c -- `rhaictl run`: run a script locally, no Redis, no worker.
 *
 * The same sandbox rhaid uses (src/engine, default limits), in a forked
 * child killed at the timeout (eng_run_isolated), so `while(true){}` ends
 * as it would on a worker. Printing and exit codes are those of `submit`;
 * --json prints an object shaped like the reply of docs/protocol.md.
 * The DSL runs in dev mode here: a context the script uses that does not
 * exist yet is created, owned by --caller, as `rhaid --dev-mode` does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "dsl/dsl.h"

#define RUN_TIMEOUT_MAX_MS 86400000LL

static const char run_help[] =
    "Usage: rhaictl run FILE | -e SCRIPT [options]\n"
    "\n"
    "Run a JavaScript (ES5) script locally in the sandbox rhaid uses, with\n"
    "the default limits and no Redis. Prints its output as one line of JSON\n"
    "on stdout, or 'error_kind: error' on stderr; print() lines go to stderr\n"
    "as 'log: ...'. FILE '-' reads the script from stdin.\n"
    "\n"
    "Options:\n"
    "  -e, --eval SCRIPT     the script itself instead of a FILE\n"
    "  -a, --args JSON       arguments, seen by the script as `args` (default: {})\n"
    "  -c, --context C       ctx.context_id (default: default)\n"
    "  -u, --caller U        ctx.caller_id (default: anonymous, which owns\n"
    "                        nothing: the DSL creates no context for it)\n"
    "  -t, --timeout MS      wall-clock limit; the script is killed after it\n"
    "                        (default: 30000)\n"
    "  -m, --memory BYTES    JS heap cap, suffix k, m or g allowed (default: 64m)\n"
    "  -d, --data-dir DIR    where the DSL keeps context databases (default:\n"
    "                        $RHAI_DATA_DIR, else ./rhai-data); see docs/dsl.md.\n"
    "                        A context the script's DSL calls use that does not\n"
    "                        exist there yet is created, owned by --caller; in an\n"
    "                        existing one the caller needs its grants\n"
    "      --data-url URL    the store as a URL instead: sqlite:///DIR, or\n"
    "                        postgres://USER@HOST:PORT/DB or a libpq conninfo\n"
    "                        (default $RHAI_DATA_URL, which wins over\n"
    "                        $RHAI_DATA_DIR)\n"
    "      --json            print an object like a worker's reply: id, status,\n"
    "                        output, error, error_kind, logs, run_us\n"
    "\n"
    CTL_GLOBAL_HELP
    "\n"
    "Examples:\n"
    "  rhaictl run -e '[1,2,3].map(function (x) { return x * x })'\n"
    "  rhaictl run examples/sum.js --args '{\"numbers\":[1,2,3]}'\n"
    "\n"
    CTL_EXIT_HELP;

typedef struct run_opts {
    const char *file;
    const char *eval;
    const char *args;
    const char *context;
    const char *caller;
    long long   timeout_ms;
    long long   memory;
    const char *data_dir;
    const char *data_url;
} run_opts;

static int run_parse(ctl_global *g, int argc, char **argv, run_opts *o)
{
    static const struct option longopts[] = {
        { "eval", required_argument, NULL, 'e' },
        { "args", required_argument, NULL, 'a' },
        { "context", required_argument, NULL, 'c' },
        { "caller", required_argument, NULL, 'u' },
        { "timeout", required_argument, NULL, 't' },
        { "memory", required_argument, NULL, 'm' },
        { "data-dir", required_argument, NULL, 'd' },
        CTL_DATA_URL_LONGOPT,
        CTL_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 }
    };
    int c, rc;

    while ((c = getopt_long(argc, argv, ":e:a:c:u:t:m:d:h", longopts, NULL)) != -1) {
        if (ctl_global_option(g, c, optarg))
            continue;
        switch (c) {
        case 'e': o->eval = optarg; break;
        case 'a': o->args = optarg; break;
        case 'c': o->context = optarg; break;
        case 'u': o->caller = optarg; break;
        case 'd': o->data_dir = optarg; break;
        case CTL_OPT_DATA_URL: o->data_url = optarg; break;
        case 't':
            if ((rc = ctl_opt_timeout("run", optarg, RUN_TIMEOUT_MAX_MS, &o->timeout_ms)) != 0)
                return rc;
            break;
        case 'm':
            if ((rc = ctl_opt_memory("run", optarg, &o->memory)) != 0)
                return rc;
            break;
        case 'h':
        case CTL_OPT_HELP:
            fputs(run_help, stdout);
            return -1;
        default:
            return ctl_option_error("run", c, argv);
        }
    }
    if (optind < argc)
        o->file = argv[optind++];
    if (optind < argc)
        return ctl_usage_error("run", "unexpected argument '%s'", argv[optind]);
    if (o->file && o->eval)
        return ctl_usage_error("run", "give a FILE or -e SCRIPT, not both");
    if (!o->file && !o->eval)
        return ctl_usage_error("run", "no script: give a FILE, '-' for stdin, "
                               "or -e SCRIPT");
    if (o->context && !rh_name_valid(o->context))
        return ctl_usage_error("run", "invalid context id '%s' (1..%d of "
                               "[A-Za-z0-9_.:@-])", o->context, RH_NAME_MAX);
    if (o->caller && *o->caller == '\0')
        return ctl_usage_error("run", "--caller is empty");
    if (o->args && ctl_script_args_valid(o->args) != 0)
        return ctl_usage_error("run", "--args is not valid JSON: %s", o->args);
    return 0;
}

/* Append 's' as a JSON string, or null. 0 / RHAI_ENOMEM. */
static int run_json_str(rh_buf *b, const char *s)
{
    char *text;
    json_t *v;
    int rc;

    if (s == NULL)
        return rh_buf_append(b, "null", 4);
    if ((v = json_string(s)) == NULL)           /* engine strings are UTF-8 */
        return rh_buf_append(b, "null", 4);
    text = json_dumps(v, JSON_ENCODE_ANY);
    json_decref(v);
    if (text == NULL)
        return RHAI_ENOMEM;
    rc = rh_buf_append(b, text, strlen(text));
    free(text);
    return rc;
}

/* The --json object. 'output' is spliced in as the engine wrote it rather
 * than re-encoded, so numbers keep their exact text. New string or NULL. */
static char *run_json(const char *id, rhai_status status, const eng_output *o)
{
    rh_buf b;
    int rc;

    rh_buf_init(&b);
    rc = rh_buf_appendf(&b, "{\"id\":\"%s\",\"status\":\"%s\",\"output\":%s,\"error\":",
                        id, rh_status_str(status),
                        status == RHAI_STATUS_DONE && o->output ? o->output : "null");
    rc = rc ? rc : run_json_str(&b, status == RHAI_STATUS_DONE ? NULL : o->error);
    rc = rc ? rc : rh_buf_append(&b, ",\"error_kind\":", 14);
    rc = rc ? rc : run_json_str(&b, o->kind == RH_EK_NONE ? NULL : rh_kind_str(o->kind));
    rc = rc ? rc : rh_buf_append(&b, ",\"logs\":", 8);
    rc = rc ? rc : run_json_str(&b, o->logs ? o->logs : "");
    rc = rc ? rc : rh_buf_appendf(&b, ",\"run_us\":%lld", (long long)o->run_us);
    /* the events the run committed (and unrelayed older ones of the
     * context: nothing relays them without rhaid), as the engine wrote them */
    rc = rc ? rc : rh_buf_appendf(&b, ",\"events\":%s}", o->events ? o->events : "[]");
    if (rc != 0) {
        rh_buf_free(&b);
        return NULL;
    }
    return b.data;
}

static int run_exec(ctl_global *g, int argc, char **argv)
{
    run_opts o;
    eng_input in;
    eng_limits lim;
    eng_output out;
    rhai_status status;
    char id[37];
    char *script = NULL;
    char *json = NULL;
    size_t script_len;
    int code, rc;

    memset(&o, 0, sizeof o);
    o.timeout_ms = ENG_DEFAULT_TIMEOUT_MS;
    if ((code = run_parse(g, argc, argv, &o)) != 0)
        return code < 0 ? CTL_EXIT_OK : code;
    if ((code = ctl_script_load("run", o.file, o.eval, &script, &script_len)) != 0)
        return code;
    if (rh_id_generate(id) != 0)
        snprintf(id, sizeof id, "local");

    memset(&in, 0, sizeof in);
    in.task_id = id;
    in.script = script;
    in.script_len = script_len;
    in.args_json = o.args;                      /* NULL: {} */
    in.worker_id = "local";
    in.context_id = o.context ? o.context : "default";
    in.caller_id = o.caller ? o.caller : "anonymous";
    eng_limits_default(&lim);
    if (o.memory > 0)
        lim.memory = (size_t)o.memory;

    {   /* the same store rhaid uses: a local data dir, or a data url */
        rhai_error derr;
        ctl_where w;
        if (ctl_where_resolve("run", o.data_url, o.data_dir, &w) != 0) {
            rh_free(script);
            return CTL_EXIT_USAGE;
        }
        if (dsl_install(w.url, &derr) != 0) {
            rh_free(script);
            ctl_errorf("run", "%s", derr.msg);
            return CTL_EXIT_USAGE;
        }
        dsl_set_dev_mode(1);                    /* a local development runner */
    }
    fflush(NULL);                               /* nothing buffered twice */
    rc = eng_run_isolated(&in, &lim, o.timeout_ms, &out);
    dsl_uninstall();
    rh_free(script);
    if (out.status == RHAI_STATUS_UNKNOWN) {    /* no result at all */
        eng_output_clear(&out);
        ctl_errorf("run", "%s", rhai_strerror(rc ? rc : RHAI_EINTERNAL));
        return CTL_EXIT_FAILED;
    }
    /* The engine says "error" with kind timeout; a worker's reply says
     * status "timeout", and so do we. */
    status = out.status == RHAI_STATUS_ERROR && out.kind == RH_EK_TIMEOUT
                 ? RHAI_STATUS_TIMEOUT : out.status;
    if (g->json && (json = run_json(id, status, &out)) == NULL) {
        eng_output_clear(&out);
        ctl_errorf("run", "out of memory");
        return CTL_EXIT_FAILED;
    }
    code = ctl_print_result(g, status, out.kind == RH_EK_NONE ? NULL : rh_kind_str(out.kind),
                            out.output, out.error, out.logs, json);
    rh_free(json);
    eng_output_clear(&out);
    return code;
}

const ctl_cmd ctl_cmd_run = {
    "run",
    "FILE | -e SCRIPT [--args JSON] [--timeout MS] [--memory BYTES]",
    "run a script locally in the sandbox (no Redis)",
    run_exec
};
