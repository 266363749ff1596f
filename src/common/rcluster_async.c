/* rcluster_async.c -- the async Redis Cluster router (rcluster.h) on a
 * libuv loop, over one rh_aconn per node.
 *
 * The rules are the sync router's (rcluster_route.c); what changes is the
 * waiting. A request is a small state machine: dispatched to its node's
 * connection, answered (done, or redirected and dispatched again), or
 * parked: on the 'waiting' list until the map read in flight ends, or on
 * its own timer for a backoff. One map read at a time walks the
 * candidate nodes (masters, replicas, failed ones, the seed) until one
 * answers.
 *
 * Lifetime: the router holds one timer of its own ('tick', so there is
 * always a handle to close), a connection per node and a timer per
 * request that ever waited; 'handles' counts those not yet closed, and
 * the router is freed by the last close callback after rh_acluster_close. */
#include <string.h>

#include "common/common.h"
#include "common/rcluster.h"

typedef struct anode {
    struct rh_acluster *c;
    char      host[RH_CLUSTER_HOST_MAX];
    int       port;
    rh_aconn *conn;
    uint64_t  ups;                 /* handshakes done: "did it come up since" */
} anode;

typedef struct areq {
    struct rh_acluster  *c;
    struct areq         *prev, *next;   /* every unfinished request */
    struct areq         *wnext;         /* the waiting list */
    int                  waiting;
    int                  slot;
    unsigned             flags;
    rh_acluster_reply_fn cb;
    void                *priv;
    int                  argc;
    char               **argv;          /* owned copies */
    size_t              *lens;
    int                  redirects;
    int                  ask;           /* send ASKING first, to host:port */
    char                 host[RH_CLUSTER_HOST_MAX];
    int                  port;
    int64_t              deadline;      /* retries of lost nodes end here */
    int64_t              backoff;
    anode               *node;          /* where it was last sent */
    int                  up_at_send;
    uint64_t             ups_at_send;
    uv_timer_t           timer;
    int                  timer_init;
    rhai_error           last;          /* the last failure, for the end */
    int                  fail_code;     /* fail_later: finish with this */
} areq;

enum { REF_SHARDS, REF_INFO, REF_SLOTS };

struct rh_acluster {
    uv_loop_t        *loop;
    rh_redis_cfg      seed;
    char              where[300];
    rh_cluster_opts   opts;
    rh_slot_map       map;
    int               have_map;
    anode           **nodes;
    size_t            nnodes;
    areq             *all;              /* unfinished requests */
    areq             *wait_head, *wait_tail;
    /* the map read in flight */
    int               refreshing;
    int               map_failed;       /* inside refresh_done of a failed read */
    rh_cluster_node  *cand;
    size_t            ncand, cand_i;
    int               ref_step;
    rh_slot_map      *ref_map;
    rh_cluster_stats  stats;
    uv_timer_t        tick;
    int               handles;
    int               closing;
    rh_acluster_fn    on_closed;
    void             *closed_data;
};

static void dispatch(areq *q);
static void start_refresh(rh_acluster *c);

/* ======================== lifetime ======================== */

static void maybe_free(rh_acluster *c)
{
    if (!c->closing || c->handles > 0)
        return;
    if (c->on_closed)
        c->on_closed(c, c->closed_data);
    for (size_t i = 0; i < c->nnodes; i++)
        rh_free(c->nodes[i]);
    rh_free(c->nodes);
    rh_free(c->cand);
    if (c->ref_map) {
        rh_slot_map_clear(c->ref_map);
        rh_free(c->ref_map);
    }
    rh_slot_map_clear(&c->map);
    rh_free(c);
}

static void handle_closed(uv_handle_t *h)
{
    rh_acluster *c = h->data;
    c->handles--;
    maybe_free(c);
}

static void node_closed(rh_aconn *conn, void *data)
{
    anode *n = data;
    (void)conn;
    n->c->handles--;
    maybe_free(n->c);
}

