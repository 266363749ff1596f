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
 * they reconnect there (rh_aconn_retarget). A master that died (kill -9)
 * answers nothing, so while a connection stays down for WK_REMAP_MS the
 * router is asked for the slot (a probe: it re-reads the map from the
 * other nodes and the seed until one answers) and both connections go to
 * the master it found. An ASK for the slot (a migration in progress) is
 * followed through the router (ASKING + the command on the named node),
 * without moving the connections. On a plain Redis the map is one node
 * and nothing ever moves.
 *
 * What a wk_conn keeps of its own is only this routing; the rest (the
 * handshake, backoff with jitter, the rate-limited redis_* log events,
 * guarded sends that refuse with RHAI_ECONN while down) is rh_aconn's. */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "common/rcluster.h"
#include "common/rlink.h"
#include "daemon.h"

#define ROUTE_ARGS_MAX 512      /* a routed command's arguments (the relay's) */

static void conn_up(rh_aconn *ac, void *data)
{
    wk_conn *c = data;
    (void)ac;
    c->up = 1;
    c->down_at = 0;
    if (c->on_up)
        c->on_up(c, c->data);
}

static void conn_down(rh_aconn *ac, void *data)
{
    wk_conn *c = data;
    (void)ac;
    c->up = 0;
    c->in_multi = 0;
    c->down_at = rh_mono_ms();
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
 * ASK (the slot is migrating key by key) is followed per command by
 * on_own, through the router; the connections stay. */
static void moved_apply(wk_conn *c, const char *host_to, int port_to);
static int  router_start(wk_conn *c, rhai_error *err);

/* A redirect from a server rhaid took for a plain Redis (it was not
 * reachable at start, wk_redis_probe): it is a cluster. "cmd" gets its
 * router now, so that commands of other slots (the events relay) are
 * routed and a dead master is remapped, as when the probe saw it. */
static void cluster_found(wk_conn *c)
{
    wk_conn *cmd = c->peer && strcmp(c->name, "pop") == 0 ? c->peer : c;
    rhai_error e;

    if (cmd->cluster || cmd->router || cmd->closing || cmd->ac == NULL)
        return;
    cmd->cluster = 1;
    rh_log(RH_LOG_NOTICE, "event=redis_cluster_found conn=%s a redirect: the server is a "
           "Redis Cluster; routing by slot from now on", c->name);
    if (router_start(cmd, &e) != 0)
        rh_log(RH_LOG_ERROR, "event=redis_cluster_found reason=\"%s\" commands of other "
               "slots fail until a restart", RH_LOG_Q(e.msg));
}

static void conn_redirect(rh_aconn *ac, const redisReply *r, void *data)
{
    wk_conn *c = data;
    rh_redirect rd;
    int port = 0;
    const char *host;

    (void)ac;
    if (rh_redirect_parse(r->str, r->len, &rd, NULL) != 0)
        return;
    cluster_found(c);
    if (rd.ask)
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
    if (c->router || (c->peer && c->peer->router)) {
        /* on_own applies it once this reply's callback ran: moving now
         * would fail the commands behind it (NULL) before this one sees
         * its reply (the take's pair would be freed under it) */
        snprintf(c->moved_host, sizeof c->moved_host, "%s", rd.host);
        c->moved_port = rd.port;
        return;
    }
    moved_apply(c, rd.host, rd.port);
}

/* Point both connections at host:port, the new master of {W}'s slot. */
static void moved_apply(wk_conn *c, const char *host_to, int port_to)
{
    rhai_error e;
    int port = 0;
    const char *host;

    if (c->ac == NULL || c->closing)
        return;
    host = rh_aconn_host(c->ac, &port);
    if (port == port_to && strcmp(host, host_to) == 0)
        return;
    rh_log(RH_LOG_NOTICE, "event=redis_moved conn=%s slot=%d from=%s:%d to=%s:%d the worker "
           "id's slot moved: reconnecting to its new master", c->name, c->slot, host, port,
           host_to, port_to);
    if (c->peer && c->peer->ac && !c->peer->closing)
        (void)rh_aconn_retarget(c->peer->ac, host_to, port_to, NULL);
    if (rh_aconn_retarget(c->ac, host_to, port_to, &e) != 0)
        rh_log(RH_LOG_WARN, "event=redis_moved conn=%s reason=\"%s\"", c->name,
               RH_LOG_Q(e.msg));
}

/* The router of the pair (only "cmd" has one), or NULL (a plain Redis). */
static rh_acluster *router_of(const wk_conn *c)
{
    if (c->closing)
        return NULL;
    if (c->router)
        return c->router;
    return c->peer && !c->peer->closing ? c->peer->router : NULL;
}

/* Point c at host:port when it is down and elsewhere. */
static void remap_one(wk_conn *c, const char *host, int port)
{
    rhai_error e;
    int cur = 0;
    const char *h;

    if (c->ac == NULL || c->closing || c->up)
        return;
    h = rh_aconn_host(c->ac, &cur);
    if (cur == port && strcmp(h, host) == 0)
        return;
    rh_log(RH_LOG_NOTICE, "event=redis_remap conn=%s slot=%d from=%s:%d to=%s:%d the worker "
           "id's master did not answer: the slot map names a new one", c->name, c->slot, h,
           cur, host, port);
    if (rh_aconn_retarget(c->ac, host, port, &e) != 0)
        rh_log(RH_LOG_WARN, "event=redis_remap conn=%s reason=\"%s\"", c->name,
               RH_LOG_Q(e.msg));
}

/* The probe's answer: the router reached the master of {W} (after
 * reading the map again as often as it had to), so its map names it. */
static void on_remap(rh_acluster *rt, redisReply *r, const rhai_error *err, void *priv)
{
    wk_conn *c = priv;
    const rh_slot_map *m;
    int own;

    c->remapping = 0;
    if (r == NULL || c->closing || c->router != rt) {
        if (r == NULL && err && err->code != RHAI_ECANCELED)
            rh_log(RH_LOG_WARN, "event=redis_remap conn=%s reason=\"%s\" retrying", c->name,
                   RH_LOG_Q(err->msg));
        return;
    }
    m = rh_acluster_map(rt);
    own = m->owner[c->slot];
    if (own < 0 || m->single)
        return;
    remap_one(c, m->nodes[own].host, m->nodes[own].port);
    if (c->peer)
        remap_one(c->peer, m->nodes[own].host, m->nodes[own].port);
}

/* Every WK_REMAP_MS on the connection with the router: a connection down
 * that long (its node refuses, or its slot's answers are CLUSTERDOWN)
 * sends one probe of the slot through the router. */
static void on_remap_tick(uv_timer_t *t)
{
    wk_conn *c = t->data;
    rh_acluster *rt = router_of(c);
    int64_t now = rh_mono_ms();
    const char *argv[2] = { "EXISTS", c->tag };
    int stale = 0;

    if (rt == NULL || c->remapping)
        return;
    if (!c->up && c->down_at && now - c->down_at >= WK_REMAP_MS)
        stale = 1;
    if (c->peer && !c->peer->closing && !c->peer->up && c->peer->down_at &&
        now - c->peer->down_at >= WK_REMAP_MS)
        stale = 1;
    if (!stale)
        return;
    if (rh_acluster_command_argv(rt, c->slot, RH_CLUSTER_RESEND, on_remap, c, 2, argv, NULL,
                                 NULL) == 0)
        c->remapping = 1;
}

/* A command of the slot of {W} kept until its reply, to be sent again
 * through the router when the reply is ASK. */
typedef struct own_cmd {
    wk_conn    *c;
    rh_reply_fn fn;
    void       *priv;
    int         follow;               /* 0: inside MULTI (an ASK aborts the EXEC) */
    size_t      n;
    char        cmd[];                /* as redisFormatCommandArgv made it */
} own_cmd;

static int route_ex(wk_conn *c, int slot, int asked, rh_reply_fn fn, void *privdata,
                    int argc, const char **argv, const size_t *lens);

static void on_own(rh_aconn *ac, redisReply *r, void *priv)
{
    own_cmd *q = priv;
    wk_conn *c = q->c;
    rh_redirect rd;

    if (q->follow && r && r->type == REDIS_REPLY_ERROR && r->len > 4 &&
        memcmp(r->str, "ASK ", 4) == 0 &&
        rh_redirect_parse(r->str, r->len, &rd, NULL) == 0 && rd.slot == c->slot &&
        router_of(c) != NULL) {
        const char **argv = rh_calloc(ROUTE_ARGS_MAX, sizeof *argv);
        size_t *lens = rh_calloc(ROUTE_ARGS_MAX, sizeof *lens);
        int argc = argv && lens ? rh_link_resp_split(q->cmd, q->n, ROUTE_ARGS_MAX, argv, lens)
                                : -1;
        int sent = argc > 0 && route_ex(c, c->slot, 1, q->fn, q->priv, argc, argv, lens) == 0;
        rh_free(argv);
        rh_free(lens);
        if (sent) {
            rh_free(q);
            return;
        }
    }
    if (q->fn)
        q->fn(ac, r, q->priv);
    rh_free(q);
    if (c->moved_port > 0) {
        int port = c->moved_port;
        c->moved_port = 0;
        moved_apply(c, c->moved_host, port);
    }
}

/* Send a command of {W}'s slot on c, kept for an ASK. 0 or RHAI_ECONN. */
static int send_own(wk_conn *c, rh_reply_fn fn, void *privdata, int argc, const char **argv,
                    const size_t *lens)
{
    char *cmd = NULL;
    int n = redisFormatCommandArgv(&cmd, argc, argv, lens);
    own_cmd *q = n > 0 && cmd ? rh_malloc(sizeof *q + (size_t)n) : NULL;

    if (q == NULL) {
        if (cmd)
            redisFreeCommand(cmd);
        return RHAI_ECONN;
    }
    q->c = c;
    q->fn = fn;
    q->priv = privdata;
    q->n = (size_t)n;
    if (lens ? lens[0] == 5 && strncasecmp(argv[0], "MULTI", 5) == 0
             : strcasecmp(argv[0], "MULTI") == 0)
        c->in_multi = 1;
    q->follow = !c->in_multi;
    if (lens ? (lens[0] == 4 && strncasecmp(argv[0], "EXEC", 4) == 0) ||
                   (lens[0] == 7 && strncasecmp(argv[0], "DISCARD", 7) == 0)
             : strcasecmp(argv[0], "EXEC") == 0 || strcasecmp(argv[0], "DISCARD") == 0)
        c->in_multi = 0;
    memcpy(q->cmd, cmd, (size_t)n);
    redisFreeCommand(cmd);
    if (rh_aconn_command_argv(c->ac, on_own, q, argc, argv, lens, NULL) != 0) {
        rh_free(q);
        return RHAI_ECONN;
    }
    return 0;
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
    /* TLS files that cannot be loaded do not fix themselves, Redis up or
     * not (down, they failed later as event=start_failed, exit 1) */
    if ((rc = rh_redis_cfg_tls_check(out, err)) != 0)
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
    memset(c, 0, sizeof *c);
    c->loop = loop;
    c->cfg = *cfg;
    c->name = name;
    c->backoff_max_ms = backoff_max_ms;
    snprintf(c->tag, sizeof c->tag, "{%s}", worker_id);
    c->slot = rh_keyslot(c->tag, strlen(c->tag));
    return rh_redis_cfg_check(cfg, err);
}

/* The router of a cluster (on "cmd"), and the remap timer while down. */
static int router_start(wk_conn *c, rhai_error *err)
{
    rh_redis_cfg seed = c->cfg;
    int rc = rh_acluster_new(c->loop, &seed, NULL, &c->router, err);

    if (rc != 0)
        return rc;
    if ((c->remap = rh_malloc(sizeof *c->remap)) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    uv_timer_init(c->loop, c->remap);
    c->remap->data = c;
    uv_timer_start(c->remap, on_remap_tick, WK_REMAP_MS, WK_REMAP_MS);
    return 0;
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
        int rc = router_start(c, err);
        if (rc != 0)
            return rc;
    }
    c->down_at = rh_mono_ms();        /* not up yet */
    return rh_aconn_new(c->loop, &c->cfg, &o, &c->ac, err);
}

static void remap_closed(uv_handle_t *h)
{
    rh_free(h);
}

void wk_conn_close(wk_conn *c)
{
    c->up = 0;
    if (c->remap) {
        uv_close((uv_handle_t *)c->remap, remap_closed);
        c->remap = NULL;
    }
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
    int         asked;                /* an ASK of {W}'s slot followed (on_own) */
} routed;

static void on_routed(rh_acluster *rt, redisReply *r, const rhai_error *err, void *priv)
{
    routed *q = priv;

    (void)rt;
    if (r == NULL && err && err->code != RHAI_ECANCELED) {
        uint64_t held;
        if (rh_log_limit_pass(&q->c->refused, err->msg, rh_mono_ms(), WK_REFUSED_LOG_MS, &held))
            rh_log(RH_LOG_WARN, "event=redis_routed_failed conn=%s reason=\"%s\" held_back=%llu",
                   q->c->name, RH_LOG_Q(err->msg), (unsigned long long)held);
        if (q->asked && !q->c->closing) {
            /* its connection is up: a NULL would read as that connection
             * lost; the caller handles an error reply instead (a take
             * pauses until the next tick). A multi-key command of a slot
             * in migration gets TRYAGAIN until the migration ends. */
            char msg[sizeof err->msg + 40];
            redisReply fake;
            memset(&fake, 0, sizeof fake);
            fake.type = REDIS_REPLY_ERROR;
            fake.len = (size_t)snprintf(msg, sizeof msg, "ERR ASK not followed: %s", err->msg);
            if (fake.len >= sizeof msg)
                fake.len = sizeof msg - 1;
            fake.str = msg;
            if (q->fn)
                q->fn(q->c->ac, &fake, q->priv);
            rh_free(q);
            return;
        }
    }
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

static int route_ex(wk_conn *c, int slot, int asked, rh_reply_fn fn, void *privdata,
                    int argc, const char **argv, const size_t *lens)
{
    routed *q = rh_malloc(sizeof *q);
    rh_acluster *rt = router_of(c);

    if (q == NULL || rt == NULL) {
        rh_free(q);
        return RHAI_ECONN;
    }
    q->c = c;
    q->fn = fn;
    q->priv = privdata;
    q->asked = asked;
    if (rh_acluster_command_argv(rt, slot, 0, on_routed, q, argc, argv, lens, NULL) != 0) {
        rh_free(q);
        return RHAI_ECONN;
    }
    return 0;
}

static int route(wk_conn *c, int slot, rh_reply_fn fn, void *privdata, int argc,
                 const char **argv, const size_t *lens)
{
    return route_ex(c, slot, 0, fn, privdata, argc, argv, lens);
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
    if (router_of(c) != NULL)
        return send_own(c, fn, privdata, argc, argv, lens);
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
    if (router_of(c) != NULL) {
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
