/* test_acl.c -- src/store/acl.c on its own: contexts (create, exists,
 * list), owners, grants (model-wide, "*", per object, expiring, op
 * subsets), revocation, the authorization decision and the audit log.
 * The decision is checked against a model with no rows: it never reads
 * them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "store/store.h"
#include "th_store.h"

static const store_field item_fields[] = {
    { "name", STORE_T_STRING, 0, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL, "" },
};
static const store_model models[] = {
    { "item", "Item", "t", "", "", item_fields, 1 },
    { "tag", "Tag", "t", "", "", item_fields, 1 },
};
static const store_schema schema = { models, 2, "acl-test" };

#define NOW 1700000000000LL

static char dir[128];
static char url[2048];      /* dir on sqlite, a fresh database on postgres */
static store *st;
static store_db *db;

static int ctx_setup(void **state)
{
    rhai_error err;

    (void)state;
    snprintf(dir, sizeof dir, "/tmp/rhai-test-acl-XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(th_store_url(dir, url, sizeof url), 0);
    assert_int_equal(store_new(url, &schema, &st, &err), 0);
    assert_int_equal(store_context_create(st, "c1", "alice", &err), 0);
    assert_int_equal(store_open(st, "c1", &db, &err), 0);
    return 0;
}

static int ctx_teardown(void **state)
{
    char cmd[200];

    (void)state;
    store_free(st);
    th_store_done(url);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static int authz(const char *caller, const char *model, unsigned op, int64_t id, int64_t now)
{
    rhai_error err;
    int rc = store_authorize(db, caller, model, op, id, now, &err);

    assert_true(rc >= 0);
    return rc;
}

static int64_t grant(const char *caller, const char *model, unsigned ops, int64_t object_id,
                     int64_t expires_at)
{
    store_grant g = { caller, model, ops, object_id, expires_at, "alice" };
    rhai_error err;
    int64_t id = 0;

    assert_int_equal(store_grant_add(db, &g, &id, &err), 0);
    assert_true(id > 0);
    return id;
}

/* ======================== contexts ======================== */

static void test_a_created_context_exists_is_listed_and_has_its_owner(void **state)
{
    rhai_error err;
    json_t *ids, *owners;

    (void)state;
    assert_true(store_context_exists(st, "c1"));
    assert_false(store_context_exists(st, "c2"));
    assert_false(store_context_exists(st, "../c1"));
    assert_int_equal(store_context_create(st, "b0", "bob", &err), 0);
    /* files that are not contexts are not listed */
    {
        char p[256];
        FILE *f;
        snprintf(p, sizeof p, "%s/notes.txt", dir);
        assert_non_null(f = fopen(p, "w"));
        fclose(f);
    }
    assert_int_equal(store_context_list(st, &ids, &err), 0);
    assert_int_equal(json_array_size(ids), 2);
    assert_string_equal(json_string_value(json_array_get(ids, 0)), "b0");
    assert_string_equal(json_string_value(json_array_get(ids, 1)), "c1");
    json_decref(ids);
    assert_int_equal(store_owners(db, &owners, &err), 0);
    assert_int_equal(json_array_size(owners), 1);
    assert_string_equal(json_string_value(json_array_get(owners, 0)), "alice");
    json_decref(owners);
}

static void test_creating_an_existing_context_or_with_bad_input_fails(void **state)
{
    rhai_error err;
    json_t *ids;

    (void)state;
    assert_int_equal(store_context_create(st, "c1", "mallory", &err), RHAI_ESTATE);
    assert_int_equal(authz("mallory", "item", STORE_OP_READ, 0, NOW), 0);
    assert_int_equal(store_context_create(st, "../x", "bob", &err), RHAI_EINVAL);
    assert_int_equal(store_context_create(st, "", "bob", &err), RHAI_EINVAL);
    assert_int_equal(store_context_create(st, "c3", "", &err), RHAI_EINVAL);
    assert_int_equal(store_context_create(st, "c3", NULL, &err), RHAI_EINVAL);
    /* every task without a caller runs as "anonymous": as an owner it
     * would hand the context to anyone who names no caller */
    assert_int_equal(store_context_create(st, "c3", "anonymous", &err), RHAI_EINVAL);
    assert_non_null(strstr(err.msg, "anonymous"));
    assert_false(store_context_exists(st, "c3"));
    assert_int_equal(store_owner_add(db, "anonymous", &err), RHAI_EINVAL);
    assert_int_equal(authz("anonymous", "item", STORE_OP_READ, 0, NOW), 0);
    /* a data dir that does not exist holds no context */
    {
        store *none;
        assert_int_equal(store_new("/nonexistent/rhai-acl", &schema, &none, &err), 0);
        assert_int_equal(store_context_list(none, &ids, &err), 0);
        assert_int_equal(json_array_size(ids), 0);
        json_decref(ids);
        store_free(none);
    }
}

static void test_a_context_is_created_in_a_missing_data_dir(void **state)
{
    char sub[200];
    store *s2;
    rhai_error err;

    (void)state;
    snprintf(sub, sizeof sub, "%s/deeper/dir", dir);
    assert_int_equal(store_new(sub, &schema, &s2, &err), 0);
    assert_int_equal(store_context_create(s2, "n", "bob", &err), 0);
    assert_true(store_context_exists(s2, "n"));
    store_free(s2);
}

/* ======================== decisions ======================== */

static void test_owners_may_do_everything_and_others_nothing(void **state)
{
    rhai_error err;

    (void)state;
    for (unsigned op = 1; op <= STORE_OP_DELETE; op <<= 1) {
        assert_int_equal(authz("alice", "item", op, 0, NOW), 1);
        assert_int_equal(authz("alice", "tag", op, 42, NOW), 1);
        assert_int_equal(authz("bob", "item", op, 0, NOW), 0);
        assert_int_equal(authz("bob", "item", op, 42, NOW), 0);
        assert_int_equal(authz("", "item", op, 0, NOW), 0);
    }
    assert_int_equal(store_owner_add(db, "bob", &err), 0);
    assert_int_equal(store_owner_add(db, "bob", &err), 0);     /* no-op */
    assert_int_equal(authz("bob", "item", STORE_OP_DELETE, 7, NOW), 1);
    assert_int_equal(store_owner_add(db, "", &err), RHAI_EINVAL);
}

static void test_a_model_wide_grant_allows_its_ops_on_every_object_of_its_model(void **state)
{
    (void)state;
    grant("bob", "item", STORE_OP_READ | STORE_OP_UPDATE, 0, 0);
    assert_int_equal(authz("bob", "item", STORE_OP_READ, 0, NOW), 2);
    assert_int_equal(authz("bob", "item", STORE_OP_READ, 5, NOW), 2);
    assert_int_equal(authz("bob", "item", STORE_OP_UPDATE, 5, NOW), 2);
    assert_int_equal(authz("bob", "item", STORE_OP_CREATE, 0, NOW), 0);
    assert_int_equal(authz("bob", "item", STORE_OP_DELETE, 5, NOW), 0);
    assert_int_equal(authz("bob", "tag", STORE_OP_READ, 0, NOW), 0);   /* other model */
    assert_int_equal(authz("carol", "item", STORE_OP_READ, 0, NOW), 0);
}

static void test_a_star_grant_covers_every_model(void **state)
{
    (void)state;
    grant("bob", "*", STORE_OP_READ, 0, 0);
    assert_int_equal(authz("bob", "item", STORE_OP_READ, 0, NOW), 2);
    assert_int_equal(authz("bob", "tag", STORE_OP_READ, 3, NOW), 2);
    assert_int_equal(authz("bob", "tag", STORE_OP_UPDATE, 3, NOW), 0);
}

static void test_an_object_grant_allows_that_object_only(void **state)
{
    (void)state;
    grant("bob", "item", STORE_OP_READ | STORE_OP_DELETE, 5, 0);
    assert_int_equal(authz("bob", "item", STORE_OP_READ, 5, NOW), 2);
    assert_int_equal(authz("bob", "item", STORE_OP_DELETE, 5, NOW), 2);
    assert_int_equal(authz("bob", "item", STORE_OP_READ, 6, NOW), 0);
    /* not model-wide: no list, count or create */
    assert_int_equal(authz("bob", "item", STORE_OP_READ, 0, NOW), 0);
    assert_int_equal(authz("bob", "item", STORE_OP_CREATE, 0, NOW), 0);
    /* the same id in another model is another object */
    assert_int_equal(authz("bob", "tag", STORE_OP_READ, 5, NOW), 0);
}

static void test_an_expired_grant_allows_nothing(void **state)
{
    (void)state;
    grant("bob", "item", STORE_OP_ALL, 0, NOW);
    assert_int_equal(authz("bob", "item", STORE_OP_READ, 0, NOW - 1), 2);
    assert_int_equal(authz("bob", "item", STORE_OP_READ, 0, NOW), 0);  /* at expiry: gone */
    assert_int_equal(authz("bob", "item", STORE_OP_READ, 1, NOW + 1), 0);
}

static void test_revoke_takes_ops_away_and_deletes_emptied_grants(void **state)
{
    store_grant g;
    rhai_error err;
    json_t *list;
    int n = -1;

    (void)state;
    grant("bob", "item", STORE_OP_READ | STORE_OP_UPDATE, 0, 0);
    grant("bob", "item", STORE_OP_READ, 9, 0);
    grant("carol", "item", STORE_OP_READ, 0, 0);

    /* one op of the model-wide grant only; the object grant stays */
    memset(&g, 0, sizeof g);
    g.caller = "bob";
    g.model = "item";
    g.ops = STORE_OP_UPDATE;
    assert_int_equal(store_grant_revoke(db, &g, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(authz("bob", "item", STORE_OP_UPDATE, 1, NOW), 0);
    assert_int_equal(authz("bob", "item", STORE_OP_READ, 1, NOW), 2);
    assert_int_equal(store_grant_revoke(db, &g, &n, &err), 0);
    assert_int_equal(n, 0);                                     /* nothing left to take */

    /* ops 0 means all: the model-wide grant goes, the object one stays */
    g.ops = 0;
    assert_int_equal(store_grant_revoke(db, &g, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(authz("bob", "item", STORE_OP_READ, 1, NOW), 0);
    assert_int_equal(authz("bob", "item", STORE_OP_READ, 9, NOW), 2);
    g.object_id = 9;
    assert_int_equal(store_grant_revoke(db, &g, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(authz("bob", "item", STORE_OP_READ, 9, NOW), 0);

    assert_int_equal(store_grant_list(db, &list, &err), 0);
    assert_int_equal(json_array_size(list), 1);                 /* carol's */
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "caller")),
                        "carol");
    json_decref(list);
    g.caller = NULL;
    assert_int_equal(store_grant_revoke(db, &g, &n, &err), RHAI_EINVAL);
}

static void test_grants_are_listed_oldest_first_with_their_ops_by_name(void **state)
{
    rhai_error err;
    json_t *list, *g;

    (void)state;
    grant("bob", "item", STORE_OP_READ | STORE_OP_DELETE, 3, NOW);
    grant("carol", "*", STORE_OP_ALL, 0, 0);
    assert_int_equal(store_grant_list(db, &list, &err), 0);
    assert_int_equal(json_array_size(list), 2);
    g = json_array_get(list, 0);
    assert_string_equal(json_string_value(json_object_get(g, "caller")), "bob");
    assert_string_equal(json_string_value(json_object_get(g, "model")), "item");
    assert_int_equal(json_array_size(json_object_get(g, "ops")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(g, "ops"), 0)), "read");
    assert_string_equal(json_string_value(json_array_get(json_object_get(g, "ops"), 1)),
                        "delete");
    assert_int_equal(json_integer_value(json_object_get(g, "object_id")), 3);
    assert_int_equal(json_integer_value(json_object_get(g, "expires_at")), NOW);
    assert_string_equal(json_string_value(json_object_get(g, "granted_by")), "alice");
    assert_true(json_integer_value(json_object_get(g, "created_at")) > 0);
    g = json_array_get(list, 1);
    assert_true(json_is_null(json_object_get(g, "object_id")));
    assert_true(json_is_null(json_object_get(g, "expires_at")));
    assert_int_equal(json_array_size(json_object_get(g, "ops")), 4);
    json_decref(list);
}

static void test_bad_grants_are_refused_and_widen_nothing(void **state)
{
    store_grant g = { "bob", "item", STORE_OP_READ, 0, 0, NULL };
    rhai_error err;
    json_t *list;

    (void)state;
    g.ops = 0;
    assert_int_equal(store_grant_add(db, &g, NULL, &err), RHAI_EINVAL);
    g.ops = 16;
    assert_int_equal(store_grant_add(db, &g, NULL, &err), RHAI_EINVAL);
    g.ops = STORE_OP_READ;
    g.caller = "";
    assert_int_equal(store_grant_add(db, &g, NULL, &err), RHAI_EINVAL);
    g.caller = "bob";
    g.model = "";
    assert_int_equal(store_grant_add(db, &g, NULL, &err), RHAI_EINVAL);
    g.model = "item";
    /* a negative object id or expiry must not become "every object" or "never" */
    g.object_id = -1;
    assert_int_equal(store_grant_add(db, &g, NULL, &err), RHAI_EINVAL);
    g.object_id = 0;
    g.expires_at = -5;
    assert_int_equal(store_grant_add(db, &g, NULL, &err), RHAI_EINVAL);
    g.expires_at = 0;
    g.model = "*";
    g.object_id = 4;
    assert_int_equal(store_grant_add(db, &g, NULL, &err), RHAI_EINVAL);
    assert_int_equal(store_grant_list(db, &list, &err), 0);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    assert_int_equal(authz("bob", "item", STORE_OP_READ, 0, NOW), 0);
}

/* ======================== owners ======================== */

static void test_owners_are_removed_but_never_the_last(void **state)
{
    rhai_error err;
    json_t *owners;

    (void)state;
    assert_int_equal(store_owner_remove(db, "alice", &err), RHAI_ESTATE);
    assert_int_equal(store_owner_remove(db, "bob", &err), RHAI_ENOTFOUND);
    assert_int_equal(store_owner_remove(db, "", &err), RHAI_EINVAL);
    assert_int_equal(store_owner_add(db, "bob", &err), 0);
    assert_int_equal(store_owners(db, &owners, &err), 0);
    assert_int_equal(json_array_size(owners), 2);
    assert_string_equal(json_string_value(json_array_get(owners, 0)), "alice");
    assert_string_equal(json_string_value(json_array_get(owners, 1)), "bob");
    json_decref(owners);
    assert_int_equal(store_owner_remove(db, "alice", &err), 0);
    assert_int_equal(authz("alice", "item", STORE_OP_READ, 0, NOW), 0);
    assert_int_equal(store_owner_remove(db, "bob", &err), RHAI_ESTATE);
    assert_int_equal(authz("bob", "item", STORE_OP_READ, 0, NOW), 1);
}

/* ======================== ops ======================== */

static void test_ops_parse_from_names_lists_and_all(void **state)
{
    unsigned m = 99;
    json_t *a;

    (void)state;
    assert_int_equal(store_ops_parse("read", &m), 0);
    assert_int_equal(m, STORE_OP_READ);
    assert_int_equal(store_ops_parse("read,update", &m), 0);
    assert_int_equal(m, STORE_OP_READ | STORE_OP_UPDATE);
    assert_int_equal(store_ops_parse("all", &m), 0);
    assert_int_equal(m, STORE_OP_ALL);
    assert_int_equal(store_ops_parse("delete,create", &m), 0);
    assert_int_equal(m, STORE_OP_DELETE | STORE_OP_CREATE);
    m = 99;
    assert_int_equal(store_ops_parse("", &m), RHAI_EINVAL);
    assert_int_equal(store_ops_parse("write", &m), RHAI_EINVAL);
    assert_int_equal(store_ops_parse("read,,update", &m), RHAI_EINVAL);
    assert_int_equal(store_ops_parse("READ", &m), RHAI_EINVAL);
    assert_int_equal(store_ops_parse("reads", &m), RHAI_EINVAL);
    assert_int_equal(store_ops_parse("rea", &m), RHAI_EINVAL);
    assert_int_equal(store_ops_parse(NULL, &m), RHAI_EINVAL);
    assert_int_equal(m, 99);                        /* untouched on failure */
    assert_string_equal(store_op_name(STORE_OP_UPDATE), "update");
    assert_string_equal(store_op_name(3), "?");
    a = store_ops_json(STORE_OP_CREATE | STORE_OP_DELETE);
    assert_int_equal(json_array_size(a), 2);
    assert_string_equal(json_string_value(json_array_get(a, 1)), "delete");
    json_decref(a);
}

/* ======================== audit ======================== */

static void audit(const char *task, const char *caller, const char *op, const char *model,
                  int64_t id, const char *decision, const char *reason)
{
    store_audit a = { NOW, task, caller, op, model, id, decision, reason };
    rhai_error err;

    assert_int_equal(store_audit_put(db, &a, &err), 0);
}

static void test_audit_rows_are_queried_newest_first_by_filter(void **state)
{
    rhai_error err;
    json_t *rows, *r;

    (void)state;
    audit("t1", "bob", "read", "item", 3, "denied", "no grant");
    audit("t1", "alice", "create", "item", 1, "allowed", NULL);
    audit(NULL, "bob", "update", "tag", 0, "allowed", NULL);
    audit("t2", "carol", "delete", "item", 2, "denied", "no grant");

    assert_int_equal(store_audit_query(db, NULL, NULL, NULL, 100, &rows, &err), 0);
    assert_int_equal(json_array_size(rows), 4);
    r = json_array_get(rows, 0);
    assert_string_equal(json_string_value(json_object_get(r, "caller")), "carol");
    assert_string_equal(json_string_value(json_object_get(r, "reason")), "no grant");
    assert_int_equal(json_integer_value(json_object_get(r, "at")), NOW);
    r = json_array_get(rows, 1);
    assert_true(json_is_null(json_object_get(r, "task_id")));
    assert_true(json_is_null(json_object_get(r, "object_id")));
    assert_true(json_is_null(json_object_get(r, "reason")));
    json_decref(rows);

    assert_int_equal(store_audit_query(db, "bob", NULL, NULL, 100, &rows, &err), 0);
    assert_int_equal(json_array_size(rows), 2);
    json_decref(rows);
    assert_int_equal(store_audit_query(db, "bob", "item", NULL, 100, &rows, &err), 0);
    assert_int_equal(json_array_size(rows), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "op")),
                        "read");
    json_decref(rows);
    assert_int_equal(store_audit_query(db, NULL, NULL, "denied", 1, &rows, &err), 0);
    assert_int_equal(json_array_size(rows), 1);                 /* the newest one */
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "caller")),
                        "carol");
    json_decref(rows);
    assert_int_equal(store_audit_query(db, NULL, NULL, NULL, 0, &rows, &err), RHAI_EINVAL);
    assert_null(rows);
    assert_int_equal(store_audit_query(db, NULL, NULL, NULL, STORE_LIST_MAX + 1, &rows, &err),
                     RHAI_EINVAL);

    assert_int_equal(store_audit_has(db, "t1", "bob", "denied", &err), 1);
    assert_int_equal(store_audit_has(db, "t1", "alice", "allowed", &err), 1);
    assert_int_equal(store_audit_has(db, "t3", "bob", "denied", &err), 0);
    /* another caller's rows under the same id are not this caller's */
    assert_int_equal(store_audit_has(db, "t1", "alice", "denied", &err), 0);
}

