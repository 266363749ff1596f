/* test_client_sync_submit.c -- submitting, status and cancel with the synchronous client.
 *
 * Against a real redis-server (see client_sync.h): the fields a submit
 * writes, a queued task's status, and cancel of queued, running and
 * finished tasks with its reply and event. */
#include "client_sync.h"

/* ======================== submit ======================== */

static void test_submit_writes_every_protocol_field(void **state)
{
    fixture *f = *state;
    rhai_task *t = NULL;
    rhai_error err = { 0, "" };
    char id[RHAI_ID_MAX], *created;
    int64_t before = rh_now_ms(), after;
    redisReply *r;

    assert_int_equal(rhai_task_new("var n = args.n; n * 2", &t), 0);
    assert_int_equal(rhai_task_set_id(t, "fields-1"), 0);
    assert_int_equal(rhai_task_set_worker(t, "w-fields"), 0);
    assert_int_equal(rhai_task_set_context(t, "ctx-a"), 0);
    assert_int_equal(rhai_task_set_caller(t, "alice"), 0);
    assert_int_equal(rhai_task_set_args(t, "{\"n\":21}"), 0);
    assert_int_equal(rhai_task_set_timeout(t, 5000), 0);
    assert_int_equal(rhai_task_set_reply_to(t, "rhai:reply:{w-fields}:mine"), 0);
    assert_int_equal(rhai_submit(f->c, t, id, &err), 0);
    after = rh_now_ms();
    rhai_task_free(t);
    assert_string_equal(id, "fields-1");

    assert_hfield(f->rc, "rhai:task:{w-fields}:fields-1", "id", "fields-1");
    assert_hfield(f->rc, "rhai:task:{w-fields}:fields-1", "script", "var n = args.n; n * 2");
    assert_hfield(f->rc, "rhai:task:{w-fields}:fields-1", "worker_id", "w-fields");
    assert_hfield(f->rc, "rhai:task:{w-fields}:fields-1", "context_id", "ctx-a");
    assert_hfield(f->rc, "rhai:task:{w-fields}:fields-1", "caller_id", "alice");
    assert_hfield(f->rc, "rhai:task:{w-fields}:fields-1", "args", "{\"n\":21}");
    assert_hfield(f->rc, "rhai:task:{w-fields}:fields-1", "timeout_ms", "5000");
    assert_hfield(f->rc, "rhai:task:{w-fields}:fields-1", "status", "queued");
    assert_hfield(f->rc, "rhai:task:{w-fields}:fields-1", "attempts", "0");
    assert_hfield(f->rc, "rhai:task:{w-fields}:fields-1", "reply_to", "rhai:reply:{w-fields}:mine");
    created = hget(f->rc, "rhai:task:{w-fields}:fields-1", "created_at");
    assert_non_null(created);
    assert_in_range(atoll(created), before, after);
    free(created);
    assert_int_equal(cmd_int(f->rc, "HLEN rhai:task:{w-fields}:fields-1"), 11);

    r = cmd(f->rc, "LRANGE rhai:queue:{w-fields} 0 -1");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 1);
    assert_string_equal(r->element[0]->str, "fields-1");
    freeReplyObject(r);
}

static void test_submit_generates_an_id_and_defaults(void **state)
{
    fixture *f = *state;
    char id[RHAI_ID_MAX], key[RH_KEY_MAX];

    submit(f->c, "w-gen", NULL, NULL, id);
    assert_int_equal(strlen(id), 36);
    snprintf(key, sizeof key, "rhai:task:{w-gen}:%s", id);
    assert_hfield(f->rc, key, "id", id);
    assert_hfield(f->rc, key, "context_id", "default");
    assert_hfield(f->rc, key, "caller_id", "anonymous");
    assert_hfield(f->rc, key, "args", "{}");
    assert_hfield(f->rc, key, "timeout_ms", "30000");
    assert_hfield(f->rc, key, "reply_to", NULL);        /* only when set */
    assert_int_equal(cmd_int(f->rc, "LLEN rhai:queue:{w-gen}"), 1);
}

static void test_submit_refuses_a_reply_list_outside_the_prefix(void **state)
{
    fixture *f = *state;
    rhai_task *t = NULL;
    rhai_error err = { 0, "" };

    assert_int_equal(rhai_task_new("1", &t), 0);
    assert_int_equal(rhai_task_set_worker(t, "w-badreply"), 0);
    assert_int_equal(rhai_task_set_reply_to(t, "elsewhere:list"), 0);
    assert_int_equal(rhai_submit(f->c, t, NULL, &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "rhai:reply:{w-badreply}:"));
    rhai_task_free(t);
    assert_int_equal(cmd_int(f->rc, "LLEN rhai:queue:{w-badreply}"), 0);
}

