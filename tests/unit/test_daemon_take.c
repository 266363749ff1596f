/* test_daemon_take.c -- what take.c makes of the replies of its claim and
 * batch take scripts: each claim outcome, the checks of a claimed task
 * (field values, limits, reply_to, signatures), junk ids, a refused take.
 * The replies are parsed from RESP bytes by hiredis's own reader and fed
 * to the callbacks (wk_on_claim, wk_on_take): no Redis, and no server
 * pretending to be one. A claimed task then runs on a fake executor
 * (tests/support/fake_executor.c). Redis itself is the integration
 * tests' (test_daemon*.c, test_batch.c, test_recovery.c). */
#include "daemon_fake.h"

#include <hiredis/read.h>
#include <signal.h>

/* ---- RESP built by hand, parsed by hiredis ---- */

static void b_arr(rh_buf *b, int n)
{
    assert_int_equal(rh_buf_appendf(b, "*%d\r\n", n), 0);
}

static void b_str(rh_buf *b, const char *s)
{
    assert_int_equal(rh_buf_appendf(b, "$%zu\r\n%s\r\n", strlen(s), s), 0);
}

static void b_int(rh_buf *b, long long v)
{
    assert_int_equal(rh_buf_appendf(b, ":%lld\r\n", v), 0);
}

/* An array of the strings given, up to NULL. */
static void b_strs(rh_buf *b, ...)
{
    const char *s[32];
    int n = 0;
    va_list ap;

    va_start(ap, b);
    while (n < 32 && (s[n] = va_arg(ap, const char *)) != NULL)
        n++;
    va_end(ap);
    b_arr(b, n);
    for (int i = 0; i < n; i++)
        b_str(b, s[i]);
}

/* The reply in 'b' (emptied), as a hiredis callback gets it: new. */
static redisReply *resp(rh_buf *b)
{
    redisReader *r = redisReaderCreate();
    void *reply = NULL;

    assert_non_null(r);
    assert_int_equal(redisReaderFeed(r, b->data, b->len), REDIS_OK);
    assert_int_equal(redisReaderGetReply(r, &reply), REDIS_OK);
    assert_non_null(reply);
    redisReaderFree(r);
    b->len = 0;
    return reply;
}

/* ---- helpers ---- */

static wk_job *claiming(wfx *x, const char *id)
{
    wk_job *j = wk_job_new(&x->w, id, strlen(id));
    assert_non_null(j);
    j->state = WK_JOB_CLAIMING;
    return j;
}

/* Feed the claim reply in 'b' to job 'id'; the job after it, or NULL. */
static wk_job *claim_reply(wfx *x, rh_buf *b, const char *id)
{
    redisReply *r = resp(b);
    wk_on_claim(NULL, r, wk_job_find(&x->w, id, strlen(id)));
    freeReplyObject(r);
    return wk_job_find(&x->w, id, strlen(id));
}

/* Free the jobs a test leaves READY or CLAIMING on purpose. */
static void drop_unfinished(wfx *x)
{
    for (wk_job *j = x->w.jobs, *next; j; j = next) {
        next = j->next;
        if (j->state != WK_JOB_FINISHING)
            wk_job_free(j);
    }
}

static void open_worker(wfx *x)
{
    wfx_open(x, 1);
    x->f.cfg.max_script = 64;
}

/* ---- claim by id ---- */

static void test_claim_of_a_missing_hash_answers_invalid(void **state)
{
    wfx x;
    rh_buf b;
    wk_job *j;
    (void)state;

    open_worker(&x);
    rh_buf_init(&b);
    /* no hash: first the look-up of a protocol v1 task (rhai:task:{ID}),
     * sent on the command connection -- down here, so the job is dropped
     * and taken again from the processing list later */
    claiming(&x, "t1");
    b_strs(&b, "missing", NULL);
    assert_null(claim_reply(&x, &b, "t1"));
    /* no v1 hash either (HMGET reply_to created_at status: all nil) */
    j = claiming(&x, "t1");
    rh_buf_appendf(&b, "%s", "*3\r\n$-1\r\n$-1\r\n$-1\r\n");
    {
        redisReply *r = resp(&b);
        wk_on_v1(NULL, r, j);
        freeReplyObject(r);
    }
    assert_non_null(j = wk_job_find(&x.w, "t1", 2));
    assert_int_equal(j->state, WK_JOB_FINISHING);
    assert_int_equal(j->task.error_kind, RH_EK_INVALID);
    assert_string_equal(j->task.error, "task not found: no hash at the task key");
    assert_int_equal(j->unstarted, 1);
    rh_buf_free(&b);
    wfx_close(&x);
}

