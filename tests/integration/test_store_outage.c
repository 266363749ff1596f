/* test_store_outage.c -- a data dir that cannot be written for a while
 * (issue 16, item 10): a task whose store fails is run again for a time
 * (store_retry_ms, default 60 s), not a number of runs, so an outage
 * shorter than that never becomes an error reply; a longer one is
 * answered internal once the time is spent.
 *
 * The outage is the one operators meet: the data dir and its files lose
 * their write bits. rhaid recycles every executor after one task, so each
 * run opens the context afresh and finds it read-only ("attempt to write
 * a readonly database"), as after an executor crash or restart. File
 * modes do not stop root, so as root rhaid runs as "nobody" through
 * setpriv(1), as in test_chaos. Nothing sleeps for timing: the test polls
 * rhaid's log and Redis with deadlines. */
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"
#include "dsl/dsl.h"            /* dsl_schema, store_context_create */

#define CONTEXT "outage"
#define CALLER "op"
#define SCRIPT "Contact.create({name: 'written'}); Contact.count()"

typedef struct fixture {
    th_redis      redis;
    redisContext *c;
    char          data[300];
    int           as_user;        /* rhaid runs as uid/gid (we are root) */
    uid_t         uid;
    gid_t         gid;
    pid_t         rhaid;
} fixture;

static void nap_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The context, created and owned by CALLER; handed to rhaid's user. */
static int setup(void **state)
{
    fixture *f = rh_calloc(1, sizeof *f);
    store *st = NULL;
    rhai_error err;

    if (f == NULL || th_redis_start(&f->redis, 0) != 0)
        return -1;
    *state = f;
    snprintf(f->data, sizeof f->data, "%s/data", f->redis.dir);
    memset(&err, 0, sizeof err);
    if (store_new(f->data, &dsl_schema, &st, &err) != 0 ||
        store_context_create(st, CONTEXT, CALLER, &err) != 0) {
        fprintf(stderr, "context: %s\n", err.msg);
        store_free(st);
        return -1;
    }
    store_free(st);
    if (geteuid() == 0) {
        const struct passwd *pw = getpwnam("nobody");
        if (pw == NULL || access(TH_SETPRIV, X_OK) != 0) {
            fprintf(stderr, "as root, this test needs user nobody and %s\n", TH_SETPRIV);
            return -1;
        }
        f->as_user = 1;
        f->uid = pw->pw_uid;
        f->gid = pw->pw_gid;
        if (chmod(f->redis.dir, 0711) != 0 ||
            th_sh("chown -R %d:%d '%s'", (int)f->uid, (int)f->gid, f->data) != 0)
            return -1;
    }
    f->c = th_redis_connect(&f->redis);
    return f->c ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f == NULL)
        return 0;
    if (f->rhaid > 0)
        th_stop(f->rhaid, 10000);
    if (f->c)
        redisFree(f->c);
    th_sh("chmod -R u+w '%s'", f->data);
    th_redis_stop(&f->redis);
    rh_free(f);
    return 0;
}

/* rhaid for worker "default", one executor recycled after every task,
 * on f->data, plus 'more' (NULL-terminated, may be NULL); as nobody when
 * we are root. */
static void rhaid_start(fixture *f, const char *const more[])
{
    const char *args[32];
    int n = 0;

    args[n++] = "--data-dir";
    args[n++] = f->data;
    args[n++] = "--max-tasks-per-executor";
    args[n++] = "1";
    for (size_t i = 0; more && more[i] && n < 30; i++)
        args[n++] = more[i];
    args[n] = NULL;
    if (f->as_user)
        f->rhaid = th_rhaid_start_as(&f->redis, "default", 1, f->uid, f->gid, args);
    else
        f->rhaid = th_rhaid_start(&f->redis, "default", 1, args);
    assert_true(f->rhaid > 0);
}

/* Write bits off the data dir and its files (dir first, so no file
 * appears unseen), or the owner's back (files first). */
