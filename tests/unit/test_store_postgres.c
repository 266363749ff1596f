/* test_store_pg.c -- what only the postgres store has: one connection
 * per store that survives a server restart, SERIALIZABLE conflicts failing
 * as RHAI_ESTORE with nothing committed, two stores (two connections, as
 * two hosts) on one context seeing one truth, passwords never shown, and
 * the round trips a DSL call costs. Run by ctest as test_store_postgres_pg
 * (tools/with-postgres.sh); without a server every case is skipped. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "store/store.h"
#include "store/pg_int.h"
#include "th_store.h"

static const store_field item_fields[] = {
    { "name", STORE_T_STRING, 0, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL, "" },
    { "qty", STORE_T_INT, 0, NULL, STORE_F_INDEX, 0, 0, 0, NULL, NULL, NULL, 0, NULL, "" },
};
static const store_model models[] = {
    { "item", "Item", "t", "", "", item_fields, 2 },
};
static const store_schema schema = { models, 1, "pg-test" };

static char url[2048];

static int setup(void **state)
{
    (void)state;
    if (!th_store_is_pg())
        return 0;
    return th_store_url("/nonexistent", url, sizeof url) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    if (th_store_is_pg())
        th_store_done(url);
    return 0;
}

#define PG_ONLY() do { if (!th_store_is_pg()) { skip(); } } while (0)

static int64_t insert_item(store_db *db, const char *name, int qty)
{
    rhai_error err;
    json_t *v = json_pack("{ss si}", "name", name, "qty", qty);
    int64_t id = 0;

    assert_int_equal(store_insert(db, &models[0], v, &id, &err), 0);
    json_decref(v);
    return id;
}

static int64_t count_items(store_db *db, json_t *where)
{
    rhai_error err;
    int64_t n = -1;

    assert_int_equal(store_count(db, &models[0], where, &n, &err), 0);
    return n;
}

static int64_t round_trips(store *s)
{
    return ((pg_store *)s)->round_trips;
}

/* Issue 17: a DSL call costs one round trip at most. BEGIN, SAVEPOINT,
 * RELEASE, audit rows and the ledger row go with the next statement that
 * needs an answer; a decision is loaded once per (caller, model) and
 * transaction. */
