/* test_store_events.c -- the outbox and the subscriptions of a context
 * (store.h, "events"; issue 20) on both backends (test_store_events_pg):
 * a row exists only when its transaction committed, the pending queries
 * of a replay and of the repair sweep, marking rows relayed from another
 * thread with a store of its own, subscription CRUD and pattern matching. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "store/store.h"
#include "th_store.h"

static const store_field item_f[] = {
    { "name", STORE_T_STRING, 0, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL, "" },
};
static const store_model models[] = {
    { "item", "Item", "t", "", "", item_f, 1 },
};
static const store_schema schema = { models, 1, "ev-test-1" };

static char dir[128];
static char url[2048];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/rhai-test-stev-XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(th_store_url(dir, url, sizeof url), 0);
    return 0;
}

static int teardown(void **state)
{
    char cmd[200];

    (void)state;
    th_store_done(url);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static store_db *open_ctx(store **s, const char *ctx)
{
    store_db *db = NULL;
    rhai_error err;

    memset(&err, 0, sizeof err);
    assert_int_equal(store_new(url, &schema, s, &err), 0);
    if (!store_context_exists(*s, ctx))
        assert_int_equal(store_context_create(*s, ctx, "alice", &err), 0);
    assert_int_equal(store_open(*s, ctx, &db, &err), 0);
    return db;
}

static store_event ev_of(const char *id, const char *task, int64_t seq, int64_t at)
{
    store_event e;

    memset(&e, 0, sizeof e);
    e.id = id;
    e.name = "order.paid";
    e.payload = "{\"n\":1}";
    e.task_id = task;
    e.seq = seq;
    e.caller_id = "alice";
    e.depth = 1;
    e.at = at;
    e.subs = "[{\"name\":\"s1\",\"worker\":\"w\",\"script\":\"1\",\"args\":\"{}\","
             "\"caller\":\"bob\"}]";
    return e;
}

static size_t pending(store_db *db, const char *task, int64_t before)
{
    json_t *a = NULL;
    rhai_error err;
    size_t n;

    memset(&err, 0, sizeof err);
    assert_int_equal(store_outbox_pending(db, task, before, 100, &a, &err), 0);
    n = json_array_size(a);
    json_decref(a);
    return n;
}

static void test_an_outbox_row_exists_only_when_its_transaction_committed(void **state)
{
    store *s;
    store_db *db = open_ctx(&s, "c1");
    store_event e1 = ev_of("t1.1", "t1", 1, 1000), e2 = ev_of("t2.1", "t2", 1, 1000);
    json_t *a = NULL, *ev;
    rhai_error err;

    (void)state;
    memset(&err, 0, sizeof err);
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(store_outbox_put(db, &e1, &err), 0);
    /* an emit is a change: a task that only emits gets a ledger row */
    assert_int_equal(store_tx_changes(db), 1);
    assert_int_equal(store_commit(db, &err), 0);

    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(store_outbox_put(db, &e2, &err), 0);
    store_rollback(db);

    assert_int_equal(pending(db, "t1", 0), 1);
    assert_int_equal(pending(db, "t2", 0), 0);
    assert_int_equal(store_outbox_pending(db, "t1", 0, 10, &a, &err), 0);
    ev = json_array_get(a, 0);
    assert_string_equal(json_string_value(json_object_get(ev, "id")), "t1.1");
    assert_string_equal(json_string_value(json_object_get(ev, "name")), "order.paid");
    assert_string_equal(json_string_value(json_object_get(ev, "context")), "c1");
    assert_string_equal(json_string_value(json_object_get(ev, "task")), "t1");
    assert_string_equal(json_string_value(json_object_get(ev, "caller")), "alice");
    assert_string_equal(json_string_value(json_object_get(ev, "trace")), "t1");
    assert_int_equal(json_integer_value(json_object_get(ev, "depth")), 1);
    assert_int_equal(json_integer_value(json_object_get(ev, "time")), 1000);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(ev, "payload"), "n")),
                     1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(ev, "subs"), 0), "caller")), "bob");
    json_decref(a);
    /* the same id twice is refused (ids are unique per context) */
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_not_equal(store_outbox_put(db, &e1, &err) == 0 ? store_commit(db, &err) : -1,
                         0);
    store_rollback(db);
    store_free(s);
}