static void data_writable(fixture *f, int on)
{
    DIR *d;
    struct dirent *de;

    if (!on)
        assert_int_equal(chmod(f->data, 0555), 0);
    assert_non_null(d = opendir(f->data));
    while ((de = readdir(d)) != NULL) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", f->data, de->d_name);
        if (de->d_name[0] != '.' && chmod(path, on ? 0644 : 0444) != 0)
            assert_int_equal(errno, ENOENT);
    }
    closedir(d);
    if (on)
        assert_int_equal(chmod(f->data, 0755), 0);
}

static void submit(fixture *f, const char *id)
{
    char key[RH_KEY_MAX];
    redisReply *r = redisCommand(f->c, "HSET %s script %s context_id %s caller_id %s "
                                 "timeout_ms 10000", rh_key_task(key, "rhai", "default", id), SCRIPT,
                                 CONTEXT, CALLER);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    r = redisCommand(f->c, "LPUSH %s %s", rh_key_queue(key, "rhai", "default"), id);
    freeReplyObject(r);
}

static long long llen(fixture *f, const char *id)
{
    char key[RH_KEY_MAX];
    redisReply *r = redisCommand(f->c, "LLEN %s", rh_key_reply(key, "rhai", "default", id));
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (r)
        freeReplyObject(r);
    return n;
}

/* Lines of rhaid's log that contain 'needle'. */
static int log_count(fixture *f, const char *needle)
{
    char cmd[800];
    FILE *p;
    int n = -1;

    snprintf(cmd, sizeof cmd, "cat %s/rhaid-*.log | grep -c -- '%s'", f->redis.dir, needle);
    if ((p = popen(cmd, "r")) != NULL) {
        if (fscanf(p, "%d", &n) != 1)
            n = -1;
        pclose(p);
    }
    return n;
}

/* The old retry gave up after max_attempts (3) runs, about 3 s in: here
 * the dir stays read-only until the task has failed more often than
 * that, then heals, and the one reply is done, with the write made. */
static void test_a_store_outage_shorter_than_the_budget_gets_no_error_reply(void **state)
{
    fixture *f = *state;
    rh_task t;
    int retries = 0;

    rhaid_start(f, NULL);                       /* store_retry_ms: the default */
    data_writable(f, 0);
    submit(f, "o1");
    for (int i = 0; i < 3000 && llen(f, "o1") == 0; i++) {
        retries = log_count(f, "event=task_retry task=o1 ");
        if (retries >= 4)
            break;
        nap_ms(10);
    }
    assert_int_equal(llen(f, "o1"), 0);         /* not answered during the outage */
    assert_true(retries >= 4);                  /* five runs, more than max_attempts */
    assert_true(log_count(f, "readonly database") >= 1);
    data_writable(f, 1);

    rh_task_init(&t);
    assert_int_equal(th_reply(f->c, NULL, "o1", 30, &t), 0);
    if (t.status != RHAI_STATUS_DONE)
        fail_msg("o1: %s/%s: %s", rh_status_str(t.status), rh_kind_str(t.error_kind),
                 t.error ? t.error : "");
    assert_string_equal(t.output, "1");         /* written once */
    rh_task_clear(&t);
    assert_int_equal(llen(f, "o1"), 0);         /* th_reply popped the only reply */
}

/* An outage longer than store_retry_ms is answered internal, once the
 * time is spent, and no sooner than that. */
static void test_a_store_outage_past_the_budget_is_answered_internal(void **state)
{
    fixture *f = *state;
    static const char *const more[] = { "--store-retry-ms", "1500", NULL };
    rh_task t;

    rhaid_start(f, more);
    data_writable(f, 0);
    submit(f, "o2");
    rh_task_init(&t);
    assert_int_equal(th_reply(f->c, NULL, "o2", 30, &t), 0);
    assert_int_equal(t.status, RHAI_STATUS_ERROR);
    assert_int_equal(t.error_kind, RH_EK_INTERNAL);
    assert_non_null(t.error);
    assert_non_null(strstr(t.error, "store unavailable"));
    rh_task_clear(&t);
    assert_int_equal(log_count(f, "event=store_retry_exhausted task=o2 "), 1);
    assert_true(log_count(f, "event=task_retry task=o2 ") >= 2);  /* 250 ms, 500 ms, ... */
    data_writable(f, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_a_store_outage_shorter_than_the_budget_gets_no_error_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_store_outage_past_the_budget_is_answered_internal, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_outage", tests, NULL, NULL);
}
