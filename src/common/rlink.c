/* rlink.c -- the blocking Redis link of the sync client and rhaictl
 * (rlink.h): configuration, slot of a command, routed pipelines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/rlink.h"

struct rh_link {
    rh_cluster *rt;
    /* a pipeline sent, its replies not all read yet */
    rh_sconn   *conn;                 /* pipelined on this node; NULL: buffered */
    redisReply **buf;                 /* buffered: sent one by one, replies here */
    int          n, pos;              /* commands sent, replies handed out */
    const int   *argcs;               /* the caller's commands (for redirects) */
    const char **const *argvs;
    const size_t *const *lens;
    /* buffered: command fail_at failed after the ones before it ran; its
     * error is the read's, not the send's (something was written) */
    int          fail_at;             /* -1: none */
    int          fail_rc;
    rhai_error   fail_err;
};

int rh_link_config(const char *url, const char *prefix, rh_redis_cfg *cfg,
                   char out_prefix[RH_PREFIX_MAX + 1], rhai_error *err)
{
    static const char *const env[][2] = {
        { "RHAI_REDIS_TLS_CA", "tls_ca" }, { "RHAI_REDIS_TLS_CERT", "tls_cert" },
        { "RHAI_REDIS_TLS_KEY", "tls_key" }, { "RHAI_REDIS_TLS_SNI", "tls_sni" },
        { "RHAI_REDIS_TLS_VERIFY", "tls_verify" },
    };
    rh_redis_cfg c;
    int rc;

    if (url == NULL)
        url = getenv("RHAI_REDIS_URL");          /* NULL or "": the default */
    if ((rc = rh_redis_cfg_init(&c, url, err)) != 0)
        return rc;
    for (size_t i = 0; c.url.tls && i < sizeof env / sizeof env[0]; i++) {
        const char *v = getenv(env[i][0]);
        if (v && v[0] && (rc = rh_redis_cfg_set(&c, env[i][1], v, err)) != 0)
            return rc;
    }
    if ((rc = rh_redis_cfg_check(&c, err)) != 0)
        return rc;
    if (prefix == NULL)
        prefix = RH_PREFIX_DEFAULT;
    if (strlen(prefix) > RH_PREFIX_MAX || !rh_name_valid(prefix))
        return rh_error_set(err, RHAI_EINVAL,
                            "invalid key prefix '%.64s' (1..%d of [A-Za-z0-9_.:@-])",
                            prefix, RH_PREFIX_MAX);
    memcpy(out_prefix, prefix, strlen(prefix) + 1);
    *cfg = c;
    return 0;
}

static int word_is(const char *a, size_t n, const char *w)
{
    return strlen(w) == n && strncasecmp(a, w, n) == 0;
}

static size_t arg_len(const char *const *argv, const size_t *lens, int i)
{
    return lens ? lens[i] : strlen(argv[i]);
}

int rh_link_cmd_slot(int argc, const char *const *argv, const size_t *lens)
{
    static const char *const nokey[] = {
        "MULTI", "EXEC", "DISCARD", "PING", "INFO", "SCRIPT", "SCAN", "PUBLISH", "SUBSCRIBE",
        "PSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "CLUSTER", "CLIENT", "CONFIG", "DBSIZE",
        "TIME", "KEYS", "FLUSHDB", "FLUSHALL", "AUTH", "SELECT", "ECHO", "HELLO", "COMMAND",
        "MONITOR", "SLOWLOG", "MEMORY", "LATENCY", "FUNCTION", "WAIT", "ROLE", "LASTSAVE",
        "PUBSUB", "ACL", "SAVE", "BGSAVE", "READONLY", "READWRITE", "ASKING", "QUIT",
    };
    size_t n0;

    if (argc < 1)
        return RH_CLUSTER_ANY;
    n0 = arg_len(argv, lens, 0);
    for (size_t i = 0; i < sizeof nokey / sizeof nokey[0]; i++)
        if (word_is(argv[0], n0, nokey[i]))
            return RH_CLUSTER_ANY;
    if (word_is(argv[0], n0, "EVAL") || word_is(argv[0], n0, "EVALSHA") ||
        word_is(argv[0], n0, "EVAL_RO") || word_is(argv[0], n0, "EVALSHA_RO") ||
        word_is(argv[0], n0, "FCALL") || word_is(argv[0], n0, "FCALL_RO")) {
        if (argc < 4 || atoi(argv[2]) <= 0)
            return RH_CLUSTER_ANY;
        return rh_keyslot(argv[3], arg_len(argv, lens, 3));
    }
    if (word_is(argv[0], n0, "XREAD") || word_is(argv[0], n0, "XREADGROUP")) {
        for (int i = 1; i + 1 < argc; i++)
            if (word_is(argv[i], arg_len(argv, lens, i), "STREAMS"))
                return rh_keyslot(argv[i + 1], arg_len(argv, lens, i + 1));
        return RH_CLUSTER_ANY;
    }
    if (argc < 2)
        return RH_CLUSTER_ANY;
    return rh_keyslot(argv[1], arg_len(argv, lens, 1));
}

