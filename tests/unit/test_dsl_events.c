/* test_dsl_events.c -- emit() through the engine (issue 20): an event is
 * written if and only if its task commits, a replay returns the task's
 * unrelayed events and writes nothing, the repair sweep, the depth limit,
 * the per-task cap, names and payloads refused, subscriptions stored with
 * the event, and ctx.event / depth / trace / parent. In this process
 * (dsl_install'd hooks) on sqlite, and on postgres (test_dsl_events_pg). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dsl/dsl.h"
#include "th_store.h"
#include "dsl/dsl_schema.h"

static char data_dir[256];
static char data_url[2048];
static store *st;               /* the test's own view of the store */

static int setup(void **state)
{
    rhai_error err;

    (void)state;
    snprintf(data_dir, sizeof data_dir, "/tmp/rhai-test-dslev-XXXXXX");
    assert_non_null(mkdtemp(data_dir));
    assert_int_equal(th_store_url(data_dir, data_url, sizeof data_url), 0);
    assert_int_equal(dsl_install(data_url, &err), 0);
    assert_int_equal(store_new(data_url, &dsl_schema, &st, &err), 0);
    assert_int_equal(store_context_create(st, "shop", "alice", &err), 0);
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];

    (void)state;
    store_free(st);
    dsl_uninstall();
    th_store_done(data_url);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", data_dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static store_db *shop(void)
{
    store_db *db = NULL;
    rhai_error err;

    assert_int_equal(store_open(st, "shop", &db, &err), 0);
    return db;
}

/* Outbox rows of the context (relayed or not). */
static int64_t outbox_total(void)
{
    json_t *s = NULL;
    rhai_error err;
    int64_t n;

    assert_int_equal(store_outbox_stats(shop(), &s, &err), 0);
    n = json_integer_value(json_object_get(s, "total"));
    json_decref(s);
    return n;
}

/* Run 'script' as task 'id' in shop as alice; 'tmpl' (may be NULL) gives
 * the event fields. The repair sweep is off unless tmpl asks for it. */
static void run_in(const char *id, const char *script, const eng_input *tmpl,
                   eng_output *out)
{
    eng_input in;

    memset(&in, 0, sizeof in);
    if (tmpl)
        in = *tmpl;
    else
        in.event_repair_ms = INT64_MAX / 4;     /* nothing is that old */
    in.task_id = id;
    in.script = script;
    in.script_len = strlen(script);
    in.context_id = "shop";
    in.caller_id = "alice";
    in.worker_id = "w";
    assert_int_equal(eng_run(&in, NULL, out), 0);
}

static json_t *events_of(const eng_output *out)
{
    json_t *a;

    if (out->events == NULL)
        return json_array();
    a = json_loads(out->events, 0, NULL);
    assert_non_null(a);
    assert_true(json_is_array(a));
    return a;
}

static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void test_a_task_that_emits_and_succeeds_commits_the_event_and_returns_it(
    void **state)
{
    eng_output out;
    json_t *ev, *e;

    (void)state;
    run_in("t1", "[emit('order.paid', {total: 12}), emit('order.noted')]", NULL, &out);
    assert_int_equal(out.status, RHAI_STATUS_DONE);
    assert_string_equal(out.output, "[\"t1.1\",\"t1.2\"]");
    ev = events_of(&out);
    assert_int_equal(json_array_size(ev), 2);
    e = json_array_get(ev, 0);
    assert_string_equal(str(e, "id"), "t1.1");
    assert_string_equal(str(e, "name"), "order.paid");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(e, "payload"),
                                                        "total")), 12);
    assert_string_equal(str(e, "context"), "shop");
    assert_string_equal(str(e, "task"), "t1");
    assert_string_equal(str(e, "caller"), "alice");
    assert_string_equal(str(e, "trace"), "t1");
    assert_int_equal(json_integer_value(json_object_get(e, "depth")), 1);
    assert_true(json_is_array(json_object_get(e, "subs")));
    assert_true(json_is_null(json_object_get(json_array_get(ev, 1), "payload")));
    json_decref(ev);
    eng_output_clear(&out);
    assert_int_equal(outbox_total(), 2);
}

