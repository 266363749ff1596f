/* test_store_move.c -- moving a context (src/store/move.c and the
 * backend's export_rows/import_row): a context exported from one store and
 * imported into another holds the same rows, owners, grants, audit log and
 * ledger (a redelivered task is still answered from its ledger row), and
 * every bad file (cut, unknown table or field, wrong format, row count or
 * value, an existing context) is refused naming its line, leaving nothing
 * behind. With RHAI_TEST_PG_URL set, the same round trip also goes through
 * a postgres store (sqlite -> postgres -> sqlite). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "store/store.h"

static const char *const colours[] = { "red", "green", NULL };

static const store_field part_fields[] = {
    { "label", STORE_T_STRING, 0, NULL, STORE_F_REQUIRED, 0, 0, 0, NULL, NULL, NULL, 0, NULL, "" },
    { "item", STORE_T_REF, 0, "item", 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL, "" },
};
static const store_field item_fields[] = {
    { "name", STORE_T_STRING, 0, NULL, STORE_F_REQUIRED | STORE_F_MAX, 0, 20, 0, NULL, NULL,
      NULL, 0, NULL, "" },
    { "colour", STORE_T_STRING, 0, NULL, 0, 0, 0, 0, colours, NULL, NULL, 0, NULL, "" },
    { "qty", STORE_T_INT, 0, NULL, STORE_F_MIN | STORE_F_MAX, 0, 1000, 0, NULL, NULL, NULL, 0,
      NULL, "" },
    { "price", STORE_T_NUMBER, 0, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL, "" },
    { "ok", STORE_T_BOOL, 0, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL, "" },
    { "due", STORE_T_DATE, 0, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL, "" },
    { "tags", STORE_T_LIST, STORE_T_STRING, NULL, 0, 0, 0, 3, NULL, NULL, NULL, 0, NULL, "" },
    { "parts", STORE_T_LIST, 0, NULL, 0, 0, 0, 0, NULL, NULL, part_fields, 2, "Part", "" },
};
static const store_field tag_fields[] = {
    { "item", STORE_T_REF, 0, "item", 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL, "" },
    { "text", STORE_T_STRING, 0, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL, "" },
};
static const store_model models[] = {
    { "item", "Item", "t", "", "", item_fields, 8 },
    { "tag", "Tag", "t", "", "", tag_fields, 2 },
};
static const store_schema schema = { models, 2, "move-test" };

static char dir[128];

static int dir_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/rhai-test-move-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int dir_teardown(void **state)
{
    char cmd[200];

    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static store *store_at(const char *sub)
{
    char url[256];
    store *s = NULL;
    rhai_error err;

    snprintf(url, sizeof url, "sqlite://%s/%s", dir, sub);
    assert_int_equal(store_new(url, &schema, &s, &err), 0);
    return s;
}

/* ======================== lines in memory ======================== */

typedef struct lines {
    char  **v;
    size_t  n, cap;
    size_t  at;             /* next line import reads */
} lines;

static void lines_free(lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static void lines_add(lines *l, const char *text)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        assert_non_null(l->v);
    }
    l->v[l->n] = strdup(text);
    assert_non_null(l->v[l->n]);
    l->n++;
}

static int collect(void *u, json_t *line, rhai_error *err)
{
    char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);

    (void)err;
    assert_non_null(text);
    lines_add(u, text);
    free(text);
    return 0;
}

static int feed(void *u, json_t **line, rhai_error *err)
{
    lines *l = u;
    json_error_t jerr;

    *line = NULL;
    if (l->at >= l->n)
        return 0;
    if ((*line = json_loads(l->v[l->at++], JSON_REJECT_DUPLICATES, &jerr)) == NULL)
        return rh_error_set(err, RHAI_EINVAL, "not JSON: %s", jerr.text);
    return 0;
}

