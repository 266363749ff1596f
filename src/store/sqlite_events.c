/* sqlite_events.c -- sqlite backend: the outbox of emitted events
 * (rhai_outbox) and the subscriptions (rhai_subs) of a context
 * (store.h, "events"). The tables are made by sqlite_migrate.c. The
 * statements are prepared per call: none of them is on a task's hot path
 * but outbox_put, one per emit(), which a task does at most
 * DSL_EMIT_MAX times. */
#include <string.h>

#include "sqlite_int.h"


static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

/* ======================== outbox ======================== */

int sq_outbox_put(store_db *hdb, const store_event *ev, rhai_error *err)
{
    sq_db *db = SQ(hdb);
    sqlite3_stmt *st = NULL;
    int rc;

    if ((rc = sq_prep(db, "INSERT INTO rhai_outbox (id, name, payload, task_id, seq, caller_id, "
                   "trace_id, depth, created_at, subs) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                   "?8, ?9, ?10)", &st, err)) != 0)
        return rc;
    sqlite3_bind_text(st, 1, ev->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ev->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, ev->payload ? ev->payload : "null", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, ev->task_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, ev->seq);
    sqlite3_bind_text(st, 6, ev->caller_id ? ev->caller_id : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, ev->trace_id ? ev->trace_id : ev->task_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, ev->depth);
    sqlite3_bind_int64(st, 9, ev->at);
    sqlite3_bind_text(st, 10, ev->subs ? ev->subs : "[]", -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        return sq_stmt_fail(db, st, err);
    sqlite3_finalize(st);
    return 0;
}

/* An outbox row (the columns sq_outbox_pending selects) as an event of
 * the context of ctx (an sq_db). */
static json_t *event_row(sqlite3_stmt *st, void *ctx)
{
    const sq_db *db = ctx;
    return store__event_json(db->context, col_text(st, 0), col_text(st, 1), col_text(st, 2),
                             col_text(st, 3), col_text(st, 4), sqlite3_column_int64(st, 5),
                             col_text(st, 6), sqlite3_column_int64(st, 7), col_text(st, 8));
}

int sq_outbox_pending(store_db *hdb, const char *task_id, int64_t before_ms, long limit,
                      json_t **events, rhai_error *err)
{
    sq_db *db = SQ(hdb);
    sqlite3_stmt *st = NULL;
    int rc;

    if (task_id)
        rc = sq_prep(db, "SELECT id, name, payload, task_id, caller_id, created_at, trace_id, "
                  "depth, subs FROM rhai_outbox WHERE relayed_at IS NULL AND task_id = ?1 "
                  "ORDER BY seq LIMIT ?2", &st, err);
    else
        rc = sq_prep(db, "SELECT id, name, payload, task_id, caller_id, created_at, trace_id, "
                  "depth, subs FROM rhai_outbox WHERE relayed_at IS NULL AND created_at < ?1 "
                  "ORDER BY created_at, id LIMIT ?2", &st, err);
    if (rc != 0)
        return rc;
    if (task_id)
        sqlite3_bind_text(st, 1, task_id, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 1, before_ms);
    sqlite3_bind_int64(st, 2, limit);
    return sq_rows_json(db, st, event_row, db, events, err);
}

int sq_outbox_mark(store_db *hdb, const char *const *ids, size_t n, int64_t *marked,
                   rhai_error *err)
{
    sq_db *db = SQ(hdb);
    sqlite3_stmt *st = NULL;
    int64_t now = rh_now_ms(), total = 0;
    int own = !db->in_tx;
    int rc;

    /* one transaction for the batch (one fsync), unless in one already */
    if (own && (rc = store__exec(db, "BEGIN IMMEDIATE", err)) != 0)
        return rc;
    if ((rc = sq_prep(db, "UPDATE rhai_outbox SET relayed_at = ?1 WHERE id = ?2 AND "
                   "relayed_at IS NULL", &st, err)) != 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_text(st, 2, ids[i], -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = sq_stmt_fail(db, st, err);
            st = NULL;
            goto out;
        }
        total += sqlite3_changes(db->db);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    st = NULL;
    if ((rc = sq_outbox_prune(hdb, now - STORE_OUTBOX_KEEP_MS, STORE_OUTBOX_PRUNE_BATCH, NULL,
                              err)) != 0)
        goto out;
    if (own)
        rc = store__exec(db, "COMMIT", err);
out:
    if (rc != 0 && own)
        (void)store__exec(db, "ROLLBACK", NULL);
    if (rc == 0 && marked)
        *marked = total;
    return rc;
}

int sq_outbox_prune(store_db *hdb, int64_t before_ms, long limit, int64_t *deleted,
                    rhai_error *err)
{
    sq_db *db = SQ(hdb);
    sqlite3_stmt *st = NULL;
    int rc;

    if ((rc = sq_prep(db, "DELETE FROM rhai_outbox WHERE id IN (SELECT id FROM rhai_outbox "
                   "WHERE relayed_at IS NOT NULL AND relayed_at < ?1 ORDER BY relayed_at "
                   "LIMIT ?2)", &st, err)) != 0)
        return rc;
    sqlite3_bind_int64(st, 1, before_ms);
    sqlite3_bind_int64(st, 2, limit);
    if (sqlite3_step(st) != SQLITE_DONE)
        return sq_stmt_fail(db, st, err);
    sqlite3_finalize(st);
    if (deleted)
        *deleted = sqlite3_changes(db->db);
    return 0;
}

int sq_outbox_stats(store_db *hdb, json_t **out, rhai_error *err)
{
    sq_db *db = SQ(hdb);
    sqlite3_stmt *st = NULL;
    int rc;

    if ((rc = sq_prep(db, "SELECT count(*), count(*) FILTER (WHERE relayed_at IS NULL) FROM "
                   "rhai_outbox", &st, err)) != 0)
        return rc;
    if (sqlite3_step(st) != SQLITE_ROW)
        return sq_stmt_fail(db, st, err);
    *out = json_pack("{s:I, s:I}", "total", (json_int_t)sqlite3_column_int64(st, 0),
                     "pending", (json_int_t)sqlite3_column_int64(st, 1));
    sqlite3_finalize(st);
    return *out ? 0 : rh_error_set(err, RHAI_ENOMEM, "out of memory");
}

/* ======================== subscriptions ======================== */

int sq_sub_put(store_db *hdb, const store_sub *s, rhai_error *err)
{
    sq_db *db = SQ(hdb);
    sqlite3_stmt *st = NULL;
    int64_t now = rh_now_ms();
    int rc;

    if ((rc = sq_prep(db, "SELECT count(*), count(*) FILTER (WHERE name = ?1) FROM rhai_subs",
                   &st, err)) != 0)
        return rc;
    sqlite3_bind_text(st, 1, s->name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW)
        return sq_stmt_fail(db, st, err);
    if (sqlite3_column_int64(st, 1) > 0)
        rc = rh_error_set(err, RHAI_ESTATE, "subscription '%s' exists already", s->name);
    else if (sqlite3_column_int64(st, 0) >= STORE_SUBS_MAX)
        rc = rh_error_set(err, RHAI_ETOOBIG, "a context holds at most %d subscriptions",
                          STORE_SUBS_MAX);
    sqlite3_finalize(st);
    if (rc != 0)
        return rc;
    if ((rc = sq_prep(db, "INSERT INTO rhai_subs (name, pattern, worker, script, args, caller, "
                   "created_by, paused, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, "
                   "?6, ?7, ?8, ?9, ?9)", &st, err)) != 0)
        return rc;
    sqlite3_bind_text(st, 1, s->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, s->pattern, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, s->worker, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, s->script, -1, SQLITE_STATIC);
    if (s->args)
        sqlite3_bind_text(st, 5, s->args, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, s->caller, -1, SQLITE_STATIC);
    if (s->created_by)
        sqlite3_bind_text(st, 7, s->created_by, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 8, s->paused != 0);
    sqlite3_bind_int64(st, 9, now);
    if (sqlite3_step(st) != SQLITE_DONE)
        return sq_stmt_fail(db, st, err);
    sqlite3_finalize(st);
    return 0;
}

#define SUB_COLS "name, pattern, worker, script, args, caller, created_by, paused, " \
                 "created_at, updated_at"

static json_t *sub_row(sqlite3_stmt *st)
{
    return store__sub_json(col_text(st, 0), col_text(st, 1), col_text(st, 2),
                           col_text(st, 3), col_text(st, 4), col_text(st, 5),
                           col_text(st, 6), sqlite3_column_int(st, 7) != 0,
                           sqlite3_column_int64(st, 8), sqlite3_column_int64(st, 9));
}

static json_t *sub_list_row(sqlite3_stmt *st, void *ctx)
{
    (void)ctx;
    return sub_row(st);
}

int sq_sub_get(store_db *hdb, const char *name, json_t **out, rhai_error *err)
{
    sq_db *db = SQ(hdb);
    sqlite3_stmt *st = NULL;
    int rc;

    if ((rc = sq_prep(db, "SELECT " SUB_COLS " FROM rhai_subs WHERE name = ?1", &st, err)) != 0)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_finalize(st);
        return rh_error_set(err, RHAI_ENOTFOUND, "no subscription '%s'", name);
    }
    if (rc != SQLITE_ROW)
        return sq_stmt_fail(db, st, err);
    *out = sub_row(st);
    sqlite3_finalize(st);
    return *out ? 0 : rh_error_set(err, RHAI_ENOMEM, "out of memory");
}

int sq_sub_list(store_db *hdb, json_t **out, rhai_error *err)
{
    sq_db *db = SQ(hdb);
    sqlite3_stmt *st = NULL;
    int rc;

    if ((rc = sq_prep(db, "SELECT " SUB_COLS " FROM rhai_subs ORDER BY name", &st, err)) != 0)
        return rc;
    return sq_rows_json(db, st, sub_list_row, NULL, out, err);
}

/* Run 'sql' with the name in ?1 (and ?2 an int): RHAI_ENOTFOUND when it
 * changed no row. */
static int sub_change(sq_db *db, const char *sql, const char *name, int64_t v,
                      rhai_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if ((rc = sq_prep(db, sql, &st, err)) != 0)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(st) >= 2)
        sqlite3_bind_int64(st, 2, v);
    if (sqlite3_bind_parameter_count(st) >= 3)
        sqlite3_bind_int64(st, 3, rh_now_ms());
    if (sqlite3_step(st) != SQLITE_DONE)
        return sq_stmt_fail(db, st, err);
    sqlite3_finalize(st);
    if (sqlite3_changes(db->db) == 0)
        return rh_error_set(err, RHAI_ENOTFOUND, "no subscription '%s'", name);
    return 0;
}

int sq_sub_set_paused(store_db *hdb, const char *name, int paused, rhai_error *err)
{
    return sub_change(SQ(hdb), "UPDATE rhai_subs SET paused = ?2, updated_at = ?3 WHERE "
                      "name = ?1", name, paused != 0, err);
}

int sq_sub_del(store_db *hdb, const char *name, rhai_error *err)
{
    return sub_change(SQ(hdb), "DELETE FROM rhai_subs WHERE name = ?1", name, 0, err);
}
