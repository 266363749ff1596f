/* async.c -- the asynchronous client on a caller's libuv loop (rhai/async.h).
 *
 * Two connections of the Redis layer on the loop (common/rconn.h: TLS,
 * AUTH/SELECT, reconnect with backoff, commands accepted while connecting
 * and sent after the handshake): "cmd"
 * carries submits (HSET + LPUSH, batched per loop turn),
 * "pop" loops BLPOP on this client's own reply lists, one per worker id it
 * submitted to, <prefix>:reply:{W}:client:<uuid> (key layout v2: a reply
 * list lives in its worker id's slot), draining bursts with LPOP <key>
 * <count>. A worker id new to the client joins the BLPOP when the one in
 * flight returns (within RHAI__POP_BLOCK_S). Every task submitted here
 * names its worker id's list as reply_to; replies are
 * matched to pending requests by task id through an open-addressing hash
 * map, so any number of requests can be in flight at O(1) each.
 *
 * Each connection reconnects by itself (50 ms doubling to 1 s). Replies
 * wait in the Redis list while the pop connection is down, so a pending
 * request is answered after a reconnect, or ends with its own uv_timer.
 * A BLPOP unanswered for RHAI__POP_WATCHDOG_MS drops the pop connection
 * (rh_aconn_drop).
 *
 * Redis Cluster: the client also starts an async router (rh_acluster,
 * common/rcluster.h) that reads the slot map. A plain Redis (a map of one
 * node) closes it again and nothing above changes. On a cluster, submits
 * and the re-reads of task hashes go through the router (any slot, MOVED
 * and ASK followed, failovers retried), and replies are popped by one
 * "lane" per hash slot of the worker ids submitted to: a pop connection
 * to the master of that slot with its own BLPOP over the reply lists of
 * the worker ids of that slot (Redis refuses a BLPOP whose keys span
 * slots with CROSSSLOT, even on one node, so lanes cannot be per shard).
 * A MOVED answering a lane's BLPOP points that lane at the node named.
 * Submits issued before the map is known go on "cmd" and, if answered
 * MOVED or ASK, are sent again through the router.
 * Ownership: a request is freed when its timer is closed and its two
 * submit callbacks ran; the client is freed when its connections, lanes'
 * watchdog timers and router are closed and no request is left.
 * The lanes and the popping of replies are in async_lanes.c; what the two
 * files share, structs included, is in async_int.h. */
#include <stdio.h>
#include <string.h>
#include <hiredis/hiredis.h>

#include "async_int.h"
#include "common/rlink.h"

static void recheck_pending(rhai_async *a);
static void detect(rhai_async *a);

/* ======================== request map ======================== */