/* Export 'ctx' of 's' into l. */
static void export_of(store *s, const char *ctx, lines *l)
{
    store_db *db;
    rhai_error err;

    memset(l, 0, sizeof *l);
    assert_int_equal(store_open(s, ctx, &db, &err), 0);
    assert_int_equal(store_context_export(db, collect, l, &err), 0);
}

/* The export without its header's context and time, and the first
 * owner's added_at (the import's time: context_create writes that row):
 * what must match. */
static void assert_same_export(const lines *a, const lines *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        if (i == 1) {
            json_t *x = json_loads(a->v[1], 0, NULL), *y = json_loads(b->v[1], 0, NULL);
            assert_non_null(x);
            assert_non_null(y);
            assert_string_equal(json_string_value(json_object_get(x, "table")), "rhai_owners");
            json_object_del(json_object_get(x, "row"), "added_at");
            json_object_del(json_object_get(y, "row"), "added_at");
            assert_true(json_equal(x, y));
            json_decref(x);
            json_decref(y);
            continue;
        }
        if (i == 0) {
            json_t *x = json_loads(a->v[0], 0, NULL), *y = json_loads(b->v[0], 0, NULL);
            assert_non_null(x);
            assert_non_null(y);
            json_object_del(x, "exported_at");
            json_object_del(y, "exported_at");
            json_object_del(x, "context");
            json_object_del(y, "context");
            json_object_del(x, "backend");
            json_object_del(y, "backend");
            assert_true(json_equal(x, y));
            json_decref(x);
            json_decref(y);
            continue;
        }
        assert_string_equal(a->v[i], b->v[i]);
    }
}

/* ======================== a context with everything ======================== */

static const store_ledger_key *task_key(void)
{
    static store_ledger_key k;

    k.task_id = "t-1";
    k.caller_id = "alice";
    k.worker_id = "w1";
    store_ledger_digest("Item.create()", 13, "{}", k.digest);
    return &k;
}

static json_t *parse(const char *text)
{
    json_t *v = json_loads(text, 0, NULL);

    assert_non_null(v);
    return v;
}

/* alice and bob own 'ctx'; grants, audit rows (with a denial counter), a
 * ledger row and rows of both models, with a gap in the ids. */
static void fill(store *s, const char *ctx)
{
    store_grant g;
    store_audit a;
    store_db *db;
    rhai_error err;
    int64_t id;
    json_t *v;

    assert_int_equal(store_context_create(s, ctx, "alice", &err), 0);
    assert_int_equal(store_open(s, ctx, &db, &err), 0);
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(store_owner_add(db, "bob", &err), 0);

    memset(&g, 0, sizeof g);
    g.caller = "carol";
    g.model = "item";
    g.ops = STORE_OP_READ | STORE_OP_UPDATE;
    g.object_id = 2;
    g.expires_at = 4102444800000LL;
    g.granted_by = "alice";
    assert_int_equal(store_grant_add(db, &g, &id, &err), 0);
    g.model = "*";
    g.ops = STORE_OP_READ;
    g.object_id = 0;
    g.expires_at = 0;
    g.granted_by = NULL;
    assert_int_equal(store_grant_add(db, &g, &id, &err), 0);

    v = parse("{\"name\": \"one\", \"colour\": \"red\", \"qty\": 3, \"price\": 2.5, "
              "\"ok\": true, \"due\": 1700000000000, \"tags\": [\"a\", \"b\"], "
              "\"parts\": [{\"label\": \"x\"}]}");
    assert_int_equal(store_insert(db, &models[0], v, &id, &err), 0);
    json_decref(v);
    v = parse("{\"name\": \"gone\"}");
    assert_int_equal(store_insert(db, &models[0], v, &id, &err), 0);
    assert_int_equal(store_delete(db, &models[0], id, &err), 0);
    json_decref(v);
    v = parse("{\"name\": \"three\", \"parts\": [{\"label\": \"y\", \"item\": 1}], "
              "\"price\": 0.1}");
    assert_int_equal(store_insert(db, &models[0], v, &id, &err), 0);
    json_decref(v);
    v = parse("{\"item\": 3, \"text\": \"caf\\u00e9 \\\"q\\\"\"}");
    assert_int_equal(store_insert(db, &models[1], v, &id, &err), 0);
    json_decref(v);

    memset(&a, 0, sizeof a);
    a.at = 1700000000001LL;
    a.task_id = "t-1";
    a.caller = "alice";
    a.op = "create";
    a.model = "item";
    a.object_id = 1;
    a.decision = "allowed";
    assert_int_equal(store_audit_put(db, &a, &err), 0);
    a.caller = "mallory";
    a.op = "read";
    a.decision = "denied";
    a.reason = "not granted";
    a.task_id = NULL;
    assert_int_equal(store_audit_denial(db, &a, 1, 1700000000002LL, NULL, &err), 0);
    assert_int_equal(store_ledger_put(db, task_key(), "{\"id\":1}", &err), 0);
    assert_int_equal(store_commit(db, &err), 0);
}

