/* errors.c -- what every rhaictl command shares besides main(): global
 * options, usage errors, the last error said, integer parsing and the
 * mapping of results and library errors to exit codes.
 *
 * Kept out of main.c so that rhai_ctl_core (every file of src/ctl but
 * main.c) is a library rhai-web links too: there ctl_errors_quiet(1) keeps
 * the messages off stderr and ctl_last_error() hands them to the HTTP
 * answer instead. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

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
static char ctl_last_error_buf[1024];
static int ctl_json_done;
static int ctl_quiet;                  /* ctl_errors_quiet(1): nothing on stderr */

void ctl_errors_quiet(int quiet)
{
    ctl_quiet = quiet;
}

const char *ctl_last_error(void)
{
    return ctl_last_error_buf;
}

int ctl_json_was_printed(void)
{
    return ctl_json_done;
}

void ctl_json_printed(void)
{
    ctl_json_done = 1;
}

static void ctl_note_error(const char *fmt, va_list ap)
{
    vsnprintf(ctl_last_error_buf, sizeof ctl_last_error_buf, fmt, ap);
}

static void ctl_vusage(const char *cmd, const char *fmt, va_list ap)
{
    va_list copy;

    va_copy(copy, ap);
    ctl_note_error(fmt, copy);
    va_end(copy);
    if (ctl_quiet)
        return;
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
    if (ctl_quiet)
        return;
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
    case RHAI_ETLS:                 /* TLS to Redis failed: a connection failure */
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

int ctl_opt_timeout(const char *cmd, const char *arg, long long max, long long *out)
{
    if (ctl_parse_int(arg, 1, max, 0, out) != 0)
        return ctl_usage_error(cmd, "--timeout '%s' is not a number of milliseconds in 1..%lld",
                               arg, max);
    return 0;
}

int ctl_opt_memory(const char *cmd, const char *arg, long long *out)
{
    if (ctl_parse_int(arg, CTL_MEMORY_MIN, CTL_MEMORY_MAX, 1, out) != 0)
        return ctl_usage_error(cmd, "--memory '%s' is not a size in 64k..4g "
                               "(bytes, or with suffix k, m, g)", arg);
    return 0;
}
