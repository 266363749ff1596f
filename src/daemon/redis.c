/* redis.c -- rhaid's two Redis connections ("pop" and "cmd") on the loop,
 * over the Redis layer (common/rconn.h: connect, TLS, AUTH/SELECT/PING,
 * reconnect with backoff, guarded sends) and routed to the node that
 * serves the worker id's slot (common/rcluster.h).
 *
 * Every key an instance touches carries its worker id's tag {W} (key
 * layout v2, docs/protocol.md), so on a Redis Cluster all of an instance's
 * traffic lives on one shard: a wk_conn is one rh_aconn pointed at the
 * master of slot({W}). At start rhaid reads the slot map once
 * (wk_redis_probe); a MOVED reply later (the slot was resharded or its
 * master failed over) points both connections at the node it names, and
 * they reconnect there (rh_aconn_retarget). On a plain Redis the map is
 * one node and nothing ever moves.
 *
 * What a wk_conn keeps of its own is only this routing; the rest (the
 * handshake, backoff with jitter, the rate-limited redis_* log events,
 * guarded sends that refuse with RHAI_ECONN while down) is rh_aconn's. */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "common/rcluster.h"
#include "common/rlink.h"
#include "daemon.h"

#define ROUTE_ARGS_MAX 512      /* a routed command's arguments (the relay's) */

static void conn_up(rh_aconn *ac, void *data)
{
    wk_conn *c = data;
    (void)ac;
    c->up = 1;
    if (c->on_up)
        c->on_up(c, c->data);
}

static void conn_down(rh_aconn *ac, void *data)
{
    wk_conn *c = data;
    (void)ac;
    c->up = 0;
    if (c->on_down)
        c->on_down(c, c->data);
}

static void conn_closed(rh_aconn *ac, void *data)
{
    wk_conn *c = data;
    (void)ac;
    c->ac = NULL;
    if (c->on_closed)
        c->on_closed(c, c->data);
}

/* A MOVED for the slot of {W}: both connections go to the new owner. An
 * ASK (the slot is migrating key by key) is not followed: the command's
 * caller sees the error reply and retries as after any error, and the
 * migration ends in a MOVED. */
static void conn_redirect(rh_aconn *ac, const redisReply *r, void *data)
{
    wk_conn *c = data;
    rh_redirect rd;
    rhai_error e;
    int port = 0;
    const char *host;

    (void)ac;
    if (rh_redirect_parse(r->str, r->len, &rd, NULL) != 0 || rd.ask)
        return;
    if (rd.slot != c->slot) {
        rh_log(RH_LOG_WARN, "event=redis_moved conn=%s slot=%d node=%s:%d a command of "
               "another slot was sent to the worker id's node", c->name, rd.slot, rd.host,
               rd.port);
        return;
    }
    host = rh_aconn_host(c->ac, &port);
    if (!rd.host[0] || (port == rd.port && strcmp(host, rd.host) == 0))
        return;
    rh_log(RH_LOG_NOTICE, "event=redis_moved conn=%s slot=%d from=%s:%d to=%s:%d the worker "
           "id's slot moved: reconnecting to its new master", c->name, rd.slot, host, port,
           rd.host, rd.port);
    if (c->peer && c->peer->ac)
        (void)rh_aconn_retarget(c->peer->ac, rd.host, rd.port, NULL);
    if (rh_aconn_retarget(c->ac, rd.host, rd.port, &e) != 0)
        rh_log(RH_LOG_WARN, "event=redis_moved conn=%s reason=\"%s\"", c->name,
               RH_LOG_Q(e.msg));
}

int wk_redis_probe(const wk_config *cfg, rh_redis_cfg *out, int *cluster, rhai_error *err)
{
    rh_cluster_opts o = { 1, 1 };
    rh_cluster *rt = NULL;
    const rh_slot_map *m;
    char tag[RH_NAME_MAX + 3];
    int rc, slot, own;

    *cluster = 0;
    if ((rc = wk_config_redis(cfg, out, err)) != 0)
        return rc;
    out->connect_ms = RH_REDIS_CONNECT_MS;
    if ((rc = rh_cluster_open(out, &o, &rt, err)) != 0)
        return rc;
    m = rh_cluster_map(rt);
    snprintf(tag, sizeof tag, "{%s}", cfg->worker_id);
    slot = rh_keyslot(tag, strlen(tag));
    own = m->owner[slot];
    *cluster = !m->single;
    if (!m->single && own >= 0 && !out->url.is_unix) {
        snprintf(out->url.host, sizeof out->url.host, "%s", m->nodes[own].host);
        out->url.port = m->nodes[own].port;
    }
    rh_cluster_free(rt);
    return 0;
}

int wk_conn_init(wk_conn *c, uv_loop_t *loop, const rh_redis_cfg *cfg, const char *worker_id,
                 const char *name, int64_t backoff_max_ms, rhai_error *err)
{
    char tag[RH_NAME_MAX + 3];

    memset(c, 0, sizeof *c);
    c->loop = loop;
    c->cfg = *cfg;
    c->name = name;
    c->backoff_max_ms = backoff_max_ms;
    snprintf(tag, sizeof tag, "{%s}", worker_id);
    c->slot = rh_keyslot(tag, strlen(tag));
    return rh_redis_cfg_check(cfg, err);
}