static void test_a_dsl_call_costs_one_round_trip_at_most(void **state)
{
    store *s;
    store_db *db;
    rhai_error err;
    store_audit a;
    store_ledger_key k;
    json_t *row;
    int64_t rt, id;

    (void)state;
    PG_ONLY();
    assert_int_equal(store_new(url, &schema, &s, &err), 0);
    assert_int_equal(store_context_create(s, "rt", "alice", &err), 0);
    assert_int_equal(store_open(s, "rt", &db, &err), 0);
    rt = round_trips(s);
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(round_trips(s), rt);                      /* queued */
    assert_int_equal(store_authorize(db, "alice", "item", STORE_OP_CREATE, 0, 1, &err), 1);
    assert_int_equal(round_trips(s), rt + 1);                  /* BEGIN + decision */
    assert_int_equal(store_savepoint(db, &err), 0);
    id = insert_item(db, "a", 1);
    assert_int_equal(store_release(db, &err), 0);
    assert_int_equal(round_trips(s), rt + 2);                  /* SAVEPOINT + INSERT */
    /* the same caller and model again: no query */
    assert_int_equal(store_authorize(db, "alice", "item", STORE_OP_READ, id, 1, &err), 1);
    assert_int_equal(store_authorize(db, "bob", "item", STORE_OP_READ, id, 1, &err), 0);
    assert_int_equal(store_authorize(db, "bob", "item", STORE_OP_UPDATE, id, 1, &err), 0);
    assert_int_equal(round_trips(s), rt + 3);                  /* bob's, once */
    memset(&a, 0, sizeof a);
    a.at = 1;
    a.caller = "alice";
    a.op = "create";
    a.model = "item";
    a.decision = "allowed";
    assert_int_equal(store_audit_put(db, &a, &err), 0);
    assert_int_equal(store_savepoint(db, &err), 0);
    assert_int_equal(store_get(db, &models[0], id, &row, &err), 0);
    json_decref(row);
    assert_int_equal(store_release(db, &err), 0);
    assert_int_equal(round_trips(s), rt + 3);                  /* the row as insert left it */
    memset(&k, 0, sizeof k);
    k.task_id = "t-rt";
    k.caller_id = "alice";
    assert_int_equal(store_audit_put(db, &a, &err), 0);
    assert_int_equal(store_ledger_put(db, &k, "1", &err), 0);
    assert_int_equal(store_tx_changes(db), 4);                 /* item, 2 audit, ledger */
    assert_int_equal(store_commit(db, &err), 0);
    assert_int_equal(round_trips(s), rt + 4);                  /* audit + ledger + COMMIT */
    /* a new transaction reads the row again, once; an update writes and
     * returns it in one round trip */
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(store_get(db, &models[0], id, &row, &err), 0);
    json_decref(row);
    assert_int_equal(round_trips(s), rt + 5);
    {
        json_t *v = json_pack("{si}", "qty", 5);
        assert_int_equal(store_update(db, &models[0], id, v, &err), 0);
        json_decref(v);
    }
    assert_int_equal(store_get(db, &models[0], id, &row, &err), 0);
    assert_int_equal(json_integer_value(json_object_get(row, "qty")), 5);
    assert_string_equal(json_string_value(json_object_get(row, "name")), "a");
    json_decref(row);
    assert_int_equal(round_trips(s), rt + 6);
    /* undone by a savepoint: read again, as the database has it */
    assert_int_equal(store_savepoint(db, &err), 0);
    {
        json_t *v = json_pack("{si}", "qty", 6);
        assert_int_equal(store_update(db, &models[0], id, v, &err), 0);
        json_decref(v);
    }
    store_rollback_to(db);
    assert_int_equal(store_get(db, &models[0], id, &row, &err), 0);
    assert_int_equal(json_integer_value(json_object_get(row, "qty")), 5);
    json_decref(row);
    assert_int_equal(store_delete(db, &models[0], id, &err), 0);
    assert_int_equal(store_get(db, &models[0], id, &row, &err), RHAI_ENOTFOUND);
    store_rollback(db);
    /* a grant change drops the cached decisions */
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(store_authorize(db, "bob", "item", STORE_OP_READ, id, 1, &err), 0);
    {
        store_grant g = { "bob", "item", STORE_OP_READ, 0, 0, "alice" };
        assert_int_equal(store_grant_add(db, &g, NULL, &err), 0);
    }
    assert_int_equal(store_authorize(db, "bob", "item", STORE_OP_READ, id, 1, &err), 2);
    assert_int_equal(store_commit(db, &err), 0);
    assert_int_equal(store_audit_query(db, NULL, NULL, NULL, 10, &row, &err), 0);
    assert_int_equal(json_array_size(row), 2);
    json_decref(row);
    store_free(s);
}

/* A server restart between tasks: the next transaction reconnects (its
 * first round trip is sent again on a new connection). A restart inside a
 * transaction fails it (RHAI_ESTORE), and the one after works. */