/* No trace of context 'ctx' in s: not listed, no file. */
static void assert_gone(store *s, const char *sub, const char *ctx)
{
    char path[300];
    json_t *ids = NULL;
    rhai_error err;

    assert_false(store_context_exists(s, ctx));
    assert_int_equal(store_context_list(s, &ids, &err), 0);
    for (size_t i = 0; i < json_array_size(ids); i++)
        assert_string_not_equal(json_string_value(json_array_get(ids, i)), ctx);
    json_decref(ids);
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s/%s.db%s", dir, sub, ctx,
                 i == 0 ? "" : i == 1 ? "-wal" : "-shm");
        assert_int_not_equal(access(path, F_OK), 0);
    }
}

/* ======================== tests ======================== */

static void test_an_exported_context_imports_into_another_store_with_every_row(void **state)
{
    store *a = store_at("a"), *b = store_at("b");
    lines ea, eb;
    store_db *db;
    rhai_error err;
    char *res = NULL;
    store_ledger_key other;
    json_t *owners = NULL, *v;
    int64_t rows = 0, id;

    (void)state;
    fill(a, "acme");
    export_of(a, "acme", &ea);
    assert_int_equal(ea.n, 1 + 2 + 2 + 2 + 1 + 2 + 1 + 1);  /* header..end */
    assert_non_null(strstr(ea.v[ea.n - 1], "\"end\":true"));

    assert_int_equal(store_context_import(b, "acme", feed, &ea, &rows, &err), 0);
    assert_int_equal(rows, (int64_t)ea.n - 2);
    export_of(b, "acme", &eb);
    assert_same_export(&ea, &eb);

    assert_int_equal(store_open(b, "acme", &db, &err), 0);
    assert_int_equal(store_owners(db, &owners, &err), 0);
    assert_int_equal(json_array_size(owners), 2);
    json_decref(owners);
    /* the grants decide as before, the owners own */
    assert_int_equal(store_authorize(db, "carol", "item", STORE_OP_UPDATE, 2, 1, &err), 2);
    assert_int_equal(store_authorize(db, "carol", "item", STORE_OP_UPDATE, 1, 1, &err), 0);
    assert_int_equal(store_authorize(db, "carol", "tag", STORE_OP_READ, 0, 1, &err), 2);
    assert_int_equal(store_authorize(db, "bob", "tag", STORE_OP_DELETE, 0, 1, &err), 1);
    /* a redelivered task is answered from its ledger row, its id reused by
     * another submission is still refused */
    assert_int_equal(store_ledger_get(db, task_key(), &res, &err), 0);
    assert_string_equal(res, "{\"id\":1}");
    rh_free(res);
    other = *task_key();
    other.caller_id = "mallory";
    assert_int_equal(store_ledger_get(db, &other, &res, &err), RHAI_ESTATE);
    assert_null(res);
    /* new rows get ids past the imported ones (the gap at 2 stays) */
    v = parse("{\"name\": \"four\"}");
    assert_int_equal(store_begin(db, &err), 0);
    assert_int_equal(store_insert(db, &models[0], v, &id, &err), 0);
    assert_int_equal(store_commit(db, &err), 0);
    assert_int_equal(id, 4);
    json_decref(v);

    lines_free(&ea);
    lines_free(&eb);
    store_free(a);
    store_free(b);
}