static void test_audit_rows_roll_back_with_their_transaction(void **state)
{
    rhai_error err;
    json_t *rows;

    (void)state;
    assert_int_equal(store_begin(db, &err), 0);
    audit("t1", "alice", "create", "item", 1, "allowed", NULL);
    store_rollback(db);
    assert_int_equal(store_begin(db, &err), 0);
    audit("t2", "alice", "create", "item", 2, "allowed", NULL);
    assert_int_equal(store_commit(db, &err), 0);
    assert_int_equal(store_audit_query(db, NULL, NULL, NULL, 10, &rows, &err), 0);
    assert_int_equal(json_array_size(rows), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "task_id")),
                        "t2");
    json_decref(rows);
}

/* Rows of 'caller' in the log, and the reason of its newest. */
static size_t audit_rows_of(const char *caller, const char **newest_reason, json_t **keep)
{
    rhai_error err;
    json_t *rows;
    size_t n;

    assert_int_equal(store_audit_query(db, caller, NULL, NULL, STORE_LIST_MAX, &rows, &err), 0);
    n = json_array_size(rows);
    if (newest_reason)
        *newest_reason = n ? json_string_value(json_object_get(json_array_get(rows, 0),
                                                               "reason")) : NULL;
    json_decref(*keep);
    *keep = rows;
    return n;
}