static void test_the_sweep_returns_unrelayed_rows_older_than_its_bound_oldest_first(
    void **state)
{
    store *s;
    store_db *db = open_ctx(&s, "c1");
    store_event a = ev_of("a.1", "a", 1, 100), b = ev_of("b.1", "b", 1, 200),
                c = ev_of("c.1", "c", 1, 300);
    const char *ids[] = { "b.1", "nosuch.1" };
    json_t *rows = NULL;
    int64_t marked = -1;
    rhai_error err;

    (void)state;
    memset(&err, 0, sizeof err);
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(store_outbox_put(db, &c, &err), 0);
    assert_int_equal(store_outbox_put(db, &a, &err), 0);
    assert_int_equal(store_outbox_put(db, &b, &err), 0);
    assert_int_equal(store_commit(db, &err), 0);

    assert_int_equal(pending(db, NULL, 250), 2);       /* a, b */
    assert_int_equal(pending(db, NULL, 1000), 3);
    assert_int_equal(store_outbox_pending(db, NULL, 1000, 2, &rows, &err), 0);
    assert_int_equal(json_array_size(rows), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "id")),
                        "a.1");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 1), "id")),
                        "b.1");
    json_decref(rows);

    assert_int_equal(store_outbox_mark_relayed(db, ids, 2, &marked, &err), 0);
    assert_int_equal(marked, 1);                        /* the unknown id is skipped */
    assert_int_equal(store_outbox_mark_relayed(db, ids, 1, &marked, &err), 0);
    assert_int_equal(marked, 0);                        /* marked already */
    assert_int_equal(pending(db, NULL, 1000), 2);
    assert_int_equal(pending(db, "b", 0), 0);
    assert_int_equal(store_outbox_mark_relayed(db, ids, 0, NULL, &err), RHAI_EINVAL);
    store_free(s);
}

static int64_t outbox_total(store_db *db)
{
    json_t *st = NULL;
    rhai_error err;
    int64_t n;

    memset(&err, 0, sizeof err);
    assert_int_equal(store_outbox_stats(db, &st, &err), 0);
    n = (int64_t)json_integer_value(json_object_get(st, "total"));
    json_decref(st);
    return n;
}

static void test_relayed_rows_are_pruned_after_their_keep_time_and_pending_ones_never(
    void **state)
{
    store *s;
    store_db *db = open_ctx(&s, "c1");
    store_event a = ev_of("a.1", "a", 1, 100), b = ev_of("b.1", "b", 1, 200),
                c = ev_of("c.1", "c", 1, 300);
    const char *ids[] = { "a.1", "b.1" };
    int64_t deleted = -1;
    rhai_error err;

    (void)state;
    memset(&err, 0, sizeof err);
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(store_outbox_put(db, &a, &err), 0);
    assert_int_equal(store_outbox_put(db, &b, &err), 0);
    assert_int_equal(store_outbox_put(db, &c, &err), 0);
    assert_int_equal(store_commit(db, &err), 0);
    assert_int_equal(store_outbox_mark_relayed(db, ids, 2, NULL, &err), 0);
    /* marking prunes only rows relayed more than STORE_OUTBOX_KEEP_MS ago */
    assert_int_equal(outbox_total(db), 3);
    /* nothing relayed before 0 */
    assert_int_equal(store_outbox_prune(db, 0, 10, &deleted, &err), 0);
    assert_int_equal(deleted, 0);
    /* a bound in the future: both relayed rows go, one batch at a time */
    assert_int_equal(store_outbox_prune(db, rh_now_ms() + 60000, 1, &deleted, &err), 0);
    assert_int_equal(deleted, 1);
    assert_int_equal(store_outbox_prune(db, rh_now_ms() + 60000, 10, &deleted, &err), 0);
    assert_int_equal(deleted, 1);
    assert_int_equal(outbox_total(db), 1);
    /* the pending row stays whatever the bound */
    assert_int_equal(store_outbox_prune(db, INT64_MAX, 10, &deleted, &err), 0);
    assert_int_equal(deleted, 0);
    assert_int_equal(pending(db, "c", 0), 1);
    assert_int_equal(store_outbox_prune(db, 0, 0, NULL, &err), RHAI_EINVAL);
    store_free(s);
}

struct marker {
    const char *ids[3];
    int64_t marked;
    int rc;
};

