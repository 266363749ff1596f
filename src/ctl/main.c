/* main.c -- rhaictl: the command table, dispatch, options and exit codes.
 *
 * `rhaictl [global options] COMMAND [options] [args]`. Global options are
 * parsed here up to the command name; the command's own getopt_long table
 * accepts them again, so `rhaictl submit x.js --json` works too. Usage
 * errors and the mapping of results and library errors to exit codes
 * (ctl.h) live here too, so every command words and exits the same way.
 * Scripts are read in script.c, output printed in print.c, Redis reached
 * through redis.c. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "rhai/version.h"

static int main_finish(const ctl_global *g, int code);

static const ctl_cmd *const ctl_commands[] = {
    &ctl_cmd_submit,
    &ctl_cmd_run,
    &ctl_cmd_task,
    &ctl_cmd_keygen,
    &ctl_cmd_workers,
    &ctl_cmd_queues,
    &ctl_cmd_tasks,
    &ctl_cmd_queue,
    &ctl_cmd_top,
    &ctl_cmd_dsl,
    &ctl_cmd_context,
    &ctl_cmd_acl,
    &ctl_cmd_audit,
    &ctl_cmd_cron,
    &ctl_cmd_dead,
    &ctl_cmd_on,
    &ctl_cmd_repl,
    NULL
};

/* ======================== top level ======================== */

static void main_usage(FILE *f)
{
    fprintf(f,
            "Usage: rhaictl [--redis-url URL] [--prefix P] [--json] COMMAND ...\n"
            "       rhaictl COMMAND --help | --help | --version\n"
            "\n"
            "Submit JavaScript (ES5) tasks to rhaid workers over Redis, run them\n"
            "locally in the same sandbox, and look after tasks.\n"
            "\n"
            "Commands:\n");
    for (int i = 0; ctl_commands[i]; i++)
        fprintf(f, "  %-8s %s\n  %-8s   rhaictl %s %s\n", ctl_commands[i]->name,
                ctl_commands[i]->summary, "", ctl_commands[i]->name, ctl_commands[i]->args);
    fprintf(f, "  %-8s %s\n", "help", "help of a command (rhaictl help submit)");
    fprintf(f, "\n" CTL_GLOBAL_HELP "  --version         print the version\n\n"
            CTL_EXIT_HELP);
}

static const ctl_cmd *main_find(const char *name)
{
    for (int i = 0; ctl_commands[i]; i++)
        if (strcmp(ctl_commands[i]->name, name) == 0)
            return ctl_commands[i];
    return NULL;
}

/* `rhaictl help [CMD]`: the same text as `rhaictl CMD --help`. */
static int main_help(ctl_global *g, int argc, char **argv)
{
    const ctl_cmd *cmd;
    char help[] = "--help";
    char *av[3];

    if (argc < 2) {
        main_usage(stdout);
        return CTL_EXIT_OK;
    }
    if (argc > 2)
        return ctl_usage_error(NULL, "help takes one command name");
    if ((cmd = main_find(argv[1])) == NULL)
        return ctl_usage_error(NULL, "unknown command '%s'", argv[1]);
    av[0] = argv[1];
    av[1] = help;
    av[2] = NULL;
    ctl_getopt_reset();
    return cmd->exec(g, 2, av);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        CTL_GLOBAL_LONGOPTS,
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    ctl_global g = { NULL, NULL, 0 };
    const ctl_cmd *cmd;
    int c;

    /* Warnings of the code rhaictl runs in-process (the client library,
     * the store) go to stderr; below that is chatter. */
    rh_log_init("rhaictl");
    rh_log_level = RH_LOG_WARN;
    ctl_getopt_reset();
    /* '+': stop at the command name; its options are the command's. */
    while ((c = getopt_long(argc, argv, "+:hV", longopts, NULL)) != -1) {
        if (ctl_global_option(&g, c, optarg))
            continue;
        switch (c) {
        case 'h':
        case CTL_OPT_HELP:
            main_usage(stdout);
            return CTL_EXIT_OK;
        case 'V':
            printf("rhaictl %s\n", RHAI_VERSION_STRING);
            return CTL_EXIT_OK;
        default:
            return main_finish(&g, ctl_option_error(NULL, c, argv));
        }
    }
    if (optind >= argc)
        return main_finish(&g, ctl_usage_error(NULL, "no command given (rhaictl --help "
                                                     "lists them)"));
    argc -= optind;
    argv += optind;
    if (strcmp(argv[0], "help") == 0)
        return main_finish(&g, main_help(&g, argc, argv));
    if ((cmd = main_find(argv[0])) == NULL)
        return main_finish(&g, ctl_usage_error(NULL, "unknown command '%s'", argv[0]));
    ctl_getopt_reset();
    return main_finish(&g, cmd->exec(&g, argc, argv));
}

/* ======================== options ======================== */

