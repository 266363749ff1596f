/* rconn_bench.c -- rhai_bench_rconn: what the connection layer (rconn.h)
 * costs per command, plain vs TLS, against a running Redis.
 *
 *   rhai_bench_rconn URL [N]      e.g. redis://127.0.0.1:6379 or
 *                                 rediss://127.0.0.1:6380?ca=ca.crt
 * Prints three figures, commands per second: sync sequential round trips
 * (PING, one at a time), sync pipeline (PING in batches of 100), async
 * (PING with 1000 in flight on one libuv loop). Run it once per URL and
 * compare; figures are reported, never asserted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rconn.h"

static int64_t g_done, g_want, g_inflight;
static rh_aconn *g_conn;

static void on_pong_cb(rh_aconn *c, redisReply *r, void *priv);

/* Keep 1000 PINGs in flight until N were sent. */
static void fill(rh_aconn *c)
{
    rhai_error err;

    while (g_inflight < 1000 && g_done + g_inflight < g_want) {
        if (rh_aconn_command(c, on_pong_cb, NULL, &err, "PING") != 0) {
            fprintf(stderr, "async: %s\n", err.msg);
            exit(1);
        }
        g_inflight++;
    }
}

static void on_pong_cb(rh_aconn *c, redisReply *r, void *priv)
{
    (void)priv;
    if (r == NULL) {
        fprintf(stderr, "async: connection lost\n");
        exit(1);
    }
    g_done++;
    g_inflight--;
    fill(c);
    if (g_done == g_want)
        rh_aconn_close(c);
}

static void on_up(rh_aconn *c, void *data)
{
    (void)data;
    fill(c);
}

int main(int argc, char **argv)
{
    rh_redis_cfg cfg;
    rh_sconn *s = NULL;
    rhai_error err;
    redisReply *r;
    int64_t n = argc > 2 ? atoll(argv[2]) : 100000, t0;
    double secs;
    uv_loop_t loop;
    rh_aconn_opts o;

    if (argc < 2 || n <= 0) {
        fprintf(stderr, "usage: rhai_bench_rconn URL [N]\n");
        return 2;
    }
    if (rh_redis_cfg_init(&cfg, argv[1], &err) != 0 || rh_sconn_open(&cfg, NULL, &s, &err) != 0) {
        fprintf(stderr, "rhai_bench_rconn: %s\n", err.msg);
        return 1;
    }
    t0 = rh_mono_us();
    for (int64_t i = 0; i < n; i++) {
        if (rh_sconn_command(s, &r, &err, "PING") != 0) {
            fprintf(stderr, "sync: %s\n", err.msg);
            return 1;
        }
        freeReplyObject(r);
    }
    secs = (double)(rh_mono_us() - t0) / 1e6;
    printf("%s sync_sequential_per_s=%.0f rtt_us=%.1f\n", rh_sconn_is_tls(s) ? "tls" : "plain",
           (double)n / secs, secs * 1e6 / (double)n);
    t0 = rh_mono_us();
    for (int64_t i = 0; i < n; i += 100) {
        for (int j = 0; j < 100; j++)
            rh_sconn_append(s, &err, "PING");
        for (int j = 0; j < 100; j++) {
            if (rh_sconn_get_reply(s, &r, &err) != 0) {
                fprintf(stderr, "pipeline: %s\n", err.msg);
                return 1;
            }
            freeReplyObject(r);
        }
    }
    secs = (double)(rh_mono_us() - t0) / 1e6;
    printf("%s sync_pipeline100_per_s=%.0f\n", rh_sconn_is_tls(s) ? "tls" : "plain",
           (double)((n + 99) / 100 * 100) / secs);
    rh_sconn_free(s);

    uv_loop_init(&loop);
    memset(&o, 0, sizeof o);
    o.name = "bench";
    o.on_up = on_up;
    g_want = n;
    if (rh_aconn_new(&loop, &cfg, &o, &g_conn, &err) != 0) {
        fprintf(stderr, "async: %s\n", err.msg);
        return 1;
    }
    t0 = rh_mono_us();
    uv_run(&loop, UV_RUN_DEFAULT);
    secs = (double)(rh_mono_us() - t0) / 1e6;
    printf("%s async_1000_in_flight_per_s=%.0f\n", cfg.url.tls ? "tls" : "plain",
           (double)g_done / secs);
    uv_loop_close(&loop);
    return 0;
}
