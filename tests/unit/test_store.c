/* test_store.c -- src/store on its own, with schemas written here: context
 * id validation, migrations that add models and fields in place without
 * losing data, the ledger and its binding of a task id to one submission,
 * the migration of a ledger made before that binding, and the LRU of open
 * contexts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "store/store.h"
#include "th_store.h"

static const store_field item_v1[] = {
    { "name", STORE_T_STRING, 0, NULL, STORE_F_REQUIRED, 0, 0, 0, NULL, NULL, NULL, 0, NULL, "" },
    { "qty", STORE_T_INT, 0, NULL, STORE_F_INDEX, 0, 0, 0, NULL, NULL, NULL, 0, NULL, "" },
};
static const store_model models_v1[] = {
    { "item", "Item", "t", "", "", item_v1, 2 },
};
static const store_schema schema_v1 = { models_v1, 1, "v1" };

/* v2: item gains a list field and an indexed note; a new model tag. */
static const store_field item_v2[] = {
    { "name", STORE_T_STRING, 0, NULL, STORE_F_REQUIRED, 0, 0, 0, NULL, NULL, NULL, 0, NULL, "" },
    { "qty", STORE_T_INT, 0, NULL, STORE_F_INDEX, 0, 0, 0, NULL, NULL, NULL, 0, NULL, "" },
    { "note", STORE_T_STRING, 0, NULL, STORE_F_INDEX, 0, 0, 0, NULL, NULL, NULL, 0, NULL, "" },
    { "tags", STORE_T_LIST, STORE_T_STRING, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL, "" },
};
static const store_field tag_v2[] = {
    { "item", STORE_T_REF, 0, "item", 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL, "" },
    { "ok", STORE_T_BOOL, 0, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL, "" },
};
static const store_model models_v2[] = {
    { "item", "Item", "t", "", "", item_v2, 4 },
    { "tag", "Tag", "t", "", "", tag_v2, 2 },
};
static const store_schema schema_v2 = { models_v2, 2, "v2" };

static char dir[128];
static char url[2048];      /* dir on sqlite, a fresh database on postgres */

static int dir_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/rhai-test-store-XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(th_store_url(dir, url, sizeof url), 0);
    return 0;
}

static int dir_teardown(void **state)
{
    char cmd[200];

    (void)state;
    th_store_done(url);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void test_context_ids_that_could_escape_the_data_dir_are_refused(void **state)
{
    static const char *const bad[] = { "", "..", "../x", "a/b", ".hidden", "a..b", "a b",
                                       "x\n" };
    char longid[STORE_CONTEXT_MAX + 2];
    store *s;
    store_db *db;
    rhai_error err;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(rh_context_id_valid(bad[i]));
    memset(longid, 'a', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    assert_false(rh_context_id_valid(longid));
    assert_true(rh_context_id_valid("acme:eu-1@prod"));
    assert_int_equal(store_new(url, &schema_v1, &s, &err), 0);
    assert_int_equal(store_open(s, "../evil", &db, &err), RHAI_EINVAL);
    assert_null(db);
    store_free(s);
}

static void test_a_new_field_and_model_migrate_an_existing_context_without_loss(void **state)
{
    store *s;
    store_db *db;
    rhai_error err;
    json_t *row, *rows, *v;
    int64_t id, tid;

    (void)state;
    assert_int_equal(store_new(url, &schema_v1, &s, &err), 0);
    assert_int_equal(store_open(s, "ctx", &db, &err), 0);
    assert_int_equal(store_begin(db, &err), 0);
    v = json_pack("{ss si}", "name", "bolt", "qty", 7);
    assert_int_equal(store_insert(db, &models_v1[0], v, &id, &err), 0);
    json_decref(v);
    assert_int_equal(store_commit(db, &err), 0);
    store_free(s);

    assert_int_equal(store_new(url, &schema_v2, &s, &err), 0);
    assert_int_equal(store_open(s, "ctx", &db, &err), 0);
    assert_int_equal(store_get(db, &models_v2[0], id, &row, &err), 0);
    assert_string_equal(json_string_value(json_object_get(row, "name")), "bolt");
    assert_int_equal(json_integer_value(json_object_get(row, "qty")), 7);
    assert_true(json_is_null(json_object_get(row, "note")));
    json_decref(row);
    assert_int_equal(store_begin(db, &err), 0);
    v = json_pack("{ss s[ss]}", "note", "new", "tags", "a", "b");
    assert_int_equal(store_update(db, &models_v2[0], id, v, &err), 0);
    json_decref(v);
    v = json_object();
    json_object_set_new(v, "item", json_integer(id));
    json_object_set_new(v, "ok", json_true());
    assert_int_equal(store_insert(db, &models_v2[1], v, &tid, &err), 0);
    json_decref(v);
    v = json_object();
    json_object_set_new(v, "item", json_integer(999));
    assert_int_equal(store_insert(db, &models_v2[1], v, &tid, &err), RHAI_EINVAL);
    json_decref(v);
    assert_int_equal(store_commit(db, &err), 0);
    v = json_pack("{ss}", "note", "new");
    assert_int_equal(store_list(db, &models_v2[0], v, "-qty", 10, 0, &rows, &err), 0);
    json_decref(v);
    assert_int_equal(json_array_size(rows), 1);
    row = json_array_get(rows, 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(row, "tags"), 1)),
                        "b");
    assert_int_equal(json_integer_value(json_object_get(row, "qty")), 7);
    json_decref(rows);
    store_free(s);

    /* reopening with the old schema (a rollback of the binary) loses nothing either */
    assert_int_equal(store_new(url, &schema_v1, &s, &err), 0);
    assert_int_equal(store_open(s, "ctx", &db, &err), 0);
    assert_int_equal(store_get(db, &models_v1[0], id, &row, &err), 0);
    assert_string_equal(json_string_value(json_object_get(row, "name")), "bolt");
    json_decref(row);
    store_free(s);
}

