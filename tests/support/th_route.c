/* th_route.c -- test support: hiredis commands that follow Redis Cluster
 * redirections, so a test that talks to Redis by key through hiredis runs
 * unchanged on one server and on a cluster (ctest's NAME_cluster tests).
 *
 * harness.h renames redisCommand, redisvCommand, redisCommandArgv,
 * redisAppendCommand, redisAppendCommandArgv and redisGetReply to the
 * th_rt_* functions below in every test source (not in this file, nor
 * when TH_NO_ROUTE is defined). On one server (RHAI_TEST_CLUSTER_NODES
 * unset) they only call hiredis. On a cluster a reply "MOVED SLOT H:P" or
 * "ASK SLOT H:P" is answered by sending the same command again on a
 * connection to H:P (ASKING first for ASK), up to 5 hops; those
 * connections are kept per address and closed at exit. A pipelined command
 * (redisAppendCommand) is remembered, formatted, until its reply is read,
 * so its redirection is followed the same way.
 *
 * KEYS and DBSIZE answer for the whole cluster (rt_keyless, rt_tagged_keys).
 * Limits: other key-less commands (SCAN, INFO, FLUSHALL, SCRIPT LOAD, ...)
 * reach only the node the test connected to (the seed); MULTI/EXEC
 * spanning a redirected key aborts (EXECABORT), as it would for a client
 * without cluster support. tests/cluster.cmake lists the tests left out. */
#define TH_NO_ROUTE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <hiredis/hiredis.h>

#include "harness.h"

#define RT_NODES 16
#define RT_PENDING 4096
#define TH_RT_MASTERS 8

static struct rt_node {
    char          addr[64];
    redisContext *c;
} rt_node[RT_NODES];

/* Pipelined commands not yet answered: context and formatted command. */
static struct rt_pending {
    redisContext *c;
    char         *cmd;
    int           len;
} rt_pending[RT_PENDING];
static int rt_npending;

static int rt_on(void)
{
    const char *n = getenv("RHAI_TEST_CLUSTER_NODES");
    return n != NULL && *n != '\0';
}

static void rt_close_all(void)
{
    for (int i = 0; i < RT_NODES; i++)
        if (rt_node[i].c)
            redisFree(rt_node[i].c);
    for (int i = 0; i < rt_npending; i++)
        free(rt_pending[i].cmd);
    memset(rt_node, 0, sizeof rt_node);
    rt_npending = 0;
}

static redisContext *rt_conn(const char *addr)
{
    static int registered;
    struct timeval tv = { 2, 0 };
    char host[64];
    const char *colon = strrchr(addr, ':');
    int free_slot = -1;

    for (int i = 0; i < RT_NODES; i++) {
        if (rt_node[i].c && strcmp(rt_node[i].addr, addr) == 0) {
            if (rt_node[i].c->err == 0)
                return rt_node[i].c;
            redisFree(rt_node[i].c);           /* that node went down: redial */
            rt_node[i].c = NULL;
        }
        if (rt_node[i].c == NULL && free_slot < 0)
            free_slot = i;
    }
    if (colon == NULL || free_slot < 0 || (size_t)(colon - addr) >= sizeof host)
        return NULL;
    if (!registered) {
        atexit(rt_close_all);
        registered = 1;
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    rt_node[free_slot].c = redisConnectWithTimeout(host, atoi(colon + 1), tv);
    if (rt_node[free_slot].c && rt_node[free_slot].c->err) {
        redisFree(rt_node[free_slot].c);
        rt_node[free_slot].c = NULL;
        return NULL;
    }
    snprintf(rt_node[free_slot].addr, sizeof rt_node[free_slot].addr, "%s", addr);
    return rt_node[free_slot].c;
}

/* The address of a MOVED/ASK error into addr; 1 = MOVED, 2 = ASK, 0 = no. */
static int rt_redirect(const redisReply *r, char *addr, size_t n)
{
    int kind;
    const char *p;

    if (r == NULL || r->type != REDIS_REPLY_ERROR)
        return 0;
    if (strncmp(r->str, "MOVED ", 6) == 0)
        kind = 1;
    else if (strncmp(r->str, "ASK ", 4) == 0)
        kind = 2;
    else
        return 0;
    if ((p = strrchr(r->str, ' ')) == NULL)
        return 0;
    snprintf(addr, n, "%s", p + 1);
    return kind;
}

/* Follow the redirections of 'r' (the reply to the formatted 'cmd'). */
static redisReply *rt_follow(redisReply *r, const char *cmd, int len)
{
    char addr[64];
    int kind;

    for (int hop = 0; hop < 5 && (kind = rt_redirect(r, addr, sizeof addr)) != 0; hop++) {
        redisContext *c = rt_conn(addr);
        void *rep = NULL;

        if (c == NULL)
            return r;               /* the redirection stays the answer */
        freeReplyObject(r);
        if (kind == 2) {
            redisAppendCommand(c, "ASKING");
            if (redisGetReply(c, &rep) == REDIS_OK && rep)
                freeReplyObject(rep);
            rep = NULL;
        }
        if (redisAppendFormattedCommand(c, cmd, (size_t)len) != REDIS_OK ||
            redisGetReply(c, &rep) != REDIS_OK)
            return NULL;
        r = rep;
    }
    return r;
}

/* The arguments of a formatted command (RESP array of bulk strings):
 * their count, up to max, pointers into cmd and lengths. */
static int rt_args(const char *cmd, int len, const char **arg, size_t *alen, int max)
{
    const char *p = cmd, *end = cmd + len;
    int n, i;

    if (len < 4 || *p != '*')
        return 0;
    n = atoi(p + 1);
    if ((p = strstr(p, "\r\n")) == NULL)
        return 0;
    p += 2;
    for (i = 0; i < n && i < max && p < end && *p == '$'; i++) {
        alen[i] = (size_t)atol(p + 1);
        if ((p = strstr(p, "\r\n")) == NULL)
            return i;
        arg[i] = p + 2;
        p += 2 + alen[i] + 2;
    }
    return i;
}

static int rt_is(const char *a, size_t n, const char *name)
{
    return n == strlen(name) && strncasecmp(a, name, n) == 0;
}

/* The connections to every master of the cluster (ROLE says master). */
static int rt_masters(redisContext **out, int max)
{
    char nodes[512], *save = NULL;
    int n = 0;

    snprintf(nodes, sizeof nodes, "%s", getenv("RHAI_TEST_CLUSTER_NODES"));
    for (char *a = strtok_r(nodes, ",", &save); a && n < max; a = strtok_r(NULL, ",", &save)) {
        redisContext *c = rt_conn(a);
        redisReply *r = c ? redisCommand(c, "ROLE") : NULL;
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
            r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "master") == 0)
            out[n++] = c;
        if (r)
            freeReplyObject(r);
    }
    return n;
}