static void node_up(rh_aconn *conn, void *data)
{
    anode *n = data;
    (void)conn;
    n->ups++;
}

static void req_free(areq *q)
{
    for (int i = 0; i < q->argc; i++)
        rh_free(q->argv[i]);
    rh_free(q->argv);
    rh_free(q->lens);
    rh_free(q);
}

static void req_timer_closed(uv_handle_t *h)
{
    areq *q = h->data;
    rh_acluster *c = q->c;
    req_free(q);
    c->handles--;
    maybe_free(c);
}

static void wait_remove(rh_acluster *c, areq *q)
{
    areq **pp = &c->wait_head, *prev = NULL;

    if (!q->waiting)
        return;
    while (*pp && *pp != q) {
        prev = *pp;
        pp = &(*pp)->wnext;
    }
    if (*pp)
        *pp = q->wnext;
    if (c->wait_tail == q)
        c->wait_tail = prev;
    q->waiting = 0;
    q->wnext = NULL;
}

/* The end of a request: its callback once, then its memory. */
static void finish(areq *q, redisReply *r, const rhai_error *err)
{
    rh_acluster *c = q->c;

    wait_remove(c, q);
    if (q->prev)
        q->prev->next = q->next;
    else
        c->all = q->next;
    if (q->next)
        q->next->prev = q->prev;
    if (q->timer_init)
        uv_timer_stop(&q->timer);
    q->cb(c, r, r ? NULL : err, q->priv);
    if (q->timer_init)
        uv_close((uv_handle_t *)&q->timer, req_timer_closed);
    else
        req_free(q);
}

static void finish_err(areq *q, int code, const char *fmt, ...) RH_PRINTF(3, 4);
static void finish_err(areq *q, int code, const char *fmt, ...)
{
    rhai_error e;
    va_list ap;

    e.code = code;
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof e.msg, fmt, ap);
    va_end(ap);
    finish(q, NULL, &e);
}

static int req_timer(areq *q)
{
    if (!q->timer_init) {
        if (uv_timer_init(q->c->loop, &q->timer) != 0)
            return -1;
        q->timer.data = q;
        q->timer_init = 1;
        q->c->handles++;
    }
    return 0;
}

static void on_fail_timer(uv_timer_t *t)
{
    areq *q = t->data;
    finish(q, NULL, &q->last);
}

/* Finish with q->last from the loop, not from the caller's stack. */
static void fail_later(areq *q, int code)
{
    q->last.code = code;
    if (req_timer(q) != 0 || uv_timer_start(&q->timer, on_fail_timer, 0, 0) != 0)
        finish(q, NULL, &q->last);      /* cannot defer: a libuv failure */
}

/* ======================== nodes ======================== */

static int is_seed(const rh_acluster *c, const char *host, int port)
{
    const char *sh = c->seed.url.is_unix ? c->seed.url.path : c->seed.url.host;
    return strcmp(host, sh) == 0 && (c->seed.url.is_unix || port == c->seed.url.port);
}

static anode *node_get(rh_acluster *c, const char *host, int port, rhai_error *err)
{
    rh_aconn_opts o;
    rh_redis_cfg cfg;
    anode *n, **grow;

    for (size_t i = 0; i < c->nnodes; i++)
        if (c->nodes[i]->port == port && strcmp(c->nodes[i]->host, host) == 0)
            return c->nodes[i];
    if (strlen(host) >= RH_CLUSTER_HOST_MAX) {
        rh_error_set(err, RHAI_EINVAL, "cluster: node host too long");
        return NULL;
    }
    grow = rh_realloc(c->nodes, (c->nnodes + 1) * sizeof *grow);
    n = rh_calloc(1, sizeof *n);
    if (grow)
        c->nodes = grow;
    if (!grow || !n) {
        rh_free(n);
        rh_error_set(err, RHAI_ENOMEM, "cluster: out of memory");
        return NULL;
    }
    n->c = c;
    strcpy(n->host, host);
    n->port = port;
    cfg = c->seed;
    if (!is_seed(c, host, port)) {
        cfg.url.is_unix = 0;
        snprintf(cfg.url.host, sizeof cfg.url.host, "%s", host);
        cfg.url.port = port;
    }
    memset(&o, 0, sizeof o);
    o.name = "cluster";
    o.queue_connecting = 1;
    o.on_up = node_up;
    o.on_closed = node_closed;
    o.data = n;
    if (rh_aconn_new(c->loop, &cfg, &o, &n->conn, err) != 0) {
        rh_free(n);
        return NULL;
    }
    c->handles++;
    c->nodes[c->nnodes++] = n;
    return n;
}