int ctl_global_option(ctl_global *g, int c, const char *arg)
{
    switch (c) {
    case CTL_OPT_URL:
        g->url = arg;
        return 1;
    case CTL_OPT_PREFIX:
        g->prefix = arg;
        return 1;
    case CTL_OPT_JSON:
        g->json = 1;
        return 1;
    default:
        return 0;
    }
}

void ctl_getopt_reset(void)
{
    optind = 0;             /* glibc: full re-initialisation, rereads '+' */
    opterr = 0;             /* we word the errors ourselves */
}

/* ======================== errors ======================== */

/* The last error said on stderr and whether a JSON document went to
 * stdout: with --json, a command that fails without one gets
 * {"error","exit"} (main_finish), so stdout is one document either way. */
static char ctl_last_error[1024];
static int ctl_json_done;

void ctl_json_printed(void)
{
    ctl_json_done = 1;
}

static void ctl_note_error(const char *fmt, va_list ap)
{
    vsnprintf(ctl_last_error, sizeof ctl_last_error, fmt, ap);
}

/* What main returns: 'code', after the error document --json owes. */
static int main_finish(const ctl_global *g, int code)
{
    json_t *doc;

    if (!g->json || code == CTL_EXIT_OK || ctl_json_done)
        return code;
    doc = json_pack("{s:s, s:i}", "error", ctl_last_error[0] ? ctl_last_error
                                                              : "failed (see stderr)",
                    "exit", code);
    if (doc == NULL)
        return code;
    ctl_print_json(doc);
    return code;
}

static void ctl_vusage(const char *cmd, const char *fmt, va_list ap)
{
    va_list copy;

    va_copy(copy, ap);
    ctl_note_error(fmt, copy);
    va_end(copy);
    fprintf(stderr, "rhaictl%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\ntry 'rhaictl%s%s --help'\n", cmd ? " " : "", cmd ? cmd : "");
}

int ctl_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    ctl_vusage(cmd, fmt, ap);
    va_end(ap);
    return CTL_EXIT_USAGE;
}

int ctl_option_error(const char *cmd, int c, char **argv)
{
    const char *opt = optind > 0 ? argv[optind - 1] : "?";

    if (c == ':') {
        if (optopt > 0 && optopt < 0x100)
            return ctl_usage_error(cmd, "option '-%c' needs a value", optopt);
        return ctl_usage_error(cmd, "option '%s' needs a value", opt);
    }
    if (optopt > 0 && optopt < 0x100)
        return ctl_usage_error(cmd, "unknown option '-%c'", optopt);
    if (optopt >= 0x100 || strchr(opt, '=') != NULL)
        return ctl_usage_error(cmd, "option '%s' takes no value", opt);
    return ctl_usage_error(cmd, "unknown option '%s'", opt);
}

void ctl_errorf(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    ctl_note_error(fmt, ap);
    va_end(ap);
    fprintf(stderr, "rhaictl%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int ctl_parse_int(const char *s, long long min, long long max, int suffixes,
                  long long *out)
{
    long long v, mult = 1;
    char *end;

    if (s == NULL || *s < '0' || *s > '9')      /* no sign, no blanks */
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s)
        return -1;
    if (*end && suffixes && end[1] == '\0') {
        switch (*end) {
        case 'k': case 'K': mult = 1024LL; break;
        case 'm': case 'M': mult = 1024LL * 1024; break;
        case 'g': case 'G': mult = 1024LL * 1024 * 1024; break;
        default: return -1;
        }
    } else if (*end) {
        return -1;
    }
    if (v > LLONG_MAX / mult)
        return -1;
    v *= mult;
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* ======================== exit codes ======================== */

int ctl_exit_for_result(rhai_status status, const char *kind)
{
    rh_error_kind k = kind ? rh_kind_parse(kind) : RH_EK_NONE;

    if (status == RHAI_STATUS_DONE)
        return CTL_EXIT_OK;
    if (status == RHAI_STATUS_TIMEOUT || k == RH_EK_TIMEOUT)
        return CTL_EXIT_TIMEOUT;
    if (status == RHAI_STATUS_CANCELLED || k == RH_EK_CANCELLED)
        return CTL_EXIT_CANCELLED;
    if (k == RH_EK_DENIED)
        return CTL_EXIT_DENIED;
    return CTL_EXIT_FAILED;    /* script, memory, crashed, invalid, internal */
}

int ctl_exit_for_rc(int rc)
{
    switch (rc) {
    case 0:
        return CTL_EXIT_OK;
    case RHAI_ECONN:
        return CTL_EXIT_CONN;
    case RHAI_ETIMEOUT:
        return CTL_EXIT_TIMEOUT;
    case RHAI_ENOTFOUND:
        return CTL_EXIT_NOTFOUND;
    case RHAI_EINVAL:
    case RHAI_ETOOBIG:
        return CTL_EXIT_USAGE;
    default:
        return CTL_EXIT_FAILED;
    }
}

int ctl_report_rc(int rc, const rhai_error *err)
{
    ctl_errorf(NULL, "%s", err && err->code != 0 && err->msg[0] ? err->msg : rhai_strerror(rc));
    return ctl_exit_for_rc(rc);
}