static void test_args_that_are_not_json_are_refused(void **state)
{
    rhai_task *t = NULL;
    (void)state;
    assert_int_equal(rhai_task_new("1", &t), 0);
    assert_int_equal(rhai_task_set_args(t, "{'single': 'quotes'}"), RHAI_EINVAL);
    rhai_task_free(t);
}

/* ======================== status ======================== */

static void test_status_of_a_queued_task(void **state)
{
    fixture *f = *state;
    rhai_result *res = NULL;
    rhai_error err = { 0, "" };
    char id[RHAI_ID_MAX];

    submit(f->c, "w-status", NULL, "{\"a\":true}", id);
    assert_int_equal(rhai_task_status(f->c, id, &res, &err), 0);
    assert_int_equal(rhai_result_status(res), RHAI_STATUS_QUEUED);
    assert_string_equal(rhai_result_status_name(res), "queued");
    assert_string_equal(rhai_result_id(res), id);
    assert_string_equal(rhai_result_worker(res), "w-status");
    assert_null(rhai_result_output(res));
    assert_int_equal(rhai_result_attempts(res), 0);
    assert_true(rhai_result_created_at(res) > 0);
    rhai_result_free(res);

    /* A task written by redis-cli without a status is queued too. */
    rhai_result_free(NULL);
    freeReplyObject(cmd(f->rc, "HSET rhai:task:{w-cli}:cli-1 id cli-1 script 1"));
    freeReplyObject(cmd(f->rc, "SET rhai:taskw:{cli-1} w-cli"));     /* its lookup hint */
    assert_int_equal(rhai_task_status(f->c, "cli-1", &res, &err), 0);
    assert_int_equal(rhai_result_status(res), RHAI_STATUS_QUEUED);
    rhai_result_free(res);

    assert_int_equal(rhai_task_status(f->c, "no-such", &res, &err), RHAI_ENOTFOUND);
    assert_null(res);
}

/* ======================== cancel ======================== */

static void test_cancel_of_a_queued_task(void **state)
{
    fixture *f = *state;
    redisContext *sub = th_redis_connect(&g_redis);
    struct timeval tv = { 2, 0 };
    rhai_result *res = NULL;
    rhai_error err = { 0, "" };
    char id[RHAI_ID_MAX];
    redisReply *r;
    json_t *j, *ev;
    void *msg = NULL;

    assert_non_null(sub);
    freeReplyObject(cmd(sub, "SUBSCRIBE rhai:events"));
    redisSetTimeout(sub, tv);
    submit(f->c, "w-cancel", "cancel-1", NULL, id);
    submit(f->c, "w-cancel", "cancel-keep", NULL, id);
    if (rhai_cancel(f->c, "cancel-1", &err) != 0)
        fail_msg("cancel: %s", err.msg);

    /* Out of the queue, the other one still in. */
    r = cmd(f->rc, "LRANGE rhai:queue:{w-cancel} 0 -1");
    assert_int_equal(r->elements, 1);
    assert_string_equal(r->element[0]->str, "cancel-keep");
    freeReplyObject(r);
    /* The hash is final and expires. */
    assert_hfield(f->rc, "rhai:task:{w-cancel}:cancel-1", "status", "cancelled");
    assert_hfield(f->rc, "rhai:task:{w-cancel}:cancel-1", "error_kind", "cancelled");
    assert_hfield(f->rc, "rhai:task:{w-cancel}:cancel-1", "error", "cancelled by client");
    assert_true(cmd_int(f->rc, "PTTL rhai:task:{w-cancel}:cancel-1") > 86000000);
    assert_true(cmd_int(f->rc, "PTTL rhai:reply:{w-cancel}:cancel-1") > 86000000);

    /* The reply has the worker's fields and JSON types. */
    r = cmd(f->rc, "LINDEX rhai:reply:{w-cancel}:cancel-1 0");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    j = json_loads(r->str, 0, NULL);
    freeReplyObject(r);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "id")), "cancel-1");
    assert_string_equal(json_string_value(json_object_get(j, "status")), "cancelled");
    assert_true(json_is_null(json_object_get(j, "output")));
    assert_string_equal(json_string_value(json_object_get(j, "error")), "cancelled by client");
    assert_string_equal(json_string_value(json_object_get(j, "error_kind")), "cancelled");
    assert_string_equal(json_string_value(json_object_get(j, "logs")), "");
    assert_string_equal(json_string_value(json_object_get(j, "worker_id")), "w-cancel");
    assert_true(json_is_null(json_object_get(j, "instance")));
    assert_true(json_is_integer(json_object_get(j, "attempts")));
    assert_int_equal(json_integer_value(json_object_get(j, "attempts")), 0);
    assert_true(json_is_integer(json_object_get(j, "created_at")));
    assert_true(json_integer_value(json_object_get(j, "created_at")) > 1700000000000LL);
    assert_true(json_is_integer(json_object_get(j, "started_at")));
    assert_true(json_integer_value(json_object_get(j, "finished_at")) >=
                json_integer_value(json_object_get(j, "created_at")));
    assert_int_equal(json_object_size(j), 12);
    json_decref(j);

    /* The finished event. */
    assert_int_equal(redisGetReply(sub, &msg), REDIS_OK);
    r = msg;
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 3);
    ev = json_loads(r->element[2]->str, 0, NULL);
    freeReplyObject(r);
    assert_non_null(ev);
    assert_string_equal(json_string_value(json_object_get(ev, "event")), "finished");
    assert_string_equal(json_string_value(json_object_get(ev, "id")), "cancel-1");
    assert_string_equal(json_string_value(json_object_get(ev, "status")), "cancelled");
    assert_string_equal(json_string_value(json_object_get(ev, "error_kind")), "cancelled");
    assert_true(json_is_integer(json_object_get(ev, "at")));
    json_decref(ev);
    redisFree(sub);

    /* Waiters see it, and a second cancel is refused. */
    assert_int_equal(rhai_wait(f->c, "cancel-1", 2000, &res, NULL), 0);
    assert_int_equal(rhai_result_status(res), RHAI_STATUS_CANCELLED);
    assert_string_equal(rhai_result_error_kind(res), "cancelled");
    assert_string_equal(rhai_result_output(res), "null");
    rhai_result_free(res);
    assert_int_equal(rhai_cancel(f->c, "cancel-1", &err), RHAI_ESTATE);
}