static void test_a_task_that_fails_after_emitting_writes_and_returns_no_event(void **state)
{
    eng_output out;

    (void)state;
    run_in("t2", "emit('order.paid', 1); throw new Error('later')", NULL, &out);
    assert_int_equal(out.status, RHAI_STATUS_ERROR);
    assert_null(out.events);
    eng_output_clear(&out);
    /* a result that cannot be serialised fails the task after the emit too */
    run_in("t3", "emit('order.paid', 1); var o = {}; o.o = o; o", NULL, &out);
    assert_int_equal(out.status, RHAI_STATUS_ERROR);
    assert_null(out.events);
    eng_output_clear(&out);
    assert_int_equal(outbox_total(), 0);
    /* the same id run again (a redelivery) emits the same event id */
    run_in("t2", "emit('order.paid', 1)", NULL, &out);
    assert_int_equal(out.status, RHAI_STATUS_DONE);
    assert_string_equal(out.output, "\"t2.1\"");
    eng_output_clear(&out);
    assert_int_equal(outbox_total(), 1);
}

static void test_a_replayed_task_returns_its_unrelayed_events_and_writes_nothing(
    void **state)
{
    static const char script[] = "emit('a.b', args); 'first'";
    const char *ids[] = { "t4.1" };
    eng_output out;
    json_t *ev;
    rhai_error err;

    (void)state;
    run_in("t4", script, NULL, &out);
    assert_int_equal(out.status, RHAI_STATUS_DONE);
    eng_output_clear(&out);
    /* the redelivery of that submission: the recorded result, the event
     * again (not relayed yet), no second row */
    run_in("t4", script, NULL, &out);
    assert_int_equal(out.status, RHAI_STATUS_DONE);
    assert_string_equal(out.output, "\"first\"");
    ev = events_of(&out);
    assert_int_equal(json_array_size(ev), 1);
    assert_string_equal(str(json_array_get(ev, 0), "id"), "t4.1");
    json_decref(ev);
    eng_output_clear(&out);
    assert_int_equal(outbox_total(), 1);
    /* once relayed, a replay has nothing to relay */
    assert_int_equal(store_outbox_mark_relayed(shop(), ids, 1, NULL, &err), 0);
    run_in("t4", script, NULL, &out);
    assert_int_equal(out.status, RHAI_STATUS_DONE);
    assert_null(out.events);
    eng_output_clear(&out);
    assert_int_equal(outbox_total(), 1);
}

static void test_the_repair_sweep_returns_old_unrelayed_rows_of_the_context(void **state)
{
    store_event old;
    eng_input tmpl;
    eng_output out;
    json_t *ev;
    rhai_error err;
    store_db *db = shop();

    (void)state;
    /* a row whose relay never happened (its instance was killed), long ago */
    memset(&old, 0, sizeof old);
    old.id = "gone.1";
    old.name = "order.paid";
    old.task_id = "gone";
    old.seq = 1;
    old.depth = 1;
    old.at = 1000;
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(store_outbox_put(db, &old, &err), 0);
    assert_int_equal(store_commit(db, &err), 0);

    memset(&tmpl, 0, sizeof tmpl);
    tmpl.event_repair_ms = 1;       /* and so a sweep at every task */
    /* any task that uses the context's store, even one that fails */
    run_in("t5", "Company.count(); throw new Error('x')", &tmpl, &out);
    assert_int_equal(out.status, RHAI_STATUS_ERROR);
    ev = events_of(&out);
    assert_int_equal(json_array_size(ev), 1);
    assert_string_equal(str(json_array_get(ev, 0), "id"), "gone.1");
    assert_string_equal(str(json_array_get(ev, 0), "task"), "gone");
    json_decref(ev);
    eng_output_clear(&out);
    /* with its own event first */
    run_in("t6", "emit('x.y')", &tmpl, &out);
    ev = events_of(&out);
    assert_int_equal(json_array_size(ev), 2);
    assert_string_equal(str(json_array_get(ev, 0), "id"), "t6.1");
    assert_string_equal(str(json_array_get(ev, 1), "id"), "gone.1");
    json_decref(ev);
    eng_output_clear(&out);
    /* a task that never touches the store sweeps nothing */
    run_in("t7", "1", &tmpl, &out);
    assert_null(out.events);
    eng_output_clear(&out);
}

