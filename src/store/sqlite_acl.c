/* sqlite_acl.c -- sqlite backend: a context's owners, grants and audit log.
 *
 * They live in the context's own SQLite file, in store tables made by
 * migrate.c (rhai_owners, rhai_grants, rhai_audit, rhai_audit_rate) rather
 * than in schema models, so no generic DSL binding can reach them: scripts
 * see them only through the owner-only acl/audit objects of dsl/. The
 * decision of store_authorize is one cached, indexed statement and depends
 * only on (caller, model, op, object id, time), never on the model's rows:
 * what a caller is told does not depend on whether an object exists. Denials
 * are rate-limited per caller and per context (store_audit_denial), so no
 * caller can grow a context's file without bound by being refused. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sqlite_int.h"

/* ======================== contexts ======================== */

int sq_context_exists(store *hs, const char *context_id)
{
    sq_store *s = SQS(hs);
    char path[STORE_PATH_MAX + STORE_CONTEXT_MAX + 8];
    struct stat sb;

    if (!rh_context_id_valid(context_id))
        return 0;
    snprintf(path, sizeof path, "%s/%s.db", s->dir, context_id);
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

int sq_context_create(store *hs, const char *context_id, const char *owner,
                      rhai_error *err)
{
    sq_store *s = SQS(hs);
    char path[STORE_PATH_MAX + STORE_CONTEXT_MAX + 8];
    struct stat dsb;
    store_db *db;
    int fd;
    int rc;

    if (!rh_context_id_valid(context_id))
        return rh_error_set(err, RHAI_EINVAL, "invalid context id '%.100s'", context_id);
    if ((rc = store__owner_check(owner, err)) != 0)       /* before the file exists */
        return rc;
    if ((rc = store__make_dir(s->dir, err)) != 0)
        return rc;
    /* O_EXCL: an empty file is an empty SQLite database, and of two
     * concurrent creators only one gets past here. */
    snprintf(path, sizeof path, "%s/%s.db", s->dir, context_id);
    do
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    while (fd < 0 && errno == EINTR);
    if (fd < 0 && errno == EEXIST)
        return rh_error_set(err, RHAI_ESTATE, "context '%s' exists already", context_id);
    if (fd < 0)
        return rh_error_set(err, RHAI_EIO, "%s: %s", path, strerror(errno));
    /* Made by root (rhaictl run with sudo), the file belongs to whoever
     * owns the data dir, the user rhaid's executors run as; SQLite gives
     * the database's owner to the -wal and -shm it creates as root. */
    if (geteuid() == 0 && stat(s->dir, &dsb) == 0 && dsb.st_uid != 0 &&
        fchown(fd, dsb.st_uid, dsb.st_gid) != 0) {
        rc = rh_error_set(err, RHAI_EIO, "chown %s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return rc;
    }
    close(fd);
    if ((rc = sq_open(hs, context_id, &db, err)) != 0)
        return rc;
    return sq_owner_add(db, owner, err);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int sq_context_list(store *hs, json_t **ids, rhai_error *err)
{
    const char *data_dir = SQS(hs)->dir;
    DIR *d = opendir(data_dir);
    struct dirent *e;
    json_t *out = json_array();
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;

    *ids = NULL;
    if (out == NULL) {
        if (d)
            closedir(d);
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    if (d == NULL) {
        if (errno == ENOENT) {
            *ids = out;
            return 0;
        }
        json_decref(out);
        return rh_error_set(err, RHAI_EIO, "%s: %s", data_dir, strerror(errno));
    }
    while (rc == 0 && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char id[STORE_CONTEXT_MAX + 1];
        if (len <= 3 || len - 3 > STORE_CONTEXT_MAX || strcmp(e->d_name + len - 3, ".db"))
            continue;
        memcpy(id, e->d_name, len - 3);
        id[len - 3] = '\0';
        if (!rh_context_id_valid(id))
            continue;
        if (n == cap) {
            char **nn = rh_realloc(names, (cap = cap ? cap * 2 : 16) * sizeof *names);
            if (nn == NULL) {
                rc = rh_error_set(err, RHAI_ENOMEM, "out of memory");
                break;
            }
            names = nn;
        }
        if ((names[n] = rh_strdup(id)) == NULL)
            rc = rh_error_set(err, RHAI_ENOMEM, "out of memory");
        else
            n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && json_array_append_new(out, json_string(names[i])) != 0)
            rc = rh_error_set(err, RHAI_ENOMEM, "out of memory");
        rh_free(names[i]);
    }
    rh_free(names);
    if (rc != 0) {
        json_decref(out);
        return rc;
    }
    *ids = out;
    return 0;
}

/* ======================== owners ======================== */


int sq_owner_add(store_db *hdb, const char *caller, rhai_error *err)
{
    sq_db *db = (sq_db *)hdb;
    sqlite3_stmt *st = NULL;
    int rc;

    if ((rc = store__owner_check(caller, err)) != 0)
        return rc;
    if ((rc = sq_prep(db, "INSERT OR IGNORE INTO rhai_owners (caller, added_at) VALUES (?1, ?2)",
                   &st, err)) != 0)
        return rc;
    sqlite3_bind_text(st, 1, caller, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, rh_now_ms());
    if (sqlite3_step(st) != SQLITE_DONE)
        return sq_stmt_fail(db, st, err);
    sqlite3_finalize(st);
    return 0;
}


/* Column 0 of a row as a JSON string. */
static json_t *text_row(sqlite3_stmt *st, void *ctx)
{
    (void)ctx;
    return json_string((const char *)sqlite3_column_text(st, 0));
}

int sq_owners(store_db *hdb, json_t **out, rhai_error *err)
{
    sq_db *db = (sq_db *)hdb;
    sqlite3_stmt *st = NULL;
    int rc;

    *out = NULL;
    if ((rc = sq_prep(db, "SELECT caller FROM rhai_owners ORDER BY caller", &st, err)) != 0)
        return rc;
    return sq_rows_json(db, st, text_row, NULL, out, err);
}

int sq_owner_remove(store_db *hdb, const char *caller, rhai_error *err)
{
    sq_db *db = (sq_db *)hdb;
    sqlite3_stmt *st = NULL;
    int rc;

    if (caller == NULL || *caller == '\0')
        return rh_error_set(err, RHAI_EINVAL, "an owner needs a caller id");
    /* one statement: the count and the delete cannot be split by another
     * writer */
    if ((rc = sq_prep(db, "DELETE FROM rhai_owners WHERE caller = ?1 AND "
                   "(SELECT count(*) FROM rhai_owners) > 1", &st, err)) != 0)
        return rc;
    sqlite3_bind_text(st, 1, caller, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        return sq_stmt_fail(db, st, err);
    sqlite3_finalize(st);
    if (sqlite3_changes(db->db) == 1)
        return 0;
    st = NULL;
    if ((rc = sq_prep(db, "SELECT 1 FROM rhai_owners WHERE caller = ?1", &st, err)) != 0)
        return rc;
    sqlite3_bind_text(st, 1, caller, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sq_stmt_fail(db, st, err);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return rh_error_set(err, RHAI_ENOTFOUND, "'%s' is not an owner", caller);
    return rh_error_set(err, RHAI_ESTATE, "'%s' is the last owner of context '%s'", caller,
                        db->context);
}

/* ======================== decisions ======================== */

int sq_authorize(store_db *hdb, const char *caller, const char *model, unsigned op,
                    int64_t object_id, int64_t now_ms, rhai_error *err)
{
    sq_db *db = (sq_db *)hdb;
    sqlite3_stmt *st = db->tx[TX_AUTHZ];
    int rc;

    sqlite3_bind_text(st, 1, caller ? caller : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, (int)op);
    if (object_id > 0)
        sqlite3_bind_int64(st, 4, object_id);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_int64(st, 5, now_ms);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        rc = sqlite3_column_int(st, 0);
    else if (rc == SQLITE_DONE)
        rc = 0;
    else
        rc = rh_error_set(err, RHAI_ESTORE, "authorize: %s", sqlite3_errmsg(db->db));
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/* ======================== grants ======================== */

static void bind_opt_int(sqlite3_stmt *st, int i, int64_t v)
{
    if (v > 0)
        sqlite3_bind_int64(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

int sq_grant_add(store_db *hdb, const store_grant *g, int64_t *id, rhai_error *err)
{
    sq_db *db = (sq_db *)hdb;
    sqlite3_stmt *st = NULL;
    int rc;

    if (g->caller == NULL || *g->caller == '\0' || g->model == NULL || *g->model == '\0' ||
        (g->ops & STORE_OP_ALL) == 0 || (g->ops & ~(unsigned)STORE_OP_ALL))
        return rh_error_set(err, RHAI_EINVAL, "a grant needs a caller, a model and ops");
    /* a negative id or time bound as NULL would widen the grant */
    if (g->object_id < 0 || g->expires_at < 0)
        return rh_error_set(err, RHAI_EINVAL, "object_id and expires_at cannot be negative");
    if (g->object_id > 0 && strcmp(g->model, "*") == 0)
        return rh_error_set(err, RHAI_EINVAL, "an object grant names its model, not '*'");
    if ((rc = sq_prep(db, "INSERT INTO rhai_grants (caller, model, ops, object_id, expires_at, "
                   "granted_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", &st,
                   err)) != 0)
        return rc;
    sqlite3_bind_text(st, 1, g->caller, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, g->model, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, (int)g->ops);
    bind_opt_int(st, 4, g->object_id);
    bind_opt_int(st, 5, g->expires_at);
    if (g->granted_by)
        sqlite3_bind_text(st, 6, g->granted_by, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, rh_now_ms());
    if (sqlite3_step(st) != SQLITE_DONE)
        return sq_stmt_fail(db, st, err);
    sqlite3_finalize(st);
    if (id)
        *id = sqlite3_last_insert_rowid(db->db);
    return 0;
}

int sq_grant_revoke(store_db *hdb, const store_grant *g, int *n, rhai_error *err)
{
    sq_db *db = (sq_db *)hdb;
    sqlite3_stmt *st = NULL;
    unsigned ops = g->ops ? g->ops : STORE_OP_ALL;
    int changed;
    int rc;

    if (g->caller == NULL || g->model == NULL)
        return rh_error_set(err, RHAI_EINVAL, "revoke needs a caller and a model");
    if ((rc = sq_prep(db, "UPDATE rhai_grants SET ops = ops & ~?3 WHERE caller = ?1 AND "
                   "model = ?2 AND object_id IS ?4 AND (ops & ?3) != 0", &st, err)) != 0)
        return rc;
    sqlite3_bind_text(st, 1, g->caller, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, g->model, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, (int)ops);
    bind_opt_int(st, 4, g->object_id);
    if (sqlite3_step(st) != SQLITE_DONE)
        return sq_stmt_fail(db, st, err);
    changed = sqlite3_changes(db->db);
    sqlite3_finalize(st);
    st = NULL;
    if ((rc = sq_prep(db, "DELETE FROM rhai_grants WHERE ops = 0", &st, err)) != 0)
        return rc;
    if (sqlite3_step(st) != SQLITE_DONE)
        return sq_stmt_fail(db, st, err);
    sqlite3_finalize(st);
    if (n)
        *n = changed;
    return 0;
}

/* Column i as JSON: NULL -> null. */
static json_t *col_json(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        return json_integer(sqlite3_column_int64(st, i));
    case SQLITE_TEXT:
        return json_string((const char *)sqlite3_column_text(st, i));
    default:
        return json_null();
    }
}

/* The columns of a row as an object named by 'cols'; column 'ops_col'
 * (or -1) holds an op mask shown as names. */
typedef struct cols_spec {
    const char *const *cols;
    int ops_col;
} cols_spec;

static json_t *cols_row(sqlite3_stmt *st, void *ctx)
{
    const cols_spec *c = ctx;
    json_t *o = json_object();

    for (int i = 0; o && c->cols[i]; i++)
        if (json_object_set_new(o, c->cols[i], i == c->ops_col
                                ? store_ops_json((unsigned)sqlite3_column_int(st, i))
                                : col_json(st, i)) != 0) {
            json_decref(o);
            o = NULL;
        }
    return o;
}

/* Rows of a prepared statement as objects (cols_row). */
static int rows_json(sq_db *db, sqlite3_stmt *st, const char *const *cols, int ops_col,
                     json_t **out, rhai_error *err)
{
    cols_spec c = { cols, ops_col };
    return sq_rows_json(db, st, cols_row, &c, out, err);
}

int sq_grant_list(store_db *hdb, json_t **out, rhai_error *err)
{
    sq_db *db = (sq_db *)hdb;
    static const char *const cols[] = { "id", "caller", "model", "ops", "object_id",
                                        "expires_at", "granted_by", "created_at", NULL };
    sqlite3_stmt *st = NULL;
    int rc;

    *out = NULL;
    if ((rc = sq_prep(db, "SELECT id, caller, model, ops, object_id, expires_at, granted_by, "
                   "created_at FROM rhai_grants ORDER BY id", &st, err)) != 0)
        return rc;
    return rows_json(db, st, cols, 3, out, err);
}

/* ======================== audit ======================== */

int sq_audit_put(store_db *hdb, const store_audit *a, rhai_error *err)
{
    sq_db *db = (sq_db *)hdb;
    sqlite3_stmt *st = db->tx[TX_AUDIT_PUT];
    int rc = 0;

    sqlite3_bind_int64(st, 1, a->at);
    if (a->task_id)
        sqlite3_bind_text(st, 2, a->task_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, a->caller ? a->caller : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, a->op, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, a->model, -1, SQLITE_STATIC);
    bind_opt_int(st, 6, a->object_id);
    sqlite3_bind_text(st, 7, a->decision, -1, SQLITE_STATIC);
    if (a->reason)
        sqlite3_bind_text(st, 8, a->reason, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = rh_error_set(err, RHAI_ESTORE, "audit: %s", sqlite3_errmsg(db->db));
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

int sq_audit_has(store_db *hdb, const char *task_id, const char *caller,
                    const char *decision, rhai_error *err)
{
    sq_db *db = (sq_db *)hdb;
    sqlite3_stmt *st = NULL;
    int rc;

    if ((rc = sq_prep(db, "SELECT 1 FROM rhai_audit WHERE task_id = ?1 AND caller = ?2 AND "
                   "decision = ?3 LIMIT 1", &st, err)) != 0)
        return rc;
    sqlite3_bind_text(st, 1, task_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, caller ? caller : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, decision, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sq_stmt_fail(db, st, err);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW;
}

/* ---- denials, rate-limited ----
 * rhai_audit_rate holds, per minute, the denial rows each caller (scope
 * 0) and the whole context (scope 1, caller '') added, and the counter
 * row that takes the denials past the limit. Rows of past minutes are
 * deleted as the next minute's first denial is recorded, so the table
 * holds one minute's callers at most. */

enum { RATE_CALLER = 0, RATE_CONTEXT = 1 };

typedef struct audit_rate {
    int64_t rows;           /* audit rows added this minute */
    int64_t counted;        /* denials in the counter row */
    int64_t counter_id;     /* the counter row's id, 0: none yet */
} audit_rate;

static int rate_get(sq_db *db, int64_t minute, int scope, const char *caller,
                    audit_rate *r, rhai_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc;

    memset(r, 0, sizeof *r);
    if ((rc = sq_prep(db, "SELECT rows, counted, counter_id FROM rhai_audit_rate WHERE "
                   "minute = ?1 AND scope = ?2 AND caller = ?3", &st, err)) != 0)
        return rc;
    sqlite3_bind_int64(st, 1, minute);
    sqlite3_bind_int(st, 2, scope);
    sqlite3_bind_text(st, 3, caller, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        r->rows = sqlite3_column_int64(st, 0);
        r->counted = sqlite3_column_int64(st, 1);
        r->counter_id = sqlite3_column_int64(st, 2);
    } else if (rc != SQLITE_DONE) {
        return sq_stmt_fail(db, st, err);
    }
    sqlite3_finalize(st);
    return 0;
}

static int rate_set(sq_db *db, int64_t minute, int scope, const char *caller,
                    const audit_rate *r, rhai_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if ((rc = sq_prep(db, "INSERT OR REPLACE INTO rhai_audit_rate (minute, scope, caller, rows, "
                   "counted, counter_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &st, err)) != 0)
        return rc;
    sqlite3_bind_int64(st, 1, minute);
    sqlite3_bind_int(st, 2, scope);
    sqlite3_bind_text(st, 3, caller, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, r->rows);
    sqlite3_bind_int64(st, 5, r->counted);
    bind_opt_int(st, 6, r->counter_id);
    if (sqlite3_step(st) != SQLITE_DONE)
        return sq_stmt_fail(db, st, err);
    sqlite3_finalize(st);
    return 0;
}

/* Add 'count' denials of 'a' to the counter row of 'r' (scope's), making
 * the row on the first. */
static int rate_count(sq_db *db, const store_audit *a, int scope, int64_t count,
                      long limit, int64_t now_ms, audit_rate *r, rhai_error *err)
{
    char reason[200];
    sqlite3_stmt *st = NULL;
    int rc;

    r->counted += count;
    snprintf(reason, sizeof reason, "%lld more denials %s this minute, counted here, not "
             "recorded one by one (limit: %ld rows per %s per minute)",
             (long long)r->counted, scope == RATE_CALLER ? "of this caller" : "of all callers",
             limit, scope == RATE_CALLER ? "caller" : "context");
    if (r->counter_id == 0) {
        store_audit c;
        memset(&c, 0, sizeof c);
        c.at = now_ms;
        c.caller = scope == RATE_CALLER ? a->caller : "*";
        c.op = "denials";
        c.model = "*";
        c.decision = "denied";
        c.reason = reason;
        if ((rc = sq_audit_put(&db->h, &c, err)) != 0)
            return rc;
        r->counter_id = sqlite3_last_insert_rowid(db->db);
        r->rows++;
        return 0;
    }
    if ((rc = sq_prep(db, "UPDATE rhai_audit SET reason = ?1 WHERE id = ?2", &st, err)) != 0)
        return rc;
    sqlite3_bind_text(st, 1, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->counter_id);
    if (sqlite3_step(st) != SQLITE_DONE)
        return sq_stmt_fail(db, st, err);
    sqlite3_finalize(st);
    return 0;
}

int sq_audit_denial(store_db *hdb, const store_audit *a, int64_t count, int64_t now_ms,
                       const store_audit_limits *lim, rhai_error *err)
{
    sq_db *db = (sq_db *)hdb;
    static const store_audit_limits dflt = { STORE_AUDIT_CALLER_PER_MIN,
                                             STORE_AUDIT_CONTEXT_PER_MIN };
    const char *caller = a->caller ? a->caller : "";
    int64_t minute = now_ms / 60000;
    audit_rate ctx, own;
    sqlite3_stmt *st = NULL;
    int rc;

    if (lim == NULL)
        lim = &dflt;
    if (count < 1)
        count = 1;
    if ((rc = sq_prep(db, "DELETE FROM rhai_audit_rate WHERE minute < ?1", &st, err)) != 0)
        return rc;
    sqlite3_bind_int64(st, 1, minute);
    if (sqlite3_step(st) != SQLITE_DONE)
        return sq_stmt_fail(db, st, err);
    sqlite3_finalize(st);
    if ((rc = rate_get(db, minute, RATE_CONTEXT, "", &ctx, err)) != 0 ||
        (rc = rate_get(db, minute, RATE_CALLER, caller, &own, err)) != 0)
        return rc;
    if (ctx.rows >= lim->per_context) {
        /* the context's budget is spent: one counter for every caller */
        if ((rc = rate_count(db, a, RATE_CONTEXT, count, lim->per_context, now_ms, &ctx,
                             err)) != 0)
            return rc;
        return rate_set(db, minute, RATE_CONTEXT, "", &ctx, err);
    }
    if (own.rows >= lim->per_caller) {
        int64_t before = own.rows;
        if ((rc = rate_count(db, a, RATE_CALLER, count, lim->per_caller, now_ms, &own,
                             err)) != 0)
            return rc;
        ctx.rows += own.rows - before;      /* a new counter row is a row */
    } else {
        if ((rc = sq_audit_put(&db->h, a, err)) != 0)
            return rc;
        own.rows++;
        ctx.rows++;
    }
    if ((rc = rate_set(db, minute, RATE_CALLER, caller, &own, err)) != 0)
        return rc;
    return rate_set(db, minute, RATE_CONTEXT, "", &ctx, err);
}

int sq_audit_query(store_db *hdb, const char *caller, const char *model,
                      const char *decision, long limit, json_t **out, rhai_error *err)
{
    sq_db *db = (sq_db *)hdb;
    static const char *const cols[] = { "id", "at", "task_id", "caller", "op", "model",
                                        "object_id", "decision", "reason", NULL };
    sqlite3_stmt *st = NULL;
    int rc;

    *out = NULL;
    if (limit < 1 || limit > STORE_LIST_MAX)
        return rh_error_set(err, RHAI_EINVAL, "limit must be in 1..%d", STORE_LIST_MAX);
    if ((rc = sq_prep(db, "SELECT id, at, task_id, caller, op, model, object_id, decision, "
                   "reason FROM rhai_audit WHERE (?1 IS NULL OR caller = ?1) AND "
                   "(?2 IS NULL OR model = ?2) AND (?3 IS NULL OR decision = ?3) "
                   "ORDER BY id DESC LIMIT ?4", &st, err)) != 0)
        return rc;
    if (caller)
        sqlite3_bind_text(st, 1, caller, -1, SQLITE_STATIC);
    if (model)
        sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
    if (decision)
        sqlite3_bind_text(st, 3, decision, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, limit);
    return rows_json(db, st, cols, -1, out, err);
}

/* ======================== context facts ======================== */

/* One integer from a constant query (no input). */
static int count_of(sq_db *db, const char *sql, int64_t *n, rhai_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if ((rc = sq_prep(db, sql, &st, err)) != 0)
        return rc;
    if (sqlite3_step(st) != SQLITE_ROW)
        return sq_stmt_fail(db, st, err);
    *n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

int sq_context_info(store_db *hdb, json_t **out, rhai_error *err)
{
    sq_db *db = (sq_db *)hdb;
    static const char *const q[][2] = {
        { "tasks_recorded", "SELECT count(*) FROM rhai_ledger" },
        { "owners", "SELECT count(*) FROM rhai_owners" },
        { "grants", "SELECT count(*) FROM rhai_grants" },
        { "audit_rows", "SELECT count(*) FROM rhai_audit" },
    };
    sqlite3_stmt *st = NULL;
    json_t *o = json_object();
    int64_t n = 0;      /* count_of sets it on 0; gcc -O2 cannot tell through sq_prep */
    int rc;

    *out = NULL;
    if (o == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    if ((rc = sq_prep(db, "SELECT value FROM rhai_meta WHERE key = 'schema_hash'", &st,
                      err)) != 0)
        goto fail;
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        rc = sq_stmt_fail(db, st, err);
        goto fail;
    }
    rc = json_object_set_new(o, "schema_version", rc == SQLITE_ROW
                             ? col_json(st, 0) : json_null());
    sqlite3_finalize(st);
    if (rc != 0) {
        rc = rh_error_set(err, RHAI_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        if ((rc = count_of(db, q[i][1], &n, err)) != 0)
            goto fail;
        if (json_object_set_new(o, q[i][0], json_integer(n)) != 0) {
            rc = rh_error_set(err, RHAI_ENOMEM, "out of memory");
            goto fail;
        }
    }
    *out = o;
    return 0;
fail:
    json_decref(o);
    return rc;
}