/* KEYS and DBSIZE over a cluster, as one server would answer: KEYS whose
 * pattern has a hash tag {..} on the node of that tag (found by a probe,
 * EXISTS of the pattern itself, which hashes like the tag), else on every
 * master with the answers merged. NULL: not such a command. */
static redisReply *rt_keyless(const char *cmd, int len)
{
    const char *arg[3];
    size_t alen[3];
    int n = rt_args(cmd, len, arg, alen, 3);
    redisContext *m[TH_RT_MASTERS];
    int nm;
    char *resp = NULL;
    size_t rlen = 0;
    long long total = 0, count = 0;
    FILE *f;
    redisReader *rd;
    void *out = NULL;

    if (n == 2 && rt_is(arg[0], alen[0], "KEYS") && memchr(arg[1], '{', alen[1]))
        return NULL;                        /* routed by the probe in th_rt_vcommand */
    if (!((n == 2 && rt_is(arg[0], alen[0], "KEYS")) || (n == 1 && rt_is(arg[0], alen[0], "DBSIZE"))))
        return NULL;
    nm = rt_masters(m, TH_RT_MASTERS);
    if ((f = open_memstream(&resp, &rlen)) == NULL)
        return NULL;
    for (int i = 0; i < nm; i++) {
        redisReply *r;
        if (redisAppendFormattedCommand(m[i], cmd, (size_t)len) != REDIS_OK ||
            redisGetReply(m[i], (void **)&r) != REDIS_OK)
            continue;
        if (r->type == REDIS_REPLY_INTEGER)
            total += r->integer;
        for (size_t k = 0; r->type == REDIS_REPLY_ARRAY && k < r->elements; k++, count++)
            fprintf(f, "$%zu\r\n%s\r\n", r->element[k]->len, r->element[k]->str);
        freeReplyObject(r);
    }
    fclose(f);
    rd = redisReaderCreate();
    if (rt_is(arg[0], alen[0], "DBSIZE")) {
        char num[40];
        int k = snprintf(num, sizeof num, ":%lld\r\n", total);
        redisReaderFeed(rd, num, (size_t)k);
    } else {
        char head[40];
        int k = snprintf(head, sizeof head, "*%lld\r\n", count);
        redisReaderFeed(rd, head, (size_t)k);
        redisReaderFeed(rd, resp, rlen);
    }
    if (redisReaderGetReply(rd, &out) != REDIS_OK)
        out = NULL;
    redisReaderFree(rd);
    free(resp);
    return out;
}

/* A command whose first key is a KEYS pattern with a hash tag: probe
 * EXISTS PATTERN (same slot) and send it where that leads. */
