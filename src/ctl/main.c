/* main.c -- rhaictl: the command table, dispatch, options and exit codes.
 *
 * `rhaictl [global options] COMMAND [options] [args]`. Global options are
 * parsed here up to the command name; the command's own getopt_long table
 * accepts them again, so `rhaictl submit x.js --json` works too. Usage
 * errors and the mapping of results and library errors to exit codes
 * (ctl.h) live in errors.c, so every command words and exits the same way.
 * Scripts are read in script.c, output printed in print.c, Redis reached
 * through redis.c. */
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
    &ctl_cmd_events,
    &ctl_cmd_trace,
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

/* What main returns: 'code', after the error document --json owes. */
static int main_finish(const ctl_global *g, int code)
{
    json_t *doc;

    if (!g->json || code == CTL_EXIT_OK || ctl_json_was_printed())
        return code;
    doc = json_pack("{s:s, s:i}", "error", ctl_last_error()[0] ? ctl_last_error()
                                                               : "failed (see stderr)",
                    "exit", code);
    if (doc == NULL)
        return code;
    ctl_print_json(doc);
    return code;
}

