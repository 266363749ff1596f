/* cmd_events.c -- `rhaictl events tail CONTEXT`: follow a context's events.
 *
 * Reads the context's event stream (docs/events.md) through the client
 * library's rhai/events.h: without --group it follows the stream as XREAD
 * does (nothing is recorded in Redis); with --group it reads as a consumer
 * of that group (created when missing, from --from) and acknowledges each
 * event once printed, so a second tail of the same group goes on where the
 * first stopped. Runs until interrupted, or until --count events. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "rhai/events.h"

#define EVENTS_BLOCK_MS 1000          /* one read waits this long at most */

static const char events_help[] =
    "Usage: rhaictl events tail CONTEXT [--group G [--consumer C]] [--from ID] [--count N]\n"
    "\n"
    "tail     print the events of CONTEXT as they are appended to its stream\n"
    "         (one line each: entry, time, name, event id, emitting task,\n"
    "         depth, payload; --json: one JSON object per line), until\n"
    "         interrupted or --count events were printed\n"
    "\n"
    "Options:\n"
    "  -g, --group G     read as a consumer of group G (created on the stream\n"
    "                    when missing, from --from) and acknowledge each event\n"
    "                    once printed: the next tail of G starts after it\n"
    "  -c, --consumer C  the consumer name within the group (default rhaictl)\n"
    "  -f, --from ID     where to start: $ (default: events from now on), 0\n"
    "                    (every event the stream still holds) or an entry id;\n"
    "                    with --group only when the group is created\n"
    "  -n, --count N     exit 0 after N events\n"
    "\n"
    CTL_GLOBAL_HELP
    "\n"
    CTL_EXIT_HELP;

static volatile sig_atomic_t events_stop;

static void events_on_signal(int sig)
{
    (void)sig;
    events_stop = 1;
}

static int events_print(const ctl_global *g, const rhai_event *e)
{
    if (g->json) {
        json_t *doc = json_pack("{s:s?, s:s?, s:s?, s:o?, s:s?, s:s?, s:s?, s:I, s:s?, s:I}",
                                "entry", e->entry, "id", e->id, "name", e->name,
                                "payload", e->payload ? json_loads(e->payload, JSON_DECODE_ANY,
                                                                   NULL) : NULL,
                                "context", e->context, "task", e->task, "caller", e->caller,
                                "time", (json_int_t)e->time, "trace", e->trace,
                                "depth", (json_int_t)e->depth);
        return ctl_print_json(doc);
    }
    {
        time_t secs = (time_t)(e->time / 1000);
        struct tm tm;
        char at[40] = "?";

        if (gmtime_r(&secs, &tm))
            strftime(at, sizeof at, "%H:%M:%S", &tm);
        printf("%s  %s.%03d  %s  %s  task=%s depth=%lld  %s\n", e->entry, at,
               (int)(e->time % 1000), e->name ? e->name : "?", e->id ? e->id : "?",
               e->task ? e->task : "?", (long long)e->depth, e->payload ? e->payload : "null");
        return ctl_print_flush();
    }
}

static int events_tail(ctl_global *g, const char *context, const char *group,
                       const char *consumer, const char *from, long long count)
{
    rhai_client *c = NULL;
    rhai_error err = { 0, "" };
    char after[64];
    long long printed = 0;
    int code, rc = 0;
    struct sigaction sa;

    if ((code = ctl_connect(g, &c)) != 0)
        return code;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = events_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    snprintf(after, sizeof after, "%s", from ? from : "$");
    if (group && (rc = rhai_events_group(c, context, group, after, &err)) != 0)
        goto out;
    while (!events_stop && (count == 0 || printed < count)) {
        rhai_event *ev = NULL;
        size_t n = 0;
        int max = count > 0 && count - printed < 100 ? (int)(count - printed) : 100;

        if (group) {
            /* first what this consumer read before and did not ack */
            rc = rhai_events_read(c, context, group, consumer, max, 0, 1, &ev, &n, &err);
            if (rc == 0 && n == 0)
                rc = rhai_events_read(c, context, group, consumer, max, EVENTS_BLOCK_MS, 0,
                                      &ev, &n, &err);
        } else {
            rc = rhai_events_after(c, context, after, max, EVENTS_BLOCK_MS, &ev, &n, &err);
        }
        if (rc != 0)
            break;
        for (size_t i = 0; i < n && code == 0; i++) {
            if (ev[i].id == NULL)
                continue;             /* trimmed while pending: nothing to print */
            code = events_print(g, &ev[i]);
            printed++;
        }
        if (n > 0) {
            snprintf(after, sizeof after, "%s", ev[n - 1].entry);
            if (group) {
                const char **ids = rh_calloc(n, sizeof *ids);
                for (size_t i = 0; ids && i < n; i++)
                    ids[i] = ev[i].entry;
                rc = ids ? rhai_events_ack(c, context, group, ids, n, NULL, &err)
                         : RHAI_ENOMEM;
                rh_free(ids);
            }
        }
        rhai_events_free(ev, n);
        if (code != 0 || rc != 0)
            break;
    }
out:
    rhai_client_free(c);
    if (code != 0)
        return code;
    return rc ? ctl_report_rc(rc, &err) : CTL_EXIT_OK;
}

static int events_exec(ctl_global *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "group", required_argument, NULL, 'g' },
        { "consumer", required_argument, NULL, 'c' },
        { "from", required_argument, NULL, 'f' },
        { "count", required_argument, NULL, 'n' },
        CTL_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 }
    };
    const char *group = NULL, *consumer = "rhaictl", *from = NULL, *context;
    long long count = 0;
    int c;

    while ((c = getopt_long(argc, argv, ":g:c:f:n:h", longopts, NULL)) != -1) {
        if (ctl_global_option(g, c, optarg))
            continue;
        switch (c) {
        case 'g':
            if (!rh_name_valid(optarg))
                return ctl_usage_error("events", "invalid --group '%s'", optarg);
            group = optarg;
            break;
        case 'c':
            if (!rh_name_valid(optarg))
                return ctl_usage_error("events", "invalid --consumer '%s'", optarg);
            consumer = optarg;
            break;
        case 'f':
            from = optarg;
            break;
        case 'n':
            if (ctl_parse_int(optarg, 1, 1000000000, 0, &count) != 0)
                return ctl_usage_error("events", "--count '%s' is not a positive number",
                                       optarg);
            break;
        case 'h':
        case CTL_OPT_HELP:
            fputs(events_help, stdout);
            return CTL_EXIT_OK;
        default:
            return ctl_option_error("events", c, argv);
        }
    }
    if (optind >= argc)
        return ctl_usage_error("events", "missing subcommand: tail");
    if (strcmp(argv[optind], "tail") != 0)
        return ctl_usage_error("events", "unknown subcommand '%s' (tail)", argv[optind]);
    if (++optind >= argc)
        return ctl_usage_error("events", "missing CONTEXT");
    context = argv[optind++];
    if (optind < argc)
        return ctl_usage_error("events", "unexpected argument '%s'", argv[optind]);
    if (!rh_context_id_valid(context))
        return ctl_usage_error("events", "invalid context '%s': use " RH_CONTEXT_RULE, context);
    return events_tail(g, context, group, consumer, from, count);
}

const ctl_cmd ctl_cmd_events = {
    "events",
    "tail CONTEXT [--group G] [--from ID] [--count N]",
    "follow a context's events (its Redis stream), live",
    events_exec
};
