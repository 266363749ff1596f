/* log.c -- leveled key=value logging to stderr.
 *
 * Under systemd (JOURNAL_STREAM set) each line starts with a <N> syslog
 * priority and carries no timestamp, since journald adds its own;
 * otherwise lines carry an ISO time, the program name and the pid. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

int rh_log_level = RH_LOG_INFO;

static const char *log_ident = "rhai";
static int log_journal;

static const char *const level_names[] = { "debug", "info", "notice", "warn", "error" };
static const int level_prio[] = { 7, 6, 5, 4, 3 };   /* syslog priorities */

void rh_log_init(const char *ident)
{
    if (ident)
        log_ident = ident;
    log_journal = getenv("JOURNAL_STREAM") != NULL;
}

int rh_log_level_parse(const char *name)
{
    for (int i = 0; i <= RH_LOG_ERROR; i++)
        if (name && strcasecmp(name, level_names[i]) == 0)
            return i;
    if (name && strcasecmp(name, "warning") == 0)
        return RH_LOG_WARN;
    return -1;
}

const char *rh_log_level_name(int level)
{
    return level >= 0 && level <= RH_LOG_ERROR ? level_names[level] : "?";
}

void rh_log_write(int level, const char *fmt, ...)
{
    char line[2048];
    size_t off = 0;
    va_list ap;

    if (level < RH_LOG_DEBUG)
        level = RH_LOG_DEBUG;
    if (level > RH_LOG_ERROR)
        level = RH_LOG_ERROR;
    if (log_journal) {
        off = (size_t)snprintf(line, sizeof line, "<%d>level=%s ", level_prio[level],
                               level_names[level]);
    } else {
        struct timeval tv;
        struct tm tm;
        gettimeofday(&tv, NULL);
        gmtime_r(&tv.tv_sec, &tm);
        off = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
        off += (size_t)snprintf(line + off, sizeof line - off, ".%03dZ %s[%d] level=%s ",
                                (int)(tv.tv_usec / 1000), log_ident, (int)getpid(),
                                level_names[level]);
    }
    if (off >= sizeof line)
        off = sizeof line - 1;
    va_start(ap, fmt);
    vsnprintf(line + off, sizeof line - off, fmt, ap);
    va_end(ap);
    off = strlen(line);
    if (off > sizeof line - 2)
        off = sizeof line - 2;
    line[off++] = '\n';
    /* one write per line so lines from executors and the daemon interleave whole */
    fwrite(line, 1, off, stderr);
    fflush(stderr);
}