static void test_an_emit_beyond_the_depth_limit_throws(void **state)
{
    eng_input tmpl;
    eng_output out;
    json_t *ev;

    (void)state;
    memset(&tmpl, 0, sizeof tmpl);
    tmpl.event_repair_ms = INT64_MAX / 4;
    tmpl.depth = ENG_DEFAULT_DEPTH_MAX;         /* the default limit: 8 */
    run_in("d1", "emit('loop')", &tmpl, &out);
    assert_int_equal(out.status, RHAI_STATUS_ERROR);
    assert_non_null(strstr(out.error, "EventDepthExceeded"));
    eng_output_clear(&out);
    /* caught, it leaves no row either */
    run_in("d2", "try { emit('loop') } catch (e) { e.name }", &tmpl, &out);
    assert_string_equal(out.output, "\"EventDepthExceeded\"");
    eng_output_clear(&out);
    assert_int_equal(outbox_total(), 0);

    tmpl.depth = 1;
    tmpl.depth_max = 2;
    tmpl.parent_id = "root";
    tmpl.trace_id = "root";
    run_in("d3", "emit('chain')", &tmpl, &out);
    assert_int_equal(out.status, RHAI_STATUS_DONE);
    ev = events_of(&out);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(ev, 0), "depth")), 2);
    assert_string_equal(str(json_array_get(ev, 0), "trace"), "root");
    json_decref(ev);
    eng_output_clear(&out);
    tmpl.depth = 2;
    run_in("d4", "emit('chain')", &tmpl, &out);
    assert_int_equal(out.status, RHAI_STATUS_ERROR);
    assert_non_null(strstr(out.error, "EventDepthExceeded"));
    eng_output_clear(&out);
}

static void expect_refused(const char *script, const char *want)
{
    eng_output out;

    run_in("bad", script, NULL, &out);
    assert_int_equal(out.status, RHAI_STATUS_ERROR);
    if (strstr(out.error, want) == NULL)
        print_message("error '%s' lacks '%s'\n", out.error, want);
    assert_non_null(strstr(out.error, want));
    eng_output_clear(&out);
}

static void test_bad_event_names_and_payloads_are_refused(void **state)
{
    char script[400];

    (void)state;
    expect_refused("emit()", "TypeError: emit: the event name must be a string");
    expect_refused("emit(12)", "the event name must be a string");
    expect_refused("emit('')", "invalid event name");
    expect_refused("emit('.a')", "invalid event name");
    expect_refused("emit('a.')", "invalid event name");
    expect_refused("emit('a b')", "invalid event name");
    expect_refused("emit('a/b')", "invalid event name");
    snprintf(script, sizeof script, "emit(new Array(%d).join('x'))",
             STORE_EVENT_NAME_MAX + 2);
    expect_refused(script, "invalid event name");
    expect_refused("emit('a', function () {})", "the payload cannot be JSON");
    expect_refused("var o = {}; o.o = o; emit('a', o)", "TypeError");
    expect_refused("emit('a', new Array(70000).join('x'))", "RangeError: emit: payload too "
                   "large");
    assert_int_equal(outbox_total(), 0);
}