static void test_the_store_reconnects_after_the_server_restarts(void **state)
{
    const char *restart = getenv("RHAI_TEST_PG_RESTART");
    store *s;
    store_db *db;
    rhai_error err;
    json_t *row;
    int64_t id;

    (void)state;
    PG_ONLY();
    if (restart == NULL)
        skip();
    assert_int_equal(store_new(url, &schema, &s, &err), 0);
    assert_int_equal(store_context_create(s, "rs", "alice", &err), 0);
    assert_int_equal(store_open(s, "rs", &db, &err), 0);
    assert_int_equal(store_begin(db, &err), 0);
    id = insert_item(db, "kept", 1);
    assert_int_equal(store_commit(db, &err), 0);

    /* a read alone, outside a transaction, is sent again too */
    assert_int_equal(system(restart), 0);
    assert_false(store_context_exists(s, "no-such"));
    assert_int_equal(system(restart), 0);
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(store_get(db, &models[0], id, &row, &err), 0);
    json_decref(row);
    assert_int_equal(store_commit(db, &err), 0);

    /* inside a transaction: it fails, nothing of it commits */
    assert_int_equal(store_begin(db, &err), 0);
    insert_item(db, "lost", 2);
    assert_int_equal(system(restart), 0);
    {
        json_t *v = json_pack("{ss}", "name", "x");
        int64_t id2;
        assert_int_equal(store_insert(db, &models[0], v, &id2, &err), RHAI_ESTORE);
        assert_non_null(strstr(err.msg, "connection"));
        json_decref(v);
    }
    assert_int_equal(store_commit(db, &err), RHAI_ESTORE);
    assert_false(store_in_tx(db));
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(count_items(db, NULL), 1);
    store_rollback(db);
    assert_int_equal(store_probe(s, &err), 0);
    store_free(s);
}

/* Write skew between two connections: each reads what the other writes.
 * SERIALIZABLE lets one commit; the other fails with RHAI_ESTORE and
 * nothing of it is kept. */
static void test_a_serialization_conflict_is_a_store_error_and_commits_nothing(void **state)
{
    store *s1, *s2;
    store_db *a, *b;
    rhai_error err, err2;
    json_t *w1, *w2;
    int rc1, rc2;

    (void)state;
    PG_ONLY();
    w1 = json_pack("{si}", "qty", 1);
    w2 = json_pack("{si}", "qty", 2);
    assert_int_equal(store_new(url, &schema, &s1, &err), 0);
    assert_int_equal(store_new(url, &schema, &s2, &err), 0);
    assert_int_equal(store_context_create(s1, "sk", "alice", &err), 0);
    assert_int_equal(store_open(s1, "sk", &a, &err), 0);
    assert_int_equal(store_open(s2, "sk", &b, &err), 0);
    assert_int_equal(store_begin(a, &err), 0);
    assert_int_equal(store_begin(b, &err), 0);
    assert_int_equal(count_items(a, w1), 0);
    assert_int_equal(count_items(b, w2), 0);
    memset(&err, 0, sizeof err);
    memset(&err2, 0, sizeof err2);
    {
        json_t *v1 = json_pack("{ss si}", "name", "a", "qty", 2);
        json_t *v2 = json_pack("{ss si}", "name", "b", "qty", 1);
        int64_t id;
        rc1 = store_insert(a, &models[0], v1, &id, &err);
        rc2 = store_insert(b, &models[0], v2, &id, &err2);
        json_decref(v1);
        json_decref(v2);
    }
    if (rc1 == 0)
        rc1 = store_commit(a, &err);
    if (rc2 == 0)
        rc2 = store_commit(b, &err2);
    store_rollback(a);
    store_rollback(b);
    /* exactly one failed, as a store error naming the conflict */
    assert_true((rc1 == 0) != (rc2 == 0));
    assert_int_equal(rc1 ? rc1 : rc2, RHAI_ESTORE);
    assert_non_null(strstr(rc1 ? err.msg : err2.msg, "40001"));
    assert_int_equal(count_items(a, NULL), 1);
    assert_int_equal(count_items(b, NULL), 1);
    json_decref(w1);
    json_decref(w2);
    store_free(s1);
    store_free(s2);
}