/* ======================== the map ======================== */

static void refresh_done(rh_acluster *c, int ok)
{
    areq *list;

    c->refreshing = 0;
    if (ok) {
        rh_slot_map_clear(&c->map);
        c->map = *c->ref_map;           /* the nodes array moves over */
        rh_slot_map_init(c->ref_map);
        c->have_map = 1;
        c->stats.refreshes++;
    }
    /* everyone waiting goes again, in order; a request that must wait
     * again goes on a timer (retry_later), not back on this list */
    list = c->wait_head;
    c->wait_head = c->wait_tail = NULL;
    c->map_failed = !ok;
    while (list && !c->closing) {
        areq *q = list;
        list = q->wnext;
        q->wnext = NULL;
        q->waiting = 0;
        dispatch(q);
    }
    c->map_failed = 0;
    for (areq *q = list; q; q = q->wnext)   /* closing: give them back */
        q->waiting = 0;
}

static void on_map_reply(rh_aconn *conn, redisReply *r, void *priv);

/* Ask the next candidate, from step REF_SHARDS. */
static void refresh_next(rh_acluster *c)
{
    while (c->cand_i < c->ncand && !c->closing) {
        rh_cluster_node *k = &c->cand[c->cand_i];
        anode *n = node_get(c, k->host, k->port, NULL);
        if (n && rh_aconn_command(n->conn, on_map_reply, c, NULL, "CLUSTER SHARDS") == 0) {
            c->ref_step = REF_SHARDS;
            return;
        }
        c->cand_i++;
    }
    if (!c->closing)
        refresh_done(c, 0);
}

static void on_map_reply(rh_aconn *conn, redisReply *r, void *priv)
{
    rh_acluster *c = priv;
    rh_cluster_node *k;
    int rc = -1;

    if (c->closing)
        return;
    k = &c->cand[c->cand_i];
    if (r && c->ref_step == REF_SHARDS && r->type != REDIS_REPLY_ERROR) {
        rc = rh_slot_map_from_shards(c->ref_map, r, k->host, c->seed.url.tls, NULL);
    } else if (r && c->ref_step == REF_SHARDS) {
        if (rh_aconn_command(conn, on_map_reply, c, NULL, "INFO cluster") == 0) {
            c->ref_step = REF_INFO;
            return;
        }
    } else if (r && c->ref_step == REF_INFO &&
               (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) &&
               strstr(r->str, "cluster_enabled:0")) {
        rc = rh_slot_map_single(c->ref_map, k->host, k->port, NULL);
    } else if (r && c->ref_step == REF_INFO) {
        if (rh_aconn_command(conn, on_map_reply, c, NULL, "CLUSTER SLOTS") == 0) {
            c->ref_step = REF_SLOTS;
            return;
        }
    } else if (r && c->ref_step == REF_SLOTS && r->type != REDIS_REPLY_ERROR) {
        rc = rh_slot_map_from_slots(c->ref_map, r, k->host, NULL);
    }
    if (rc == 0) {
        refresh_done(c, 1);
        return;
    }
    c->cand_i++;            /* no answer, or not a map: the next node */
    refresh_next(c);
}