static void test_an_import_under_another_id_answers_the_ledger_there(void **state)
{
    store *a = store_at("a2"), *b = store_at("b2");
    lines ea;
    store_db *db;
    rhai_error err;
    char *res = NULL;

    (void)state;
    fill(a, "acme");
    export_of(a, "acme", &ea);
    assert_int_equal(store_context_import(b, "globex", feed, &ea, NULL, &err), 0);
    assert_false(store_context_exists(b, "acme"));
    assert_int_equal(store_open(b, "globex", &db, &err), 0);
    assert_int_equal(store_ledger_get(db, task_key(), &res, &err), 0);
    assert_string_equal(res, "{\"id\":1}");
    rh_free(res);
    lines_free(&ea);
    store_free(a);
    store_free(b);
}

/* Import l with line 'at' replaced by 'text' (NULL: removed; at == n:
 * appended) into a fresh context; expect 'code' with 'msg' in the
 * message, and nothing left. */
static void import_bad(store *b, const lines *good, size_t at, const char *text, int code,
                       const char *msg)
{
    lines l;
    rhai_error err = { 0, "" };

    memset(&l, 0, sizeof l);
    for (size_t i = 0; i <= good->n; i++) {
        if (i == at && text)
            lines_add(&l, text);
        if (i < good->n && i != at)
            lines_add(&l, good->v[i]);
    }
    assert_int_equal(store_context_import(b, "acme", feed, &l, NULL, &err), code);
    if (strstr(err.msg, msg) == NULL)
        fail_msg("'%s' not in '%s'", msg, err.msg);
    assert_gone(b, "bad", "acme");
    lines_free(&l);
}

