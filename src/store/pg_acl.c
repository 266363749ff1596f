/* pg_acl.c -- the postgres backend's owners, grants, decisions and audit.
 *
 * The same tables as SQLite's (rhai_owners, rhai_grants, rhai_audit,
 * rhai_audit_rate), shared by every context and keyed by its id.
 * Decisions: one query loads, for a (caller, model), whether the caller
 * owns the context and its grants on the model and on "*"; the decisions
 * of the rest of the transaction are computed from that, until it ends or
 * an owner or grant changes (inside a SERIALIZABLE transaction the rows
 * read cannot change under it anyway). Outside a transaction every
 * decision reads afresh. Audit rows are queued: they go with the next
 * statement that needs an answer, or the COMMIT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_int.h"

/* ======================== owners ======================== */

void pg_acl_changed(pg_store *ps)
{
    ps->acl_gen++;
}

int pg_owner_add(store_db *hdb, const char *caller, rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    pg_params p = { 0 };
    int rc;

    if ((rc = store__owner_check(caller, err)) != 0 || (rc = pg_db_ready(db, err)) != 0)
        return rc;
    pg_p_text(&p, db->h.context);
    pg_p_text(&p, caller);
    pg_p_int(&p, rh_now_ms());
    pg_acl_changed(db->ps);
    return pg_run(db->ps, db, "INSERT INTO rhai_owners (context_id, caller, added_at) VALUES "
                  "($1, $2, $3) ON CONFLICT DO NOTHING", &p, NULL, err);
}

/* Column 0 of row i as a JSON string. */
static json_t *text_row(const PGresult *r, int i, void *ctx)
{
    (void)ctx;
    return json_string(PQgetvalue(r, i, 0));
}

int pg_owners(store_db *hdb, json_t **out, rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    pg_params p = { 0 };
    PGresult *r = NULL;
    int rc;

    *out = NULL;
    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    pg_p_text(&p, db->h.context);
    if ((rc = pg_run(db->ps, db, "SELECT caller FROM rhai_owners WHERE context_id = $1 "
                     "ORDER BY caller", &p, &r, err)) != 0)
        return rc;
    return pg_rows_json(r, text_row, NULL, out, err);
}

int pg_owner_remove(store_db *hdb, const char *caller, rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    pg_params p = { 0 };
    PGresult *r = NULL;
    int rc, n;

    if (caller == NULL || *caller == '\0')
        return rh_error_set(err, RHAI_EINVAL, "an owner needs a caller id");
    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    pg_acl_changed(db->ps);
    /* one statement, the context's owner rows locked: two removals cannot
     * both see a second owner and leave none */
    pg_p_text(&p, db->h.context);
    pg_p_text(&p, caller);
    if ((rc = pg_run(db->ps, db, "WITH o AS (SELECT caller FROM rhai_owners WHERE context_id "
                     "= $1 FOR UPDATE) DELETE FROM rhai_owners WHERE context_id = $1 AND "
                     "caller = $2 AND (SELECT count(*) FROM o) > 1", &p, &r, err)) != 0)
        return rc;
    n = (int)strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    if (n == 1)
        return 0;
    pg_p_text(&p, db->h.context);
    pg_p_text(&p, caller);
    if ((rc = pg_run(db->ps, db, "SELECT 1 FROM rhai_owners WHERE context_id = $1 AND "
                     "caller = $2", &p, &r, err)) != 0)
        return rc;
    n = PQntuples(r);
    PQclear(r);
    if (n == 0)
        return rh_error_set(err, RHAI_ENOTFOUND, "'%s' is not an owner", caller);
    return rh_error_set(err, RHAI_ESTATE, "'%s' is the last owner of context '%s'", caller,
                        db->h.context);
}

/* ======================== decisions ======================== */

void pg_authz_clear(pg_db *db)
{
    for (size_t i = 0; i < db->nauthz; i++) {
        rh_free(db->authz[i].caller);
        rh_free(db->authz[i].model);
        rh_free(db->authz[i].g);
    }
    db->nauthz = 0;
}