/* The binding of task id 'id' run by 'caller' on worker "w" with this
 * script and args. */
static store_ledger_key key_of(const char *id, const char *caller, const char *script,
                               const char *args)
{
    store_ledger_key k;

    memset(&k, 0, sizeof k);
    k.task_id = id;
    k.caller_id = caller;
    k.worker_id = "w";
    store_ledger_digest(script, strlen(script), args, k.digest);
    return k;
}

static void test_the_ledger_commits_and_rolls_back_with_the_task(void **state)
{
    store *s;
    store_db *db;
    rhai_error err;
    char *res;
    json_t *v;
    int64_t id;
    store_ledger_key k = key_of("t1", "alice", "x()", NULL);

    (void)state;
    assert_int_equal(store_new(url, &schema_v1, &s, &err), 0);
    assert_int_equal(store_open(s, "l", &db, &err), 0);
    assert_int_equal(store_begin(db, &err), 0);
    v = json_pack("{ss}", "name", "x");
    assert_int_equal(store_insert(db, &models_v1[0], v, &id, &err), 0);
    assert_int_equal(store_ledger_put(db, &k, "{\"r\":1}", &err), 0);
    store_rollback(db);
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(store_ledger_get(db, &k, &res, &err), RHAI_ENOTFOUND);
    {
        json_t *gone;
        assert_int_equal(store_get(db, &models_v1[0], id, &gone, &err), RHAI_ENOTFOUND);
        assert_null(gone);
    }
    assert_int_equal(store_insert(db, &models_v1[0], v, &id, &err), 0);
    assert_int_equal(store_ledger_put(db, &k, "{\"r\":1}", &err), 0);
    assert_int_equal(store_commit(db, &err), 0);
    json_decref(v);
    assert_int_equal(store_ledger_get(db, &k, &res, &err), 0);
    assert_string_equal(res, "{\"r\":1}");
    rh_free(res);
    /* a savepoint undoes one call inside the task */
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(store_savepoint(db, &err), 0);
    assert_int_equal(store_delete(db, &models_v1[0], id, &err), 0);
    store_rollback_to(db);
    assert_int_equal(store_commit(db, &err), 0);
    assert_int_equal(store_begin(db, &err), 0);
    {
        json_t *row;
        assert_int_equal(store_get(db, &models_v1[0], id, &row, &err), 0);
        json_decref(row);
    }
    store_rollback(db);
    store_free(s);
}

/* Issue 16: task ids are the clients'. A recorded row answers only the
 * submission it recorded; another caller, worker, script or args under
 * the same id gets RHAI_ESTATE and nothing of the row. */
