/* redis.c -- rhaictl's Redis connections.
 *
 * Two kinds: the client library's rhai_client (ctl_connect) for submit,
 * wait and task, and a plain blocking link of the Redis layer (ctl_redis_*,
 * common/rlink.h: TLS, AUTH/SELECT, routed by slot on a Redis Cluster) for
 * the monitoring and admin commands, which read keys the library has no
 * call for. Both take the URL (and the RHAI_REDIS_TLS_* settings) and
 * prefix from the global options or the environment and report failures
 * as exit codes (ctl.h); both are configured by the same code
 * (rh_link_config), so they reach the same server, user and db and word
 * failures alike. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "common/rlink.h"

/* The key prefix of the global options: --prefix, else $RHAI_PREFIX when
 * set and not empty, else NULL (the library's default). */
static const char *redis_prefix(const ctl_global *g)
{
    const char *prefix = g->prefix;

    if (prefix == NULL && (prefix = getenv("RHAI_PREFIX")) != NULL && *prefix == '\0')
        prefix = NULL;
    return prefix;
}

/* ======================== the client library ======================== */

int ctl_connect(const ctl_global *g, rhai_client **out)
{
    rhai_error err = { 0, "" };
    int rc;

    if ((rc = rhai_client_connect(g->url, redis_prefix(g), out, &err)) != 0)
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

int ctl_redis_reopen(ctl_redis *r)
{
    rhai_error err = { 0, "" };
    rh_redis_cfg cfg = r->cfg;
    rh_cluster_opts opts = { 0, r->retry_ms };
    int rc;

    ctl_redis_close(r);
    cfg.connect_ms = CTL_REDIS_CONNECT_MS;
    cfg.io_ms = CTL_REDIS_IO_MS;
    if (r->direct)
        rc = rh_sconn_open(&cfg, r->where, &r->raw, &err);
    else
        rc = rh_link_open_opts(&cfg, &opts, &r->link, &err);
    if (rc != 0)
        return ctl_redis_fail(r, rc == RHAI_ENOMEM ? CTL_EXIT_FAILED : CTL_EXIT_CONN, "%s",
                              err.msg);
    return 0;
}

int ctl_redis_open(const ctl_global *g, const char *cmd, ctl_redis *r)
{
    return ctl_redis_open_retry(g, cmd, 0, r);
}

int ctl_redis_open_retry(const ctl_global *g, const char *cmd, int64_t retry_ms, ctl_redis *r)
{
    rhai_error err = { 0, "" };

    memset(r, 0, sizeof *r);
    r->cmd = cmd;
    r->retry_ms = retry_ms;
    /* the library's rules: a bad URL is named first, then a bad prefix */
    if (rh_link_config(g->url, redis_prefix(g), &r->cfg, r->prefix, &err) != 0)
        return ctl_redis_fail(r, CTL_EXIT_USAGE, "%s",
                              err.msg[0] ? err.msg : "invalid Redis URL");
    rh_redis_cfg_where(&r->cfg, r->where, sizeof r->where);
    return ctl_redis_reopen(r);
}

static void pend_free(ctl_redis *r)
{
    for (int i = 0; i < r->npend; i++) {
        rh_free(r->pend[i].raw);
        rh_free(r->pend[i].argv);
        rh_free(r->pend[i].lens);
    }
    rh_free(r->pend);
    rh_free(r->pend_argc);
    r->pend = NULL;
    r->pend_argc = NULL;
    r->npend = r->pend_cap = r->pend_read = 0;
    r->pend_sent = 0;
}

void ctl_redis_close(ctl_redis *r)
{
    rh_link_free(r->link);
    r->link = NULL;
    rh_sconn_free(r->raw);
    r->raw = NULL;
    pend_free(r);
    rh_free(r->vargv);
    rh_free(r->vlens);
    r->vargv = NULL;
    r->vlens = NULL;
}

int ctl_redis_up(const ctl_redis *r)
{
    return r->link != NULL || r->raw != NULL;
}

/* A failure of the link: reported, the connection dropped. */
static redisReply *redis_lost(ctl_redis *r, int rc, const rhai_error *e)
{
    ctl_redis_fail(r, rc == RHAI_ENOMEM ? CTL_EXIT_FAILED : CTL_EXIT_CONN,
                   "connection to %s lost: %s", r->where, e->msg[0] ? e->msg : "no reply");
    ctl_redis_close(r);
    return NULL;
}

/* A reply just read: an error reply is reported and freed. */
static redisReply *redis_check(ctl_redis *r, redisReply *rep)
{
    if (rep->type == REDIS_REPLY_ERROR) {
        ctl_redis_fail(r, CTL_EXIT_FAILED, "%s: %s", r->where, rep->str);
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

/* Split a command encoded by redisFormatCommand ("*N\r\n$L\r\n...") into
 * *p: argv points into p->raw (which it takes). 0 or -1 (out of memory). */
static int resp_split(char *raw, int n, ctl_redis_cmd *p)
{
    const char *s = raw, *end = raw + n;
    long argc = strtol(s + 1, NULL, 10);

    p->raw = raw;
    p->argc = 0;
    p->argv = rh_calloc((size_t)(argc > 0 ? argc : 1), sizeof *p->argv);
    p->lens = rh_calloc((size_t)(argc > 0 ? argc : 1), sizeof *p->lens);
    if (p->argv == NULL || p->lens == NULL)
        return -1;
    s = strchr(s, '\n') + 1;
    for (long i = 0; i < argc && s < end; i++) {
        long len = strtol(s + 1, NULL, 10);
        s = strchr(s, '\n') + 1;
        p->argv[i] = s;
        p->lens[i] = (size_t)len;
        s += len + 2;
        p->argc++;
    }
    return 0;
}

/* Queue one command encoded by hiredis ('raw', n bytes; freed here).
 * 0 or -1 (reported). */
static int pend_add(ctl_redis *r, char *raw, int n)
{
    ctl_redis_cmd *p;
    char *own;

    if (r->pend_sent)                    /* replies of an earlier batch unread */
        pend_free(r);
    if (r->npend == r->pend_cap) {
        int cap = r->pend_cap ? r->pend_cap * 2 : 8;
        ctl_redis_cmd *np = rh_realloc(r->pend, (size_t)cap * sizeof *np);
        int *na = np ? rh_realloc(r->pend_argc, (size_t)cap * sizeof *na) : NULL;
        if (np)
            r->pend = np;
        if (na == NULL) {
            redisFreeCommand(raw);
            ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory");
            return -1;
        }
        r->pend_argc = na;
        r->pend_cap = cap;
    }
    /* hiredis allocates with malloc: a copy of ours, which rh_free frees */
    if ((own = rh_malloc((size_t)n + 1)) != NULL)
        memcpy(own, raw, (size_t)n + 1);
    redisFreeCommand(raw);
    p = &r->pend[r->npend];
    memset(p, 0, sizeof *p);
    if (own == NULL || resp_split(own, n, p) != 0) {
        if (p->raw == NULL)
            rh_free(own);
        r->npend++;                      /* what was allocated goes with the rest */
        ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory");
        return -1;
    }
    r->pend_argc[r->npend++] = p->argc;
    return 0;
}

static int pend_push(ctl_redis *r, const char *fmt, va_list ap)
{
    char *raw = NULL;
    int n = redisvFormatCommand(&raw, fmt, ap);

    if (n < 0 || raw == NULL) {
        ctl_redis_fail(r, CTL_EXIT_FAILED, "cannot format the command '%.40s'", fmt);
        return -1;
    }
    return pend_add(r, raw, n);
}

/* Send what is queued (once), then read the next reply. */
static redisReply *pend_next(ctl_redis *r)
{
    redisReply *rep = NULL;
    rhai_error err = { 0, "" };
    int rc;

    if (!ctl_redis_up(r)) {
        ctl_redis_fail(r, CTL_EXIT_CONN, "not connected to %s", r->where);
        return NULL;
    }
    if (r->pend_read >= r->npend) {
        ctl_redis_fail(r, CTL_EXIT_FAILED, "no reply pending");
        return NULL;
    }
    if (r->raw) {
        if (!r->pend_sent) {
            for (int i = 0; i < r->npend; i++)
                if ((rc = rh_sconn_append_argv(r->raw, r->pend[i].argc, r->pend[i].argv,
                                               r->pend[i].lens, &err)) != 0)
                    return redis_lost(r, rc, &err);
            r->pend_sent = 1;
        }
        rc = rh_sconn_get_reply(r->raw, &rep, &err);
    } else {
        if (!r->pend_sent) {
            /* rh_link keeps the vectors until every reply is read */
            const char ***va = rh_realloc(r->vargv, (size_t)r->npend * sizeof *va);
            const size_t **vl = va ? rh_realloc(r->vlens, (size_t)r->npend * sizeof *vl) : NULL;
            if (va)
                r->vargv = va;
            if (vl == NULL) {
                ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory");
                return NULL;
            }
            r->vlens = vl;
            for (int i = 0; i < r->npend; i++) {
                r->vargv[i] = r->pend[i].argv;
                r->vlens[i] = r->pend[i].lens;
            }
            if ((rc = rh_link_send(r->link, r->npend, r->pend_argc,
                                   (const char **const *)r->vargv,
                                   (const size_t *const *)r->vlens, &err)) != 0)
                return redis_lost(r, rc, &err);
            r->pend_sent = 1;
        }
        rc = rh_link_read(r->link, 1, &rep, &err);
    }
    if (rc != 0)
        return redis_lost(r, rc, &err);
    if (++r->pend_read >= r->npend)
        pend_free(r);
    return redis_check(r, rep);
}

redisReply *ctl_redis_command(ctl_redis *r, const char *fmt, ...)
{
    va_list ap;
    int rc;

    if (!ctl_redis_up(r)) {
        ctl_redis_fail(r, CTL_EXIT_CONN, "not connected to %s", r->where);
        return NULL;
    }
    pend_free(r);
    va_start(ap, fmt);
    rc = pend_push(r, fmt, ap);
    va_end(ap);
    return rc == 0 ? pend_next(r) : NULL;
}

int ctl_redis_append(ctl_redis *r, const char *fmt, ...)
{
    va_list ap;
    int rc;

    if (!ctl_redis_up(r)) {
        ctl_redis_fail(r, CTL_EXIT_CONN, "not connected to %s", r->where);
        return -1;
    }
    va_start(ap, fmt);
    rc = pend_push(r, fmt, ap);
    va_end(ap);
    return rc;
}

int ctl_redis_append_argv(ctl_redis *r, int argc, const char **argv)
{
    char *raw = NULL;
    int n;

    if (!ctl_redis_up(r)) {
        ctl_redis_fail(r, CTL_EXIT_CONN, "not connected to %s", r->where);
        return -1;
    }
    /* NULL lengths: every argument is a C string */
    n = redisFormatCommandArgv(&raw, argc, argv, NULL);
    if (n < 0 || raw == NULL) {
        ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory");
        return -1;
    }
    return pend_add(r, raw, n);
}

redisReply *ctl_redis_reply(ctl_redis *r)
{
    return pend_next(r);
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

/* One SCAN step on the master of 'slot' (RH_CLUSTER_ANY: the only
 * server), or on the direct connection. NULL after reporting why. */
static redisReply *scan_step(ctl_redis *r, int slot, const char *cursor, const char *match)
{
    const char *argv[] = { "SCAN", cursor, "MATCH", match, "COUNT", "1000" };
    rhai_error err = { 0, "" };
    redisReply *rep = NULL;
    int rc;

    if (r->link == NULL)
        return ctl_redis_command(r, "SCAN %s MATCH %s COUNT 1000", cursor, match);
    if ((rc = rh_link_command_slot(r->link, slot, 6, argv, NULL, &rep, &err)) != 0)
        return redis_lost(r, rc, &err);
    return redis_check(r, rep);
}

int ctl_redis_scan_workers(ctl_redis *r, const char *kind,
                           int (*fn)(void *u, const char *worker), void *u)
{
    char match[RH_KEY_MAX], cursor[32];
    int slots[256], nm = 1;
    size_t plen;
    redisReply *rep;

    snprintf(match, sizeof match, "%s:%s:*", r->prefix, kind);
    plen = strlen(match) - 1;                       /* "<prefix>:KIND:" */
    slots[0] = RH_CLUSTER_ANY;
    if (r->link)                                    /* a cluster: every master */
        nm = rh_link_masters(r->link, slots, 256);
    for (int m = 0; m < nm; m++) {
        snprintf(cursor, sizeof cursor, "0");
        do {
            if ((rep = scan_step(r, slots[m], cursor, match)) == NULL)
                return r->code;
            if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
                ctl_reply_str(rep->element[0]) == NULL ||
                rep->element[1]->type != REDIS_REPLY_ARRAY) {
                freeReplyObject(rep);
                return ctl_redis_fail(r, CTL_EXIT_FAILED, "SCAN: unexpected reply");
            }
            snprintf(cursor, sizeof cursor, "%s", rep->element[0]->str);
            for (size_t i = 0; i < rep->element[1]->elements; i++) {
                const char *k = ctl_reply_str(rep->element[1]->element[i]);
                size_t klen = k ? strlen(k) : 0;
                char name[RH_NAME_MAX + 1];

                /* "<prefix>:KIND:{W}" exactly: braces around a plain name */
                if (klen < plen + 3 || klen - plen - 2 > RH_NAME_MAX || k[plen] != '{' ||
                    k[klen - 1] != '}')
                    continue;
                memcpy(name, k + plen + 1, klen - plen - 2);
                name[klen - plen - 2] = '\0';
                if (!rh_name_valid(name))
                    continue;
                if (fn(u, name) != 0) {
                    freeReplyObject(rep);
                    return ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory");
                }
            }
            freeReplyObject(rep);
        } while (strcmp(cursor, "0") != 0);
    }
    return 0;
}

/* ======================== the worker id of a task id ======================== */

typedef struct wlist {
    char (*w)[RH_NAME_MAX + 1];
    size_t n, cap;
} wlist;

static int wlist_add(void *u, const char *worker)
{
    wlist *l = u;

    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->w[i], worker) == 0)
            return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        void *p = rh_realloc(l->w, cap * sizeof *l->w);
        if (p == NULL)
            return -1;
        l->w = p;
        l->cap = cap;
    }
    snprintf(l->w[l->n++], RH_NAME_MAX + 1, "%s", worker);
    return 0;
}