/* Two stores, as two hosts' executors: one context, one truth. */
static void test_two_stores_on_one_context_see_one_truth(void **state)
{
    store *s1, *s2;
    store_db *a, *b;
    rhai_error err;
    json_t *ids, *row;
    int64_t id1, id2;

    (void)state;
    PG_ONLY();
    assert_int_equal(store_new(url, &schema, &s1, &err), 0);
    assert_int_equal(store_new(url, &schema, &s2, &err), 0);
    assert_int_equal(store_context_create(s1, "acme", "alice", &err), 0);
    assert_true(store_context_exists(s2, "acme"));
    assert_int_equal(store_context_create(s2, "acme", "bob", &err), RHAI_ESTATE);
    assert_int_equal(store_open(s1, "acme", &a, &err), 0);
    assert_int_equal(store_open(s2, "acme", &b, &err), 0);
    assert_int_equal(store_begin(a, &err), 0);
    id1 = insert_item(a, "from-a", 1);
    assert_int_equal(store_commit(a, &err), 0);
    assert_int_equal(store_begin(b, &err), 0);
    id2 = insert_item(b, "from-b", 2);
    assert_int_equal(store_get(b, &models[0], id1, &row, &err), 0);
    assert_string_equal(json_string_value(json_object_get(row, "name")), "from-a");
    json_decref(row);
    assert_int_equal(store_commit(b, &err), 0);
    assert_true(id2 > id1);
    assert_int_equal(count_items(a, NULL), 2);
    assert_int_equal(count_items(b, NULL), 2);
    assert_int_equal(store_authorize(b, "alice", "item", STORE_OP_DELETE, 0, 1, &err), 1);
    /* another context of the same database sees none of it */
    assert_int_equal(store_context_create(s2, "other", "bob", &err), 0);
    assert_int_equal(store_open(s2, "other", &b, &err), 0);
    assert_int_equal(count_items(b, NULL), 0);
    assert_int_equal(store_get(b, &models[0], id1, &row, &err), RHAI_ENOTFOUND);
    assert_int_equal(store_authorize(b, "alice", "item", STORE_OP_READ, 0, 1, &err), 0);
    assert_int_equal(store_context_list(s1, &ids, &err), 0);
    assert_int_equal(json_array_size(ids), 2);
    assert_string_equal(json_string_value(json_array_get(ids, 0)), "acme");
    json_decref(ids);
    assert_int_equal(store_context_drop(s1, "other", &err), 0);
    assert_false(store_context_exists(s2, "other"));
    assert_int_equal(store_context_drop(s1, "other", &err), RHAI_ENOTFOUND);
    store_free(s1);
    store_free(s2);
}

/* A password in the URL or conninfo appears in no message. */
static void test_a_password_in_the_url_never_appears_in_a_message(void **state)
{
    const char *server = getenv("RHAI_TEST_PG_URL");
    const char *host;
    char bad[512];
    const char *urls[3];
    store *s;
    store_db *db;
    rhai_error err;

    (void)state;
    PG_ONLY();
    assert_non_null(server);
    host = strstr(server, "@");
    assert_non_null(host);
    /* a live server, a database that does not exist */
    snprintf(bad, sizeof bad, "postgres://rhai:Sekr3tPw@%.*s/no_such_db",
             (int)strcspn(host + 1, "/"), host + 1);
    urls[0] = bad;
    urls[1] = "postgresql://rhai:Sekr3tPw@127.0.0.1:1/rhai";     /* nothing listens */
    urls[2] = "host=127.0.0.1 port=1 user=rhai password=Sekr3tPw dbname=rhai";
    for (int i = 0; i < 3; i++) {
        assert_int_equal(store_new(urls[i], &schema, &s, &err), 0);
        assert_null(strstr(store_where(s), "Sekr3tPw"));
        memset(&err, 0, sizeof err);
        assert_int_equal(store_probe(s, &err), RHAI_ESTORE);
        assert_null(strstr(err.msg, "Sekr3tPw"));
        assert_non_null(strstr(err.msg, "***"));
        memset(&err, 0, sizeof err);
        assert_int_not_equal(store_open(s, "c", &db, &err), 0);
        assert_null(strstr(err.msg, "Sekr3tPw"));
        assert_non_null(strstr(err.msg, "cannot connect"));
        store_free(s);
    }
}

static int collect(void *u, json_t *row, rhai_error *err)
{
    (void)err;
    return json_array_append((json_t *)u, row);
}

