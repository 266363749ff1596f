/* pg_events.c -- postgres backend: the outbox of emitted events
 * (rhai_outbox) and the subscriptions (rhai_subs), shared tables keyed by
 * context like the rest (store.h, "events"; made by pg_migrate.c).
 *
 * An outbox row is queued inside the task's transaction like the ledger
 * row (it needs no answer): emit() costs no round trip of its own. The
 * reads (store_outbox_pending) are meant to run outside a task's
 * SERIALIZABLE transaction (dsl/events.c does so): reading the context's
 * outbox inside it would be a read-write conflict with every concurrent
 * emitter. */
#include <stdlib.h>
#include <string.h>

#include "pg_int.h"

static const char *val(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* ======================== outbox ======================== */

int pg_outbox_put(store_db *hdb, const store_event *ev, rhai_error *err)
{
    static const char sql[] =
        "INSERT INTO rhai_outbox (context_id, id, name, payload, task_id, seq, caller_id, "
        "trace_id, depth, created_at, subs) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
        "$11)";
    pg_db *db = (pg_db *)hdb;
    pg_params p = { 0 };
    int rc;

    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    pg_p_text(&p, db->h.context);
    pg_p_text(&p, ev->id);
    pg_p_text(&p, ev->name);
    pg_p_text(&p, ev->payload ? ev->payload : "null");
    pg_p_text(&p, ev->task_id);
    pg_p_int(&p, ev->seq);
    pg_p_text(&p, ev->caller_id ? ev->caller_id : "");
    pg_p_text(&p, ev->trace_id ? ev->trace_id : ev->task_id);
    pg_p_int(&p, ev->depth);
    pg_p_int(&p, ev->at);
    pg_p_text(&p, ev->subs ? ev->subs : "[]");
    if (!db->in_tx)
        return pg_run(db->ps, db, sql, &p, NULL, err);
    return pg_queue(db->ps, sql, &p, NULL, 1, PG_K_OTHER, err);
}

/* An outbox row (the columns pg_outbox_pending selects) as an event of
 * the context of ctx (a pg_db). */
static json_t *event_row(const PGresult *r, int i, void *ctx)
{
    const pg_db *db = ctx;
    return store__event_json(db->h.context, val(r, i, 0), val(r, i, 1), val(r, i, 2),
                             val(r, i, 3), val(r, i, 4), pg_int(r, i, 5), val(r, i, 6),
                             pg_int(r, i, 7), val(r, i, 8));
}

int pg_outbox_pending(store_db *hdb, const char *task_id, int64_t before_ms, long limit,
                      json_t **events, rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    pg_params p = { 0 };
    PGresult *r = NULL;
    int rc;

    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    pg_p_text(&p, db->h.context);
    if (task_id)
        pg_p_text(&p, task_id);
    else
        pg_p_int(&p, before_ms);
    pg_p_int(&p, limit);
    rc = pg_run_read(db->ps, db, task_id
                     ? "SELECT id, name, payload, task_id, caller_id, created_at, trace_id, "
                       "depth, subs FROM rhai_outbox WHERE context_id = $1 AND relayed_at IS "
                       "NULL AND task_id = $2 ORDER BY seq LIMIT $3"
                     : "SELECT id, name, payload, task_id, caller_id, created_at, trace_id, "
                       "depth, subs FROM rhai_outbox WHERE context_id = $1 AND relayed_at IS "
                       "NULL AND created_at < $2 ORDER BY created_at, id LIMIT $3",
                     &p, &r, err);
    if (rc != 0)
        return rc;
    return pg_rows_json(r, event_row, db, events, err);
}

int pg_outbox_mark(store_db *hdb, const char *const *ids, size_t n, int64_t *marked,
                   rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    pg_params p = { 0 };
    PGresult *r = NULL;
    rh_buf b;
    int rc;

    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    /* one statement over a text[] literal: ids are [A-Za-z0-9_.:@-]
     * (store_outbox_put), but quote each anyway: an id this store never
     * wrote matches no row, whatever it holds */
    rh_buf_init(&b);
    rh_buf_append(&b, "{", 1);
    for (size_t i = 0; i < n; i++) {
        rh_buf_append(&b, i ? ",\"" : "\"", i ? 2 : 1);
        for (const char *c = ids[i]; *c; c++) {
            if (*c == '"' || *c == '\\')
                rh_buf_append(&b, "\\", 1);
            rh_buf_append(&b, c, 1);
        }
        rh_buf_append(&b, "\"", 1);
    }
    if (rh_buf_append(&b, "}", 1) != 0 || b.data == NULL) {
        rh_buf_free(&b);
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    pg_p_text(&p, db->h.context);
    pg_p_text(&p, b.data);
    pg_p_int(&p, rh_now_ms());
    rh_buf_free(&b);
    if ((rc = pg_run(db->ps, db, "UPDATE rhai_outbox SET relayed_at = $3 WHERE context_id = $1 "
                     "AND id = ANY ($2::text[]) AND relayed_at IS NULL", &p, &r, err)) != 0)
        return rc;
    if (marked)
        *marked = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return pg_outbox_prune(hdb, rh_now_ms() - STORE_OUTBOX_KEEP_MS, STORE_OUTBOX_PRUNE_BATCH,
                           NULL, err);
}

int pg_outbox_prune(store_db *hdb, int64_t before_ms, long limit, int64_t *deleted,
                    rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    pg_params p = { 0 };
    PGresult *r = NULL;
    int rc;

    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    pg_p_text(&p, db->h.context);
    pg_p_int(&p, before_ms);
    pg_p_int(&p, limit);
    if ((rc = pg_run(db->ps, db, "DELETE FROM rhai_outbox WHERE context_id = $1 AND id IN "
                     "(SELECT id FROM rhai_outbox WHERE context_id = $1 AND relayed_at IS NOT "
                     "NULL AND relayed_at < $2 ORDER BY relayed_at LIMIT $3)", &p, &r, err)) != 0)
        return rc;
    if (deleted)
        *deleted = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return 0;
}

int pg_outbox_stats(store_db *hdb, json_t **out, rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    pg_params p = { 0 };
    PGresult *r = NULL;
    int rc;

    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    pg_p_text(&p, db->h.context);
    if ((rc = pg_run_read(db->ps, db, "SELECT count(*), count(*) FILTER (WHERE relayed_at IS "
                          "NULL) FROM rhai_outbox WHERE context_id = $1", &p, &r, err)) != 0)
        return rc;
    *out = json_pack("{s:I, s:I}", "total", (json_int_t)pg_int(r, 0, 0),
                     "pending", (json_int_t)pg_int(r, 0, 1));
    PQclear(r);
    return *out ? 0 : rh_error_set(err, RHAI_ENOMEM, "out of memory");
}

/* ======================== subscriptions ======================== */

int pg_sub_put(store_db *hdb, const store_sub *s, rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    pg_params p = { 0 };
    PGresult *r = NULL;
    int64_t n;
    int rc;

    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    pg_p_text(&p, db->h.context);
    if ((rc = pg_run(db->ps, db, "SELECT count(*) FROM rhai_subs WHERE context_id = $1", &p,
                     &r, err)) != 0)
        return rc;
    n = pg_int(r, 0, 0);
    PQclear(r);
    if (n >= STORE_SUBS_MAX)
        return rh_error_set(err, RHAI_ETOOBIG, "a context holds at most %d subscriptions",
                            STORE_SUBS_MAX);
    pg_p_text(&p, db->h.context);
    pg_p_text(&p, s->name);
    pg_p_text(&p, s->pattern);
    pg_p_text(&p, s->worker);
    pg_p_text(&p, s->script);
    pg_p_text(&p, s->args);
    pg_p_text(&p, s->caller);
    pg_p_text(&p, s->created_by);
    pg_p_text(&p, s->paused ? "true" : "false");
    pg_p_int(&p, rh_now_ms());
    if ((rc = pg_run(db->ps, db, "INSERT INTO rhai_subs (context_id, name, pattern, worker, "
                     "script, args, caller, created_by, paused, created_at, updated_at) VALUES "
                     "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) ON CONFLICT DO NOTHING",
                     &p, &r, err)) != 0)
        return rc;
    n = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    if (n == 0)
        return rh_error_set(err, RHAI_ESTATE, "subscription '%s' exists already", s->name);
    return 0;
}

#define SUB_COLS "name, pattern, worker, script, args, caller, created_by, paused, " \
                 "created_at, updated_at"

static json_t *sub_row(const PGresult *r, int i)
{
    return store__sub_json(val(r, i, 0), val(r, i, 1), val(r, i, 2), val(r, i, 3),
                           val(r, i, 4), val(r, i, 5), val(r, i, 6),
                           strcmp(PQgetvalue(r, i, 7), "t") == 0, pg_int(r, i, 8),
                           pg_int(r, i, 9));
}

static json_t *sub_list_row(const PGresult *r, int i, void *ctx)
{
    (void)ctx;
    return sub_row(r, i);
}

int pg_sub_get(store_db *hdb, const char *name, json_t **out, rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    pg_params p = { 0 };
    PGresult *r = NULL;
    int rc;

    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    pg_p_text(&p, db->h.context);
    pg_p_text(&p, name);
    if ((rc = pg_run_read(db->ps, db, "SELECT " SUB_COLS " FROM rhai_subs WHERE context_id = "
                          "$1 AND name = $2", &p, &r, err)) != 0)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return rh_error_set(err, RHAI_ENOTFOUND, "no subscription '%s'", name);
    }
    *out = sub_row(r, 0);
    PQclear(r);
    return *out ? 0 : rh_error_set(err, RHAI_ENOMEM, "out of memory");
}

int pg_sub_list(store_db *hdb, json_t **out, rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    pg_params p = { 0 };
    PGresult *r = NULL;
    int rc;

    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    pg_p_text(&p, db->h.context);
    if ((rc = pg_run_read(db->ps, db, "SELECT " SUB_COLS " FROM rhai_subs WHERE context_id = "
                          "$1 ORDER BY name", &p, &r, err)) != 0)
        return rc;
    return pg_rows_json(r, sub_list_row, NULL, out, err);
}

/* Run 'sql' with p ($1 context, $2 name, ...): RHAI_ENOTFOUND when it
 * changed no row. */
static int sub_change(pg_db *db, const char *sql, pg_params *p, const char *name,
                      rhai_error *err)
{
    PGresult *r = NULL;
    int64_t n;
    int rc;

    if ((rc = pg_run(db->ps, db, sql, p, &r, err)) != 0)
        return rc;
    n = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    if (n == 0)
        return rh_error_set(err, RHAI_ENOTFOUND, "no subscription '%s'", name);
    return 0;
}

int pg_sub_set_paused(store_db *hdb, const char *name, int paused, rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    pg_params p = { 0 };
    int rc;

    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    pg_p_text(&p, db->h.context);
    pg_p_text(&p, name);
    pg_p_text(&p, paused ? "true" : "false");
    pg_p_int(&p, rh_now_ms());
    return sub_change(db, "UPDATE rhai_subs SET paused = $3, updated_at = $4 WHERE "
                      "context_id = $1 AND name = $2", &p, name, err);
}

int pg_sub_del(store_db *hdb, const char *name, rhai_error *err)
{
    pg_db *db = (pg_db *)hdb;
    pg_params p = { 0 };
    int rc;

    if ((rc = pg_db_ready(db, err)) != 0)
        return rc;
    pg_p_text(&p, db->h.context);
    pg_p_text(&p, name);
    return sub_change(db, "DELETE FROM rhai_subs WHERE context_id = $1 AND name = $2", &p,
                      name, err);
}