/* Issue 16: an ungranted caller grew a context by 20 000 audit rows with
 * 20 tasks of denied reads. One caller adds at most per_caller + 1 rows a
 * minute (the rest are counted in one row), all callers per_context + 1. */
static void test_denials_are_rate_limited_per_caller_and_per_context(void **state)
{
    static const store_audit_limits lim = { 3, 6 };
    store_audit a = { NOW, "t1", "mallory", "read", "item", 1, "denied", "no grant" };
    const char *reason;
    json_t *keep = NULL;
    rhai_error err;
    char who[16];

    (void)state;
    assert_int_equal(store_begin(db, &err), 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(store_audit_denial(db, &a, 1, NOW, &lim, &err), 0);
    /* a summary of 50 more counts 50 */
    assert_int_equal(store_audit_denial(db, &a, 50, NOW + 1, &lim, &err), 0);
    assert_int_equal(store_commit(db, &err), 0);
    assert_int_equal(audit_rows_of("mallory", &reason, &keep), 3 + 1);
    assert_string_equal(reason, "1047 more denials of this caller this minute, counted here, "
                        "not recorded one by one (limit: 3 rows per caller per minute)");
    assert_string_equal(json_string_value(json_object_get(json_array_get(keep, 0), "op")),
                        "denials");

    /* callers that rotate their ids fill the context's budget (4 of 6
     * used), then share one counter row */
    for (int c = 0; c < 50; c++) {
        snprintf(who, sizeof who, "m%d", c);
        a.caller = who;
        for (int i = 0; i < 5; i++)
            assert_int_equal(store_audit_denial(db, &a, 1, NOW + 2, &lim, &err), 0);
    }
    assert_int_equal(audit_rows_of("m0", NULL, &keep), 2);
    assert_int_equal(audit_rows_of("m1", NULL, &keep), 0);
    assert_int_equal(audit_rows_of("*", &reason, &keep), 1);
    assert_string_equal(reason, "248 more denials of all callers this minute, counted here, "
                        "not recorded one by one (limit: 6 rows per context per minute)");
    assert_int_equal(audit_rows_of(NULL, NULL, &keep), 3 + 1 + 2 + 1);

    /* the next minute starts afresh */
    a.caller = "mallory";
    for (int i = 0; i < 10; i++)
        assert_int_equal(store_audit_denial(db, &a, 1, NOW + 60000, &lim, &err), 0);
    assert_int_equal(audit_rows_of("mallory", NULL, &keep), 4 + 3 + 1);
    /* NULL limits: the defaults */
    a.caller = "dflt";
    for (int i = 0; i < STORE_AUDIT_CALLER_PER_MIN + 10; i++)
        assert_int_equal(store_audit_denial(db, &a, 1, NOW + 120000, NULL, &err), 0);
    assert_int_equal(audit_rows_of("dflt", NULL, &keep), STORE_AUDIT_CALLER_PER_MIN + 1);
    json_decref(keep);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, ctx_setup, ctx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_a_created_context_exists_is_listed_and_has_its_owner),
        T(test_creating_an_existing_context_or_with_bad_input_fails),
        T(test_a_context_is_created_in_a_missing_data_dir),
        T(test_owners_may_do_everything_and_others_nothing),
        T(test_a_model_wide_grant_allows_its_ops_on_every_object_of_its_model),
        T(test_a_star_grant_covers_every_model),
        T(test_an_object_grant_allows_that_object_only),
        T(test_an_expired_grant_allows_nothing),
        T(test_revoke_takes_ops_away_and_deletes_emptied_grants),
        T(test_grants_are_listed_oldest_first_with_their_ops_by_name),
        T(test_bad_grants_are_refused_and_widen_nothing),
        T(test_owners_are_removed_but_never_the_last),
        T(test_ops_parse_from_names_lists_and_all),
        T(test_audit_rows_are_queried_newest_first_by_filter),
        T(test_audit_rows_roll_back_with_their_transaction),
        T(test_denials_are_rate_limited_per_caller_and_per_context),
    };
    return cmocka_run_group_tests_name("acl", tests, NULL, NULL);
}
