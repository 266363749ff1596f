/* async_lanes.c -- the reply lanes of the async client (async.c has the whole).
 *
 * A lane is a pop connection with its BLPOP over this client's reply
 * lists, its watchdog and, on a cluster, the hash slot it follows (remap).
 * Each reply popped completes its pending request through async.c's map.
 * What the two files share is declared in async_int.h. */
#include <stdio.h>
#include <string.h>
#include <hiredis/hiredis.h>

#include "async_int.h"

/* ======================== lanes ======================== */

static void on_watchdog(uv_timer_t *h)
{
    lane *l = h->data;

    if (!l->k.a->closing && l->k.c)
        rh_aconn_drop(l->k.c, "no answer to BLPOP (watchdog)");
}

void rhai__lane_watchdog_closed(uv_handle_t *h)
{
    lane *l = h->data;
    rhai__async_unref(l->k.a);
}

/* A new lane for 'slot' (-1: lane 0) whose pop connection goes to cfg.
 * 0, or the errors of rh_aconn_new. */
int rhai__lane_new(rhai_async *a, int slot, const rh_redis_cfg *cfg, rhai_error *err)
{
    lane *l, **ls;
    int rc;

    if ((ls = rh_realloc(a->lanes, (a->nlanes + 1) * sizeof *ls)) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    a->lanes = ls;
    if ((l = rh_calloc(1, sizeof *l)) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    l->slot = slot;
    l->down_at = rh_mono_ms();              /* not up yet */
    l->k.a = a;
    l->k.name = "pop";
    l->k.is_pop = 1;
    l->k.lane = l;
    if ((rc = rhai__aconn_open(&l->k, cfg, err)) != 0) {
        rh_free(l);
        return rc;
    }
    a->live++;                              /* the connection */
    uv_timer_init(a->loop, &l->watchdog);
    l->watchdog.data = l;
    a->live++;                              /* the watchdog */
    a->lanes[a->nlanes++] = l;
    return 0;
}

/* On a cluster: the lane of 'slot', made (to the slot's master in the
 * router's map, else the URL's node: a MOVED then moves it) if need be. */
void rhai__lane_for_slot(rhai_async *a, int slot)
{
    rh_redis_cfg cfg = a->cfg;
    const rh_slot_map *m;
    rhai_error e;

    for (size_t i = 0; i < a->nlanes; i++)
        if (a->lanes[i]->slot == slot)
            return;
    m = a->rt ? rh_acluster_map(a->rt) : NULL;
    if (m && m->owner[slot] >= 0 && !cfg.url.is_unix) {
        snprintf(cfg.url.host, sizeof cfg.url.host, "%s", m->nodes[m->owner[slot]].host);
        cfg.url.port = m->nodes[m->owner[slot]].port;
    }
    if (rhai__lane_new(a, slot, &cfg, &e) != 0)
        rh_log(RH_LOG_WARN, "event=pop_lane_failed slot=%d %s", slot, e.msg);
}

/* ======================== remap ======================== */

/* The probe of a lane's slot answered: the router reached the slot's
 * master, which its map now names; the lane goes there if it is down
 * and elsewhere (its master died: nobody said MOVED). */
static void on_lane_remap(rh_acluster *rt, redisReply *r, const rhai_error *err, void *priv)
{
    lane *l = priv;
    rhai_async *a = l->k.a;
    const rh_slot_map *m;
    const char *host;
    int own, port = 0;

    (void)err;
    l->remapping = 0;
    if (r == NULL || a->closing || rt != a->rt || l->k.c == NULL || l->k.up)
        return;
    m = rh_acluster_map(rt);
    if ((own = m->owner[l->slot]) < 0 || m->single)
        return;
    host = rh_aconn_host(l->k.c, &port);
    if (port == m->nodes[own].port && strcmp(host, m->nodes[own].host) == 0)
        return;
    rh_log(RH_LOG_NOTICE, "event=redis_remap conn=pop slot=%d from=%s:%d to=%s:%d", l->slot,
           host, port, m->nodes[own].host, m->nodes[own].port);
    (void)rh_aconn_retarget(l->k.c, m->nodes[own].host, m->nodes[own].port, NULL);
}

void rhai__on_remap_tick(uv_timer_t *h)
{
    rhai_async *a = h->data;
    int64_t now = rh_mono_ms();

    for (size_t i = 0; i < a->nlanes && a->rt && !a->closing; i++) {
        lane *l = a->lanes[i];
        char key[RH_KEY_MAX];
        const char *argv[2] = { "EXISTS", key };
        if (l->slot < 0 || l->k.up || l->remapping || !l->down_at ||
            now - l->down_at < RHAI__REMAP_MS)
            continue;
        for (size_t w = 0; w < a->nworkers; w++)
            if (a->wslot[w] == l->slot) {
                rh_key_reply_client(key, a->prefix, a->workers[w], a->uuid);
                if (rh_acluster_command_argv(a->rt, l->slot, RH_CLUSTER_RESEND, on_lane_remap,
                                             l, 2, argv, NULL, NULL) == 0)
                    l->remapping = 1;
                break;
            }
    }
}

/* ======================== replies ======================== */

/* One reply JSON from the list: answer the request it belongs to. Replies
 * of requests that already ended (timeout) are dropped. -1 when the reply
 * could not be read for want of memory: it is off the list, and its
 * request waits (the caller has the pending ones re-read). */
static int handle_reply(rhai_async *a, const char *list, const char *text, size_t len)
{
    rhai_result *res = NULL;
    rhai_error e;
    areq *q;
    int rc;

    if ((rc = rhai__result_from_reply(text, len, &res, &e)) != 0) {
        rh_log(RH_LOG_WARN, "event=bad_reply list=%s %s", list, e.msg);
        return rc == RHAI_ENOMEM ? -1 : 0;
    }
    q = rhai__map_get(a, rhai_result_id(res));
    if (q == NULL) {
        rh_log(RH_LOG_DEBUG, "event=late_reply task=%s no request waits for it",
               rhai_result_id(res));
    } else {
        rhai__req_complete(q, 0, res);
    }
    rhai_result_free(res);
    return 0;
}

/* Something pending could not be read (out of memory): in a while, drop a
 * pop connection; its reconnect re-reads every pending request from its
 * hash (the recheck of async.c). */
void rhai__recheck_later(rhai_async *a)
{
    a->recheck = 1;
    for (size_t i = 0; i < a->nlanes; i++) {
        lane *l = a->lanes[i];
        if (l->k.c && l->k.up) {
            uv_timer_start(&l->watchdog, on_watchdog, RHAI__POP_RETRY_MS, 0);
            return;
        }
    }
}

/* privdata tells which command answered: BLPOP or LPOP <count>. */
static char pop_blpop, pop_lpop;

static void on_pop(rh_aconn *ac, redisReply *reply, void *priv)
{
    aconn *k = rh_aconn_data(ac);
    lane *l = k->lane;
    rhai_async *a = k->a;
    redisReply *r = reply;
    int more = 0, lost = 0;

    l->popping = 0;
    if (r == NULL || a->closing)
        return;                             /* gone: on_up re-issues */
    uv_timer_stop(&l->watchdog);
    if (r->type == REDIS_REPLY_ERROR) {
        char why[300];
        snprintf(why, sizeof why, "pop failed: %s", r->str);
        rh_log(RH_LOG_NOTICE, "event=redis_down conn=%s url=%s %s", k->name, a->where, why);
        rh_aconn_drop(ac, why);             /* reconnect after backoff */
        return;
    }
    if (r->type == REDIS_REPLY_ARRAY && priv == &pop_blpop && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[0]->len < RH_KEY_MAX &&
        r->element[1]->type == REDIS_REPLY_STRING) {
        memcpy(l->drain_key, r->element[0]->str, r->element[0]->len + 1);
        lost |= handle_reply(a, l->drain_key, r->element[1]->str, r->element[1]->len);
        more = 1;                           /* a burst may follow: drain it */
    } else if (r->type == REDIS_REPLY_ARRAY && priv == &pop_lpop) {
        for (size_t i = 0; i < r->elements && !a->closing; i++)
            if (r->element[i]->type == REDIS_REPLY_STRING)
                lost |= handle_reply(a, l->drain_key, r->element[i]->str, r->element[i]->len);
        more = r->elements == RHAI__POP_BATCH;
    }
    if (a->closing || !k->up)
        return;                             /* a callback closed the client */
    if (lost) {
        /* the reconnect re-reads the pending requests from their hashes */
        rh_aconn_drop(ac, "out of memory reading a reply");
        return;
    }
    if (more) {
        char n[16];
        snprintf(n, sizeof n, "%d", RHAI__POP_BATCH);
        if (rh_aconn_command(ac, on_pop, &pop_lpop, NULL, "LPOP %s %s", l->drain_key, n) == 0) {
            l->popping = 1;
            uv_timer_start(&l->watchdog, on_watchdog, RHAI__POP_WATCHDOG_MS, 0);
        }
        return;
    }
    rhai__lane_issue(l);
}

/* The worker ids lane l pops: lane 0 all of them on a plain server (none
 * on a cluster, none before the router said which); lane i > 0 those of
 * its slot. */
static int lane_has(const lane *l, size_t i)
{
    const rhai_async *a = l->k.a;

    if (l->slot < 0)
        return a->mode == MODE_SINGLE || (a->mode == MODE_UNKNOWN && a->rt == NULL);
    return a->wslot[i] == l->slot;
}

void rhai__pop_issue(rhai_async *a)
{
    for (size_t i = 0; i < a->nlanes && !a->closing; i++)
        rhai__lane_issue(a->lanes[i]);
}

void rhai__lane_issue(lane *l)
{
    rhai_async *a = l->k.a;
    char secs[16];
    const char **argv;
    size_t *lens, n = 0;
    char (*keys)[RH_KEY_MAX];
    int ok;

    if (a->closing || l->popping || l->k.c == NULL || !l->k.up)
        return;
    for (size_t i = 0; i < a->nworkers; i++)
        n += (size_t)lane_has(l, i);
    if (n == 0)
        return;                             /* no worker id yet: the first submit issues it */
    argv = rh_calloc(n + 2, sizeof *argv);
    lens = rh_calloc(n + 2, sizeof *lens);
    keys = rh_calloc(n, sizeof *keys);
    if (argv == NULL || lens == NULL || keys == NULL) {
        ok = 0;
    } else {
        size_t j = 0;
        snprintf(secs, sizeof secs, "%d", RHAI__POP_BLOCK_S);
        argv[0] = "BLPOP";
        for (size_t i = 0; i < a->nworkers; i++)
            if (lane_has(l, i)) {
                argv[1 + j] = rh_key_reply_client(keys[j], a->prefix, a->workers[i], a->uuid);
                j++;
            }
        argv[n + 1] = secs;
        for (size_t i = 0; i < n + 2; i++)
            lens[i] = strlen(argv[i]);
        ok = rh_aconn_command_argv(l->k.c, on_pop, &pop_blpop, (int)n + 2, argv, lens,
                                   NULL) == 0;
    }
    rh_free(argv);
    rh_free(lens);
    rh_free(keys);
    if (!ok) {
        /* down: on_up re-issues. Up (out of memory): the watchdog drops
         * the connection in a while, and on_up tries again (a pending
         * request is then re-read from its hash) */
        if (l->k.up)
            uv_timer_start(&l->watchdog, on_watchdog, RHAI__POP_RETRY_MS, 0);
        return;
    }
    l->popping = 1;
    uv_timer_start(&l->watchdog, on_watchdog, RHAI__POP_WATCHDOG_MS, 0);
}
