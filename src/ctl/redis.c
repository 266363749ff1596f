/* redis.c -- rhaictl's Redis connections.
 *
 * Two kinds: the client library's rhai_client (ctl_connect) for submit,
 * wait and task, and a plain blocking hiredis connection (ctl_redis_*) for
 * the monitoring and admin commands, which read keys the library has no
 * call for. Both take the URL and prefix from the global options or the
 * environment and report failures as exit codes (ctl.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* ======================== the client library ======================== */

int ctl_connect(const ctl_global *g, rhai_client **out)
{
    const char *prefix = g->prefix;
    rhai_error err = { 0, "" };
    int rc;

    if (prefix == NULL && (prefix = getenv("RHAI_PREFIX")) != NULL && *prefix == '\0')
        prefix = NULL;
    if ((rc = rhai_client_connect(g->url, prefix, out, &err)) != 0)
        return ctl_report_rc(rc, &err);
    return 0;
}

/* ======================== plain Redis ======================== */

#define CTL_REDIS_CONNECT_MS 5000
#define CTL_REDIS_IO_MS 10000

int ctl_redis_fail(ctl_redis *r, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    r->code = code;
    if (!r->quiet)
        ctl_errorf(r->cmd, "%s", r->msg);
    return code;
}

/* One setup command (AUTH, SELECT) on a new connection: 0 / -1. */
static int redis_setup(ctl_redis *r, redisContext *rc, int argc, const char **argv)
{
    size_t lens[3];
    redisReply *rep;
    int ok;

    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    rep = redisCommandArgv(rc, argc, argv, lens);
    if (rep == NULL) {
        ctl_redis_fail(r, CTL_EXIT_CONN, "%s: %s failed: %s", r->where, argv[0],
                   rc->errstr[0] ? rc->errstr : "connection lost");
        return -1;
    }
    ok = rep->type != REDIS_REPLY_ERROR;
    if (!ok)
        ctl_redis_fail(r, CTL_EXIT_CONN, "%s: %s refused: %s", r->where, argv[0], rep->str);
    freeReplyObject(rep);
    return ok ? 0 : -1;
}

int ctl_redis_reopen(ctl_redis *r)
{
    struct timeval tv = { CTL_REDIS_CONNECT_MS / 1000, 0 };
    struct timeval io = { CTL_REDIS_IO_MS / 1000, 0 };
    const char *argv[3];
    char db[16];
    redisContext *rc;
    int n = 0;

    ctl_redis_close(r);
    rc = r->url.is_unix ? redisConnectUnixWithTimeout(r->url.path, tv)
                        : redisConnectWithTimeout(r->url.host, r->url.port, tv);
    if (rc == NULL) {
        ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory connecting to %s", r->where);
        return r->code;
    }
    if (rc->err) {
        ctl_redis_fail(r, CTL_EXIT_CONN, "cannot connect to %s: %s", r->where, rc->errstr);
        redisFree(rc);
        return r->code;
    }
    if (redisSetTimeout(rc, io) != REDIS_OK) {
        ctl_redis_fail(r, CTL_EXIT_CONN, "%s: cannot set a socket timeout: %s", r->where,
                   rc->errstr);
        redisFree(rc);
        return r->code;
    }
    if (r->url.pass[0]) {
        argv[n++] = "AUTH";
        if (r->url.user[0])
            argv[n++] = r->url.user;
        argv[n++] = r->url.pass;
        if (redis_setup(r, rc, n, argv) != 0) {
            redisFree(rc);
            return r->code;
        }
    }
    if (r->url.db != 0) {
        snprintf(db, sizeof db, "%d", r->url.db);
        argv[0] = "SELECT";
        argv[1] = db;
        if (redis_setup(r, rc, 2, argv) != 0) {
            redisFree(rc);
            return r->code;
        }
    }
    r->rc = rc;
    return 0;
}