static json_t *export_all(store_db *db)
{
    static const char *const tables[] = { STORE_TABLE_OWNERS, STORE_TABLE_GRANTS,
                                          STORE_TABLE_AUDIT, STORE_TABLE_LEDGER, "item" };
    json_t *all = json_object();
    rhai_error err;

    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        json_t *rows = json_array();
        assert_int_equal(store__postgres.export_rows(db, tables[i], collect, rows, &err), 0);
        json_object_set_new(all, tables[i], rows);
    }
    return all;
}

/* export_rows gives the canonical rows; import_row writes them back as
 * they are (ids kept) into another context; import_end moves the
 * sequences past them, so new rows never reuse an imported id. */
static void test_rows_exported_and_imported_come_back_the_same(void **state)
{
    store *s;
    store_db *src, *dst;
    rhai_error err;
    store_audit a;
    store_ledger_key k;
    json_t *in, *out, *rows;
    const char *table;
    int64_t id, gid;
    char *res = NULL;

    (void)state;
    PG_ONLY();
    assert_int_equal(store_new(url, &schema, &s, &err), 0);
    assert_int_equal(store_context_create(s, "src", "alice", &err), 0);
    assert_int_equal(store_open(s, "src", &src, &err), 0);
    assert_int_equal(store_begin(src, &err), 0);
    id = insert_item(src, "bolt", 7);
    {
        json_t *v = json_pack("{sn}", "name");
        int64_t id2;
        assert_int_equal(store_insert(src, &models[0], v, &id2, &err), 0);
        json_decref(v);
    }
    {
        store_grant g = { "bob", "item", STORE_OP_READ | STORE_OP_UPDATE, 0, 0, "alice" };
        store_grant og = { "carol", "item", STORE_OP_READ, 0, 99, NULL };
        og.object_id = id;
        assert_int_equal(store_grant_add(src, &g, NULL, &err), 0);
        assert_int_equal(store_grant_add(src, &og, NULL, &err), 0);
    }
    memset(&a, 0, sizeof a);
    a.at = 5;
    a.task_id = "t1";
    a.caller = "bob";
    a.op = "read";
    a.model = "item";
    a.object_id = id;
    a.decision = "denied";
    assert_int_equal(store_audit_put(src, &a, &err), 0);
    memset(&k, 0, sizeof k);
    k.task_id = "t1";
    k.caller_id = "alice";
    k.worker_id = "w";
    store_ledger_digest("x()", 3, NULL, k.digest);
    assert_int_equal(store_ledger_put(src, &k, "{\"r\":1}", &err), 0);
    assert_int_equal(store_commit(src, &err), 0);
    assert_int_equal(store_owner_add(src, "dave", &err), 0);

    in = export_all(src);
    assert_int_equal(json_array_size(json_object_get(in, "item")), 2);
    assert_int_equal(json_array_size(json_object_get(in, STORE_TABLE_OWNERS)), 2);
    rows = json_object_get(in, STORE_TABLE_LEDGER);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "context_id")),
                        "src");
    assert_int_equal(json_string_length(json_object_get(json_array_get(rows, 0), "digest")),
                     2 * STORE_DIGEST_LEN);

    assert_int_equal(store_open(s, "dst", &dst, &err), 0);
    assert_int_equal(store_begin(dst, &err), 0);
    json_object_foreach(in, table, rows) {
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row)
            assert_int_equal(store__postgres.import_row(dst, table, row, &err), 0);
    }
    assert_int_equal(store__postgres.import_end(dst, &err), 0);
    assert_int_equal(store_commit(dst, &err), 0);
    assert_true(store_context_exists(s, "dst"));
    out = export_all(dst);
    assert_true(json_equal(in, out));
    json_decref(out);
    /* new rows take new ids; the ledger row keeps its binding to "src" */
    assert_int_equal(store_begin(dst, &err), 0);
    assert_true(insert_item(dst, "new", 1) > id + 1);
    {
        store_grant g = { "erin", "*", STORE_OP_READ, 0, 0, NULL };
        json_t *grants = json_object_get(in, STORE_TABLE_GRANTS);
        assert_int_equal(store_grant_add(dst, &g, &gid, &err), 0);
        assert_true(gid > json_integer_value(json_object_get(
                              json_array_get(grants, json_array_size(grants) - 1), "id")));
    }
    assert_int_equal(store_commit(dst, &err), 0);
    assert_int_equal(store_ledger_get(dst, &k, &res, &err), RHAI_ESTATE);
    assert_int_equal(store_ledger_get(src, &k, &res, &err), 0);
    rh_free(res);
    /* a bad row is refused by name */
    assert_int_equal(store_begin(dst, &err), 0);
    {
        json_t *bad = json_pack("{ss si}", "caller", "x", "added_at", 1);
        json_object_set_new(bad, "added_at", json_string("soon"));
        assert_int_equal(store__postgres.import_row(dst, STORE_TABLE_OWNERS, bad, &err),
                         RHAI_EINVAL);
        json_decref(bad);
    }
    store_rollback(dst);
    json_decref(in);
    store_free(s);
}

