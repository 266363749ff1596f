/* rconn_util.h -- helpers shared by test_rconn.c and test_rconn_tls.c:
 * running a loop until a condition with a bounded wait, and async
 * connection callbacks that count what happened. Header-only (static). */
#ifndef RCONN_UTIL_H
#define RCONN_UTIL_H

#include <string.h>
#include <uv.h>

#include "common/rconn.h"

/* What the callbacks saw on one connection. */
typedef struct tc_state {
    int ups, downs, closed;
} tc_state;

static void tc_on_up(rh_aconn *c, void *d) { (void)c; ((tc_state *)d)->ups++; }
static void tc_on_down(rh_aconn *c, void *d) { (void)c; ((tc_state *)d)->downs++; }
static void tc_on_closed(rh_aconn *c, void *d) { (void)c; ((tc_state *)d)->closed++; }

static rh_aconn_opts tc_opts(tc_state *st)
{
    rh_aconn_opts o;
    memset(&o, 0, sizeof o);
    o.name = "test";
    o.backoff_max_ms = 100;
    o.on_up = tc_on_up;
    o.on_down = tc_on_down;
    o.on_closed = tc_on_closed;
    o.data = st;
    return o;
}

static void tc_timeout(uv_timer_t *t) { *(int *)t->data = 1; }

/* Run 'loop' until *cond >= want or ms pass; 1 when the condition held. */
static int tc_run_until(uv_loop_t *loop, const int *cond, int want, int ms)
{
    uv_timer_t t;
    int timed_out = 0;

    uv_timer_init(loop, &t);
    t.data = &timed_out;
    uv_timer_start(&t, tc_timeout, (uint64_t)ms, 0);
    while (*cond < want && !timed_out)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *cond >= want;
}

/* Run 'loop' until connection c's last failed attempt is of 'kind'
 * (rh_aconn_last_fail), 500 loop turns at most; 1 when it was. */
static int tc_run_until_fail(uv_loop_t *loop, rh_aconn *c, int kind)
{
    for (int i = 0; i < 500; i++) {
        uv_run(loop, UV_RUN_ONCE);
        if ((int)rh_aconn_last_fail(c) == kind)
            return 1;
    }
    return 0;
}

/* One reply kept: its type and string (or integer). */
typedef struct tc_reply {
    int  n;                  /* callbacks run */
    int  nulls;              /* of which with NULL */
    int  type;
    long long integer;
    size_t len;
    char str[256];
    size_t big_len;          /* length of a long string reply */
    int  big_ok;             /* it was all 'x' */
} tc_reply;

static void tc_keep(rh_aconn *c, redisReply *r, void *priv)
{
    tc_reply *k = priv;
    (void)c;
    k->n++;
    if (r == NULL) {
        k->nulls++;
        return;
    }
    k->type = r->type;
    k->integer = r->integer;
    k->len = r->len;
    if (r->str) {
        snprintf(k->str, sizeof k->str, "%.*s", (int)(r->len < 255 ? r->len : 255), r->str);
        if (r->len > 1000) {
            k->big_len = r->len;
            k->big_ok = 1;
            for (size_t i = 0; i < r->len; i++)
                if (r->str[i] != 'x') {
                    k->big_ok = 0;
                    break;
                }
        }
    }
}

/* Count replies into one counter, checking they are in order: each is
 * the integer INCR returned, one more than the last. */
typedef struct tc_seq {
    int n;
    long long last;
    int out_of_order;
} tc_seq;

static void tc_seq_cb(rh_aconn *c, redisReply *r, void *priv)
{
    tc_seq *s = priv;
    (void)c;
    if (r == NULL || r->type != REDIS_REPLY_INTEGER || r->integer != s->last + 1)
        s->out_of_order++;
    else
        s->last = r->integer;
    s->n++;
}

#endif