/* Start a map read unless one is running. */
static void start_refresh(rh_acluster *c)
{
    rh_cluster_node *cand;
    size_t n = 0;

    if (c->refreshing || c->closing)
        return;
    cand = rh_realloc(c->cand, (c->map.nnodes + 1) * sizeof *cand);
    if (!cand) {
        refresh_done(c, 0);     /* waiting requests retry on their timers */
        return;
    }
    c->cand = cand;
    for (int pass = 0; pass < 3; pass++)
        for (size_t i = 0; i < c->map.nnodes; i++) {
            const rh_cluster_node *x = &c->map.nodes[i];
            if ((x->failed ? 2 : x->master ? 0 : 1) == pass)
                cand[n++] = *x;
        }
    {
        const char *sh = c->seed.url.is_unix ? c->seed.url.path : c->seed.url.host;
        if (rh_slot_map_find(&c->map, sh, c->seed.url.port) < 0) {
            memset(&cand[n], 0, sizeof cand[n]);
            snprintf(cand[n].host, sizeof cand[n].host, "%s", sh);
            cand[n++].port = c->seed.url.port;
        }
    }
    c->ncand = n;
    c->cand_i = 0;
    c->refreshing = 1;
    refresh_next(c);
}

/* ======================== requests ======================== */

static void wait_map(areq *q)
{
    rh_acluster *c = q->c;

    q->waiting = 1;
    q->wnext = NULL;
    if (c->wait_tail)
        c->wait_tail->wnext = q;
    else
        c->wait_head = q;
    c->wait_tail = q;
    start_refresh(c);
}

static void on_retry_timer(uv_timer_t *t)
{
    areq *q = t->data;
    if (!q->c->closing)
        wait_map(q);        /* after a map read: the owner may have changed */
}

/* A lost node, CLUSTERDOWN, TRYAGAIN: again after a backoff, within the
 * deadline. */
static void retry_later(areq *q)
{
    int64_t now = rh_mono_ms();

    if (now + q->backoff > q->deadline) {
        finish_err(q, RHAI_ECONN, "cluster: slot %d: no node answered within %lld ms: %s",
                   q->slot, (long long)q->c->opts.retry_ms, q->last.msg);
        return;
    }
    q->c->stats.retries++;
    if (req_timer(q) != 0 ||
        uv_timer_start(&q->timer, on_retry_timer, (uint64_t)q->backoff, 0) != 0) {
        finish_err(q, RHAI_EINTERNAL, "cluster: cannot start a timer");
        return;
    }
    q->backoff = q->backoff * 2 > RH_CLUSTER_BACKOFF_MAX_MS ? RH_CLUSTER_BACKOFF_MAX_MS
                                                            : q->backoff * 2;
}

