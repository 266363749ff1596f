/* print.c -- rhaictl's output: task results, logs, JSON, durations.
 *
 * Every command prints through these so that text and --json output,
 * stdout write errors and the "log: LINE" lines look the same everywhere;
 * the exit code of a result comes from main.c. Tables are each command's
 * own; the shared cells (durations) are formatted here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* ======================== results ======================== */

void ctl_print_logs(const char *logs)
{
    const char *p = logs, *nl;

    if (p == NULL || *p == '\0')
        return;
    while (*p) {
        nl = strchr(p, '\n');
        if (nl == NULL) {
            fprintf(stderr, "log: %s\n", p);
            break;
        }
        fprintf(stderr, "log: %.*s\n", (int)(nl - p), p);
        p = nl + 1;
    }
}

int ctl_print_result(const ctl_global *g, rhai_status status, const char *kind,
                     const char *output, const char *error, const char *logs,
                     const char *json)
{
    int code = ctl_exit_for_result(status, kind);

    if (g->json) {
        printf("%s\n", json ? json : "null");
        ctl_json_printed();
    } else {
        ctl_print_logs(logs);
        if (code == CTL_EXIT_OK)
            printf("%s\n", output && *output ? output : "null");
        else
            fprintf(stderr, "%s: %s\n",
                    kind && *kind ? kind : rh_status_str(status),
                    error && *error ? error : "(no message)");
    }
    if (fflush(stdout) != 0) {
        ctl_errorf(NULL, "cannot write the result: %s", strerror(errno));
        return code == CTL_EXIT_OK ? CTL_EXIT_FAILED : code;
    }
    return code;
}

/* ======================== tables and JSON ======================== */

void ctl_fmt_duration(int64_t ms, char *buf, size_t n)
{
    int64_t s = ms / 1000;

    if (ms < 0)
        snprintf(buf, n, "-");
    else if (ms < 1000)
        snprintf(buf, n, "%lldms", (long long)ms);
    else if (ms < 60000)
        snprintf(buf, n, "%.1fs", (double)ms / 1000.0);
    else if (s < 3600)
        snprintf(buf, n, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
    else if (s < 86400)
        snprintf(buf, n, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else
        snprintf(buf, n, "%lldd%02lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
}

int ctl_print_flush(void)
{
    if (fflush(stdout) != 0) {
        ctl_errorf(NULL, "cannot write to stdout: %s", strerror(errno));
        return CTL_EXIT_FAILED;
    }
    return CTL_EXIT_OK;
}

int ctl_print_json(json_t *doc)
{
    char *text;

    if (doc == NULL) {
        ctl_errorf(NULL, "out of memory");
        return CTL_EXIT_FAILED;
    }
    text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (text == NULL) {
        ctl_errorf(NULL, "out of memory");
        return CTL_EXIT_FAILED;
    }
    printf("%s\n", text);
    ctl_json_printed();
    free(text);                         /* jansson's allocator: malloc */
    return ctl_print_flush();
}
