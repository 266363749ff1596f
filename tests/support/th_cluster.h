/* th_cluster.h -- test support: a throwaway Redis Cluster of 3 masters and
 * 3 replicas on 127.0.0.1, and the operations the cluster tests play on it
 * (failover, kill -9 of a master, moving a slot, a migration by hand).
 *
 * The same setup as tools/with-redis-cluster.sh, but owned by the test, so
 * a test may break its cluster (kill a master) without touching another
 * test's. Every wait polls a condition against a deadline; nothing sleeps
 * for timing. Functions return 0, or -1 after printing why. */
#ifndef TH_CLUSTER_H
#define TH_CLUSTER_H

#include <sys/types.h>
#include <hiredis/hiredis.h>

#define TH_CLUSTER_N 6

typedef struct th_cluster_node {
    pid_t pid;                   /* -1 once stopped or killed */
    int   port;                  /* plain port: the harness talks here */
    int   tls_port;              /* th_cluster_start_tls: clients' TLS port */
    char  id[41];                /* CLUSTER MYID */
} th_cluster_node;

typedef struct th_cluster {
    char            dir[256];    /* temp dir, one subdir per node */
    th_cluster_node node[TH_CLUSTER_N];
    char            nodes[TH_CLUSTER_N * 24];   /* "127.0.0.1:P,..." */
    int             tls;         /* tls-cluster yes: bus and replication on TLS */
    char            pki[300];    /* dir/pki (tests/support/tls-pki.sh) when tls */
} th_cluster;

/* Start 6 nodes (--cluster-enabled yes, node timeout 2 s), create the
 * cluster (--cluster-replicas 1) and wait (60 s) until every node says
 * cluster_state:ok, all agree on the slot owners, and every replica's link
 * to its master is up. */
int  th_cluster_start(th_cluster *c);
/* The same with TLS: a PKI made by tests/support/tls-pki.sh in dir/pki
 * (server.crt valid for 127.0.0.1, ca.crt), every node with a plain port
 * (the harness's) and a TLS port (tls_port, what a rediss:// client
 * uses), --tls-cluster yes and --tls-replication yes, created by
 * redis-cli --tls over the TLS ports. */
int  th_cluster_start_tls(th_cluster *c);
/* Stop every node still running and remove the dir. */
void th_cluster_stop(th_cluster *c);
/* A blocking connection to node i (NULL when it is down). */
redisContext *th_cluster_connect(const th_cluster *c, int i);
/* The node index serving 'slot' according to node 'ask' (-1: any live
 * node), or -1. */
int  th_cluster_owner(const th_cluster *c, int slot, int ask);
/* n worker ids PREFIX0, PREFIX1, ... (the first found, each under 16
 * bytes) whose slots are served by n different masters, into w, and
 * their slots into slots (NULL: not wanted). 0, or -1 when fewer than n
 * were found among the first 1000. */
int  th_cluster_pick_workers(const th_cluster *c, const char *prefix, int n, char w[][16],
                             int *slots);
/* Index of a replica of master node m, or -1. */
int  th_cluster_replica_of(const th_cluster *c, int m);
/* Wait until every live node says cluster_state:ok and names the same
 * owner for every slot (timeout_ms). */
int  th_cluster_wait_ok(const th_cluster *c, int timeout_ms);
/* CLUSTER FAILOVER on replica r; wait until r owns its master's slots
 * everywhere. */
int  th_cluster_failover(th_cluster *c, int r, int timeout_ms);
/* SIGKILL node i and reap it, without waiting for anything else. */
void th_cluster_kill(th_cluster *c, int i);
/* SIGKILL master m; wait until one of its replicas owns its slots
 * everywhere (the failure detection of the node timeout, then the
 * election). Node m stays down. */
int  th_cluster_kill_master(th_cluster *c, int m, int timeout_ms);
/* Move 'slot' to master 'to' with its keys, as redis-cli --cluster
 * reshard does: SETSLOT IMPORTING / MIGRATING, MIGRATE every key, SETSLOT
 * NODE on both and then on every master. */
int  th_cluster_move_slot(th_cluster *c, int slot, int to);
/* The first half of that: the slot is now migrating from its owner to
 * 'to' (CLUSTER SETSLOT IMPORTING on 'to', MIGRATING on the owner). */
int  th_cluster_migrate_begin(th_cluster *c, int slot, int to);
/* MIGRATE one key of a migrating slot from its owner to 'to'. */
int  th_cluster_migrate_key(th_cluster *c, int slot, int to, const char *key);
/* The second half: the remaining keys moved and SETSLOT NODE everywhere. */
int  th_cluster_migrate_end(th_cluster *c, int slot, int to);

#endif