/* What rhaid's mark job does: a store and a store_db of its own. */
static void *mark_thread(void *u)
{
    struct marker *m = u;
    store *s = NULL;
    store_db *db = NULL;
    rhai_error err;

    memset(&err, 0, sizeof err);
    m->rc = store_new(url, &schema, &s, &err);
    if (m->rc == 0)
        m->rc = store_open(s, "c1", &db, &err);
    if (m->rc == 0)
        m->rc = store_outbox_mark_relayed(db, m->ids, 3, &m->marked, &err);
    store_free(s);
    return NULL;
}

static void test_rows_are_marked_relayed_from_another_thread_with_its_own_store(void **state)
{
    store *s;
    store_db *db = open_ctx(&s, "c1");
    store_event e[3] = { ev_of("x.1", "x", 1, 1), ev_of("x.2", "x", 2, 1),
                         ev_of("x.3", "x", 3, 1) };
    struct marker m = { { "x.1", "x.2", "x.3" }, 0, -1 };
    pthread_t th;
    rhai_error err;

    (void)state;
    memset(&err, 0, sizeof err);
    assert_int_equal(store_begin(db, &err), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(store_outbox_put(db, &e[i], &err), 0);
    assert_int_equal(store_commit(db, &err), 0);
    assert_int_equal(pthread_create(&th, NULL, mark_thread, &m), 0);
    /* this thread goes on with its own store meanwhile */
    assert_int_equal(pending(db, "y", 0), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(m.rc, 0);
    assert_int_equal(m.marked, 3);
    assert_int_equal(pending(db, "x", 0), 0);
    store_free(s);
}

static void test_event_names_and_patterns_follow_their_rules(void **state)
{
    char longname[STORE_EVENT_NAME_MAX + 2];

    (void)state;
    assert_true(store_event_name_valid("order.paid"));
    assert_true(store_event_name_valid("a:b-c_d"));
    assert_false(store_event_name_valid(""));
    assert_false(store_event_name_valid(".x"));
    assert_false(store_event_name_valid("x."));
    assert_false(store_event_name_valid("a b"));
    assert_false(store_event_name_valid("a@b"));
    assert_false(store_event_name_valid(NULL));
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_false(store_event_name_valid(longname));
    longname[STORE_EVENT_NAME_MAX] = '\0';
    assert_true(store_event_name_valid(longname));

    assert_true(store_event_pattern_valid("*"));
    assert_true(store_event_pattern_valid("order.*"));
    assert_true(store_event_pattern_valid("order.paid"));
    assert_false(store_event_pattern_valid(".*"));
    assert_false(store_event_pattern_valid("or*der"));
    assert_false(store_event_pattern_valid("order*"));

    assert_true(store_event_pattern_match("*", "x"));
    assert_true(store_event_pattern_match("order.paid", "order.paid"));
    assert_false(store_event_pattern_match("order.paid", "order.paidx"));
    assert_true(store_event_pattern_match("order.*", "order.paid"));
    assert_true(store_event_pattern_match("order.*", "order.paid.late"));
    assert_false(store_event_pattern_match("order.*", "order"));
    assert_false(store_event_pattern_match("order.*", "order."));
    assert_false(store_event_pattern_match("order.*", "orders.paid"));
}

static store_sub sub_of(const char *name, const char *pattern)
{
    store_sub s;

    memset(&s, 0, sizeof s);
    s.name = name;
    s.pattern = pattern;
    s.worker = "w1";
    s.script = "ctx.event.name";
    s.caller = "bob";
    s.created_by = "alice";
    return s;
}

static void test_subscriptions_are_added_listed_paused_and_removed(void **state)
{
    store *s;
    store_db *db = open_ctx(&s, "c1");
    store_sub a = sub_of("a", "order.paid"), b = sub_of("b", "order.*"),
              c = sub_of("c", "*"), d = sub_of("d", "user.*"), bad;
    json_t *j = NULL;
    rhai_error err;

    (void)state;
    memset(&err, 0, sizeof err);
    a.args = "{\"k\":1}";
    assert_int_equal(store_sub_put(db, &a, &err), 0);
    assert_int_equal(store_sub_put(db, &b, &err), 0);
    assert_int_equal(store_sub_put(db, &c, &err), 0);
    assert_int_equal(store_sub_put(db, &d, &err), 0);
    assert_int_equal(store_sub_put(db, &a, &err), RHAI_ESTATE);
    bad = sub_of("e", "or*der");
    assert_int_equal(store_sub_put(db, &bad, &err), RHAI_EINVAL);
    bad = sub_of("e f", "x");
    assert_int_equal(store_sub_put(db, &bad, &err), RHAI_EINVAL);
    bad = sub_of("e", "x");
    bad.args = "[1]";
    assert_int_equal(store_sub_put(db, &bad, &err), RHAI_EINVAL);
    bad.args = NULL;
    bad.worker = "";
    assert_int_equal(store_sub_put(db, &bad, &err), RHAI_EINVAL);

    assert_int_equal(store_sub_get(db, "a", &j, &err), 0);
    assert_string_equal(json_string_value(json_object_get(j, "pattern")), "order.paid");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "args"), "k")), 1);
    assert_string_equal(json_string_value(json_object_get(j, "created_by")), "alice");
    assert_false(json_is_true(json_object_get(j, "paused")));
    json_decref(j);
    assert_int_equal(store_sub_get(db, "zz", &j, &err), RHAI_ENOTFOUND);

    assert_int_equal(store_sub_list(db, &j, &err), 0);
    assert_int_equal(json_array_size(j), 4);
    json_decref(j);

    assert_int_equal(store_sub_match(db, "order.paid", &j, &err), 0);
    assert_int_equal(json_array_size(j), 3);            /* a, b, c */
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "args")),
                        "{\"k\":1}");
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 1), "args")),
                        "{}");
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 1), "caller")),
                        "bob");
    assert_null(json_object_get(json_array_get(j, 0), "pattern"));
    json_decref(j);

    assert_int_equal(store_sub_set_paused(db, "b", 1, &err), 0);
    assert_int_equal(store_sub_match(db, "order.paid", &j, &err), 0);
    assert_int_equal(json_array_size(j), 2);            /* a, c */
    json_decref(j);
    assert_int_equal(store_sub_set_paused(db, "b", 0, &err), 0);
    assert_int_equal(store_sub_del(db, "c", &err), 0);
    assert_int_equal(store_sub_del(db, "c", &err), RHAI_ENOTFOUND);
    assert_int_equal(store_sub_set_paused(db, "c", 1, &err), RHAI_ENOTFOUND);
    assert_int_equal(store_sub_match(db, "order.paid", &j, &err), 0);
    assert_int_equal(json_array_size(j), 2);            /* a, b */
    json_decref(j);
    assert_int_equal(store_sub_match(db, "user.made", &j, &err), 0);
    assert_int_equal(json_array_size(j), 1);            /* d */
    json_decref(j);
    store_free(s);
}