/* A v1 task (its hash at rhai:task:{ID}) is answered in v1 form on its v1
 * reply list, by commands of their own, and dropped: no job is left to
 * finish in the v2 way. */
static void test_a_v1_task_behind_a_missing_claim_is_dropped_after_its_refusal(void **state)
{
    wfx x;
    rh_buf b;
    wk_job *j;
    (void)state;

    open_worker(&x);
    rh_buf_init(&b);
    j = claiming(&x, "v1a");
    rh_buf_appendf(&b, "%s", "*3\r\n$-1\r\n$1\r\n5\r\n$6\r\nqueued\r\n");
    {
        redisReply *r = resp(&b);
        wk_on_v1(NULL, r, j);
        freeReplyObject(r);
    }
    assert_null(wk_job_find(&x.w, "v1a", 3));
    rh_buf_free(&b);
    wfx_close(&x);
}

static void test_claim_of_a_replayed_signed_task_answers_denied(void **state)
{
    wfx x;
    rh_buf b;
    wk_job *j;
    (void)state;

    open_worker(&x);
    rh_buf_init(&b);
    claiming(&x, "t1");
    b_strs(&b, "replay", NULL);
    assert_non_null(j = claim_reply(&x, &b, "t1"));
    assert_int_equal(j->task.error_kind, RH_EK_DENIED);
    rh_buf_free(&b);
    wfx_close(&x);
}

/* A key of another type, and a task already final, are not ours to
 * answer: the job is dropped. So is one whose reply was lost. */
static void test_claim_drops_badtype_skip_and_lost_replies(void **state)
{
    wfx x;
    rh_buf b;
    (void)state;

    open_worker(&x);
    rh_buf_init(&b);
    claiming(&x, "t1");
    b_strs(&b, "badtype", "string", NULL);
    assert_null(claim_reply(&x, &b, "t1"));
    claiming(&x, "t2");
    b_strs(&b, "skip", "done", NULL);
    assert_null(claim_reply(&x, &b, "t2"));
    wk_on_claim(NULL, NULL, claiming(&x, "t3"));
    assert_int_equal(x.w.njobs, 0);
    rh_buf_free(&b);
    wfx_close(&x);
}

/* Redis refused the script: the job keeps its claim for the tick. */
static void test_claim_refused_by_redis_is_kept_for_a_retry(void **state)
{
    wfx x;
    rh_buf b;
    wk_job *j;
    (void)state;

    open_worker(&x);
    rh_buf_init(&b);
    claiming(&x, "t1");
    assert_int_equal(rh_buf_appendf(&b, "-OOM command not allowed\r\n"), 0);
    assert_non_null(j = claim_reply(&x, &b, "t1"));
    assert_int_equal(j->state, WK_JOB_CLAIMING);
    assert_int_equal(j->retry, 1);
    b_int(&b, 7);                                  /* not an array: the same */
    assert_non_null(j = claim_reply(&x, &b, "t1"));
    assert_int_equal(j->state, WK_JOB_CLAIMING);
    drop_unfinished(&x);
    rh_buf_free(&b);
    wfx_close(&x);
}

static void test_claim_of_a_valid_task_makes_it_ready(void **state)
{
    wfx x;
    rh_buf b;
    wk_job *j;
    (void)state;

    open_worker(&x);
    rh_buf_init(&b);
    claiming(&x, "t1");
    b_strs(&b, "run", "id", "someone-else", "script", "done 1", "args", "{\"a\":1}",
           "timeout_ms", "1500", "caller_id", "alice", "context_id", "shop",
           "status", "running", "attempts", "1", "unknown_field", "ignored", NULL);
    assert_non_null(j = claim_reply(&x, &b, "t1"));
    assert_int_equal(j->state, WK_JOB_READY);
    assert_string_equal(j->task.id, "t1");         /* the key names it, not the field */
    assert_string_equal(j->task.script, "done 1");
    assert_int_equal(j->task.script_len, 6);
    assert_string_equal(j->task.args, "{\"a\":1}");
    assert_int_equal(j->task.timeout_ms, 1500);
    assert_string_equal(j->task.caller_id, "alice");
    assert_string_equal(j->task.context_id, "shop");
    assert_int_equal(j->task.attempts, 1);
    drop_unfinished(&x);
    rh_buf_free(&b);
    wfx_close(&x);
}