static void test_a_bad_file_is_refused_naming_its_line_and_leaves_nothing(void **state)
{
    store *a = store_at("a3"), *b = store_at("bad");
    lines ea;
    size_t n, owner1, item1, tag1, ledger1, grant1, audit1;

    (void)state;
    fill(a, "acme");
    export_of(a, "acme", &ea);
    n = ea.n;
    owner1 = 1;
    grant1 = 3;
    audit1 = 5;
    ledger1 = 7;
    item1 = 8;
    tag1 = 10;
    assert_non_null(strstr(ea.v[ledger1], "rhai_ledger"));
    assert_non_null(strstr(ea.v[tag1], "\"tag\""));

    /* the file itself */
    import_bad(b, &ea, n - 1, NULL, RHAI_EINVAL, "without the end line");   /* cut */
    import_bad(b, &ea, n - 1, "{\"end\":true,\"rows\":99}", RHAI_EINVAL, "counts 99 rows");
    import_bad(b, &ea, n, "{\"table\":\"item\",\"row\":{}}", RHAI_EINVAL,
               "more after the end line");
    import_bad(b, &ea, 0, "{\"format\":\"rhai-context/9\"}", RHAI_EINVAL, "unknown format");
    import_bad(b, &ea, 0, NULL, RHAI_EINVAL, "line 1: no header");
    import_bad(b, &ea, 4, "{\"table\":\"rhai_secrets\",\"row\":{}}", RHAI_EINVAL,
               "line 5: unknown table or model 'rhai_secrets'");
    import_bad(b, &ea, 4, "{oops", RHAI_EINVAL, "line 5: not JSON");
    import_bad(b, &ea, owner1, ea.v[item1], RHAI_EINVAL, "before any owner");
    import_bad(b, &ea, tag1, ea.v[owner1], RHAI_EINVAL, "after rows of item");
    /* values the DSL or the acl calls would refuse */
    import_bad(b, &ea, item1, "{\"table\":\"item\",\"row\":{\"id\":1,\"created_at\":1,"
               "\"updated_at\":1,\"name\":\"x\",\"colour\":\"blue\"}}", RHAI_EINVAL,
               "line 9: field 'colour' must be one of its allowed values");
    import_bad(b, &ea, item1, "{\"table\":\"item\",\"row\":{\"id\":1,\"created_at\":1,"
               "\"updated_at\":1,\"name\":\"x\",\"qty\":1001}}", RHAI_EINVAL,
               "field 'qty' must be at most 1000");
    import_bad(b, &ea, item1, "{\"table\":\"item\",\"row\":{\"id\":1,\"created_at\":1,"
               "\"updated_at\":1,\"name\":\"abcdefghijklmnopqrstuvwxyz\"}}", RHAI_EINVAL,
               "longer than 20 bytes");
    import_bad(b, &ea, item1, "{\"table\":\"item\",\"row\":{\"id\":1,\"created_at\":1,"
               "\"updated_at\":1,\"name\":\"x\",\"ok\":1}}", RHAI_EINVAL,
               "field 'ok' must be a boolean");
    import_bad(b, &ea, item1, "{\"table\":\"item\",\"row\":{\"id\":1,\"created_at\":1,"
               "\"updated_at\":1,\"name\":\"x\",\"qty\":1.5}}", RHAI_EINVAL,
               "field 'qty' must be an integer");
    import_bad(b, &ea, item1, "{\"table\":\"item\",\"row\":{\"id\":1,\"created_at\":1,"
               "\"updated_at\":1,\"name\":\"x\",\"tags\":[\"a\",\"b\",\"c\",\"d\"]}}",
               RHAI_EINVAL, "field 'tags' has 4 items, more than 3");
    import_bad(b, &ea, item1, "{\"table\":\"item\",\"row\":{\"id\":1,\"created_at\":1,"
               "\"updated_at\":1,\"name\":\"x\",\"parts\":[{\"label\":\"a\",\"evil\":1}]}}",
               RHAI_EINVAL, "unknown field 'parts[0].evil'");
    import_bad(b, &ea, item1, "{\"table\":\"item\",\"row\":{\"id\":1,\"created_at\":1,"
               "\"updated_at\":1,\"name\":\"x\",\"admin\":true}}", RHAI_EINVAL,
               "unknown field 'admin'");
    import_bad(b, &ea, item1, "{\"table\":\"item\",\"row\":{\"id\":0,\"created_at\":1,"
               "\"updated_at\":1,\"name\":\"x\"}}", RHAI_EINVAL, "'id' must be an id");
    import_bad(b, &ea, tag1, "{\"table\":\"tag\",\"row\":{\"id\":1,\"created_at\":1,"
               "\"updated_at\":1,\"item\":2,\"text\":null}}", RHAI_EINVAL,
               "a reference to item 2, a row the file does not hold");
    import_bad(b, &ea, owner1, "{\"table\":\"rhai_owners\",\"row\":{\"caller\":\"anonymous\","
               "\"added_at\":1}}", RHAI_EINVAL, "cannot own a context");
    import_bad(b, &ea, grant1, "{\"table\":\"rhai_grants\",\"row\":{\"id\":1,\"caller\":\"x\","
               "\"model\":\"item\",\"ops\":99,\"object_id\":null,\"expires_at\":null,"
               "\"granted_by\":null,\"created_at\":1}}", RHAI_EINVAL, "ops 99");
    import_bad(b, &ea, grant1, "{\"table\":\"rhai_grants\",\"row\":{\"id\":1,\"caller\":\"x\","
               "\"model\":\"*\",\"ops\":1,\"object_id\":5,\"expires_at\":null,"
               "\"granted_by\":null,\"created_at\":1}}", RHAI_EINVAL, "model '*'");
    import_bad(b, &ea, audit1, "{\"table\":\"rhai_audit\",\"row\":{\"id\":1,\"at\":1,"
               "\"task_id\":null,\"caller\":\"x\",\"op\":\"read\",\"model\":\"item\","
               "\"object_id\":null,\"decision\":\"maybe\",\"reason\":null}}", RHAI_EINVAL,
               "decision 'maybe'");
    import_bad(b, &ea, ledger1, "{\"table\":\"rhai_ledger\",\"row\":{\"task_id\":\"t\","
               "\"result\":\"1\",\"finished_at\":1,\"caller_id\":\"a\",\"context_id\":\"acme\","
               "\"worker_id\":\"w\",\"digest\":\"XYZ\"}}", RHAI_EINVAL, "digest");
    /* a row the store refuses (a duplicate id) rolls back all */
    import_bad(b, &ea, tag1, ea.v[tag1 - 1], RHAI_ESTORE, "line 11");
    lines_free(&ea);
    store_free(a);
    store_free(b);
}