static void on_reply(rh_aconn *conn, redisReply *r, void *priv)
{
    areq *q = priv;
    rh_acluster *c = q->c;
    rh_redirect rd;

    if (c->closing) {
        finish_err(q, RHAI_ECANCELED, "cluster: closed");
        return;
    }
    if (!r) {
        const rhai_error *e = rh_aconn_last_error(conn);
        int written = q->up_at_send || q->node->ups != q->ups_at_send;
        rh_error_set(&q->last, RHAI_ECONN, "%s", e && e->code ? e->msg : "connection lost");
        if (written && !(q->flags & RH_CLUSTER_RESEND)) {
            start_refresh(c);
            finish_err(q, RHAI_ECONN, "cluster: slot %d: connection lost after the command "
                       "was sent, it may have run: %s", q->slot, q->last.msg);
            return;
        }
        retry_later(q);
        return;
    }
    if (r->type == REDIS_REPLY_ERROR && rh_redirect_parse(r->str, r->len, &rd, NULL) == 0) {
        if (++q->redirects > c->opts.redirects_max) {
            finish_err(q, RHAI_ECONN, "cluster: slot %d: more than %d redirections (last: "
                       "%s %s:%d)", q->slot, c->opts.redirects_max, rd.ask ? "ASK" : "MOVED",
                       rd.host[0] ? rd.host : q->node->host, rd.port);
            return;
        }
        if (!rd.host[0])
            strcpy(rd.host, q->node->host);
        if (rd.ask) {
            c->stats.ask++;
            q->ask = 1;
            strcpy(q->host, rd.host);
            q->port = rd.port;
        } else {
            c->stats.moved++;
            if (!c->map.single)
                (void)rh_slot_map_set_owner(&c->map, rd.slot, rd.host, rd.port, NULL);
            start_refresh(c);
        }
        dispatch(q);
        return;
    }
    if (r->type == REDIS_REPLY_ERROR &&
        ((r->len >= 8 && memcmp(r->str, "TRYAGAIN", 8) == 0) ||
         (r->len >= 11 && memcmp(r->str, "CLUSTERDOWN", 11) == 0))) {
        if (r->str[0] == 'T') {
            c->stats.tryagain++;
            if (++q->redirects > c->opts.redirects_max) {
                finish_err(q, RHAI_ECONN, "cluster: slot %d: still TRYAGAIN after %d tries "
                           "(a migration in progress)", q->slot, q->redirects - 1);
                return;
            }
        }
        rh_error_set(&q->last, RHAI_ECONN, "%s:%d: %s", q->node->host, q->node->port, r->str);
        retry_later(q);
        return;
    }
    finish(q, r, NULL);
}

static void dispatch(areq *q)
{
    rh_acluster *c = q->c;
    const char *host;
    int port, rc;
    anode *n;

    if (q->ask) {
        host = q->host;
        port = q->port;
    } else if (!c->have_map && c->map_failed) {
        rh_error_set(&q->last, RHAI_ECONN, "no node gave the slot map (%s)", c->where);
        retry_later(q);     /* on a timer: never straight back to the list */
        return;
    } else if (!c->have_map) {
        wait_map(q);
        return;
    } else if (q->slot == RH_CLUSTER_ANY) {
        int o = -1;
        for (size_t i = 0; i < c->map.nnodes && o < 0; i++)
            if (c->map.nodes[i].master && !c->map.nodes[i].failed)
                o = (int)i;
        if (o < 0) {
            rh_error_set(&q->last, RHAI_ECONN, "no master in the map");
            retry_later(q);
            return;
        }
        host = c->map.nodes[o].host;
        port = c->map.nodes[o].port;
    } else if (c->map.owner[q->slot] < 0) {
        rh_error_set(&q->last, RHAI_ECONN, "slot %d is served by no node", q->slot);
        retry_later(q);
        return;
    } else {
        host = c->map.nodes[c->map.owner[q->slot]].host;
        port = c->map.nodes[c->map.owner[q->slot]].port;
    }
    n = node_get(c, host, port, &q->last);
    if (!n) {
        fail_later(q, q->last.code);
        return;
    }
    q->node = n;
    q->up_at_send = rh_aconn_is_up(n->conn);
    q->ups_at_send = n->ups;
    rc = 0;
    if (q->ask)
        rc = rh_aconn_command(n->conn, NULL, NULL, &q->last, "ASKING");
    if (rc == 0)
        rc = rh_aconn_command_argv(n->conn, on_reply, q, q->argc, (const char **)q->argv,
                                   q->lens, &q->last);
    q->ask = 0;
    if (rc == RHAI_ECONN)           /* the node is down: not sent */
        retry_later(q);
    else if (rc != 0)
        fail_later(q, rc);
}

/* ======================== API ======================== */