/* Each check of a claimed task answers invalid (or denied) with a
 * message that names what is wrong. */
static void test_claim_of_a_bad_task_answers_invalid_with_the_reason(void **state)
{
    static const struct {
        const char *f[8];
        rh_error_kind kind;
        const char *msg;
    } cases[] = {
        { { "script", "done 1", "timeout_ms", "soon" }, RH_EK_INVALID,
          "field timeout_ms: not a valid value" },
        { { "script", "done 1", "!over", "script is 900 bytes, limit 64" }, RH_EK_INVALID,
          "script is 900 bytes, limit 64" },
        { { "args", "{}" }, RH_EK_INVALID, "task has no script" },
        { { "script", "done 1", "args", "{nope" }, RH_EK_INVALID, "args is not JSON" },
        { { "script", "done 1", "timeout_ms", "-5" }, RH_EK_INVALID,
          "timeout_ms must be positive" },
        { { "script", "done 1", "reply_to", "elsewhere:list" }, RH_EK_INVALID,
          "reply_to must be a list under rhai:reply:{unit}: (the slot of worker id unit)" },
        { { "script", "done 1", "signature", "not-a-signature" }, RH_EK_DENIED, "" },
    };
    wfx x;
    rh_buf b;
    (void)state;

    open_worker(&x);
    rh_buf_init(&b);
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        char id[8];
        int n = 0;
        wk_job *j;

        snprintf(id, sizeof id, "c%d", i);
        claiming(&x, id);
        while (n < 8 && cases[i].f[n])
            n++;
        b_arr(&b, 1 + n);
        b_str(&b, "run");
        for (int k = 0; k < n; k++)
            b_str(&b, cases[i].f[k]);
        assert_non_null(j = claim_reply(&x, &b, id));
        assert_int_equal(j->state, WK_JOB_FINISHING);
        assert_int_equal(j->task.error_kind, cases[i].kind);
        assert_non_null(strstr(j->task.error, cases[i].msg));
    }
    rh_buf_free(&b);
    wfx_close(&x);
}

static void test_claim_of_an_unsigned_task_is_denied_when_signatures_are_required(void **state)
{
    wfx x;
    rh_buf b;
    wk_job *j;
    (void)state;

    open_worker(&x);
    x.f.cfg.require_signatures = 1;
    rh_buf_init(&b);
    claiming(&x, "t1");
    b_strs(&b, "run", "script", "done 1", NULL);
    assert_non_null(j = claim_reply(&x, &b, "t1"));
    assert_int_equal(j->task.error_kind, RH_EK_DENIED);
    assert_string_equal(j->task.error, "unsigned task: this worker requires signatures");
    rh_buf_free(&b);
    wfx_close(&x);
}

/* ---- batch take ---- */

static void test_take_reply_claims_each_entry_and_drops_junk(void **state)
{
    wfx x;
    rh_buf b;
    redisReply *r;
    wk_job *a;
    (void)state;

    open_worker(&x);
    rh_buf_init(&b);
    x.w.popping = 1;
    x.w.taking = 5;
    x.w.hot = 1;
    b_arr(&b, 4);
    b_strs(&b, "run", "a", "script", "done 1", NULL);
    b_strs(&b, "run", "bad id!", "script", "done 2", NULL);      /* not a name: dropped */
    b_strs(&b, "none", "c", NULL);   /* not claimed: claimed by id, no connection: left */
    b_strs(&b, "run", "d", "script", "done 4", NULL);
    r = resp(&b);
    wk_on_take(NULL, r, &x.w);
    freeReplyObject(r);
    assert_int_equal(x.w.popping, 0);
    assert_int_equal(x.w.taking, 0);
    assert_int_equal(x.w.hot, 0);                  /* 4 of 5: the queue ran out */
    assert_int_equal(x.w.njobs, 2);
    assert_non_null(a = wk_job_find(&x.w, "a", 1));
    assert_int_equal(a->state, WK_JOB_READY);
    assert_int_equal(wk_job_find(&x.w, "d", 1)->state, WK_JOB_READY);
    /* an id we hold already, taken again: marked, not doubled */
    b_arr(&b, 1);
    b_strs(&b, "run", "a", "script", "done 1", NULL);
    r = resp(&b);
    wk_on_take(NULL, r, &x.w);
    freeReplyObject(r);
    assert_int_equal(x.w.njobs, 2);
    assert_int_equal(a->retaken, 1);
    drop_unfinished(&x);
    rh_buf_free(&b);
    wfx_close(&x);
}