static void test_a_task_emits_at_most_its_cap(void **state)
{
    eng_output out;

    (void)state;
    run_in("cap", "var n = 0; try { for (;;) { emit('tick'); n++ } } catch (e) "
           "{ [n, e.name] }", NULL, &out);
    assert_int_equal(out.status, RHAI_STATUS_DONE);
    assert_string_equal(out.output, "[100,\"TooManyEvents\"]");
    eng_output_clear(&out);
    assert_int_equal(outbox_total(), 100);
}

static void test_matching_subscriptions_are_stored_with_the_event(void **state)
{
    store_sub a, b;
    eng_output out;
    json_t *ev, *subs;
    rhai_error err;

    (void)state;
    memset(&a, 0, sizeof a);
    a.name = "ship";
    a.pattern = "order.*";
    a.worker = "shipping";
    a.script = "ctx.event.payload";
    a.args = "{\"fast\":true}";
    a.caller = "bob";
    b = a;
    b.name = "paused";
    b.paused = 1;
    assert_int_equal(store_sub_put(shop(), &a, &err), 0);
    assert_int_equal(store_sub_put(shop(), &b, &err), 0);
    run_in("s1", "emit('order.paid'); emit('user.made')", NULL, &out);
    assert_int_equal(out.status, RHAI_STATUS_DONE);
    ev = events_of(&out);
    subs = json_object_get(json_array_get(ev, 0), "subs");
    assert_int_equal(json_array_size(subs), 1);
    assert_string_equal(str(json_array_get(subs, 0), "name"), "ship");
    assert_string_equal(str(json_array_get(subs, 0), "worker"), "shipping");
    assert_string_equal(str(json_array_get(subs, 0), "caller"), "bob");
    assert_string_equal(str(json_array_get(subs, 0), "args"), "{\"fast\":true}");
    assert_string_equal(str(json_array_get(subs, 0), "script"), "ctx.event.payload");
    assert_int_equal(json_array_size(json_object_get(json_array_get(ev, 1), "subs")), 0);
    json_decref(ev);
    eng_output_clear(&out);
}

static void test_ctx_holds_the_event_depth_trace_and_parent(void **state)
{
    eng_input tmpl;
    eng_output out;

    (void)state;
    run_in("root", "[ctx.event, ctx.depth, ctx.trace, ctx.parent]", NULL, &out);
    assert_string_equal(out.output, "[null,0,\"root\",null]");
    eng_output_clear(&out);

    memset(&tmpl, 0, sizeof tmpl);
    tmpl.event_repair_ms = INT64_MAX / 4;
    tmpl.parent_id = "root";
    tmpl.trace_id = "root";
    tmpl.depth = 1;
    tmpl.event_json = "{\"id\":\"root.1\",\"name\":\"order.paid\",\"payload\":{\"n\":2}}";
    run_in("sub", "[ctx.event.name, ctx.event.payload.n, ctx.depth, ctx.trace, ctx.parent]",
           &tmpl, &out);
    assert_string_equal(out.output, "[\"order.paid\",2,1,\"root\",\"root\"]");
    eng_output_clear(&out);
    /* an event that is not JSON fails the task as invalid input */
    tmpl.event_json = "{nope";
    run_in("sub2", "1", &tmpl, &out);
    assert_int_equal(out.status, RHAI_STATUS_ERROR);
    assert_int_equal(out.kind, RH_EK_INVALID);
    eng_output_clear(&out);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_a_task_that_emits_and_succeeds_commits_the_event_and_returns_it),
        T(test_a_task_that_fails_after_emitting_writes_and_returns_no_event),
        T(test_a_replayed_task_returns_its_unrelayed_events_and_writes_nothing),
        T(test_the_repair_sweep_returns_old_unrelayed_rows_of_the_context),
        T(test_an_emit_beyond_the_depth_limit_throws),
        T(test_bad_event_names_and_payloads_are_refused),
        T(test_a_task_emits_at_most_its_cap),
        T(test_matching_subscriptions_are_stored_with_the_event),
        T(test_ctx_holds_the_event_depth_trace_and_parent),
    };
    return cmocka_run_group_tests_name("dsl_events", tests, NULL, NULL);
}