/* The worker ids this Redis knows: the registry's members, the cron set,
 * and every W of a queue, instance set, task index, dead or delayed set. */
static int known_workers(ctl_redis *r, wlist *l)
{
    static const char *const kinds[] = { "queue", "instances", "tasks", "dead", "delayed" };
    char key[RH_KEY_MAX], w[RH_NAME_MAX + 1];
    redisReply *rep;
    int code;

    if ((rep = ctl_redis_command(r, "SMEMBERS %s", rh_key_workers(key, r->prefix))) == NULL)
        return r->code;
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++)
        if (ctl_reply_str(rep->element[i]) && rh_member_worker(rep->element[i]->str, w) == 0 &&
            wlist_add(l, w) != 0) {
            freeReplyObject(rep);
            return ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory");
        }
    freeReplyObject(rep);
    if ((rep = ctl_redis_command(r, "SMEMBERS %s", rh_key_cron_workers(key, r->prefix))) == NULL)
        return r->code;
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++)
        if (ctl_reply_str(rep->element[i]) && rh_name_valid(rep->element[i]->str) &&
            wlist_add(l, rep->element[i]->str) != 0) {
            freeReplyObject(rep);
            return ctl_redis_fail(r, CTL_EXIT_FAILED, "out of memory");
        }
    freeReplyObject(rep);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        if ((code = ctl_redis_scan_workers(r, kinds[k], wlist_add, l)) != 0)
            return code;
    return 0;
}

