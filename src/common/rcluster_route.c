/* rcluster_route.c -- the sync Redis Cluster router (rcluster.h): one lazy
 * rh_sconn per node, the slot map, MOVED / ASK / TRYAGAIN / CLUSTERDOWN
 * and lost nodes handled as the cluster specification says.
 *
 * The rules are in rcluster.h; here is how. A command is one loop over
 * "pick the node, send, look at what came back", bounded by the redirect
 * count and the retry deadline. Connections are keyed by host:port apart
 * from the map, so an ASK target outside the map works and a refresh does
 * not drop live connections. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "common/common.h"
#include "common/rcluster.h"

typedef struct node_conn {
    char     host[RH_CLUSTER_HOST_MAX];
    int      port;
    rh_sconn *c;                  /* NULL: not open (or dropped) */
} node_conn;

struct rh_cluster {
    rh_redis_cfg     seed;        /* the caller's config, copied */
    char             where[300];  /* the seed URL without password */
    rh_cluster_opts  opts;
    rh_slot_map      map;
    node_conn       *conns;       /* every node talked to */
    size_t           nconns;
    rh_cluster_stats stats;
};

static void nap_ms(int64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The seed's address as the map names it (a unix socket: its path). */
static const char *seed_host(const rh_cluster *c)
{
    return c->seed.url.is_unix ? c->seed.url.path : c->seed.url.host;
}

static int is_seed(const rh_cluster *c, const char *host, int port)
{
    return strcmp(host, seed_host(c)) == 0 && (c->seed.url.is_unix || port == c->seed.url.port);
}

/* The connection slot of host:port (created closed), or NULL (ENOMEM). */
static node_conn *conn_slot(rh_cluster *c, const char *host, int port, rhai_error *err)
{
    node_conn *n;

    for (size_t i = 0; i < c->nconns; i++)
        if (c->conns[i].port == port && strcmp(c->conns[i].host, host) == 0)
            return &c->conns[i];
    if (strlen(host) >= RH_CLUSTER_HOST_MAX) {
        rh_error_set(err, RHAI_EINVAL, "cluster: node host too long");
        return NULL;
    }
    n = rh_realloc(c->conns, (c->nconns + 1) * sizeof *n);
    if (!n) {
        rh_error_set(err, RHAI_ENOMEM, "cluster: out of memory");
        return NULL;
    }
    c->conns = n;
    n = &c->conns[c->nconns++];
    memset(n, 0, sizeof *n);
    strcpy(n->host, host);
    n->port = port;
    return n;
}

static void conn_drop(node_conn *n)
{
    rh_sconn_free(n->c);
    n->c = NULL;
}

/* The open connection of host:port, opened now if needed: 0, or the
 * error of rh_sconn_open (nothing was sent). */
static int conn_get(rh_cluster *c, const char *host, int port, rh_sconn **out,
                    rhai_error *err)
{
    node_conn *n = conn_slot(c, host, port, err);
    rh_redis_cfg cfg;
    char where[RH_CLUSTER_HOST_MAX + 16];

    if (!n)
        return err ? err->code : RHAI_ENOMEM;
    if (n->c && !rh_sconn_ok(n->c))
        conn_drop(n);
    if (!n->c) {
        cfg = c->seed;
        if (!is_seed(c, host, port)) {
            cfg.url.is_unix = 0;
            snprintf(cfg.url.host, sizeof cfg.url.host, "%s", host);
            cfg.url.port = port;
        }
        snprintf(where, sizeof where, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
        int rc = rh_sconn_open(&cfg, is_seed(c, host, port) ? c->where : where, &n->c, err);
        if (rc != 0)
            return rc;
    }
    *out = n->c;
    return 0;
}

/* ======================== the map ======================== */

/* INFO cluster of conn says cluster_enabled:0 */
static int cluster_disabled(rh_sconn *s)
{
    redisReply *r = NULL;
    int off = 0;

    if (rh_sconn_command(s, &r, NULL, "INFO cluster") == 0 && r &&
        (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS))
        off = strstr(r->str, "cluster_enabled:0") != NULL;
    if (r)
        freeReplyObject(r);
    return off;
}

/* Read the map from host:port into *m. */
static int map_from(rh_cluster *c, const char *host, int port, rh_slot_map *m,
                    rhai_error *err)
{
    const char *shards[] = { "CLUSTER", "SHARDS" }, *slots[] = { "CLUSTER", "SLOTS" };
    rh_sconn *s;
    redisReply *r = NULL;
    int rc = conn_get(c, host, port, &s, err);

    if (rc != 0)
        return rc;
    rc = rh_sconn_command_argv(s, 2, shards, NULL, &r, err);
    if (rc == 0 && r->type != REDIS_REPLY_ERROR) {
        rc = rh_slot_map_from_shards(m, r, host, rh_sconn_is_tls(s), err);
        goto done;
    }
    if (rc != 0)
        goto done;
    /* Redis < 7 (unknown subcommand) or cluster support disabled */
    freeReplyObject(r);
    r = NULL;
    if (cluster_disabled(s)) {
        rc = rh_slot_map_single(m, host, port, err);
        goto done;
    }
    rc = rh_sconn_command_argv(s, 2, slots, NULL, &r, err);
    if (rc == 0 && r->type == REDIS_REPLY_ERROR)
        rc = rh_error_set(err, RHAI_EPROTO, "%s:%d: CLUSTER SLOTS refused: %s", host, port,
                          r->str);
    else if (rc == 0)
        rc = rh_slot_map_from_slots(m, r, host, err);
done:
    if (r)
        freeReplyObject(r);
    if (rc != 0 && s && !rh_sconn_ok(s))
        conn_drop(conn_slot(c, host, port, NULL));
    return rc;
}

int rh_cluster_refresh(rh_cluster *c, rhai_error *err)
{
    rh_slot_map *m = rh_malloc(sizeof *m);
    rh_cluster_node *cand = NULL;
    size_t ncand = 0;
    int rc = RHAI_ECONN;

    if (!m)
        return rh_error_set(err, RHAI_ENOMEM, "cluster: out of memory");
    rh_slot_map_init(m);
    /* candidates: healthy masters, replicas, failed ones, then the seed */
    cand = rh_calloc(c->map.nnodes + 1, sizeof *cand);
    if (!cand) {
        rh_free(m);
        return rh_error_set(err, RHAI_ENOMEM, "cluster: out of memory");
    }
    for (int pass = 0; pass < 3; pass++)
        for (size_t i = 0; i < c->map.nnodes; i++) {
            const rh_cluster_node *n = &c->map.nodes[i];
            int want = n->failed ? 2 : n->master ? 0 : 1;
            if (want == pass)
                cand[ncand++] = *n;
        }
    if (rh_slot_map_find(&c->map, seed_host(c), c->seed.url.port) < 0 || c->map.single) {
        snprintf(cand[ncand].host, sizeof cand[ncand].host, "%s", seed_host(c));
        cand[ncand++].port = c->seed.url.port;
    }
    for (size_t i = 0; i < ncand; i++) {
        rc = map_from(c, cand[i].host, cand[i].port, m, err);
        if (rc == 0 || rc == RHAI_ENOMEM)
            break;
    }
    if (rc == 0) {
        rh_slot_map_clear(&c->map);
        c->map = *m;            /* the nodes array moves over */
        c->stats.refreshes++;
    } else if (ncand == 0) {
        rc = rh_error_set(err, RHAI_ECONN, "cluster: no node to read the slot map from");
    }
    rh_free(cand);
    rh_free(m);
    return rc;
}

const rh_slot_map *rh_cluster_map(const rh_cluster *c)
{
    return &c->map;
}

void rh_cluster_get_stats(const rh_cluster *c, rh_cluster_stats *out)
{
    *out = c->stats;
}

/* ======================== open / free ======================== */

int rh_cluster_open(const rh_redis_cfg *cfg, const rh_cluster_opts *opts, rh_cluster **out,
                    rhai_error *err)
{
    rh_cluster *c;
    int rc;

    *out = NULL;
    c = rh_calloc(1, sizeof *c);
    if (!c)
        return rh_error_set(err, RHAI_ENOMEM, "cluster: out of memory");
    c->seed = *cfg;
    rh_redis_cfg_where(cfg, c->where, sizeof c->where);
    c->opts = rh_cluster_opts_of(opts);
    rh_slot_map_init(&c->map);
    rc = map_from(c, seed_host(c), c->seed.url.port, &c->map, err);
    if (rc != 0) {
        rh_cluster_free(c);
        return rc;
    }
    c->stats.refreshes = 1;
    *out = c;
    return 0;
}

void rh_cluster_free(rh_cluster *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nconns; i++)
        conn_drop(&c->conns[i]);
    rh_free(c->conns);
    rh_slot_map_clear(&c->map);
    rh_free(c);
}

/* ======================== routing ======================== */

static int reply_is(const redisReply *r, const char *word)
{
    size_t n = strlen(word);
    return r->type == REDIS_REPLY_ERROR && r->len >= n && memcmp(r->str, word, n) == 0 &&
           (r->len == n || r->str[n] == ' ');
}

/* Send ASKING + the command pipelined (ask) or the command alone. 0 with
 * *out, or the connection's error. */
static int send_cmd(rh_sconn *s, int ask, int argc, const char **argv, const size_t *lens,
                    redisReply **out, rhai_error *err)
{
    redisReply *r = NULL;
    int rc;

    if (!ask)
        return rh_sconn_command_argv(s, argc, argv, lens, out, err);
    rc = rh_sconn_append(s, err, "ASKING");
    if (rc == 0)
        rc = rh_sconn_append_argv(s, argc, argv, lens, err);
    if (rc == 0)
        rc = rh_sconn_get_reply(s, &r, err);
    if (rc == 0) {
        int asking_ok = r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        r = NULL;
        rc = rh_sconn_get_reply(s, &r, err);
        if (rc == 0 && !asking_ok) {
            freeReplyObject(r);
            return rh_error_set(err, RHAI_EPROTO, "cluster: ASKING refused");
        }
    }
    if (rc == 0)
        *out = r;
    return rc;
}

/* The owner of slot in the map (refreshed once if none): 0 and host/port,
 * or RHAI_ECONN. */
static int owner_of(rh_cluster *c, int slot, char *host, int *port, rhai_error *err)
{
    int o;

    if (slot == RH_CLUSTER_ANY) {
        for (size_t i = 0; i < c->map.nnodes; i++)
            if (c->map.nodes[i].master && !c->map.nodes[i].failed) {
                strcpy(host, c->map.nodes[i].host);
                *port = c->map.nodes[i].port;
                return 0;
            }
        strcpy(host, seed_host(c));
        *port = c->seed.url.port;
        return 0;
    }
    o = c->map.owner[slot];
    if (o < 0 && rh_cluster_refresh(c, NULL) == 0)
        o = c->map.owner[slot];
    if (o < 0)
        return rh_error_set(err, RHAI_ECONN, "cluster: slot %d is served by no node (%s)",
                            slot, c->where);
    strcpy(host, c->map.nodes[o].host);
    *port = c->map.nodes[o].port;
    return 0;
}

/* After MOVED: refresh; when the map still disagrees with the redirect,
 * believe the redirect for this slot (a map read from a node that has
 * not heard of the change yet). */
static void follow_moved(rh_cluster *c, const rh_redirect *rd)
{
    (void)rh_cluster_refresh(c, NULL);
    if (!c->map.single)     /* ENOMEM: the next MOVED tries again */
        (void)rh_slot_map_set_owner(&c->map, rd->slot, rd->host, rd->port, NULL);
}

int rh_cluster_command_argv(rh_cluster *c, int slot, unsigned flags, int argc,
                            const char **argv, const size_t *lens, redisReply **out,
                            rhai_error *err)
{
    char host[RH_CLUSTER_HOST_MAX];
    int port = 0, ask = 0, redirects = 0, rc;
    int64_t deadline = rh_mono_ms() + c->opts.retry_ms, backoff = RH_CLUSTER_BACKOFF_MIN_MS;
    rhai_error last;

    *out = NULL;
    if (slot < RH_CLUSTER_ANY || slot >= RH_CLUSTER_SLOTS || argc < 1 || !argv)
        return rh_error_set(err, RHAI_EINVAL, "cluster: bad slot %d or no command", slot);
    memset(&last, 0, sizeof last);
    rc = owner_of(c, slot, host, &port, err);
    while (rc == 0) {
        rh_sconn *s = NULL;
        redisReply *r = NULL;
        rh_redirect rd;
        int sent;

        rc = conn_get(c, host, port, &s, &last);
        sent = rc == 0;
        if (rc == 0)
            rc = send_cmd(s, ask, argc, argv, lens, &r, &last);
        ask = 0;
        if (rc == RHAI_ENOMEM || rc == RHAI_EINVAL || rc == RHAI_ETLS) {
            if (err)
                *err = last;
            return rc;
        }
        if (rc == 0 && r->type == REDIS_REPLY_ERROR &&
            rh_redirect_parse(r->str, r->len, &rd, NULL) == 0) {
            freeReplyObject(r);
            if (++redirects > c->opts.redirects_max)
                return rh_error_set(err, RHAI_ECONN, "cluster: slot %d: more than %d "
                                    "redirections (last: %s %s:%d)", slot,
                                    c->opts.redirects_max, rd.ask ? "ASK" : "MOVED",
                                    rd.host[0] ? rd.host : host, rd.port);
            if (!rd.host[0])
                strcpy(rd.host, host);
            if (rd.ask) {
                c->stats.ask++;
                ask = 1;
            } else {
                c->stats.moved++;
                follow_moved(c, &rd);
            }
            strcpy(host, rd.host);
            port = rd.port;
            continue;
        }
        if (rc == 0 && r->type == REDIS_REPLY_ERROR && reply_is(r, "TRYAGAIN")) {
            freeReplyObject(r);
            if (++redirects > c->opts.redirects_max)
                return rh_error_set(err, RHAI_ECONN, "cluster: slot %d: still TRYAGAIN "
                                    "after %d tries (a migration in progress)", slot,
                                    redirects - 1);
            c->stats.tryagain++;
            nap_ms(backoff);
            backoff = backoff * 2 > RH_CLUSTER_BACKOFF_MAX_MS ? RH_CLUSTER_BACKOFF_MAX_MS
                                                              : backoff * 2;
            rc = owner_of(c, slot, host, &port, err);
            continue;
        }
        if (rc == 0 && !(r->type == REDIS_REPLY_ERROR && reply_is(r, "CLUSTERDOWN"))) {
            *out = r;           /* an answer, maybe an error of the caller's */
            return 0;
        }
        /* The node is lost, or the cluster is down for this slot (a
         * failover in progress): refresh and retry until the deadline. A
         * command written and then lost may have run: resent only when
         * the caller allows it. */
        if (rc == 0) {
            rh_error_set(&last, RHAI_ECONN, "%s:%d: %s", host, port, r->str);
            freeReplyObject(r);
        } else {
            conn_drop(conn_slot(c, host, port, NULL));
            if (sent && !(flags & RH_CLUSTER_RESEND)) {
                (void)rh_cluster_refresh(c, NULL);
                return rh_error_set(err, RHAI_ECONN, "cluster: slot %d: connection lost "
                                    "after the command was sent, it may have run: %s",
                                    slot, last.msg);
            }
        }
        if (rh_mono_ms() + backoff > deadline)
            return rh_error_set(err, RHAI_ECONN, "cluster: slot %d: no node answered "
                                "within %lld ms: %s", slot, (long long)c->opts.retry_ms,
                                last.msg);
        nap_ms(backoff);
        backoff = backoff * 2 > RH_CLUSTER_BACKOFF_MAX_MS ? RH_CLUSTER_BACKOFF_MAX_MS
                                                          : backoff * 2;
        c->stats.retries++;
        (void)rh_cluster_refresh(c, NULL);
        rc = owner_of(c, slot, host, &port, err);
    }
    return rc;
}

int rh_cluster_command_key(rh_cluster *c, const char *key, size_t keylen, unsigned flags,
                           int argc, const char **argv, const size_t *lens,
                           redisReply **out, rhai_error *err)
{
    return rh_cluster_command_argv(c, rh_keyslot(key, keylen), flags, argc, argv, lens, out,
                                   err);
}

int rh_cluster_conn(rh_cluster *c, int slot, rh_sconn **out, rhai_error *err)
{
    char host[RH_CLUSTER_HOST_MAX];
    int port = 0, rc;

    *out = NULL;
    if (slot != RH_CLUSTER_ANY && (slot < 0 || slot >= RH_CLUSTER_SLOTS))
        return rh_error_set(err, RHAI_EINVAL, "cluster: bad slot %d", slot);
    if ((rc = owner_of(c, slot, host, &port, err)) != 0)
        return rc;
    return conn_get(c, host, port, out, err);
}