int rh_link_resp_split(const char *cmd, size_t n, int max, const char **argv, size_t *lens)
{
    const char *s = cmd, *end = cmd + n, *nl;
    long argc;

    if (n < 4 || cmd[0] != '*' || (nl = memchr(s, '\n', n)) == NULL)
        return -1;
    argc = strtol(s + 1, NULL, 10);
    if (argc < 0 || argc > max)
        return -1;
    s = nl + 1;
    for (long i = 0; i < argc; i++) {
        long len;
        if (s >= end || *s != '$' || (nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
            return -1;
        len = strtol(s + 1, NULL, 10);
        s = nl + 1;
        if (len < 0 || len + 2 > end - s)
            return -1;
        argv[i] = s;
        lens[i] = (size_t)len;
        s += len + 2;
    }
    return (int)argc;
}

int rh_link_open(const rh_redis_cfg *cfg, rh_link **out, rhai_error *err)
{
    return rh_link_open_opts(cfg, NULL, out, err);
}

int rh_link_open_opts(const rh_redis_cfg *cfg, const rh_cluster_opts *opts, rh_link **out,
                      rhai_error *err)
{
    rh_link *l;
    int rc;

    *out = NULL;
    if ((l = rh_calloc(1, sizeof *l)) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    l->fail_at = -1;
    if ((rc = rh_cluster_open(cfg, opts, &l->rt, err)) != 0) {
        rh_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

static int starts(const redisReply *r, const char *word)
{
    size_t n = strlen(word);
    return (size_t)r->len >= n && memcmp(r->str, word, n) == 0 &&
           ((size_t)r->len == n || r->str[n] == ' ');
}

/* A reply that says the command did not run and is the router's to
 * handle: MOVED, ASK, TRYAGAIN (a migration) or CLUSTERDOWN (a failover in
 * progress, or a slot no node serves: the router retries until retry_ms). */
static int is_redirect(const redisReply *r)
{
    return r->type == REDIS_REPLY_ERROR && r->str &&
           (starts(r, "MOVED") || starts(r, "ASK") || starts(r, "TRYAGAIN") ||
            starts(r, "CLUSTERDOWN"));
}

/* The commands one by one through the router (several slots, or a
 * redirect inside a pipeline). */
static int one_by_one(rh_link *l, int from, int n, const int *argcs,
                      const char **const *argvs, const size_t *const *lens,
                      redisReply **replies, int *done, rhai_error *err)
{
    for (int i = from; i < n; i++) {
        int slot = rh_link_cmd_slot(argcs[i], argvs[i], lens[i]);
        size_t *own = NULL;
        const size_t *ln = lens[i];
        int rc;

        if (ln == NULL) {
            if ((own = rh_malloc((size_t)argcs[i] * sizeof *own + 1)) == NULL)
                rc = rh_error_set(err, RHAI_ENOMEM, "out of memory");
            else {
                for (int k = 0; k < argcs[i]; k++)
                    own[k] = strlen(argvs[i][k]);
                ln = own;
            }
        }
        rc = ln ? rh_cluster_command_argv(l->rt, slot, 0, argcs[i], argvs[i], ln,
                                          &replies[i], err) : RHAI_ENOMEM;
        rh_free(own);
        if (rc != 0) {
            if (done) {                      /* the caller keeps what ran */
                *done = i - from;
                return rc;
            }
            for (int k = from; k < i; k++) {
                freeReplyObject(replies[k]);
                replies[k] = NULL;
            }
            return rc;
        }
    }
    return 0;
}

static void pend_reset(rh_link *l)
{
    if (l->buf) {
        for (int i = l->pos; i < l->n; i++)
            if (l->buf[i])
                freeReplyObject(l->buf[i]);
        rh_free(l->buf);
        l->buf = NULL;
    } else if (l->conn) {                    /* read what is left: keep in step */
        for (int i = l->pos; i < l->n; i++) {
            redisReply *r = NULL;
            if (rh_sconn_get_reply(l->conn, &r, NULL) != 0)
                break;
            freeReplyObject(r);
        }
    }
    l->conn = NULL;
    l->n = l->pos = 0;
    l->fail_at = -1;
}

/* Send the commands one by one through the router, the replies kept
 * for rh_link_read. */
static int send_buffered(rh_link *l, int n, const int *argcs, const char **const *argvs,
                         const size_t *const *lens, rhai_error *err)
{
    int rc, done = 0;

    if ((l->buf = rh_calloc((size_t)n, sizeof *l->buf)) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    rc = one_by_one(l, 0, n, argcs, argvs, lens, l->buf, &done, &l->fail_err);
    if (rc != 0 && done == 0) {              /* nothing ran */
        if (err)
            *err = l->fail_err;
        rh_free(l->buf);
        l->buf = NULL;
        return rc;
    }
    if (rc != 0) {          /* the first ones ran: a submit's task is queued */
        l->fail_at = done;
        l->fail_rc = rc;
    }
    l->n = n;
    return 0;
}

int rh_link_send(rh_link *l, int n, const int *argcs, const char **const *argvs,
                 const size_t *const *lens, rhai_error *err)
{
    const rh_slot_map *m = rh_cluster_map(l->rt);
    int slot = RH_CLUSTER_ANY, rc = 0;
    rh_sconn *s;

    pend_reset(l);
    if (!m->single)
        for (int i = 0; i < n; i++) {
            int si = rh_link_cmd_slot(argcs[i], argvs[i], lens[i]);
            if (si == RH_CLUSTER_ANY || si == slot)
                continue;
            if (slot != RH_CLUSTER_ANY)          /* several slots: one by one */
                return send_buffered(l, n, argcs, argvs, lens, err);
            slot = si;
        }
    if ((rc = rh_cluster_conn(l->rt, slot, &s, err)) != 0) {
        /* The slot's master is unreachable (killed, a failover under way)
         * or no node serves it: nothing was sent, so the router may retry
         * each command until its retry_ms, as it does for several slots. */
        if (rc == RHAI_ECONN && !m->single)
            return send_buffered(l, n, argcs, argvs, lens, err);
        return rc;
    }
    for (int i = 0; i < n && rc == 0; i++)
        rc = rh_sconn_append_argv(s, argcs[i], argvs[i], lens[i], err);
    if (rc != 0)
        return rc;
    l->conn = s;
    l->n = n;
    l->argcs = argcs;
    l->argvs = argvs;
    l->lens = lens;
    return 0;
}

int rh_link_read(rh_link *l, int k, redisReply **replies, rhai_error *err)
{
    int rc = 0, i;

    for (i = 0; i < k && rc == 0; i++) {
        replies[i] = NULL;
        if (l->pos >= l->n) {
            rc = rh_error_set(err, RHAI_EINVAL, "no reply pending");
            break;
        }
        if (l->buf && l->pos == l->fail_at) {
            rc = l->fail_rc;
            if (err)
                *err = l->fail_err;
            break;
        }
        if (l->buf) {
            replies[i] = l->buf[l->pos];
            l->buf[l->pos++] = NULL;
            continue;
        }
        if ((rc = rh_sconn_get_reply(l->conn, &replies[i], err)) != 0)
            break;
        if (is_redirect(replies[i])) {       /* it did not run: the router's */
            freeReplyObject(replies[i]);
            replies[i] = NULL;
            rc = one_by_one(l, l->pos, l->pos + 1, l->argcs, l->argvs, l->lens,
                            replies + i - l->pos, NULL, err);
        }
        l->pos++;
    }
    if (rc != 0) {
        for (int j = 0; j < k; j++) {
            if (j < i && replies[j])
                freeReplyObject(replies[j]);
            replies[j] = NULL;
        }
        l->conn = NULL;                      /* its stream is out of step */
        pend_reset(l);
        return rc;
    }
    if (l->pos >= l->n)
        pend_reset(l);
    return 0;
}

int rh_link_pipeline(rh_link *l, int n, const int *argcs, const char **const *argvs,
                     const size_t *const *lens, redisReply **replies, rhai_error *err)
{
    int rc = rh_link_send(l, n, argcs, argvs, lens, err);
    return rc ? rc : rh_link_read(l, n, replies, err);
}

int rh_link_command(rh_link *l, int argc, const char **argv, const size_t *lens,
                    redisReply **reply, rhai_error *err)
{
    return rh_link_pipeline(l, 1, &argc, &argv, &lens, reply, err);
}

int rh_link_masters(rh_link *l, int *slots, int max)
{
    const rh_slot_map *m = rh_cluster_map(l->rt);
    int n = 0;

    if (max < 1)
        return 0;
    if (m->single) {
        slots[0] = RH_CLUSTER_ANY;
        return 1;
    }
    for (int s = 0; s < RH_CLUSTER_SLOTS && n < max; s++) {
        int seen = m->owner[s] < 0;
        for (int k = 0; k < n && !seen; k++)
            seen = m->owner[slots[k]] == m->owner[s];
        if (!seen)
            slots[n++] = s;
    }
    return n;
}

int rh_link_command_slot(rh_link *l, int slot, int argc, const char **argv,
                         const size_t *lens, redisReply **reply, rhai_error *err)
{
    size_t own[64];

    if (lens == NULL) {
        if (argc > 64)
            return rh_error_set(err, RHAI_EINVAL, "too many arguments");
        for (int i = 0; i < argc; i++)
            own[i] = strlen(argv[i]);
        lens = own;
    }
    pend_reset(l);
    return rh_cluster_command_argv(l->rt, slot, RH_CLUSTER_RESEND, argc, argv, lens, reply,
                                   err);
}

rh_cluster *rh_link_router(rh_link *l)
{
    return l->rt;
}

void rh_link_free(rh_link *l)
{
    if (l == NULL)
        return;
    l->conn = NULL;
    pend_reset(l);
    rh_cluster_free(l->rt);
    rh_free(l);
}