int ctl_task_worker(ctl_redis *r, const char *id, char worker[RH_NAME_MAX + 1])
{
    char key[RH_KEY_MAX];
    redisReply *rep;
    wlist l = { NULL, 0, 0 };
    int code = 1;

    if (!rh_name_valid(id))
        return 1;
    if ((rep = ctl_redis_command(r, "GET %s", rh_key_taskw(key, r->prefix, id))) == NULL)
        return r->code;
    if (ctl_reply_str(rep) && rep->len <= RH_NAME_MAX && rh_name_valid(rep->str)) {
        memcpy(worker, rep->str, rep->len + 1);
        freeReplyObject(rep);
        return 0;
    }
    freeReplyObject(rep);
    /* no hint (expired, or a task rhaid made: cron, events): search */
    if ((code = known_workers(r, &l)) != 0)
        goto out;
    code = 1;
    for (size_t i = 0; i < l.n; i++)
        if (ctl_redis_append(r, "EXISTS %s", rh_key_task(key, r->prefix, l.w[i], id)) != 0) {
            code = r->code;
            goto out;
        }
    for (size_t i = 0; i < l.n; i++) {
        if ((rep = ctl_redis_reply(r)) == NULL) {
            code = r->code;
            goto out;
        }
        if (code == 1 && rep->type == REDIS_REPLY_INTEGER && rep->integer > 0) {
            snprintf(worker, RH_NAME_MAX + 1, "%s", l.w[i]);
            code = 0;
        }
        freeReplyObject(rep);
    }
out:
    rh_free(l.w);
    return code;
}

char *ctl_task_key(ctl_redis *r, const char *id, char key[RH_KEY_MAX])
{
    char worker[RH_NAME_MAX + 1];

    if (!rh_name_valid(id) || ctl_task_worker(r, id, worker) != 0)
        snprintf(worker, sizeof worker, "-");
    return rh_key_task(key, r->prefix, worker, id);
}

int ctl_client_learn(const ctl_global *g, const char *cmd, rhai_client *c, const char *id)
{
    char worker[RH_NAME_MAX + 1];
    ctl_redis r;
    int code;

    if (!rh_name_valid(id))
        return 0;
    if ((code = ctl_redis_open(g, cmd, &r)) != 0)
        return code;
    /* 1: not found, the library's own lookup says so; > 1: the search
     * failed (a shard down), and "no such task" would be a guess */
    if ((code = ctl_task_worker(&r, id, worker)) == 0)
        rhai_client_remember(c, id, worker);
    ctl_redis_close(&r);
    return code > 1 ? code : 0;
}