static uint64_t hash_id(const char *s)
{
    uint64_t h = 14695981039346656037ULL;    /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static size_t map_find(const rhai_async *a, const char *id, uint64_t h)
{
    size_t mask = a->cap - 1, i = (size_t)h & mask;
    while (a->slots[i] && (a->slots[i]->hash != h || strcmp(a->slots[i]->id, id) != 0))
        i = (i + 1) & mask;
    return i;
}

areq *rhai__map_get(const rhai_async *a, const char *id)
{
    if (a->cap == 0)
        return NULL;
    return a->slots[map_find(a, id, hash_id(id))];
}

/* Make room for one more entry. RHAI_ENOMEM. */
static int map_reserve(rhai_async *a)
{
    size_t ncap;
    areq **ns;

    if ((a->count + 1) * 2 <= a->cap)
        return 0;
    ncap = a->cap ? a->cap * 2 : 64;
    if ((ns = rh_calloc(ncap, sizeof *ns)) == NULL)
        return RHAI_ENOMEM;
    for (size_t i = 0; i < a->cap; i++) {
        areq *q = a->slots[i];
        size_t j;
        if (q == NULL)
            continue;
        for (j = (size_t)q->hash & (ncap - 1); ns[j]; j = (j + 1) & (ncap - 1))
            ;
        ns[j] = q;
    }
    rh_free(a->slots);
    a->slots = ns;
    a->cap = ncap;
    return 0;
}

static void map_put(rhai_async *a, areq *q)
{
    size_t i = map_find(a, q->id, q->hash);
    rh_assert(a->slots[i] == NULL && (a->count + 1) * 2 <= a->cap);
    a->slots[i] = q;
    a->count++;
}

static void map_del(rhai_async *a, areq *q)
{
    size_t mask = a->cap - 1, i = map_find(a, q->id, q->hash), j = i;

    rh_assert(a->slots[i] == q);
    for (;;) {                              /* shift the probe chain back */
        size_t k;
        j = (j + 1) & mask;
        if (a->slots[j] == NULL)
            break;
        k = (size_t)a->slots[j]->hash & mask;
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
            continue;                       /* its home lies after the hole */
        a->slots[i] = a->slots[j];
        i = j;
    }
    a->slots[i] = NULL;
    a->count--;
}

/* ======================== lifetime ======================== */

void rhai__async_unref(rhai_async *a)
{
    rhai_close_cb cb;
    void *data;

    rh_assert(a->live > 0);
    if (--a->live > 0)
        return;
    rh_assert(a->closing && a->count == 0);
    cb = a->close_cb;
    data = a->close_data;
    rh_free(a->slots);
    rh_free(a->workers);
    rh_free(a->wslot);
    for (size_t i = 0; i < a->nlanes; i++)
        rh_free(a->lanes[i]);
    rh_free(a->lanes);
    /* The callback sees the pointer only as an identity: everything behind
     * it is closed, and its memory goes right after. */
    if (cb)
        cb(a, data);
    rh_free(a);
}

static void req_unref(areq *q)
{
    rhai_async *a = q->a;
    if (--q->refs > 0)
        return;
    rh_free(q);
    rhai__async_unref(a);
}

static void req_timer_closed(uv_handle_t *h)
{
    req_unref(h->data);
}

/* End request 'q' exactly once: out of the map, timer closed, callback. */
void rhai__req_complete(areq *q, int status, const rhai_result *res)
{
    rhai_async *a = q->a;

    rh_assert(!q->done);
    map_del(a, q);
    q->done = 1;
    uv_timer_stop(&q->timer);
    uv_close((uv_handle_t *)&q->timer, req_timer_closed);
    q->cb(a, status, res, q->data);         /* may submit or close */
}

static void req_timeout(uv_timer_t *h)
{
    areq *q = h->data;
    rhai__req_complete(q, RHAI_ETIMEOUT, NULL);
}

/* ======================== connections ======================== */

static void conn_closed(rh_aconn *c, void *data)
{
    aconn *k = data;
    (void)c;
    k->c = NULL;
    rhai__async_unref(k->a);
}

static void conn_up(rh_aconn *c, void *data)
{
    aconn *k = data;
    (void)c;
    k->up = 1;
    if (k->is_pop) {
        k->lane->down_at = 0;
        rhai__lane_issue(k->lane);
    }
    else
        detect(k->a);
    recheck_pending(k->a);
}

/* Every pending callback already ran with NULL. */
static void conn_down(rh_aconn *c, void *data)
{
    aconn *k = data;
    (void)c;
    if (k->is_pop) {
        k->a->recheck = 1;               /* a BLPOP's reply may be lost */
        k->lane->down_at = rh_mono_ms();
        uv_timer_stop(&k->lane->watchdog);
    }
    k->up = 0;
}

/* A MOVED. A lane of a cluster follows its slot; on a server not known
 * to be a plain one the router sends commands, so nothing moves; a plain
 * server (never) moves "cmd" and "pop" to the node named. */
static void conn_redirect(rh_aconn *c, const redisReply *r, void *data)
{
    aconn *k = data;
    rhai_async *a = k->a;
    rh_redirect rd;

    if (rh_redirect_parse(r->str, r->len, &rd, NULL) != 0 || rd.ask || !rd.host[0])
        return;
    if (k->is_pop && k->lane->slot >= 0) {
        if (rd.slot == k->lane->slot)
            (void)rh_aconn_retarget(c, rd.host, rd.port, NULL);
        return;
    }
    if (a->rt || a->mode == MODE_CLUSTER)
        return;
    if (a->cmd.c)
        (void)rh_aconn_retarget(a->cmd.c, rd.host, rd.port, NULL);
    if (a->nlanes && a->lanes[0]->k.c)
        (void)rh_aconn_retarget(a->lanes[0]->k.c, rd.host, rd.port, NULL);
}

int rhai__aconn_open(aconn *k, const rh_redis_cfg *cfg, rhai_error *err)
{
    rh_aconn_opts o;

    memset(&o, 0, sizeof o);
    o.name = k->name;
    o.backoff_max_ms = RHAI__BACKOFF_MAX_MS;
    o.queue_connecting = 1;
    o.on_up = conn_up;
    o.on_down = conn_down;
    o.on_closed = conn_closed;
    o.on_redirect = conn_redirect;
    o.data = k;
    return rh_aconn_new(k->a->loop, cfg, &o, &k->c, err);
}

/* ======================== the router ======================== */

static void router_closed(rh_acluster *rt, void *data)
{
    (void)rt;
    rhai__async_unref(data);
}

static void remap_closed(uv_handle_t *h)
{
    rhai__async_unref(h->data);
}

/* The router's first answer: its map says a plain server (the router is
 * closed again) or a cluster (lanes per slot from now on). */
static void on_detect(rh_acluster *rt, redisReply *r, const rhai_error *err, void *priv)
{
    rhai_async *a = priv;
    const rh_slot_map *m;

    (void)err;
    a->detecting = 0;
    if (a->closing || r == NULL || rt != a->rt)
        return;                             /* not reached: again on "cmd" up */
    m = rh_acluster_map(rt);
    if (m->nnodes == 0)
        return;
    if (m->single) {
        a->mode = MODE_SINGLE;
        a->rt = NULL;
        rh_acluster_close(rt, router_closed, a);
    } else {
        a->mode = MODE_CLUSTER;
        for (size_t i = 0; i < a->nworkers; i++)
            rhai__lane_for_slot(a, a->wslot[i]);
        uv_timer_init(a->loop, &a->remap);
        a->remap.data = a;
        a->remap_on = 1;
        a->live++;
        uv_timer_start(&a->remap, rhai__on_remap_tick, RHAI__REMAP_MS, RHAI__REMAP_MS);
    }
    rhai__pop_issue(a);
}

static void detect(rhai_async *a)
{
    const char *argv[1] = { "PING" };

    if (a->rt == NULL || a->mode != MODE_UNKNOWN || a->detecting || a->closing)
        return;
    if (rh_acluster_command_argv(a->rt, RH_CLUSTER_ANY, RH_CLUSTER_RESEND, on_detect, a, 1,
                                 argv, NULL, NULL) == 0)
        a->detecting = 1;
}

/* A command of the client's own (HSET, LPUSH, SET, HMGET): on a cluster
 * through the router; on a plain server on "cmd"; before the map is known
 * on "cmd", kept to be sent again through the router if answered MOVED or
 * ASK. The callback gets 'ac' NULL when the router answered. */
#define FWD_ARGS_MAX (RHAI__HSET_ARGC_MAX + RHAI__REPLY_NFIELDS + 8)
typedef struct fwd {
    rhai_async *a;
    rh_reply_fn fn;
    void       *priv;
    unsigned    flags;
    size_t      n;                          /* 0: not kept */
    char        cmd[];
} fwd;

static void on_fwd_rt(rh_acluster *rt, redisReply *r, const rhai_error *err, void *priv)
{
    fwd *f = priv;

    (void)rt;
    if (r == NULL && err && err->code != RHAI_ECANCELED)
        rh_log(RH_LOG_NOTICE, "event=redis_routed_failed %s", err->msg);
    if (f->fn)
        f->fn(NULL, r, f->priv);
    rh_free(f);
}

static int fwd_route(fwd *f, int argc, const char **argv, const size_t *lens)
{
    return rh_acluster_command_argv(f->a->rt, rh_link_cmd_slot(argc, argv, lens), f->flags,
                                    on_fwd_rt, f, argc, argv, lens, NULL);
}

static void on_fwd_cmd(rh_aconn *ac, redisReply *r, void *priv)
{
    fwd *f = priv;
    rhai_async *a = f->a;

    if (r && r->type == REDIS_REPLY_ERROR && a->rt && !a->closing && f->n &&
        ((r->len > 6 && memcmp(r->str, "MOVED ", 6) == 0) ||
         (r->len > 4 && memcmp(r->str, "ASK ", 4) == 0))) {
        const char *argv[FWD_ARGS_MAX];
        size_t lens[FWD_ARGS_MAX];
        int argc = rh_link_resp_split(f->cmd, f->n, FWD_ARGS_MAX, argv, lens);
        if (argc > 0 && fwd_route(f, argc, argv, lens) == 0)
            return;
    }
    if (f->fn)
        f->fn(ac, r, f->priv);
    rh_free(f);
}

static int send_cmd(rhai_async *a, rh_reply_fn fn, void *priv, unsigned flags, int argc,
                    const char **argv, const size_t *lens, rhai_error *err)
{
    char *cmd = NULL;
    fwd *f;
    int n = 0, rc;

    if (a->rt == NULL)
        return rh_aconn_command_argv(a->cmd.c, fn, priv, argc, argv, lens, err);
    if (a->mode != MODE_CLUSTER &&
        ((n = redisFormatCommandArgv(&cmd, argc, argv, lens)) < 0 || cmd == NULL))
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    if ((f = rh_malloc(sizeof *f + (size_t)n)) == NULL) {
        if (cmd)
            redisFreeCommand(cmd);
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    f->a = a;
    f->fn = fn;
    f->priv = priv;
    f->flags = flags;
    f->n = (size_t)n;
    if (cmd) {
        memcpy(f->cmd, cmd, (size_t)n);
        redisFreeCommand(cmd);
        rc = rh_aconn_command_argv(a->cmd.c, on_fwd_cmd, f, argc, argv, lens, err);
    } else {
        rc = fwd_route(f, argc, argv, lens) == 0
                 ? 0 : rh_error_set(err, RHAI_ECONN, "not connected to %s", a->where);
    }
    if (rc != 0)
        rh_free(f);
    return rc;
}

/* ======================== recheck ======================== */

/* A BLPOP/LPOP whose reply was lost with the connection has taken replies
 * off the list for good. So after the pop connection comes back, every
 * pending request reads its task's hash once (on "cmd", both up): a final
 * status there completes it from the hash. The privdata is a copy of the
 * id, since the request may complete meanwhile. */
typedef struct recheck_ctx {
    rhai_async *a;
    char        id[RHAI_ID_MAX];
} recheck_ctx;

static void on_recheck(rh_aconn *ac, redisReply *reply, void *priv)
{
    recheck_ctx *x = priv;
    redisReply *r = reply;
    char *id = x->id;
    rhai_result *res = NULL;
    areq *q;

    (void)ac;
    if (r == NULL && !x->a->closing)
        x->a->recheck = 1;                      /* lost with "cmd": again once it is up */
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == RHAI__REPLY_NFIELDS &&
        !x->a->closing && (q = rhai__map_get(x->a, id)) != NULL) {
        const char *vals[RHAI__REPLY_NFIELDS];
        size_t lens[RHAI__REPLY_NFIELDS];
        for (size_t i = 0; i < r->elements; i++) {
            int str = r->element[i]->type == REDIS_REPLY_STRING;
            vals[i] = str ? r->element[i]->str : NULL;
            lens[i] = str ? r->element[i]->len : 0;
        }
        if (vals[1] && rh_status_final(rh_status_parse(vals[1]))) {
            if (rhai__result_from_pairs(rhai__reply_fields, vals, lens, RHAI__REPLY_NFIELDS,
                                        &res, NULL) == 0) {
                rhai__req_complete(q, 0, res);
                rhai_result_free(res);
            } else {
                rhai__recheck_later(x->a);      /* out of memory: read it again */
            }
        }
    }
    rh_free(x);
}

/* Every pop connection up. */
static int lanes_up(const rhai_async *a)
{
    for (size_t i = 0; i < a->nlanes; i++)
        if (!a->lanes[i]->k.up)
            return 0;
    return 1;
}

static void recheck_pending(rhai_async *a)
{
    char key[RH_KEY_MAX];
    const char *argv[2 + RHAI__REPLY_NFIELDS];
    size_t lens[2 + RHAI__REPLY_NFIELDS];

    if (!a->recheck || a->closing || (!a->cmd.up && a->mode != MODE_CLUSTER) || !lanes_up(a))
        return;
    a->recheck = 0;
    argv[0] = "HMGET";
    lens[0] = 5;
    for (size_t i = 0; i < RHAI__REPLY_NFIELDS; i++) {
        argv[2 + i] = rhai__reply_fields[i];
        lens[2 + i] = strlen(rhai__reply_fields[i]);
    }
    for (size_t i = 0; i < a->cap; i++) {
        recheck_ctx *x;
        if (a->slots[i] == NULL)
            continue;
        if ((x = rh_malloc(sizeof *x)) == NULL) {
            rhai__recheck_later(a);             /* out of memory: again in a while */
            continue;
        }
        x->a = a;
        memcpy(x->id, a->slots[i]->id, sizeof x->id);
        argv[1] = rh_key_task(key, a->prefix, a->slots[i]->worker, x->id);
        lens[1] = strlen(key);
        if (send_cmd(a, on_recheck, x, RH_CLUSTER_RESEND, 2 + RHAI__REPLY_NFIELDS, argv, lens,
                     NULL) != 0) {
            rh_free(x);
            rhai__recheck_later(a);             /* again once "cmd" is up, or in a while */
        }
    }
}

/* ======================== submit ======================== */

static int submit_status(const redisReply *r, const char *what, const char *id)
{
    if (r == NULL)
        return RHAI_ECONN;
    if (r->type == REDIS_REPLY_ERROR) {
        rh_log(RH_LOG_WARN, "event=submit_failed task=%s %s: %s", id, what, r->str);
        return RHAI_EPROTO;
    }
    return 0;
}

static void on_hset(rh_aconn *ac, redisReply *reply, void *priv)
{
    areq *q = priv;
    (void)ac;
    q->submit_err = submit_status(reply, "HSET", q->id);
    req_unref(q);
}

/* The submit's outcome: a failure ends the request now (when the write
 * was lost the task may or may not be queued; waiting could be for
 * nothing). Success leaves it to the reply or the timer. */
static void on_lpush(rh_aconn *ac, redisReply *reply, void *priv)
{
    areq *q = priv;
    int rc = q->submit_err;

    (void)ac;
    if (rc == 0)
        rc = submit_status(reply, "LPUSH", q->id);
    if (rc != 0 && !q->done)
        rhai__req_complete(q, rc, NULL);
    req_unref(q);
}

/* A worker id joins this client's reply lists. 0 or RHAI_ENOMEM. */
static int worker_add(rhai_async *a, const char *worker)
{
    for (size_t i = 0; i < a->nworkers; i++)
        if (strcmp(a->workers[i], worker) == 0)
            return 0;
    if (a->nworkers == a->capworkers) {
        size_t cap = a->capworkers ? 2 * a->capworkers : 4;
        void *p = rh_realloc(a->workers, cap * sizeof *a->workers);
        if (p == NULL)
            return RHAI_ENOMEM;
        a->workers = p;
        if ((p = rh_realloc(a->wslot, cap * sizeof *a->wslot)) == NULL)
            return RHAI_ENOMEM;
        a->wslot = p;
        a->capworkers = cap;
    }
    {
        char tag[RH_NAME_MAX + 3];
        snprintf(tag, sizeof tag, "{%s}", worker);
        a->wslot[a->nworkers] = rh_keyslot(tag, strlen(tag));
    }
    snprintf(a->workers[a->nworkers++], RH_NAME_MAX + 1, "%s", worker);
    if (a->mode == MODE_CLUSTER)
        rhai__lane_for_slot(a, a->wslot[a->nworkers - 1]);
    return 0;
}

RHAI_API int rhai_async_submit(rhai_async *a, const rhai_task *t, int64_t wait_ms,
                               rhai_done_cb cb, void *data, rhai_error *err)
{
    char reply_key[RH_KEY_MAX];
    rhai__submit s;
    areq *q;
    int rc;

    if (a == NULL || t == NULL || cb == NULL)
        return rh_error_set(err, RHAI_EINVAL, "client, task or callback is NULL");
    if (a->closing)
        return rh_error_set(err, RHAI_ESTATE, "client is closing");
    if (a->cmd.c == NULL)
        return rh_error_set(err, RHAI_ECONN, "not connected to %s (reconnecting)",
                            a->where);
    if ((rc = worker_add(a, t->worker_id)) != 0)
        return rh_error_set(err, rc, "out of memory");
    rh_key_reply_client(reply_key, a->prefix, t->worker_id, a->uuid);
    if ((rc = rhai__submit_prepare(&s, t, a->prefix, reply_key, rh_now_ms(), err)) != 0)
        return rc;
    if (rhai__map_get(a, s.id))
        return rh_error_set(err, RHAI_ESTATE, "task %s is already in flight here", s.id);
    if (map_reserve(a) != 0 || (q = rh_calloc(1, sizeof *q)) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    q->a = a;
    q->cb = cb;
    q->data = data;
    memcpy(q->id, s.id, sizeof q->id);
    snprintf(q->worker, sizeof q->worker, "%s", t->worker_id);
    q->hash = hash_id(q->id);
    q->refs = 1;                            /* the timer */
    a->live++;
    uv_timer_init(a->loop, &q->timer);      /* cannot fail */
    q->timer.data = q;

    detect(a);                              /* if the router's first try failed */
    if ((rc = send_cmd(a, on_hset, q, 0, s.hset_argc, s.hset_argv, s.hset_lens, err)) != 0) {
        q->done = 1;
        uv_close((uv_handle_t *)&q->timer, req_timer_closed);
        if (rc == RHAI_ECONN && err) {      /* keep why (a TLS failure, a refused AUTH) */
            char why[RHAI_ERRMSG_MAX];
            const char *w = why;
            size_t n = strlen(a->where);
            snprintf(why, sizeof why, "%s", err->msg);
            if (strncmp(w, a->where, n) == 0 && w[n] == ':' && w[n + 1] == ' ')
                w += n + 2;                 /* said once */
            rh_error_set(err, RHAI_ECONN, "not connected to %s (reconnecting)%s%s", a->where,
                         *w ? ": " : "", w);
        }
        return rc;
    }
    q->refs++;
    if (send_cmd(a, on_lpush, q, 0, s.lpush_argc, s.lpush_argv, s.lpush_lens, NULL) != 0) {
        q->done = 1;                        /* on_hset drops its reference */
        uv_close((uv_handle_t *)&q->timer, req_timer_closed);
        return rh_error_set(err, RHAI_ECONN, "connection to %s is going away", a->where);
    }
    q->refs++;
    /* the lookup hint, for rhai_wait & co. with the id alone elsewhere */
    send_cmd(a, NULL, NULL, 0, s.hint_argc, s.hint_argv, s.hint_lens, NULL);
    map_put(a, q);
    rhai__pop_issue(a);                     /* the first worker id starts the BLPOP */
    if (wait_ms <= 0)
        wait_ms = rhai__task_wait(t, RHAI__ASYNC_EXTRA_MS, rh_now_ms());
    uv_timer_start(&q->timer, req_timeout, (uint64_t)wait_ms, 0);
    return 0;
}

RHAI_API size_t rhai_async_pending(const rhai_async *a)
{
    return a ? a->count : 0;
}

/* ======================== new and close ======================== */

RHAI_API int rhai_async_new(uv_loop_t *loop, const char *url, const char *prefix,
                            rhai_async **out, rhai_error *err)
{
    rhai_async *a;
    char uuid[37];
    int rc;

    if (out == NULL)
        return rh_error_set(err, RHAI_EINVAL, "out is NULL");
    *out = NULL;
    if (loop == NULL)
        return rh_error_set(err, RHAI_EINVAL, "loop is NULL");
    if ((a = rh_calloc(1, sizeof *a)) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    if ((rc = rh_link_config(url, prefix, &a->cfg, a->prefix, err)) != 0)
        goto fail;
    if ((rc = rh_id_generate(uuid)) != 0) {
        rh_error_set(err, rc, "cannot generate the reply list name");
        goto fail;
    }
    if ((rc = map_reserve(a)) != 0) {
        rh_error_set(err, rc, "out of memory");
        goto fail;
    }
    rh_redis_cfg_where(&a->cfg, a->where, sizeof a->where);
    memcpy(a->uuid, uuid, sizeof a->uuid);
    a->loop = loop;
    a->cmd.a = a;
    a->cmd.name = "cmd";
    if ((rc = rhai__aconn_open(&a->cmd, &a->cfg, err)) != 0)
        goto fail;
    a->live = 1;
    if (rh_aconn_last_error(a->cmd.c)->code != 0) {
        /* the first attempt failed at once (a unix socket that is not
         * there): said now, as before the layer; its close frees a */
        rc = rh_error_set(err, RHAI_ECONN, "%s", rh_aconn_last_error(a->cmd.c)->msg);
        a->closing = 1;
        rh_aconn_close(a->cmd.c);
        return rc;
    }
    if ((rc = rhai__lane_new(a, -1, &a->cfg, err)) != 0) {
        a->closing = 1;                     /* callbacks of cmd do nothing */
        rh_aconn_close(a->cmd.c);           /* its on_closed frees a */
        return rc;
    }
    /* the router: its map tells a cluster from a plain server */
    if (rh_acluster_new(loop, &a->cfg, NULL, &a->rt, NULL) == 0) {
        a->live++;
        detect(a);
    } else {
        a->rt = NULL;                       /* a plain server's client, as before */
    }
    *out = a;
    return 0;
fail:
    rh_free(a->slots);
    rh_free(a);
    return rc;
}

RHAI_API void rhai_async_close(rhai_async *a, rhai_close_cb cb, void *data)
{
    if (a == NULL || a->closing)
        return;
    a->closing = 1;
    a->close_cb = cb;
    a->close_data = data;
    /* Cancel every pending request; deletion shifts later entries back
     * into the slot, hence the inner loop. */
    for (size_t i = 0; i < a->cap; i++)
        while (a->slots[i])
            rhai__req_complete(a->slots[i], RHAI_ECANCELED, NULL);
    if (a->remap_on) {
        a->remap_on = 0;
        uv_timer_stop(&a->remap);
        uv_close((uv_handle_t *)&a->remap, remap_closed);
    }
    if (a->rt) {
        rh_acluster *rt = a->rt;
        a->rt = NULL;
        rh_acluster_close(rt, router_closed, a);    /* pending: ECANCELED */
    }
    for (size_t i = 0; i < a->nlanes; i++) {
        lane *l = a->lanes[i];
        uv_timer_stop(&l->watchdog);
        uv_close((uv_handle_t *)&l->watchdog, rhai__lane_watchdog_closed);
        l->k.up = 0;
        if (l->k.c)
            rh_aconn_close(l->k.c);         /* pending callbacks see NULL */
    }
    a->cmd.up = 0;
    if (a->cmd.c)
        rh_aconn_close(a->cmd.c);
}