/* Load the facts of (caller, model) into *a: one query. */
static int authz_load(pg_db *db, const char *caller, const char *model, pg_authz *a,
                      rhai_error *err)
{
    pg_params p = { 0 };
    PGresult *r = NULL;
    int rc, n;

    memset(a, 0, sizeof *a);
    pg_p_text(&p, db->h.context);
    pg_p_text(&p, caller);
    pg_p_text(&p, model);
    if ((rc = pg_run(db->ps, db, "SELECT 0, 0, NULL, NULL FROM rhai_owners WHERE context_id "
                     "= $1 AND caller = $2 UNION ALL SELECT 1, ops, object_id, expires_at "
                     "FROM rhai_grants WHERE context_id = $1 AND caller = $2 AND model IN "
                     "($3, '*')", &p, &r, err)) != 0)
        return rc;
    n = PQntuples(r);
    if (n > 0 && (a->g = rh_calloc((size_t)n, sizeof *a->g)) == NULL) {
        PQclear(r);
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        if (pg_int(r, i, 0) == 0) {
            a->owner = 1;
            continue;
        }
        a->g[a->n].ops = (unsigned)pg_int(r, i, 1);
        a->g[a->n].object_id = pg_int(r, i, 2);
        a->g[a->n].expires_at = pg_int(r, i, 3);
        a->n++;
    }
    PQclear(r);
    if ((a->caller = rh_strdup(caller)) == NULL || (a->model = rh_strdup(model)) == NULL) {
        rh_free(a->caller);
        rh_free(a->g);
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    return 0;
}

static int authz_decide(const pg_authz *a, unsigned op, int64_t object_id, int64_t now_ms)
{
    if (a->owner)
        return 1;
    for (size_t i = 0; i < a->n; i++) {
        const pg_grant_fact *g = &a->g[i];
        if ((g->ops & op) != 0 && (g->object_id == 0 || g->object_id == object_id) &&
            (g->expires_at == 0 || g->expires_at > now_ms))
            return 2;
    }
    return 0;
}

int pg_authorize(store_db *hdb, const char *caller, const char *model, unsigned op,
                 int64_t object_id, int64_t now_ms, rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    pg_authz a;
    int rc;

    if (caller == NULL)
        caller = "";
    if (object_id < 0)
        object_id = 0;
    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    if (db->in_tx) {
        if (db->acl_gen != db->ps->acl_gen) {
            pg_authz_clear(db);
            db->acl_gen = db->ps->acl_gen;
        }
        for (size_t i = 0; i < db->nauthz; i++)
            if (strcmp(db->authz[i].caller, caller) == 0 &&
                strcmp(db->authz[i].model, model) == 0)
                return authz_decide(&db->authz[i], op, object_id, now_ms);
    }
    if ((rc = authz_load(db, caller, model, &a, err)) != 0)
        return rc;
    rc = authz_decide(&a, op, object_id, now_ms);
    if (db->in_tx && db->acl_gen == db->ps->acl_gen) {
        if (db->nauthz == PG_AUTHZ_MAX)
            pg_authz_clear(db);
        db->authz[db->nauthz++] = a;
    } else {
        rh_free(a.caller);
        rh_free(a.model);
        rh_free(a.g);
    }
    return rc;
}

/* ======================== grants ======================== */

int pg_grant_add(store_db *hdb, const store_grant *g, int64_t *id, rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    pg_params p = { 0 };
    PGresult *r = NULL;
    int rc;

    if (g->caller == NULL || *g->caller == '\0' || g->model == NULL || *g->model == '\0' ||
        (g->ops & STORE_OP_ALL) == 0 || (g->ops & ~(unsigned)STORE_OP_ALL))
        return rh_error_set(err, RHAI_EINVAL, "a grant needs a caller, a model and ops");
    if (g->object_id < 0 || g->expires_at < 0)
        return rh_error_set(err, RHAI_EINVAL, "object_id and expires_at cannot be negative");
    if (g->object_id > 0 && strcmp(g->model, "*") == 0)
        return rh_error_set(err, RHAI_EINVAL, "an object grant names its model, not '*'");
    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    pg_acl_changed(db->ps);
    pg_p_text(&p, db->h.context);
    pg_p_text(&p, g->caller);
    pg_p_text(&p, g->model);
    pg_p_int(&p, g->ops);
    pg_p_opt_int(&p, g->object_id);
    pg_p_opt_int(&p, g->expires_at);
    pg_p_text(&p, g->granted_by);
    pg_p_int(&p, rh_now_ms());
    if ((rc = pg_run(db->ps, db, "INSERT INTO rhai_grants (context_id, caller, model, ops, "
                     "object_id, expires_at, granted_by, created_at) VALUES ($1, $2, $3, $4, "
                     "$5, $6, $7, $8) RETURNING id", &p, &r, err)) != 0)
        return rc;
    if (id)
        *id = pg_int(r, 0, 0);
    PQclear(r);
    return 0;
}

int pg_grant_revoke(store_db *hdb, const store_grant *g, int *n, rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    unsigned ops = g->ops ? g->ops : STORE_OP_ALL;
    pg_params p = { 0 };
    PGresult *r = NULL;
    int rc;

    if (g->caller == NULL || g->model == NULL)
        return rh_error_set(err, RHAI_EINVAL, "revoke needs a caller and a model");
    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    pg_acl_changed(db->ps);
    pg_p_text(&p, db->h.context);
    pg_p_text(&p, g->caller);
    pg_p_text(&p, g->model);
    pg_p_int(&p, ops);
    pg_p_opt_int(&p, g->object_id);
    if ((rc = pg_queue(db->ps, "UPDATE rhai_grants SET ops = ops & ~$4::integer WHERE "
                       "context_id = $1 AND caller = $2 AND model = $3 AND object_id IS NOT "
                       "DISTINCT FROM $5::bigint AND (ops & $4::integer) != 0", &p, &r, -1,
                       PG_K_OTHER, err)) != 0)
        return rc;
    pg_p_text(&p, db->h.context);
    if ((rc = pg_run(db->ps, db, "DELETE FROM rhai_grants WHERE context_id = $1 AND ops = 0",
                     &p, NULL, err)) != 0)
        return rc;
    if (n)
        *n = r ? (int)strtol(PQcmdTuples(r), NULL, 10) : 0;
    PQclear(r);
    return 0;
}

/* Row i of r as an object named by cols; column ops_col (or -1) an op
 * mask shown as names; int_cols: bit c set when column c is an integer. */
typedef struct cols_spec {
    const char *const *cols;
    int ops_col;
    unsigned int_cols;
} cols_spec;

static json_t *cols_row(const PGresult *r, int i, void *ctx)
{
    const cols_spec *s = ctx;
    json_t *o = json_object();

    for (int c = 0; o && s->cols[c]; c++) {
        json_t *v;
        if (PQgetisnull(r, i, c))
            v = json_null();
        else if (c == s->ops_col)
            v = store_ops_json((unsigned)pg_int(r, i, c));
        else if (s->int_cols & (1u << c))
            v = json_integer(pg_int(r, i, c));
        else
            v = json_string(PQgetvalue(r, i, c));
        if (json_object_set_new(o, s->cols[c], v) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

/* Rows of r (cleared here) as objects (cols_row). */
static int rows_json(PGresult *r, const char *const *cols, int ops_col, unsigned int_cols,
                     json_t **out, rhai_error *err)
{
    cols_spec s = { cols, ops_col, int_cols };
    return pg_rows_json(r, cols_row, &s, out, err);
}

int pg_grant_list(store_db *hdb, json_t **out, rhai_error *err)
{
    static const char *const cols[] = { "id", "caller", "model", "ops", "object_id",
                                        "expires_at", "granted_by", "created_at", NULL };
    pg_db *db = (pg_db *)hdb;
    pg_params p = { 0 };
    PGresult *r = NULL;
    int rc;

    *out = NULL;
    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    pg_p_text(&p, db->h.context);
    if ((rc = pg_run(db->ps, db, "SELECT id, caller, model, ops, object_id, expires_at, "
                     "granted_by, created_at FROM rhai_grants WHERE context_id = $1 ORDER BY "
                     "id", &p, &r, err)) != 0)
        return rc;
    return rows_json(r, cols, 3, 1u | 1u << 4 | 1u << 5 | 1u << 7, out, err);
}

/* ======================== audit ======================== */

static const char audit_insert[] =
    "INSERT INTO rhai_audit (context_id, at, task_id, caller, op, model, object_id, "
    "decision, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

static void audit_params(pg_params *p, const pg_db *db, const store_audit *a)
{
    pg_p_text(p, db->h.context);
    pg_p_int(p, a->at);
    pg_p_text(p, a->task_id);
    pg_p_text(p, a->caller ? a->caller : "");
    pg_p_text(p, a->op);
    pg_p_text(p, a->model);
    pg_p_opt_int(p, a->object_id);
    pg_p_text(p, a->decision);
    pg_p_text(p, a->reason);
}

int pg_audit_put(store_db *hdb, const store_audit *a, rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    pg_params p = { 0 };
    int rc;

    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    audit_params(&p, db, a);
    if (!db->in_tx)
        return pg_run(db->ps, db, audit_insert, &p, NULL, err);
    return pg_queue(db->ps, audit_insert, &p, NULL, 1, PG_K_OTHER, err);
}

int pg_audit_has(store_db *hdb, const char *task_id, const char *caller, const char *decision,
                 rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    pg_params p = { 0 };
    PGresult *r = NULL;
    int rc;

    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    pg_p_text(&p, db->h.context);
    pg_p_text(&p, task_id);
    pg_p_text(&p, caller ? caller : "");
    pg_p_text(&p, decision);
    if ((rc = pg_run(db->ps, db, "SELECT 1 FROM rhai_audit WHERE context_id = $1 AND task_id "
                     "= $2 AND caller = $3 AND decision = $4 LIMIT 1", &p, &r, err)) != 0)
        return rc;
    rc = PQntuples(r) > 0;
    PQclear(r);
    return rc;
}

/* ---- denials, rate-limited (the rules of store.h, as SQLite's) ----
 * rhai_audit_rate holds, per context and minute, the denial rows each
 * caller (scope 0) and the whole context (scope 1, caller '') added, and
 * the counter row taking the denials past the limit. One round trip reads
 * both counters (with the old minutes' delete queued before it); the
 * writes are queued. */

enum { RATE_CALLER = 0, RATE_CONTEXT = 1 };

typedef struct audit_rate {
    int64_t rows;
    int64_t counted;
    int64_t counter_id;
    int     new_counter;    /* the counter row is to be made with the rate row */
} audit_rate;

/* Queue the rate row of 'scope' (and the counter audit row c when r says
 * it is new: both in one statement, the rate row taking its id). */
static int rate_set(pg_db *db, int64_t minute, int scope, const char *caller,
                    const audit_rate *r, const store_audit *c, rhai_error *err)
{
    pg_params p = { 0 };

    if (r->new_counter) {
        audit_params(&p, db, c);
        pg_p_int(&p, minute);
        pg_p_int(&p, scope);
        pg_p_text(&p, caller);
        pg_p_int(&p, r->rows);
        pg_p_int(&p, r->counted);
        return pg_queue(db->ps, "WITH a AS (INSERT INTO rhai_audit (context_id, at, task_id, "
                        "caller, op, model, object_id, decision, reason) VALUES ($1, $2, $3, "
                        "$4, $5, $6, $7, $8, $9) RETURNING id) INSERT INTO rhai_audit_rate "
                        "(context_id, minute, scope, caller, rows, counted, counter_id) "
                        "SELECT $1, $10, $11, $12, $13, $14, a.id FROM a ON CONFLICT "
                        "(context_id, minute, scope, caller) DO UPDATE SET rows = "
                        "EXCLUDED.rows, counted = EXCLUDED.counted, counter_id = "
                        "EXCLUDED.counter_id", &p, NULL, 2, PG_K_OTHER, err);
    }
    pg_p_text(&p, db->h.context);
    pg_p_int(&p, minute);
    pg_p_int(&p, scope);
    pg_p_text(&p, caller);
    pg_p_int(&p, r->rows);
    pg_p_int(&p, r->counted);
    pg_p_opt_int(&p, r->counter_id);
    return pg_queue(db->ps, "INSERT INTO rhai_audit_rate (context_id, minute, scope, caller, "
                    "rows, counted, counter_id) VALUES ($1, $2, $3, $4, $5, $6, $7) ON "
                    "CONFLICT (context_id, minute, scope, caller) DO UPDATE SET rows = "
                    "EXCLUDED.rows, counted = EXCLUDED.counted, counter_id = "
                    "EXCLUDED.counter_id", &p, NULL, 1, PG_K_OTHER, err);
}

/* Count 'count' denials of 'a' in the scope's counter row: its reason
 * updated (queued), or, on the first, c filled to be made by rate_set. */
static int rate_count(pg_db *db, const store_audit *a, int scope, int64_t count, long limit,
                      int64_t now_ms, audit_rate *r, store_audit *c, char *reason,
                      size_t reason_len, rhai_error *err)
{
    pg_params p = { 0 };

    r->counted += count;
    snprintf(reason, reason_len, "%lld more denials %s this minute, counted here, not "
             "recorded one by one (limit: %ld rows per %s per minute)",
             (long long)r->counted, scope == RATE_CALLER ? "of this caller" : "of all callers",
             limit, scope == RATE_CALLER ? "caller" : "context");
    if (r->counter_id == 0) {
        memset(c, 0, sizeof *c);
        c->at = now_ms;
        c->caller = scope == RATE_CALLER ? a->caller : "*";
        c->op = "denials";
        c->model = "*";
        c->decision = "denied";
        c->reason = reason;
        r->new_counter = 1;
        r->rows++;
        return 0;
    }
    pg_p_text(&p, db->h.context);
    pg_p_text(&p, reason);
    pg_p_int(&p, r->counter_id);
    return pg_queue(db->ps, "UPDATE rhai_audit SET reason = $2 WHERE context_id = $1 AND id = "
                    "$3", &p, NULL, 1, PG_K_OTHER, err);
}

int pg_audit_denial(store_db *hdb, const store_audit *a, int64_t count, int64_t now_ms,
                    const store_audit_limits *lim, rhai_error *err)
{
    static const store_audit_limits dflt = { STORE_AUDIT_CALLER_PER_MIN,
                                             STORE_AUDIT_CONTEXT_PER_MIN };
    pg_db *db = (pg_db *)hdb;
    const char *caller = a->caller ? a->caller : "";
    int64_t minute = now_ms / 60000;
    audit_rate ctx, own;
    store_audit c;
    char reason[200];
    pg_params p = { 0 };
    PGresult *r = NULL;
    int rc;

    if (lim == NULL)
        lim = &dflt;
    if (count < 1)
        count = 1;
    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    memset(&ctx, 0, sizeof ctx);
    memset(&own, 0, sizeof own);
    memset(&c, 0, sizeof c);
    pg_p_text(&p, db->h.context);
    pg_p_int(&p, minute);
    if ((rc = pg_queue(db->ps, "DELETE FROM rhai_audit_rate WHERE context_id = $1 AND minute "
                       "< $2", &p, NULL, -1, PG_K_OTHER, err)) != 0)
        return rc;
    pg_p_text(&p, db->h.context);
    pg_p_int(&p, minute);
    pg_p_text(&p, caller);
    if ((rc = pg_run(db->ps, db, "SELECT scope, rows, counted, counter_id FROM rhai_audit_rate "
                     "WHERE context_id = $1 AND minute = $2 AND ((scope = 1 AND caller = '') "
                     "OR (scope = 0 AND caller = $3))", &p, &r, err)) != 0)
        return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        audit_rate *x = pg_int(r, i, 0) == RATE_CONTEXT ? &ctx : &own;
        x->rows = pg_int(r, i, 1);
        x->counted = pg_int(r, i, 2);
        x->counter_id = pg_int(r, i, 3);
    }
    PQclear(r);
    if (ctx.rows >= lim->per_context) {
        /* the context's budget is spent: one counter for every caller */
        if ((rc = rate_count(db, a, RATE_CONTEXT, count, lim->per_context, now_ms, &ctx, &c,
                             reason, sizeof reason, err)) != 0)
            return rc;
        return rate_set(db, minute, RATE_CONTEXT, "", &ctx, &c, err);
    }
    if (own.rows >= lim->per_caller) {
        int64_t before = own.rows;
        if ((rc = rate_count(db, a, RATE_CALLER, count, lim->per_caller, now_ms, &own, &c,
                             reason, sizeof reason, err)) != 0)
            return rc;
        ctx.rows += own.rows - before;      /* a new counter row is a row */
    } else {
        memset(&p, 0, sizeof p);
        audit_params(&p, db, a);
        if ((rc = pg_queue(db->ps, audit_insert, &p, NULL, 1, PG_K_OTHER, err)) != 0)
            return rc;
        own.rows++;
        ctx.rows++;
    }
    if ((rc = rate_set(db, minute, RATE_CALLER, caller, &own, &c, err)) != 0 ||
        (rc = rate_set(db, minute, RATE_CONTEXT, "", &ctx, NULL, err)) != 0)
        return rc;
    if (!db->in_tx)         /* outside a transaction nothing else would send them */
        rc = pg_run(db->ps, db, "SELECT 1", NULL, NULL, err);
    return rc;
}

int pg_audit_query(store_db *hdb, const char *caller, const char *model, const char *decision,
                   long limit, json_t **out, rhai_error *err)
{
    static const char *const cols[] = { "id", "at", "task_id", "caller", "op", "model",
                                        "object_id", "decision", "reason", NULL };
    pg_db *db = (pg_db *)hdb;
    pg_params p = { 0 };
    PGresult *r = NULL;
    int rc;

    *out = NULL;
    if (limit < 1 || limit > STORE_LIST_MAX)
        return rh_error_set(err, RHAI_EINVAL, "limit must be in 1..%d", STORE_LIST_MAX);
    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    pg_p_text(&p, db->h.context);
    pg_p_text(&p, caller);
    pg_p_text(&p, model);
    pg_p_text(&p, decision);
    pg_p_int(&p, limit);
    if ((rc = pg_run(db->ps, db, "SELECT id, at, task_id, caller, op, model, object_id, "
                     "decision, reason FROM rhai_audit WHERE context_id = $1 AND ($2::text IS "
                     "NULL OR caller = $2) AND ($3::text IS NULL OR model = $3) AND ($4::text "
                     "IS NULL OR decision = $4) ORDER BY id DESC LIMIT $5::bigint", &p, &r,
                     err)) != 0)
        return rc;
    return rows_json(r, cols, -1, 1u | 1u << 1 | 1u << 6, out, err);
}

/* ======================== context facts ======================== */

int pg_context_info(store_db *hdb, json_t **out, rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    pg_params p = { 0 };
    PGresult *r = NULL;
    json_t *o;
    int rc;

    *out = NULL;
    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    pg_p_text(&p, db->h.context);
    if ((rc = pg_run(db->ps, db, "SELECT (SELECT value FROM rhai_meta WHERE key = "
                     "'schema_hash'), (SELECT count(*) FROM rhai_ledger WHERE context_id = $1), "
                     "(SELECT count(*) FROM rhai_owners WHERE context_id = $1), (SELECT "
                     "count(*) FROM rhai_grants WHERE context_id = $1), (SELECT count(*) FROM "
                     "rhai_audit WHERE context_id = $1)", &p, &r, err)) != 0)
        return rc;
    o = json_pack("{s:o, s:I, s:I, s:I, s:I}", "schema_version",
                  PQgetisnull(r, 0, 0) ? json_null() : json_string(PQgetvalue(r, 0, 0)),
                  "tasks_recorded", (json_int_t)pg_int(r, 0, 1),
                  "owners", (json_int_t)pg_int(r, 0, 2),
                  "grants", (json_int_t)pg_int(r, 0, 3),
                  "audit_rows", (json_int_t)pg_int(r, 0, 4));
    PQclear(r);
    if (o == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    *out = o;
    return 0;
}