static redisReply *rt_tagged_keys(redisContext *c, const char *cmd, int len)
{
    const char *arg[3];
    size_t alen[3];
    char probe[600];
    int n = rt_args(cmd, len, arg, alen, 3);
    redisReply *r;
    char addr[64];

    if (n != 2 || !rt_is(arg[0], alen[0], "KEYS") || !memchr(arg[1], '{', alen[1]) ||
        alen[1] >= 500)
        return NULL;
    snprintf(probe, sizeof probe, "%.*s", (int)alen[1], arg[1]);
    r = redisCommand(c, "EXISTS %s", probe);
    if (rt_redirect(r, addr, sizeof addr) == 1 && (c = rt_conn(addr)) == NULL)
        c = NULL;
    if (r)
        freeReplyObject(r);
    if (c == NULL || redisAppendFormattedCommand(c, cmd, (size_t)len) != REDIS_OK ||
        redisGetReply(c, (void **)&r) != REDIS_OK)
        return NULL;
    return r;
}

void *th_rt_vcommand(redisContext *c, const char *fmt, va_list ap)
{
    char *cmd = NULL;
    int len;
    redisReply *r;

    if (!rt_on())
        return redisvCommand(c, fmt, ap);
    if ((len = redisvFormatCommand(&cmd, fmt, ap)) < 0)
        return NULL;
    if ((r = rt_keyless(cmd, len)) != NULL || (r = rt_tagged_keys(c, cmd, len)) != NULL) {
        free(cmd);
        return r;
    }
    if (redisAppendFormattedCommand(c, cmd, (size_t)len) == REDIS_OK) {
        void *rep = NULL;
        if (redisGetReply(c, &rep) == REDIS_OK)
            r = rt_follow(rep, cmd, len);
    }
    free(cmd);
    return r;
}

void *th_rt_command(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    void *r;

    va_start(ap, fmt);
    r = th_rt_vcommand(c, fmt, ap);
    va_end(ap);
    return r;
}

void *th_rt_command_argv(redisContext *c, int argc, const char **argv, const size_t *argvlen)
{
    char *cmd = NULL;
    long long len;
    redisReply *r = NULL;

    if (!rt_on())
        return redisCommandArgv(c, argc, argv, argvlen);
    if ((len = redisFormatCommandArgv(&cmd, argc, argv, argvlen)) < 0)
        return NULL;
    if ((r = rt_keyless(cmd, (int)len)) != NULL || (r = rt_tagged_keys(c, cmd, (int)len)) != NULL) {
        free(cmd);
        return r;
    }
    if (redisAppendFormattedCommand(c, cmd, (size_t)len) == REDIS_OK) {
        void *rep = NULL;
        if (redisGetReply(c, &rep) == REDIS_OK)
            r = rt_follow(rep, cmd, (int)len);
    }
    free(cmd);
    return r;
}

static int rt_remember(redisContext *c, char *cmd, int len)
{
    int rc = redisAppendFormattedCommand(c, cmd, (size_t)len);

    if (rc != REDIS_OK || rt_npending == RT_PENDING) {
        free(cmd);
        return rc;
    }
    rt_pending[rt_npending].c = c;
    rt_pending[rt_npending].cmd = cmd;
    rt_pending[rt_npending].len = len;
    rt_npending++;
    return rc;
}

int th_rt_append(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    char *cmd = NULL;
    int len;

    va_start(ap, fmt);
    if (!rt_on()) {
        int rc = redisvAppendCommand(c, fmt, ap);
        va_end(ap);
        return rc;
    }
    len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    if (len < 0)
        return REDIS_ERR;
    return rt_remember(c, cmd, len);
}

int th_rt_append_argv(redisContext *c, int argc, const char **argv, const size_t *argvlen)
{
    char *cmd = NULL;
    long long len;

    if (!rt_on())
        return redisAppendCommandArgv(c, argc, argv, argvlen);
    if ((len = redisFormatCommandArgv(&cmd, argc, argv, argvlen)) < 0)
        return REDIS_ERR;
    return rt_remember(c, cmd, (int)len);
}

int th_rt_get_reply(redisContext *c, void **reply)
{
    int rc = redisGetReply(c, reply);
    int i;

    if (!rt_on())
        return rc;
    for (i = 0; i < rt_npending && rt_pending[i].c != c; i++)
        ;
    if (i == rt_npending)
        return rc;                 /* not pipelined by us (pub/sub, ...) */
    if (rc == REDIS_OK && reply && *reply)
        *reply = rt_follow(*reply, rt_pending[i].cmd, rt_pending[i].len);
    free(rt_pending[i].cmd);
    memmove(&rt_pending[i], &rt_pending[i + 1], (size_t)(rt_npending - i - 1) * sizeof *rt_pending);
    rt_npending--;
    return rc;
}

int th_kill(pid_t pid, int sig)
{
    if (pid <= 0) {
        fprintf(stderr, "harness: kill(%d, %d) refused: not one process\n", (int)pid, sig);
        errno = ESRCH;
        return -1;
    }
    return kill(pid, sig);
}