int ctl_redis_open(const ctl_global *g, const char *cmd, ctl_redis *r)
{
    const char *url = g->url, *prefix = g->prefix;
    rhai_error err = { 0, "" };

    memset(r, 0, sizeof *r);
    r->cmd = cmd;
    if (url == NULL)
        url = getenv("RHAI_REDIS_URL");          /* NULL or "": the default */
    if (prefix == NULL && (prefix = getenv("RHAI_PREFIX")) != NULL && *prefix == '\0')
        prefix = NULL;
    if (prefix == NULL)
        prefix = "rhai";
    if (rh_url_parse(url, &r->url, &err) != 0) {
        ctl_redis_fail(r, CTL_EXIT_USAGE, "%s", err.msg[0] ? err.msg : "invalid Redis URL");
        return r->code;
    }
    if (strlen(prefix) > RH_PREFIX_MAX || !rh_name_valid(prefix)) {
        ctl_redis_fail(r, CTL_EXIT_USAGE, "invalid key prefix '%.64s' (1..%d of "
                   "[A-Za-z0-9_.:@-])", prefix, RH_PREFIX_MAX);
        return r->code;
    }
    memcpy(r->prefix, prefix, strlen(prefix) + 1);
    rh_url_format_safe(&r->url, r->where, sizeof r->where);
    return ctl_redis_reopen(r);
}

void ctl_redis_close(ctl_redis *r)
{
    if (r->rc)
        redisFree(r->rc);
    r->rc = NULL;
}

/* A reply just read: NULL means the connection broke; an error reply is
 * reported and freed. */
static redisReply *redis_check(ctl_redis *r, redisReply *rep)
{
    if (rep == NULL) {
        ctl_redis_fail(r, CTL_EXIT_CONN, "connection to %s lost: %s", r->where,
                   r->rc && r->rc->errstr[0] ? r->rc->errstr : "no reply");
        ctl_redis_close(r);
        return NULL;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        ctl_redis_fail(r, CTL_EXIT_FAILED, "%s: %s", r->where, rep->str);
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

redisReply *ctl_redis_command(ctl_redis *r, const char *fmt, ...)
{
    va_list ap;
    redisReply *rep;

    if (r->rc == NULL) {
        ctl_redis_fail(r, CTL_EXIT_CONN, "not connected to %s", r->where);
        return NULL;
    }
    va_start(ap, fmt);
    rep = redisvCommand(r->rc, fmt, ap);
    va_end(ap);
    return redis_check(r, rep);
}

int ctl_redis_append(ctl_redis *r, const char *fmt, ...)
{
    va_list ap;
    int rc;

    if (r->rc == NULL) {
        ctl_redis_fail(r, CTL_EXIT_CONN, "not connected to %s", r->where);
        return -1;
    }
    va_start(ap, fmt);
    rc = redisvAppendCommand(r->rc, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) {
        ctl_redis_fail(r, CTL_EXIT_FAILED, "cannot queue a command: %s", r->rc->errstr);
        return -1;
    }
    return 0;
}

int ctl_redis_append_argv(ctl_redis *r, int argc, const char **argv)
{
    if (r->rc == NULL) {
        ctl_redis_fail(r, CTL_EXIT_CONN, "not connected to %s", r->where);
        return -1;
    }
    /* NULL lengths: every argument is a C string */
    if (redisAppendCommandArgv(r->rc, argc, argv, NULL) != REDIS_OK) {
        ctl_redis_fail(r, CTL_EXIT_FAILED, "cannot queue a command: %s", r->rc->errstr);
        return -1;
    }
    return 0;
}

redisReply *ctl_redis_reply(ctl_redis *r)
{
    void *rep = NULL;

    if (r->rc == NULL) {
        ctl_redis_fail(r, CTL_EXIT_CONN, "not connected to %s", r->where);
        return NULL;
    }
    if (redisGetReply(r->rc, &rep) != REDIS_OK)
        rep = NULL;
    return redis_check(r, rep);
}

long long ctl_reply_ll(const redisReply *e, long long def)
{
    long long v;
    char *end;

    if (e == NULL)
        return def;
    if (e->type == REDIS_REPLY_INTEGER)
        return e->integer;
    if (e->type != REDIS_REPLY_STRING || e->len == 0)
        return def;
    errno = 0;
    v = strtoll(e->str, &end, 10);
    return errno == 0 && *end == '\0' ? v : def;
}

const char *ctl_reply_str(const redisReply *e)
{
    return e && e->type == REDIS_REPLY_STRING ? e->str : NULL;
}