int wk_conn_start(wk_conn *c, rhai_error *err)
{
    rh_aconn_opts o;

    memset(&o, 0, sizeof o);
    o.name = c->name;
    o.backoff_max_ms = c->backoff_max_ms;
    o.on_up = conn_up;
    o.on_down = conn_down;
    o.on_closed = conn_closed;
    o.on_redirect = conn_redirect;
    o.data = c;
    if (c->cluster && !c->router) {
        rh_redis_cfg seed = c->cfg;
        int rc = rh_acluster_new(c->loop, &seed, NULL, &c->router, err);
        if (rc != 0)
            return rc;
    }
    return rh_aconn_new(c->loop, &c->cfg, &o, &c->ac, err);
}

void wk_conn_close(wk_conn *c)
{
    c->up = 0;
    if (c->router) {
        rh_acluster *rt = c->router;
        c->router = NULL;
        rh_acluster_close(rt, NULL, NULL);     /* pending: callbacks with NULL */
    }
    if (c->ac && !c->closing) {
        c->closing = 1;
        rh_aconn_close(c->ac);        /* pending callbacks run with NULL replies */
    } else if (!c->ac && !c->closing) {
        c->closing = 1;
        if (c->on_closed)
            c->on_closed(c, c->data);
    }
}

uint64_t wk_conn_reconnects(const wk_conn *c)
{
    return c->ac ? rh_aconn_reconnects(c->ac) : 0;
}

void wk_conn_flush(wk_conn *c)
{
    if (c->ac && !c->closing)
        rh_aconn_flush(c->ac);
}

/* A command through the router: its callback with this connection's
 * rh_aconn, as if it had gone through it. */
typedef struct routed {
    wk_conn    *c;
    rh_reply_fn fn;
    void       *priv;
} routed;

static void on_routed(rh_acluster *rt, redisReply *r, const rhai_error *err, void *priv)
{
    routed *q = priv;

    (void)rt;
    if (r == NULL && err && err->code != RHAI_ECANCELED)
        rh_log(RH_LOG_WARN, "event=redis_routed_failed conn=%s reason=\"%s\"", q->c->name,
               RH_LOG_Q(err->msg));
    if (q->fn)
        q->fn(q->c->ac, r, q->priv);
    rh_free(q);
}

/* 1 when the command (argc/argv/lens) routes to another slot than {W},
 * with that slot in *slot. */
static int other_slot(const wk_conn *c, int argc, const char **argv, const size_t *lens,
                      int *slot)
{
    if (!c->cluster || !c->router)
        return 0;
    *slot = rh_link_cmd_slot(argc, argv, lens);
    return *slot != RH_CLUSTER_ANY && *slot != c->slot;
}

static int route(wk_conn *c, int slot, rh_reply_fn fn, void *privdata, int argc,
                 const char **argv, const size_t *lens)
{
    routed *q = rh_malloc(sizeof *q);

    if (q == NULL)
        return RHAI_ECONN;
    q->c = c;
    q->fn = fn;
    q->priv = privdata;
    if (rh_acluster_command_argv(c->router, slot, 0, on_routed, q, argc, argv, lens, NULL) != 0) {
        rh_free(q);
        return RHAI_ECONN;
    }
    return 0;
}

/* The one door to Redis: while a connection is down, rh_aconn refuses the
 * command (RHAI_ECONN) and the callback never runs. */
int wk_conn_argv(wk_conn *c, rh_reply_fn fn, void *privdata, int argc, const char **argv,
                 const size_t *lens)
{
    int slot;

    if (c->ac == NULL || !c->up || c->closing)
        return RHAI_ECONN;
    if (other_slot(c, argc, argv, lens, &slot))
        return route(c, slot, fn, privdata, argc, argv, lens);
    return rh_aconn_command_argv(c->ac, fn, privdata, argc, argv, lens, NULL) == 0
               ? 0 : RHAI_ECONN;
}

int wk_conn_cmd(wk_conn *c, rh_reply_fn fn, void *privdata, const char *fmt, ...)
{
    va_list ap;
    int rc;

    if (c->ac == NULL || !c->up || c->closing)
        return RHAI_ECONN;
    va_start(ap, fmt);
    if (c->cluster && c->router) {
        /* encode, then route by the first key like any other command */
        char *cmd = NULL;
        int n = redisvFormatCommand(&cmd, fmt, ap);
        const char **argv = rh_calloc(ROUTE_ARGS_MAX, sizeof *argv);
        size_t *lens = rh_calloc(ROUTE_ARGS_MAX, sizeof *lens);
        int argc = n > 0 && argv && lens
                       ? rh_link_resp_split(cmd, (size_t)n, ROUTE_ARGS_MAX, argv, lens) : -1;
        rc = argc > 0 ? wk_conn_argv(c, fn, privdata, argc, argv, lens) : RHAI_ECONN;
        rh_free(argv);
        rh_free(lens);
        if (cmd)
            redisFreeCommand(cmd);
    } else {
        rc = rh_aconn_vcommand(c->ac, fn, privdata, NULL, fmt, ap);
    }
    va_end(ap);
    return rc == 0 ? 0 : RHAI_ECONN;
}
