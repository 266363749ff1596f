/* daemon_fixture.h -- the fixture test_daemon.c and test_daemon_faults.c
 * share: a redis-server, one rhaid for worker "default" with two
 * executors, and a blocking connection to the server. Included by one
 * test file each, after cmocka.h. */
#ifndef TEST_DAEMON_FIXTURE_H
#define TEST_DAEMON_FIXTURE_H

#include "harness.h"

typedef struct fixture {
    th_redis     redis;
    pid_t        rhaid;
    redisContext *c;
} fixture;

/* Setup: redis (appendonly when aof), then rhaid with 'extra' appended
 * (NULL-terminated, may be NULL), then the connection. 0 or -1. */
static inline int start_with(void **state, int aof, const char *const extra[])
{
    fixture *f = rh_calloc(1, sizeof *f);
    if (f == NULL || th_redis_start(&f->redis, aof) != 0)
        return -1;
    f->rhaid = th_rhaid_start(&f->redis, "default", 2, extra);
    f->c = th_redis_connect(&f->redis);
    *state = f;
    return f->rhaid > 0 && f->c ? 0 : -1;
}

static inline int teardown(void **state)
{
    fixture *f = *state;
    if (f->c)
        redisFree(f->c);
    if (f->rhaid > 0)
        th_stop(f->rhaid, 10000);
    th_redis_stop(&f->redis);
    rh_free(f);
    return 0;
}

#endif
