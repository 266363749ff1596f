/* test_events_client.c -- rhai/events.h against a real redis-server: a
 * context's event stream (entries as rhaid's relay appends them) read with
 * a consumer group, pending after a reader's crash, acked, and followed
 * without a group. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"
#include "rhai/rhai.h"
#include "common/common.h"

/* One entry with the fields of docs/events.md, as wk_lua_relay appends. */
static void append(redisContext *c, int n)
{
    char id[32], payload[64];
    redisReply *r;

    snprintf(id, sizeof id, "t%d.1", n);
    snprintf(payload, sizeof payload, "{\"n\":%d}", n);
    r = redisCommand(c, "XADD rhai:stream:{acme} MAXLEN ~ 100 * id %s name order.paid "
                     "payload %s context acme task t%d caller alice time %d trace t%d depth 1",
                     id, payload, n, 1000 + n, n);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    freeReplyObject(r);
}

static void test_a_group_reads_each_event_once_and_keeps_unacked_ones_pending(void **state)
{
    th_redis redis;
    rhai_client *c = NULL;
    rhai_error err;
    redisContext *rc;
    rhai_event *ev = NULL;
    size_t n = 0;
    long long acked = -1;
    (void)state;

    assert_int_equal(th_redis_start(&redis, 0), 0);
    assert_int_equal(rhai_client_connect(redis.url, NULL, &c, &err), 0);
    rc = th_redis_connect(&redis);
    assert_non_null(rc);

    /* the group made before any event (MKSTREAM), from the start */
    assert_int_equal(rhai_events_group(c, "acme", "billing", "0", &err), 0);
    assert_int_equal(rhai_events_group(c, "acme", "billing", "0", &err), 0);    /* exists: fine */
    assert_int_equal(rhai_events_read(c, "acme", "billing", "r1", 10, 0, 0, &ev, &n, &err), 0);
    assert_int_equal(n, 0);
    append(rc, 1);
    append(rc, 2);
    append(rc, 3);

    assert_int_equal(rhai_events_read(c, "acme", "billing", "r1", 2, 100, 0, &ev, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(ev[0].id, "t1.1");
    assert_string_equal(ev[0].name, "order.paid");
    assert_string_equal(ev[0].payload, "{\"n\":1}");
    assert_string_equal(ev[0].context, "acme");
    assert_string_equal(ev[0].task, "t1");
    assert_string_equal(ev[0].caller, "alice");
    assert_string_equal(ev[0].trace, "t1");
    assert_int_equal(ev[0].time, 1001);
    assert_int_equal(ev[0].depth, 1);
    assert_string_equal(ev[1].id, "t2.1");
    {   /* the first is handled and acked; the reader "crashes" before the second */
        const char *e1[] = { ev[0].entry };
        assert_int_equal(rhai_events_ack(c, "acme", "billing", e1, 1, &acked, &err), 0);
        assert_int_equal(acked, 1);
        assert_int_equal(rhai_events_ack(c, "acme", "billing", e1, 1, &acked, &err), 0);
        assert_int_equal(acked, 0);                    /* once */
    }
    rhai_events_free(ev, n);

    /* restarted, it first reads what it had and did not ack */
    assert_int_equal(rhai_events_read(c, "acme", "billing", "r1", 10, 0, 1, &ev, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ev[0].id, "t2.1");
    rhai_events_free(ev, n);
    /* then the new ones: t3 only, never t1 or t2 again */
    assert_int_equal(rhai_events_read(c, "acme", "billing", "r1", 10, 100, 0, &ev, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ev[0].id, "t3.1");
    rhai_events_free(ev, n);
    assert_int_equal(rhai_events_read(c, "acme", "billing", "r1", 10, 50, 0, &ev, &n, &err), 0);
    assert_int_equal(n, 0);

    /* another group reads everything on its own */
    assert_int_equal(rhai_events_group(c, "acme", "audit", "0", &err), 0);
    assert_int_equal(rhai_events_read(c, "acme", "audit", "a", 10, 0, 0, &ev, &n, &err), 0);
    assert_int_equal(n, 3);
    rhai_events_free(ev, n);

    /* no group: follow after an entry */
    assert_int_equal(rhai_events_after(c, "acme", "0", 10, 0, &ev, &n, &err), 0);
    assert_int_equal(n, 3);
    {
        char last[64];
        snprintf(last, sizeof last, "%s", ev[2].entry);
        rhai_events_free(ev, n);
        assert_int_equal(rhai_events_after(c, "acme", last, 10, 50, &ev, &n, &err), 0);
        assert_int_equal(n, 0);
        append(rc, 4);
        assert_int_equal(rhai_events_after(c, "acme", last, 10, 50, &ev, &n, &err), 0);
        assert_int_equal(n, 1);
        assert_string_equal(ev[0].id, "t4.1");
        rhai_events_free(ev, n);
    }

    /* what is refused */
    assert_int_equal(rhai_events_read(c, "acme", "nogroup", "r", 1, 0, 0, &ev, &n, &err),
                     RHAI_ENOTFOUND);
    assert_null(ev);
    assert_int_equal(rhai_events_read(c, "../x", "billing", "r", 1, 0, 0, &ev, &n, &err),
                     RHAI_EINVAL);
    assert_int_equal(rhai_events_read(c, "acme", "billing", "r", 0, 0, 0, &ev, &n, &err),
                     RHAI_EINVAL);
    assert_int_equal(rhai_events_group(c, "acme", "g", "nope", &err), RHAI_EINVAL);
    {
        const char *bad[] = { "x-1" };
        assert_int_equal(rhai_events_ack(c, "acme", "billing", bad, 1, NULL, &err), RHAI_EINVAL);
    }

    redisFree(rc);
    rhai_client_free(c);
    th_redis_stop(&redis);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_group_reads_each_event_once_and_keeps_unacked_ones_pending),
    };
    return cmocka_run_group_tests_name("events_client", tests, NULL, NULL);
}