static void test_take_refused_by_redis_pauses_taking(void **state)
{
    wfx x;
    rh_buf b;
    redisReply *r;
    (void)state;

    open_worker(&x);
    rh_buf_init(&b);
    x.w.popping = 1;
    x.w.taking = 3;
    x.w.hot = 1;
    assert_int_equal(rh_buf_appendf(&b, "-READONLY You can't write against a read only "
                                        "replica.\r\n"), 0);
    r = resp(&b);
    wk_on_take(NULL, r, &x.w);
    freeReplyObject(r);
    assert_int_equal(x.w.pop_paused, 1);
    assert_int_equal(x.w.hot, 0);
    assert_int_equal(x.w.popping, 0);
    wk_on_take(NULL, NULL, &x.w);                  /* lost: nothing to do */
    assert_int_equal(x.w.njobs, 0);
    rh_buf_free(&b);
    wfx_close(&x);
}

/* From the take's reply to a result, with a fake executor. */
static void test_taken_tasks_run_on_the_pool_to_their_finish(void **state)
{
    wfx x;
    rh_buf b;
    redisReply *r;
    (void)state;

    open_worker(&x);
    wfx_start_pool(&x);
    rh_buf_init(&b);
    x.w.taking = 3;
    b_arr(&b, 3);
    b_strs(&b, "run", "a", "script", "done 1", NULL);
    b_strs(&b, "run", "b", "script", "error script boom", NULL);
    b_strs(&b, "run", "c", "script", "exit 3", NULL);
    r = resp(&b);
    wk_on_take(NULL, r, &x.w);
    freeReplyObject(r);
    FX_RUN_UNTIL(&x.f, wk_count_jobs(&x.w, WK_JOB_FINISHING) == 3);
    assert_int_equal(wk_job_find(&x.w, "a", 1)->task.status, RHAI_STATUS_DONE);
    assert_int_equal(wk_job_find(&x.w, "b", 1)->task.error_kind, RH_EK_SCRIPT);
    assert_int_equal(wk_job_find(&x.w, "c", 1)->task.error_kind, RH_EK_CRASHED);
    assert_int_equal(wk_job_find(&x.w, "c", 1)->crashes, (int)x.f.cfg.max_attempts);
    rh_buf_free(&b);
    wfx_close(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claim_of_a_missing_hash_answers_invalid),
        cmocka_unit_test(test_a_v1_task_behind_a_missing_claim_is_dropped_after_its_refusal),
        cmocka_unit_test(test_claim_of_a_replayed_signed_task_answers_denied),
        cmocka_unit_test(test_claim_drops_badtype_skip_and_lost_replies),
        cmocka_unit_test(test_claim_refused_by_redis_is_kept_for_a_retry),
        cmocka_unit_test(test_claim_of_a_valid_task_makes_it_ready),
        cmocka_unit_test(test_claim_of_a_bad_task_answers_invalid_with_the_reason),
        cmocka_unit_test(test_claim_of_an_unsigned_task_is_denied_when_signatures_are_required),
        cmocka_unit_test(test_take_reply_claims_each_entry_and_drops_junk),
        cmocka_unit_test(test_take_refused_by_redis_pauses_taking),
        cmocka_unit_test(test_taken_tasks_run_on_the_pool_to_their_finish),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("daemon_take", tests, NULL, NULL);
}
