/* async_int.h -- what the two halves of the async client share.
 *
 * async.c holds the requests (map, lifetime, submit), the connections'
 * callbacks, the router and new/close; async_lanes.c holds the reply lanes
 * (pop connections, their BLPOP/LPOP loop, watchdog and remap). Both see
 * the client's structs and limits here. Not for use outside
 * src/client/async*.c. */
#ifndef RHAI_ASYNC_INT_H
#define RHAI_ASYNC_INT_H

#include <hiredis/hiredis.h>

#include "rhai/async.h"
#include "client_int.h"
#include "common/rcluster.h"

#ifndef RHAI__POP_BLOCK_S           /* BLPOP timeout, seconds */
#define RHAI__POP_BLOCK_S 1
#endif
#ifndef RHAI__POP_RETRY_MS          /* a BLPOP that could not be sent: again after */
#define RHAI__POP_RETRY_MS 500
#endif
#ifndef RHAI__POP_WATCHDOG_MS       /* no answer to a BLPOP this long: reconnect */
#define RHAI__POP_WATCHDOG_MS (RHAI__POP_BLOCK_S * 1000 + 5000)
#endif
#ifndef RHAI__POP_BATCH             /* replies taken per LPOP after a BLPOP */
#define RHAI__POP_BATCH 256
#endif
#ifndef RHAI__ASYNC_EXTRA_MS        /* default wait: task timeout + this */
#define RHAI__ASYNC_EXTRA_MS 5000
#endif
#ifndef RHAI__REMAP_MS              /* a lane down this long re-reads the map */
#define RHAI__REMAP_MS 1000
#endif

typedef struct aconn aconn;
typedef struct areq areq;
typedef struct lane lane;

/* One connection (an rh_aconn) and whether it is up. */
struct aconn {
    rhai_async *a;
    rh_aconn   *c;                  /* NULL once closed */
    const char *name;               /* "cmd" or "pop", for logs */
    int         up;                 /* the handshake was answered */
    int         is_pop;
    lane       *lane;               /* the pop connection's lane */
};

/* A pop connection, its BLPOP and its watchdog. Lane 0 ("pop", at the
 * URL's server) pops every worker id's list unless the server is a
 * cluster; there, lane i > 0 pops the worker ids of one slot. */
struct lane {
    aconn       k;
    int         slot;               /* -1: lane 0 */
    int         popping;            /* a BLPOP or LPOP is outstanding */
    int         remapping;          /* a probe of its slot is in flight */
    int64_t     down_at;            /* rh_mono_ms() when it went down; 0: up */
    uv_timer_t  watchdog;           /* a BLPOP unanswered this long: drop */
    char        drain_key[RH_KEY_MAX];      /* the list a BLPOP answered from */
};

enum { MODE_UNKNOWN, MODE_SINGLE, MODE_CLUSTER };

/* One submitted task awaiting its reply. In the map while !done. */
struct areq {
    rhai_async  *a;
    uv_timer_t   timer;             /* the wait timeout */
    rhai_done_cb cb;
    void        *data;
    uint64_t     hash;              /* of id, for the map */
    int          refs;              /* timer handle + HSET/LPUSH callbacks */
    int          done;              /* cb ran (or submit failed): out of the map */
    int          submit_err;        /* HSET failed: reported by the LPUSH cb */
    char         id[RHAI_ID_MAX];
    char         worker[RH_NAME_MAX + 1];
};

/* Invariant: count == number of non-NULL slots == requests not done;
 * cap is 0 or a power of two with count * 2 <= cap; an entry sits at its
 * hash's slot or after it with no empty slot in between (linear probing
 * with backward-shift deletion, so no tombstones). */
struct rhai_async {
    uv_loop_t    *loop;
    rh_redis_cfg  cfg;
    char          prefix[RH_PREFIX_MAX + 1];
    char          where[400];        /* url without password, for logs */
    char          uuid[37];          /* names this client's reply lists */
    char        (*workers)[RH_NAME_MAX + 1];   /* worker ids submitted to */
    int          *wslot;             /* the hash slot of each one's tag */
    size_t        nworkers, capworkers;
    aconn         cmd;
    lane        **lanes;             /* lanes[0]: "pop" */
    size_t        nlanes;
    rh_acluster  *rt;                /* the router; NULL on a plain Redis */
    int           mode;              /* MODE_*: what the router's map said */
    int           detecting;         /* the router's first request is in flight */
    uv_timer_t    remap;             /* cluster: lanes down this long re-read the map */
    int           remap_on;          /* 'remap' initialised (closed with the client) */
    areq        **slots;
    size_t        cap;
    size_t        count;
    int           recheck;           /* pop connection was lost: read pending
                                        tasks' hashes once "cmd" is up */
    int           closing;
    int           live;              /* open conn timers + requests not freed */
    rhai_close_cb close_cb;
    void         *close_data;
};

/* ======================== async.c ======================== */

/* One fewer open connection, timer or request; the last frees the client. */
void  rhai__async_unref(rhai_async *a);
/* Open k's connection (cfg) with the client's callbacks: rh_aconn_new's errors. */
int   rhai__aconn_open(aconn *k, const rh_redis_cfg *cfg, rhai_error *err);
/* The pending request of task 'id' (borrowed), or NULL. */
areq *rhai__map_get(const rhai_async *a, const char *id);
/* End request 'q' exactly once: out of the map, timer closed, callback. */
void  rhai__req_complete(areq *q, int status, const rhai_result *res);

/* ======================== async_lanes.c ======================== */

/* A new lane for 'slot' (-1: lane 0) whose pop connection goes to cfg. */
int   rhai__lane_new(rhai_async *a, int slot, const rh_redis_cfg *cfg, rhai_error *err);
/* On a cluster: the lane of 'slot', made if need be. */
void  rhai__lane_for_slot(rhai_async *a, int slot);
/* The close callback of a lane's watchdog timer. */
void  rhai__lane_watchdog_closed(uv_handle_t *h);
/* The cluster's remap timer: a lane down too long probes its slot. */
void  rhai__on_remap_tick(uv_timer_t *h);
/* The BLPOP of every lane, or of lane l, unless one is outstanding. */
void  rhai__pop_issue(rhai_async *a);
void  rhai__lane_issue(lane *l);
void  rhai__recheck_later(rhai_async *a);

#endif