int rh_acluster_new(uv_loop_t *loop, const rh_redis_cfg *cfg, const rh_cluster_opts *opts,
                    rh_acluster **out, rhai_error *err)
{
    rh_acluster *c;
    int rc;

    *out = NULL;
    rc = rh_redis_cfg_check(cfg, err);
    if (rc != 0)
        return rc;
    c = rh_calloc(1, sizeof *c);
    if (c)
        c->ref_map = rh_malloc(sizeof *c->ref_map);
    if (!c || !c->ref_map) {
        rh_free(c);
        return rh_error_set(err, RHAI_ENOMEM, "cluster: out of memory");
    }
    c->loop = loop;
    c->seed = *cfg;
    rh_redis_cfg_where(cfg, c->where, sizeof c->where);
    c->opts = rh_cluster_opts_of(opts);
    rh_slot_map_init(&c->map);
    rh_slot_map_init(c->ref_map);
    uv_timer_init(loop, &c->tick);
    c->tick.data = c;
    c->handles = 1;
    /* the seed's connection now, so a bad TLS file fails here */
    {
        const char *sh = c->seed.url.is_unix ? c->seed.url.path : c->seed.url.host;
        if (!node_get(c, sh, c->seed.url.port, err)) {
            rc = err ? err->code : RHAI_ENOMEM;
            c->closing = 1;
            uv_close((uv_handle_t *)&c->tick, handle_closed);
            return rc;
        }
    }
    start_refresh(c);
    *out = c;
    return 0;
}

int rh_acluster_command_argv(rh_acluster *c, int slot, unsigned flags,
                             rh_acluster_reply_fn cb, void *priv, int argc,
                             const char **argv, const size_t *lens, rhai_error *err)
{
    areq *q;

    if (slot < RH_CLUSTER_ANY || slot >= RH_CLUSTER_SLOTS || argc < 1 || !argv || !cb)
        return rh_error_set(err, RHAI_EINVAL, "cluster: bad slot %d, command or callback",
                            slot);
    if (c->closing)
        return rh_error_set(err, RHAI_ESTATE, "cluster: closing");
    q = rh_calloc(1, sizeof *q);
    if (!q)
        return rh_error_set(err, RHAI_ENOMEM, "cluster: out of memory");
    q->argv = rh_calloc((size_t)argc, sizeof *q->argv);
    q->lens = rh_calloc((size_t)argc, sizeof *q->lens);
    if (!q->argv || !q->lens) {
        req_free(q);
        return rh_error_set(err, RHAI_ENOMEM, "cluster: out of memory");
    }
    for (int i = 0; i < argc; i++) {
        size_t n = lens ? lens[i] : strlen(argv[i]);
        q->argv[i] = rh_malloc(n + 1);
        if (!q->argv[i]) {
            q->argc = i;
            req_free(q);
            return rh_error_set(err, RHAI_ENOMEM, "cluster: out of memory");
        }
        memcpy(q->argv[i], argv[i], n);
        q->argv[i][n] = '\0';
        q->lens[i] = n;
    }
    q->argc = argc;
    q->c = c;
    q->slot = slot;
    q->flags = flags;
    q->cb = cb;
    q->priv = priv;
    q->deadline = rh_mono_ms() + c->opts.retry_ms;
    q->backoff = RH_CLUSTER_BACKOFF_MIN_MS;
    q->next = c->all;
    if (c->all)
        c->all->prev = q;
    c->all = q;
    dispatch(q);
    return 0;
}

const rh_slot_map *rh_acluster_map(const rh_acluster *c)
{
    return &c->map;
}

void rh_acluster_get_stats(const rh_acluster *c, rh_cluster_stats *out)
{
    *out = c->stats;
}

void rh_acluster_close(rh_acluster *c, rh_acluster_fn on_closed, void *data)
{
    if (!c || c->closing)
        return;
    c->closing = 1;
    c->on_closed = on_closed;
    c->closed_data = data;
    /* requests on a connection end from inside rh_aconn_close (NULL
     * replies: on_reply sees closing); the rest end here */
    for (size_t i = 0; i < c->nnodes; i++)
        rh_aconn_close(c->nodes[i]->conn);
    while (c->all)
        finish_err(c->all, RHAI_ECANCELED, "cluster: closed");
    uv_close((uv_handle_t *)&c->tick, handle_closed);
}