static void test_a_ledger_row_answers_only_the_submission_it_recorded(void **state)
{
    static const char result[] = "{\"secret\":42}";
    store *s;
    store_db *db;
    rhai_error err;
    char *res = NULL;
    store_ledger_key k = key_of("L1", "alice", "Item.list()", "{\"a\":1}");
    store_ledger_key other[6];

    (void)state;
    other[0] = key_of("L1", "mallory", "Item.list()", "{\"a\":1}");
    other[1] = key_of("L1", "alice", "Item.list() ", "{\"a\":1}");
    other[2] = key_of("L1", "alice", "Item.list()", "{\"a\":2}");
    other[3] = key_of("L1", "alice", "Item.list()", NULL);
    other[4] = k;
    other[4].worker_id = "w2";
    other[5] = k;
    other[5].caller_id = NULL;                          /* "" */
    assert_int_equal(store_new(url, &schema_v1, &s, &err), 0);
    assert_int_equal(store_open(s, "acme", &db, &err), 0);
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(store_ledger_put(db, &k, result, &err), 0);
    assert_int_equal(store_commit(db, &err), 0);
    assert_int_equal(store_ledger_get(db, &k, &res, &err), 0);
    assert_string_equal(res, result);
    rh_free(res);
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        res = (char *)"untouched";
        assert_int_equal(store_ledger_get(db, &other[i], &res, &err), RHAI_ESTATE);
        assert_null(res);
        assert_non_null(strstr(err.msg, "task id already used"));
    }
    /* the id stays taken: a second row under it cannot be written (on
     * postgres the row is queued and the commit fails) */
    assert_int_equal(store_begin(db, &err), 0);
    {
        int rc = store_ledger_put(db, &other[0], "1", &err);
        if (rc == 0)
            rc = store_commit(db, &err);
        assert_int_equal(rc, RHAI_ESTORE);
    }
    store_rollback(db);
    assert_int_equal(store_ledger_get(db, &k, &res, &err), 0);
    assert_string_equal(res, result);
    rh_free(res);
    store_free(s);
}

static void test_the_ledger_digest_is_unambiguous(void **state)
{
    unsigned char a[STORE_DIGEST_LEN], b[STORE_DIGEST_LEN];

    (void)state;
    store_ledger_digest("ab", 2, "c", a);
    store_ledger_digest("a", 1, "bc", b);
    assert_memory_not_equal(a, b, sizeof a);
    /* only script_len bytes of the script count; args NULL is "{}" */
    store_ledger_digest("xyz", 2, NULL, a);
    store_ledger_digest("xy", 2, "{}", b);
    assert_memory_equal(a, b, sizeof a);
}

/* A ledger made before the binding: opening migrates it in place (new
 * columns), its rows match no submission (their submitter is unknown),
 * and new rows are bound. */
static void test_a_ledger_of_before_the_binding_is_migrated_and_its_rows_refused(
    void **state)
{
    char path[256];
    sqlite3 *raw;
    store *s;
    store_db *db;
    rhai_error err;
    char *res = NULL;
    store_ledger_key old = key_of("old-1", "alice", "x()", NULL);
    store_ledger_key k = key_of("new-1", "alice", "x()", NULL);
    json_t *info;

    (void)state;
    TH_SQLITE_ONLY();           /* a SQLite file written by hand */
    /* the tables of a context as the previous version (acl2) made them */
    snprintf(path, sizeof path, "%s/legacy.db", dir);
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw,
        "CREATE TABLE rhai_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO rhai_meta VALUES ('schema_hash', 'v1+acl2');"
        "CREATE TABLE rhai_ledger (task_id TEXT PRIMARY KEY, result TEXT NOT NULL, "
        "finished_at INTEGER NOT NULL);"
        "INSERT INTO rhai_ledger VALUES ('old-1', '\"old\"', 1);"
        "CREATE TABLE rhai_audit (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "at INTEGER NOT NULL, task_id TEXT, caller TEXT NOT NULL, op TEXT NOT NULL, "
        "model TEXT NOT NULL, object_id INTEGER, decision TEXT NOT NULL, reason TEXT);"
        "INSERT INTO rhai_audit (at, caller, op, model, decision) "
        "VALUES (1, 'bob', 'read', 'item', 'denied');", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);

    assert_int_equal(store_new(url, &schema_v1, &s, &err), 0);
    assert_int_equal(store_open(s, "legacy", &db, &err), 0);
    assert_int_equal(store_ledger_get(db, &old, &res, &err), RHAI_ESTATE);
    assert_null(res);
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(store_ledger_put(db, &k, "\"new\"", &err), 0);
    assert_int_equal(store_commit(db, &err), 0);
    assert_int_equal(store_ledger_get(db, &k, &res, &err), 0);
    assert_string_equal(res, "\"new\"");
    rh_free(res);
    assert_int_equal(store_context_info(db, &info, &err), 0);
    assert_int_equal(json_integer_value(json_object_get(info, "tasks_recorded")), 2);
    assert_int_equal(json_integer_value(json_object_get(info, "audit_rows")), 1);
    assert_string_equal(json_string_value(json_object_get(info, "schema_version")),
                        "v1+ev1");
    /* the events' tables (ev1) came with the migration */
    {
        json_t *ob = NULL;
        assert_int_equal(store_outbox_stats(db, &ob, &err), 0);
        assert_int_equal(json_integer_value(json_object_get(ob, "total")), 0);
        json_decref(ob);
    }
    json_decref(info);
    store_free(s);
    /* and opened again, nothing to do */
    assert_int_equal(store_new(url, &schema_v1, &s, &err), 0);
    assert_int_equal(store_open(s, "legacy", &db, &err), 0);
    assert_int_equal(store_ledger_get(db, &k, &res, &err), 0);
    rh_free(res);
    store_free(s);
}