/* Issue 17: tasks of one context serialize no more than their conflicts
 * require. Two tasks interleaved, each looking up its ledger row, creating
 * a row and updating it, then recording itself: they touch different rows,
 * so both commit (the ledger lookup takes no predicate lock, an update
 * reaches its row by ctid, not through the index page the other task
 * inserts into). */
static void test_two_tasks_of_one_context_writing_their_own_rows_both_commit(void **state)
{
    store *s[2];
    store_db *db[2];
    store_ledger_key k[2];
    rhai_error err;
    char *res;
    int64_t id[2];

    (void)state;
    PG_ONLY();
    for (int i = 0; i < 2; i++) {
        assert_int_equal(store_new(url, &schema, &s[i], &err), 0);
        if (i == 0)
            assert_int_equal(store_context_create(s[0], "hot", "alice", &err), 0);
        assert_int_equal(store_open(s[i], "hot", &db[i], &err), 0);
        memset(&k[i], 0, sizeof k[i]);
        k[i].task_id = i ? "task-b" : "task-a";
        k[i].caller_id = "alice";
    }
    /* some rows first, so that both tasks' rows share index pages */
    assert_int_equal(store_begin(db[0], &err), 0);
    for (int n = 0; n < 5; n++)
        insert_item(db[0], "old", n);
    assert_int_equal(store_commit(db[0], &err), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(store_begin(db[i], &err), 0);
        assert_int_equal(store_ledger_get(db[i], &k[i], &res, &err), RHAI_ENOTFOUND);
        id[i] = insert_item(db[i], "new", 10 + i);
        {
            json_t *v = json_pack("{ss}", "name", "changed");
            assert_int_equal(store_update(db[i], &models[0], id[i], v, &err), 0);
            json_decref(v);
        }
    }
    for (int i = 0; i < 2; i++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(store_ledger_put(db[i], &k[i], "1", &err), 0);
        assert_int_equal(store_commit(db[i], &err), 0);
    }
    assert_int_equal(count_items(db[0], NULL), 7);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(store_ledger_get(db[1 - i], &k[i], &res, &err), 0);
        rh_free(res);
    }
    store_free(s[0]);
    store_free(s[1]);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_a_dsl_call_costs_one_round_trip_at_most),
        T(test_the_store_reconnects_after_the_server_restarts),
        T(test_a_serialization_conflict_is_a_store_error_and_commits_nothing),
        T(test_two_stores_on_one_context_see_one_truth),
        T(test_a_password_in_the_url_never_appears_in_a_message),
        T(test_rows_exported_and_imported_come_back_the_same),
        T(test_two_tasks_of_one_context_writing_their_own_rows_both_commit),
    };
    return cmocka_run_group_tests_name("store_pg", tests, NULL, NULL);
}
