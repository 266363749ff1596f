/* th_cluster.c -- a throwaway 3+3 Redis Cluster for tests (th_cluster.h).
 *
 * Nodes are redis-server children of the test (th_spawn: they die with
 * it), in one temp dir. The cluster is created by redis-cli --cluster
 * create, the way an operator does; the failover and resharding
 * operations below use the CLUSTER commands redis-cli itself sends. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TH_NO_ROUTE   /* its commands target given nodes: no redirection follow */
#include "harness.h"
#include "th_cluster.h"
#include "common/common.h"
#include "common/rcluster.h"

static void nap(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* port is free to bind on 127.0.0.1 */
static int port_free(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

    if (fd < 0)
        return 0;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

redisContext *th_cluster_connect(const th_cluster *c, int i)
{
    struct timeval tv = { 2, 0 };
    redisContext *r;

    if (i < 0 || i >= TH_CLUSTER_N || c->node[i].pid <= 0)
        return NULL;
    r = redisConnectWithTimeout("127.0.0.1", c->node[i].port, tv);
    if (r && r->err) {
        redisFree(r);
        return NULL;
    }
    if (r)
        redisSetTimeout(r, tv);
    return r;
}

/* A command on node i: its reply (freeReplyObject), or NULL. */
static redisReply *node_cmd(const th_cluster *c, int i, const char *fmt, ...)
{
    redisContext *r = th_cluster_connect(c, i);
    redisReply *rep = NULL;
    va_list ap;

    if (!r)
        return NULL;
    va_start(ap, fmt);
    rep = redisvCommand(r, fmt, ap);
    va_end(ap);
    redisFree(r);
    return rep;
}

/* node i answered fmt with +OK (or, when 'want' is not NULL, with a
 * string containing it). */
static int node_ok(const th_cluster *c, int i, const char *want, const char *fmt, ...)
{
    redisContext *r = th_cluster_connect(c, i);
    redisReply *rep;
    va_list ap;
    int ok;

    if (!r)
        return 0;
    va_start(ap, fmt);
    rep = redisvCommand(r, fmt, ap);
    va_end(ap);
    redisFree(r);
    ok = rep && (rep->type == REDIS_REPLY_STATUS || rep->type == REDIS_REPLY_STRING) &&
         (want ? strstr(rep->str, want) != NULL : strcmp(rep->str, "OK") == 0);
    if (!ok && !want)
        fprintf(stderr, "th_cluster: node %d: %s\n", i,
                rep && rep->str ? rep->str : "no reply");
    if (rep)
        freeReplyObject(rep);
    return ok;
}

static int node_of_port(const th_cluster *c, long long port)
{
    for (int i = 0; i < TH_CLUSTER_N; i++)
        if (c->node[i].port == port)
            return i;
    return -1;
}

static int node_spawn(th_cluster *c, int i)
{
    char dir[300], conf[320], log[320], port[16], tport[16];
    char crt[340], key[340], ca[340], ccrt[340], ckey[340];
    char *argv[40] = { TH_REDIS_SERVER, "--port", port, "--bind", "127.0.0.1",
                       "--dir", dir, "--save", "", "--appendonly", "no",
                       "--daemonize", "no", "--cluster-enabled", "yes",
                       "--cluster-config-file", conf, "--cluster-node-timeout", "2000", NULL };
    int64_t deadline;

    if (c->tls) {       /* both ports; the bus on its own port, over TLS */
        char *more[] = { "--tls-port", tport,
                         "--tls-cert-file", crt, "--tls-key-file", key,
                         /* the bus always asks for a client certificate:
                          * server.crt is serverAuth only */
                         "--tls-client-cert-file", ccrt, "--tls-client-key-file", ckey,
                         "--tls-ca-cert-file", ca, "--tls-cluster", "yes",
                         "--tls-replication", "yes", "--tls-auth-clients", "no", NULL };
        int n = 0;
        while (argv[n])
            n++;
        for (int k = 0; more[k]; k++)
            argv[n++] = more[k];
        argv[n] = NULL;
        snprintf(crt, sizeof crt, "%s/server.crt", c->pki);
        snprintf(key, sizeof key, "%s/server.key", c->pki);
        snprintf(ca, sizeof ca, "%s/ca.crt", c->pki);
        snprintf(ccrt, sizeof ccrt, "%s/client.crt", c->pki);
        snprintf(ckey, sizeof ckey, "%s/client.key", c->pki);
    }

    snprintf(dir, sizeof dir, "%s/%d", c->dir, i);
    snprintf(conf, sizeof conf, "%s/nodes.conf", dir);
    snprintf(log, sizeof log, "%s/redis.log", dir);
    if (th_sh("mkdir -p '%s'", dir) != 0)
        return -1;
    for (int attempt = 0; attempt < 20; attempt++) {
        int p = th_free_port(), tp = c->tls ? th_free_port() : 0;
        /* the bus listens on the clients' port + 10000: the TLS one with
         * tls-cluster (redis-cli's CLUSTER MEET assumes that offset) */
        int bp = (c->tls ? tp : p) + 10000;
        if (p <= 0 || tp < 0 || tp == p || bp > 65535 || !port_free(bp))
            continue;
        c->node[i].port = p;
        c->node[i].tls_port = tp;
        snprintf(port, sizeof port, "%d", p);
        snprintf(tport, sizeof tport, "%d", tp);
        c->node[i].pid = th_spawn(argv, NULL, log);
        if (c->node[i].pid < 0)
            return -1;
        deadline = rh_mono_ms() + 10000;
        while (rh_mono_ms() < deadline) {
            redisReply *rep = node_cmd(c, i, "CLUSTER MYID");
            if (rep && rep->type == REDIS_REPLY_STRING && rep->len < sizeof c->node[i].id) {
                memcpy(c->node[i].id, rep->str, rep->len + 1);
                freeReplyObject(rep);
                return 0;
            }
            if (rep)
                freeReplyObject(rep);
            if (waitpid(c->node[i].pid, NULL, WNOHANG) == c->node[i].pid)
                break;      /* lost the port race: try another */
            nap(10);
        }
        th_stop(c->node[i].pid, 2000);
        c->node[i].pid = -1;
    }
    fprintf(stderr, "th_cluster: node %d did not start (see %s)\n", i, log);
    return -1;
}

/* The owner node of every slot as node 'ask' sees it, in own[]. 0/-1. */
static int owners(const th_cluster *c, int ask, int own[16384])
{
    redisReply *rep = node_cmd(c, ask, "CLUSTER SLOTS");
    int ok = rep && rep->type == REDIS_REPLY_ARRAY;

    for (int s = 0; s < 16384; s++)
        own[s] = -1;
    for (size_t i = 0; ok && i < rep->elements; i++) {
        redisReply *e = rep->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[2]->type != REDIS_REPLY_ARRAY || e->element[2]->elements < 2) {
            ok = 0;
            break;
        }
        for (long long s = e->element[0]->integer; s <= e->element[1]->integer; s++)
            if (s >= 0 && s < 16384)
                own[s] = node_of_port(c, e->element[2]->element[1]->integer);
    }
    if (rep)
        freeReplyObject(rep);
    return ok ? 0 : -1;
}

int th_cluster_owner(const th_cluster *c, int slot, int ask)
{
    static int own[16384];

    for (int i = 0; ask < 0 && i < TH_CLUSTER_N; i++)
        if (c->node[i].pid > 0)
            ask = i;
    if (slot < 0 || slot >= 16384 || owners(c, ask, own) != 0)
        return -1;
    return own[slot];
}

int th_cluster_pick_workers(const th_cluster *c, const char *prefix, int n, char w[][16],
                            int *slots)
{
    int owners[TH_CLUSTER_N], got = 0;

    if (n > TH_CLUSTER_N)
        return -1;
    for (int i = 0; i < 1000 && got < n; i++) {
        char tag[24];
        int o, slot, dup = 0;
        snprintf(w[got], 16, "%s%d", prefix, i);
        snprintf(tag, sizeof tag, "{%s}", w[got]);
        slot = rh_keyslot(tag, strlen(tag));
        o = th_cluster_owner(c, slot, -1);
        for (int k = 0; k < got; k++)
            dup |= owners[k] == o;
        if (o < 0 || dup)
            continue;
        owners[got] = o;
        if (slots)
            slots[got] = slot;
        got++;
    }
    return got == n ? 0 : -1;
}

int th_cluster_replica_of(const th_cluster *c, int m)
{
    for (int i = 0; i < TH_CLUSTER_N; i++) {
        redisReply *rep;
        int yes;
        if (i == m || c->node[i].pid <= 0)
            continue;
        rep = node_cmd(c, i, "ROLE");
        yes = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 3 &&
              rep->element[0]->type == REDIS_REPLY_STRING &&
              strcmp(rep->element[0]->str, "slave") == 0 &&
              rep->element[2]->type == REDIS_REPLY_INTEGER &&
              rep->element[2]->integer == c->node[m].port;
        if (rep)
            freeReplyObject(rep);
        if (yes)
            return i;
    }
    return -1;
}

/* Every live node: cluster_state:ok, same owners; and when 'links', every
 * replica's master link up. */
static int all_ok(const th_cluster *c, int links)
{
    static int ref[16384], own[16384];
    int first = 1;

    for (int i = 0; i < TH_CLUSTER_N; i++) {
        redisReply *rep;
        int ok;
        if (c->node[i].pid <= 0)
            continue;
        rep = node_cmd(c, i, "CLUSTER INFO");
        ok = rep && rep->type == REDIS_REPLY_STRING &&
             strstr(rep->str, "cluster_state:ok") &&
             strstr(rep->str, "cluster_slots_ok:16384");
        if (rep)
            freeReplyObject(rep);
        if (!ok || owners(c, i, first ? ref : own) != 0)
            return 0;
        if (!first && memcmp(ref, own, sizeof own) != 0)
            return 0;
        first = 0;
        if (links) {
            rep = node_cmd(c, i, "INFO replication");
            ok = rep && rep->type == REDIS_REPLY_STRING &&
                 (strstr(rep->str, "role:master") || strstr(rep->str, "master_link_status:up"));
            if (rep)
                freeReplyObject(rep);
            if (!ok)
                return 0;
        }
    }
    for (int s = 0; s < 16384; s++)
        if (ref[s] < 0 || c->node[ref[s]].pid <= 0)
            return 0;
    return !first;
}

static int wait_ok(const th_cluster *c, int links, int timeout_ms)
{
    int64_t deadline = rh_mono_ms() + timeout_ms;

    while (rh_mono_ms() < deadline) {
        if (all_ok(c, links))
            return 0;
        nap(20);
    }
    fprintf(stderr, "th_cluster: not ok within %d ms (logs in %s)\n", timeout_ms, c->dir);
    return -1;
}

int th_cluster_wait_ok(const th_cluster *c, int timeout_ms)
{
    return wait_ok(c, 0, timeout_ms);
}

static int cluster_start(th_cluster *c, int tls)
{
    const char *tmp = getenv("TMPDIR");
    char cmd[2048];
    size_t off;

    memset(c, 0, sizeof *c);
    c->tls = tls;
    for (int i = 0; i < TH_CLUSTER_N; i++)
        c->node[i].pid = -1;
    snprintf(c->dir, sizeof c->dir, "%s/rhai-cluster-XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(c->dir) == NULL) {
        fprintf(stderr, "th_cluster: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    if (tls) {
        snprintf(c->pki, sizeof c->pki, "%s/pki", c->dir);
        if (th_sh("'%s/tests/support/tls-pki.sh' '%s'", TH_SOURCE_DIR, c->pki) != 0) {
            fprintf(stderr, "th_cluster: tls-pki.sh failed\n");
            goto fail;
        }
    }
    for (int i = 0; i < TH_CLUSTER_N; i++)
        if (node_spawn(c, i) != 0)
            goto fail;
    if (tls)
        off = (size_t)snprintf(cmd, sizeof cmd, "timeout 60 '%s' --tls --cacert '%s/ca.crt' "
                               "--cluster create", TH_REDIS_CLI, c->pki);
    else    /* timeout: redis-cli waits for the join without a bound */
        off = (size_t)snprintf(cmd, sizeof cmd, "timeout 60 '%s' --cluster create",
                               TH_REDIS_CLI);
    for (int i = 0; i < TH_CLUSTER_N; i++) {
        off += (size_t)snprintf(cmd + off, sizeof cmd - off, " 127.0.0.1:%d",
                                tls ? c->node[i].tls_port : c->node[i].port);
        snprintf(c->nodes + strlen(c->nodes), sizeof c->nodes - strlen(c->nodes), "%s127.0.0.1:%d",
                 i ? "," : "", c->node[i].port);
    }
    if (th_sh("%s --cluster-replicas 1 --cluster-yes >'%s/create.log' 2>&1", cmd, c->dir) != 0) {
        fprintf(stderr, "th_cluster: redis-cli --cluster create failed, see %s/create.log\n",
                c->dir);
        goto fail;
    }
    if (wait_ok(c, 1, 60000) != 0)
        goto fail;
    return 0;
fail:
    th_cluster_stop(c);
    return -1;
}

int th_cluster_start(th_cluster *c)
{
    return cluster_start(c, 0);
}

int th_cluster_start_tls(th_cluster *c)
{
    return cluster_start(c, 1);
}

void th_cluster_stop(th_cluster *c)
{
    for (int i = 0; i < TH_CLUSTER_N; i++) {
        if (c->node[i].pid > 0)
            th_stop(c->node[i].pid, 5000);
        c->node[i].pid = -1;
    }
    if (c->dir[0] && !getenv("RHAI_CLUSTER_KEEP"))
        th_sh("rm -rf '%s'", c->dir);
    c->dir[0] = '\0';
}

/* Wait until every live node names 'who' as the owner of every slot in
 * want[] (a slot with want[s] set). */
static int wait_owner_of(const th_cluster *c, const char want[16384], int who, int timeout_ms)
{
    static int own[16384];
    int64_t deadline = rh_mono_ms() + timeout_ms;

    while (rh_mono_ms() < deadline) {
        int ok = all_ok(c, 0);
        for (int i = 0; ok && i < TH_CLUSTER_N; i++) {
            if (c->node[i].pid <= 0)
                continue;
            ok = owners(c, i, own) == 0;
            for (int s = 0; ok && s < 16384; s++)
                ok = !want[s] || own[s] == who;
        }
        if (ok)
            return 0;
        nap(20);
    }
    fprintf(stderr, "th_cluster: node %d did not take the slots within %d ms (%s)\n", who,
            timeout_ms, c->dir);
    return -1;
}

/* want[s] = 1 for the slots of master m */
static int slots_of(const th_cluster *c, int m, char want[16384])
{
    static int own[16384];
    int n = 0;
    int ask = -1;

    for (int i = 0; i < TH_CLUSTER_N && ask < 0; i++)
        if (c->node[i].pid > 0)
            ask = i;
    if (owners(c, ask, own) != 0)
        return -1;
    for (int s = 0; s < 16384; s++)
        n += (want[s] = (char)(own[s] == m));
    return n > 0 ? 0 : -1;
}

int th_cluster_failover(th_cluster *c, int r, int timeout_ms)
{
    static char want[16384];
    int m = -1;

    for (int i = 0; i < TH_CLUSTER_N && m < 0; i++)
        if (i != r && th_cluster_replica_of(c, i) == r)
            m = i;
    if (m < 0 || slots_of(c, m, want) != 0) {
        fprintf(stderr, "th_cluster: node %d is not a replica of a master with slots\n", r);
        return -1;
    }
    if (!node_ok(c, r, NULL, "CLUSTER FAILOVER"))
        return -1;
    return wait_owner_of(c, want, r, timeout_ms);
}

void th_cluster_kill(th_cluster *c, int i)
{
    if (c->node[i].pid > 0) {
        kill(c->node[i].pid, SIGKILL);
        waitpid(c->node[i].pid, NULL, 0);
    }
    c->node[i].pid = -1;
}

int th_cluster_kill_master(th_cluster *c, int m, int timeout_ms)
{
    static char want[16384];
    int r = th_cluster_replica_of(c, m);

    if (r < 0 || slots_of(c, m, want) != 0) {
        fprintf(stderr, "th_cluster: node %d is not a master with a replica\n", m);
        return -1;
    }
    th_cluster_kill(c, m);
    return wait_owner_of(c, want, r, timeout_ms);
}

/* MIGRATE connects over TLS when the cluster does (tls-cluster yes) */
static int mig_port(const th_cluster *c, int to)
{
    return c->tls ? c->node[to].tls_port : c->node[to].port;
}

int th_cluster_migrate_begin(th_cluster *c, int slot, int to)
{
    int from = th_cluster_owner(c, slot, -1);

    if (from < 0 || from == to) {
        fprintf(stderr, "th_cluster: slot %d is served by %d, cannot migrate to %d\n", slot,
                from, to);
        return -1;
    }
    if (!node_ok(c, to, NULL, "CLUSTER SETSLOT %d IMPORTING %s", slot, c->node[from].id) ||
        !node_ok(c, from, NULL, "CLUSTER SETSLOT %d MIGRATING %s", slot, c->node[to].id))
        return -1;
    return 0;
}

int th_cluster_migrate_key(th_cluster *c, int slot, int to, const char *key)
{
    int from = th_cluster_owner(c, slot, -1);

    if (from < 0)
        return -1;
    return node_ok(c, from, NULL, "MIGRATE 127.0.0.1 %d %s 0 5000", mig_port(c, to), key)
               ? 0 : -1;
}

int th_cluster_migrate_end(th_cluster *c, int slot, int to)
{
    static char want[16384];
    int from = th_cluster_owner(c, slot, -1);

    if (from < 0)
        return -1;
    for (;;) {      /* every key left, in batches as redis-cli does */
        redisReply *keys = node_cmd(c, from, "CLUSTER GETKEYSINSLOT %d 100", slot);
        size_t n = keys && keys->type == REDIS_REPLY_ARRAY ? keys->elements : 0;
        int ok = keys != NULL;
        for (size_t i = 0; ok && i < n; i++)
            ok = node_ok(c, from, NULL, "MIGRATE 127.0.0.1 %d %b 0 5000", mig_port(c, to),
                         keys->element[i]->str, keys->element[i]->len);
        if (keys)
            freeReplyObject(keys);
        if (!ok)
            return -1;
        if (n == 0)
            break;
    }
    /* the target first, then the source, then every master (redis-cli) */
    if (!node_ok(c, to, NULL, "CLUSTER SETSLOT %d NODE %s", slot, c->node[to].id) ||
        !node_ok(c, from, NULL, "CLUSTER SETSLOT %d NODE %s", slot, c->node[to].id))
        return -1;
    for (int i = 0; i < TH_CLUSTER_N; i++) {
        redisReply *rep;
        int master;
        if (i == to || i == from || c->node[i].pid <= 0)
            continue;
        rep = node_cmd(c, i, "ROLE");
        master = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements &&
                 strcmp(rep->element[0]->str, "master") == 0;
        if (rep)
            freeReplyObject(rep);
        if (master)
            (void)node_ok(c, i, NULL, "CLUSTER SETSLOT %d NODE %s", slot, c->node[to].id);
    }
    memset(want, 0, sizeof want);
    want[slot] = 1;
    return wait_owner_of(c, want, to, 30000);
}

int th_cluster_move_slot(th_cluster *c, int slot, int to)
{
    if (th_cluster_migrate_begin(c, slot, to) != 0)
        return -1;
    return th_cluster_migrate_end(c, slot, to);
}