/* store_tx_changes counts the rows a transaction kept: what a savepoint
 * undid is not the task's. */
static void test_a_transaction_counts_the_rows_it_changed_and_kept(void **state)
{
    store *s;
    store_db *db;
    rhai_error err;
    json_t *v = json_pack("{ss}", "name", "x");
    int64_t id;

    (void)state;
    assert_int_equal(store_new(url, &schema_v1, &s, &err), 0);
    assert_int_equal(store_open(s, "tx", &db, &err), 0);
    assert_int_equal(store_tx_changes(db), 0);
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(store_tx_changes(db), 0);
    assert_int_equal(store_savepoint(db, &err), 0);
    assert_int_equal(store_insert(db, &models_v1[0], v, &id, &err), 0);
    store_rollback_to(db);
    assert_int_equal(store_tx_changes(db), 0);
    assert_int_equal(store_savepoint(db, &err), 0);
    assert_int_equal(store_insert(db, &models_v1[0], v, &id, &err), 0);
    assert_int_equal(store_release(db, &err), 0);
    assert_int_equal(store_tx_changes(db), 1);
    assert_int_equal(store_commit(db, &err), 0);
    assert_int_equal(store_tx_changes(db), 0);
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(store_tx_changes(db), 0);          /* a new transaction */
    store_rollback(db);
    json_decref(v);
    store_free(s);
}

static void test_more_contexts_than_the_lru_holds_are_closed_and_reopened(void **state)
{
    store *s;
    store_db *db;
    store_db *held;
    rhai_error err;
    char name[32];

    (void)state;
    assert_int_equal(store_new(url, &schema_v1, &s, &err), 0);
    assert_int_equal(store_open(s, "held", &held, &err), 0);
    assert_int_equal(store_begin(held, &err), 0);       /* never evicted */
    for (int i = 0; i < 3 * STORE_OPEN_MAX; i++) {
        snprintf(name, sizeof name, "c%d", i);
        assert_int_equal(store_open(s, name, &db, &err), 0);
        if (th_store_is_pg()) {         /* "<masked url> context <id>" */
            const char *p = store_db_path(db);
            assert_string_equal(p + strlen(p) - strlen(name), name);
        } else {
            assert_string_equal(strrchr(store_db_path(db), '/') + 1, strcat(name, ".db"));
        }
    }
    assert_int_equal(store_open(s, "held", &db, &err), 0);
    assert_ptr_equal(db, held);
    assert_true(store_in_tx(db));
    store_free(s);                                      /* rolls back */
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, dir_setup, dir_teardown)
    const struct CMUnitTest tests[] = {
        T(test_context_ids_that_could_escape_the_data_dir_are_refused),
        T(test_a_new_field_and_model_migrate_an_existing_context_without_loss),
        T(test_the_ledger_commits_and_rolls_back_with_the_task),
        T(test_a_ledger_row_answers_only_the_submission_it_recorded),
        T(test_the_ledger_digest_is_unambiguous),
        T(test_a_ledger_of_before_the_binding_is_migrated_and_its_rows_refused),
        T(test_a_transaction_counts_the_rows_it_changed_and_kept),
        T(test_more_contexts_than_the_lru_holds_are_closed_and_reopened),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