static void test_each_context_has_its_own_outbox_and_subscriptions(void **state)
{
    store *s;
    store_db *db1 = open_ctx(&s, "c1"), *db2 = NULL;
    store_event e = ev_of("t.1", "t", 1, 1);
    store_sub a = sub_of("a", "*");
    json_t *j = NULL;
    rhai_error err;

    (void)state;
    memset(&err, 0, sizeof err);
    assert_int_equal(store_context_create(s, "c2", "alice", &err), 0);
    assert_int_equal(store_begin(db1, &err), 0);
    assert_int_equal(store_outbox_put(db1, &e, &err), 0);
    assert_int_equal(store_commit(db1, &err), 0);
    assert_int_equal(store_sub_put(db1, &a, &err), 0);
    assert_int_equal(store_open(s, "c2", &db2, &err), 0);
    assert_int_equal(pending(db2, NULL, 1000), 0);
    assert_int_equal(store_sub_match(db2, "x", &j, &err), 0);
    assert_int_equal(json_array_size(j), 0);
    json_decref(j);
    /* the same event id in another context is another row */
    assert_int_equal(store_begin(db2, &err), 0);
    assert_int_equal(store_outbox_put(db2, &e, &err), 0);
    assert_int_equal(store_commit(db2, &err), 0);
    assert_int_equal(pending(db2, "t", 0), 1);
    store_free(s);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_an_outbox_row_exists_only_when_its_transaction_committed),
        T(test_the_sweep_returns_unrelayed_rows_older_than_its_bound_oldest_first),
        T(test_rows_are_marked_relayed_from_another_thread_with_its_own_store),
        T(test_relayed_rows_are_pruned_after_their_keep_time_and_pending_ones_never),
        T(test_event_names_and_patterns_follow_their_rules),
        T(test_subscriptions_are_added_listed_paused_and_removed),
        T(test_each_context_has_its_own_outbox_and_subscriptions),
    };
    return cmocka_run_group_tests_name("store_events", tests, NULL, NULL);
}