static void test_cancel_answers_on_the_tasks_reply_list(void **state)
{
    fixture *f = *state;
    rhai_task *t = NULL;
    char id[RHAI_ID_MAX];

    assert_int_equal(rhai_task_new("1", &t), 0);
    assert_int_equal(rhai_task_set_worker(t, "w-cancel2"), 0);
    assert_int_equal(rhai_task_set_reply_to(t, "rhai:reply:{w-cancel2}:client:shared"), 0);
    assert_int_equal(rhai_submit(f->c, t, id, NULL), 0);
    rhai_task_free(t);
    assert_int_equal(rhai_cancel(f->c, id, NULL), 0);
    assert_int_equal(cmd_int(f->rc, "LLEN rhai:reply:{w-cancel2}:client:shared"), 1);
    assert_int_equal(cmd_int(f->rc, "EXISTS rhai:reply:{w-cancel2}:%s", id), 0);
}

/* A running task is only marked (the worker kills it, see test_e2e); a
 * finished one is refused. */
static void test_cancel_of_a_running_task_marks_it_and_of_a_done_one_is_refused(void **state)
{
    fixture *f = *state;
    rhai_error err = { 0, "" };
    char id[RHAI_ID_MAX];

    submit(f->c, "w-cancel3", "cancel-run", NULL, id);
    assert_int_equal(fw_take(f->rc, "w-cancel3", "1", id), 0);
    assert_int_equal(fw_claim(f->rc, "w-cancel3", id), 0);
    assert_int_equal(rhai_cancel(f->c, id, &err), 0);
    assert_hfield(f->rc, "rhai:task:{w-cancel3}:cancel-run", "status", "running");
    assert_int_equal(cmd_int(f->rc, "HEXISTS rhai:task:{w-cancel3}:cancel-run cancel_requested"), 1);
    assert_int_equal(cmd_int(f->rc, "LLEN rhai:reply:{w-cancel3}:cancel-run"), 0);   /* no reply yet */
    assert_int_equal(fw_finish(f->rc, "w-cancel3", id, "done", "1", NULL, NULL), 0);
    assert_int_equal(rhai_cancel(f->c, id, &err), RHAI_ESTATE);
    assert_non_null(strstr(err.msg, "done"));
    assert_int_equal(cmd_int(f->rc, "LLEN rhai:reply:{w-cancel3}:cancel-run"), 1);  /* answered once */
    assert_int_equal(rhai_cancel(f->c, "no-such", &err), RHAI_ENOTFOUND);
    assert_int_equal(rhai_cancel(f->c, "bad id", &err), RHAI_EINVAL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_submit_writes_every_protocol_field),
        T(test_submit_generates_an_id_and_defaults),
        T(test_submit_refuses_a_reply_list_outside_the_prefix),
        cmocka_unit_test(test_args_that_are_not_json_are_refused),
        T(test_status_of_a_queued_task),
        T(test_cancel_of_a_queued_task),
        T(test_cancel_answers_on_the_tasks_reply_list),
        T(test_cancel_of_a_running_task_marks_it_and_of_a_done_one_is_refused),
    };
#undef T
    return cmocka_run_group_tests_name("client_sync_submit", tests, group_setup, group_teardown);
}