static void test_an_import_never_touches_an_existing_context(void **state)
{
    store *a = store_at("a4"), *b = store_at("b4");
    lines ea, before, after;
    rhai_error err = { 0, "" };

    (void)state;
    fill(a, "acme");
    export_of(a, "acme", &ea);
    assert_int_equal(store_context_create(b, "acme", "zed", &err), 0);
    export_of(b, "acme", &before);
    assert_int_equal(store_context_import(b, "acme", feed, &ea, NULL, &err), RHAI_ESTATE);
    assert_non_null(strstr(err.msg, "exists already"));
    export_of(b, "acme", &after);
    assert_same_export(&before, &after);
    lines_free(&ea);
    lines_free(&before);
    lines_free(&after);
    store_free(a);
    store_free(b);
}

/* sqlite -> postgres -> sqlite, when a postgres server is given. */
static void test_a_context_goes_to_postgres_and_back_unchanged(void **state)
{
    const char *pg = getenv("RHAI_TEST_PG_URL");
    store *a, *p = NULL, *c;
    lines ea, ep, ec;
    rhai_error err = { 0, "" };
    char ctx[64];

    (void)state;
    if (pg == NULL || *pg == '\0')
        skip();
    a = store_at("a5");
    c = store_at("c5");
    fill(a, "acme");
    export_of(a, "acme", &ea);
    assert_int_equal(store_new(pg, &schema, &p, &err), 0);
    /* a context id of its own: the database may be shared by other tests */
    snprintf(ctx, sizeof ctx, "move-%ld", (long)getpid());
    (void)store_context_drop(p, ctx, NULL);
    if (store_context_import(p, ctx, feed, &ea, NULL, &err) != 0)
        print_error("import into postgres: %s\n", err.msg);
    assert_true(store_context_exists(p, ctx));
    export_of(p, ctx, &ep);
    assert_int_equal(ep.n, ea.n);       /* the ledger's context_id is ctx there */
    assert_int_equal(store_context_import(c, "acme", feed, &ep, NULL, &err), 0);
    export_of(c, "acme", &ec);
    assert_same_export(&ea, &ec);
    assert_int_equal(store_context_drop(p, ctx, &err), 0);
    lines_free(&ea);
    lines_free(&ep);
    lines_free(&ec);
    store_free(a);
    store_free(p);
    store_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_an_exported_context_imports_into_another_store_with_every_row),
        cmocka_unit_test(test_an_import_under_another_id_answers_the_ledger_there),
        cmocka_unit_test(test_a_bad_file_is_refused_naming_its_line_and_leaves_nothing),
        cmocka_unit_test(test_an_import_never_touches_an_existing_context),
        cmocka_unit_test(test_a_context_goes_to_postgres_and_back_unchanged),
    };

    return cmocka_run_group_tests(tests, dir_setup, dir_teardown);
}
