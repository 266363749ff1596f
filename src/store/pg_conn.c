/* pg_conn.c -- the postgres backend's connection and statement queue:
 * statement parameters, the store's one connection (opened, its tables
 * migrated, and opened again after it breaks), and the queue of
 * statements sent pipelined, one Sync per round trip (pg_int.h).
 * Everything else of the backend (pg.c, pg_crud.c, pg_acl.c, pg_events.c)
 * runs its SQL through here; pg.c's head says how a lost connection ends
 * a transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_int.h"

#define PG_CONNECT_TIMEOUT "10"

/* ======================== parameters ======================== */

void pg_params_free(pg_params *p)
{
    for (int i = 0; i < p->n; i++)
        rh_free(p->v[i]);
    rh_free(p->v);
    memset(p, 0, sizeof *p);
}

static void p_push(pg_params *p, char *owned, int is_null)
{
    if (!is_null && owned == NULL) {
        p->oom = 1;
        return;
    }
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 8;
        char **v = rh_realloc(p->v, (size_t)cap * sizeof *v);
        if (v == NULL) {
            rh_free(owned);
            p->oom = 1;
            return;
        }
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = owned;
}

void pg_p_text(pg_params *p, const char *s)
{
    p_push(p, s ? rh_strdup(s) : NULL, s == NULL);
}

void pg_p_textn(pg_params *p, const char *s, size_t n)
{
    char *c = rh_malloc(n + 1);

    if (c) {
        memcpy(c, s, n);
        c[n] = '\0';
    }
    p_push(p, c, 0);
}

void pg_p_int(pg_params *p, int64_t v)
{
    char b[24];

    snprintf(b, sizeof b, "%lld", (long long)v);
    pg_p_text(p, b);
}

void pg_p_null(pg_params *p)
{
    p_push(p, NULL, 1);
}

void pg_p_opt_int(pg_params *p, int64_t v)
{
    if (v > 0)
        pg_p_int(p, v);
    else
        pg_p_null(p);
}

int64_t pg_int(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int pg_rows_json(PGresult *r, json_t *(*row)(const PGresult *r, int i, void *ctx), void *ctx,
                 json_t **out, rhai_error *err)
{
    json_t *a = json_array();

    *out = NULL;
    for (int i = 0; a && i < PQntuples(r); i++) {
        json_t *e = row(r, i, ctx);
        if (e == NULL || json_array_append_new(a, e) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    PQclear(r);
    if (a == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    *out = a;
    return 0;
}

/* ======================== connection ======================== */

const char *pg_where(const pg_store *ps)
{
    return ps->h.url_masked ? ps->h.url_masked : "postgres";
}

/* RHAI_PG_TRACE set: every round trip on stderr, numbered, with the last
 * statement it carried (how the one-round-trip-per-call rule is checked
 * on a real workload). */
static void trace(const pg_store *ps, const char *what)
{
    static int on = -1;

    if (on < 0)
        on = getenv("RHAI_PG_TRACE") != NULL;
    if (on)
        fprintf(stderr, "pg_round_trip %lld %.100s\n", (long long)ps->round_trips, what);
}

/* The last line of a libpq message, without its newline. */
static void msg_trim(char *m)
{
    size_t n = strlen(m);

    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
        m[--n] = '\0';
}

/* Server notices ("relation exists, skipping") are not for our logs. */
static void notice_drop(void *u, const char *msg)
{
    (void)u;
    (void)msg;
}

/* A connection to the store's database, or NULL with 'err' set. libpq's
 * messages name host and port, never the password. */
PGconn *pg_conn_open(pg_store *ps, const char *timeout, rhai_error *err)
{
    /* the url's own parameters (expanded from dbname) override these */
    const char *keys[] = { "connect_timeout", "application_name", "keepalives_idle",
                           "keepalives_interval", "keepalives_count", "tcp_user_timeout",
                           "dbname", NULL };
    const char *vals[] = { timeout, "rhai", "30", "10", "3", "30000", ps->conninfo, NULL };
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    char m[RHAI_ERRMSG_MAX];

    if (c == NULL) {
        rh_error_set(err, RHAI_ENOMEM, "out of memory");
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(m, sizeof m, "%s", PQerrorMessage(c));
        msg_trim(m);
        rh_error_set(err, RHAI_ESTORE, "postgres %s: cannot connect: %s", pg_where(ps), m);
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, notice_drop, NULL);
    return c;
}

void pg_conn_close(pg_store *ps)
{
    if (ps->conn)
        PQfinish(ps->conn);
    ps->conn = NULL;
}


/* The connection, opened (and the tables migrated) when there is none or
 * it broke. Never called inside a transaction. */
int pg_conn_ensure(pg_store *ps, rhai_error *err)
{
    if (ps->conn && PQstatus(ps->conn) == CONNECTION_OK)
        return 0;
    pg_conn_close(ps);
    if ((ps->conn = pg_conn_open(ps, PG_CONNECT_TIMEOUT, err)) == NULL)
        return RHAI_ESTORE;
    if (PQenterPipelineMode(ps->conn) != 1) {
        pg_conn_close(ps);
        return rh_error_set(err, RHAI_ESTORE, "postgres %s: cannot enter pipeline mode",
                            pg_where(ps));
    }
    if (!ps->migrated) {
        /* the migration's statements go alone: keep what is queued */
        pg_stmt *q = ps->q;
        size_t nq = ps->nq, capq = ps->capq;
        int rc;
        ps->q = NULL;
        ps->nq = ps->capq = 0;
        rc = pg_migrate(ps, err);
        pg_queue_clear(ps);
        rh_free(ps->q);
        ps->q = q;
        ps->nq = nq;
        ps->capq = capq;
        if (rc != 0) {
            pg_conn_close(ps);
            return rc;
        }
        ps->migrated = 1;
    }
    return 0;
}

/* ======================== the queue ======================== */

static void stmt_free(pg_stmt *s)
{
    rh_free(s->sql);
    pg_params_free(&s->p);
}

void pg_queue_clear(pg_store *ps)
{
    for (size_t i = 0; i < ps->nq; i++)
        stmt_free(&ps->q[i]);
    ps->nq = 0;
}

int pg_queue(pg_store *ps, const char *sql, pg_params *p, PGresult **keep, int est,
             int kind, rhai_error *err)
{
    pg_stmt *s;

    if (p && p->oom) {
        pg_params_free(p);
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    if (ps->nq == ps->capq) {
        size_t cap = ps->capq ? ps->capq * 2 : 16;
        pg_stmt *q = rh_realloc(ps->q, cap * sizeof *q);
        if (q == NULL) {
            if (p)
                pg_params_free(p);
            return rh_error_set(err, RHAI_ENOMEM, "out of memory");
        }
        ps->q = q;
        ps->capq = cap;
    }
    s = &ps->q[ps->nq];
    memset(s, 0, sizeof *s);
    if ((s->sql = rh_strdup(sql)) == NULL) {
        if (p)
            pg_params_free(p);
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    if (p) {
        s->p = *p;
        memset(p, 0, sizeof *p);
    }
    s->keep = keep;
    s->est = est;
    s->kind = kind;
    if (keep)
        *keep = NULL;
    if (est > 0 && ps->tx)
        ps->tx->changes += est;
    ps->nq++;
    return 0;
}

/* A row count of an INSERT/UPDATE/DELETE result, else 0. */
int64_t pg_changed_rows(PGresult *r)
{
    const char *st = PQcmdStatus(r);

    if (strncmp(st, "INSERT", 6) && strncmp(st, "UPDATE", 6) && strncmp(st, "DELETE", 6))
        return 0;
    return strtoll(PQcmdTuples(r), NULL, 10);
}

/* Set err from a failed result: serialization failures and deadlocks
 * named as such (the task is run again), other errors with their SQLSTATE. */
int pg_result_error(pg_store *ps, pg_db *db, PGresult *r, rhai_error *err)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    const char *where = db ? db->where : pg_where(ps);
    char m[RHAI_ERRMSG_MAX];

    snprintf(m, sizeof m, "%s", msg ? msg : PQresultErrorMessage(r));
    msg_trim(m);
    if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0))
        return rh_error_set(err, RHAI_ESTORE, "postgres %s: %s with a concurrent "
                            "transaction, not committed (SQLSTATE %s): %s", where,
                            state[3] == '0' ? "serialization conflict" : "deadlock",
                            state, m);
    return rh_error_set(err, RHAI_ESTORE, "postgres %s: %s (SQLSTATE %s)", where, m,
                        state ? state : "?");
}

/* Send the queue, Sync, read every result. 0, or the first failure. */
static int flush_once(pg_store *ps, pg_db *db, int *lost, rhai_error *err)
{
    PGconn *c = ps->conn;
    int rc = 0;
    char m[RHAI_ERRMSG_MAX];

    *lost = 0;
    for (size_t i = 0; i < ps->nq; i++) {
        pg_stmt *s = &ps->q[i];
        if (PQsendQueryParams(c, s->sql, s->p.n, NULL, (const char *const *)s->p.v, NULL,
                              NULL, 0) != 1)
            goto broken;
    }
    if (PQpipelineSync(c) != 1)
        goto broken;
    ps->round_trips++;
    trace(ps, ps->nq ? ps->q[ps->nq - 1].sql : "");
    for (size_t i = 0; i < ps->nq; i++) {
        pg_stmt *s = &ps->q[i];
        PGresult *r = PQgetResult(c);
        ExecStatusType t;

        if (r == NULL)
            goto broken;
        t = PQresultStatus(r);
        if (t == PGRES_FATAL_ERROR && PQstatus(c) != CONNECTION_OK) {
            PQclear(r);
            goto broken;
        }
        if (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK) {
            if (s->est < 0 && db && db->in_tx)
                db->changes += pg_changed_rows(r);
        } else if (rc == 0) {
            rc = t == PGRES_PIPELINE_ABORTED
                     ? rh_error_set(err, RHAI_ESTORE, "postgres %s: statement not run",
                                    pg_where(ps))
                     : pg_result_error(ps, db, r, err);
        }
        if (s->keep && (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK))
            *s->keep = r;
        else
            PQclear(r);
        if ((r = PQgetResult(c)) != NULL) {     /* the end of this statement's results */
            PQclear(r);
            goto broken;
        }
    }
    {
        PGresult *r = PQgetResult(c);
        int ok = r && PQresultStatus(r) == PGRES_PIPELINE_SYNC;
        PQclear(r);
        if (!ok)
            goto broken;
    }
    return rc;
broken:
    *lost = 1;
    snprintf(m, sizeof m, "%s", PQerrorMessage(c));
    msg_trim(m);
    return rh_error_set(err, RHAI_ESTORE, "postgres %s: connection lost%s: %s",
                        pg_where(ps), db && db->in_tx ? ", transaction not committed" : "",
                        *m ? m : "no answer");
}

static void keep_clear(pg_store *ps)
{
    for (size_t i = 0; i < ps->nq; i++)
        if (ps->q[i].keep && *ps->q[i].keep) {
            PQclear(*ps->q[i].keep);
            *ps->q[i].keep = NULL;
        }
}

/* Send the queue (one round trip). The first round trip of a transaction,
 * when the connection turns out dead, is sent again once on a new one:
 * nothing of it ran. */
int pg_flush(pg_store *ps, pg_db *db, rhai_error *err)
{
    /* a transaction none of which reached the server, or one read alone */
    int retry = ps->nq > 0 && (ps->q[0].kind == PG_K_BEGIN ||
                               (ps->nq == 1 && ps->q[0].kind == PG_K_READ && ps->tx == NULL));
    pg_db *t = db ? db : ps->tx;
    int lost;
    int rc;

    for (size_t i = 0; i < ps->nq; i++)
        if (ps->q[i].kind == PG_K_COMMIT)
            retry = 0;
    if (ps->conn == NULL) {
        rc = rh_error_set(err, RHAI_ESTORE, "postgres %s: not connected", pg_where(ps));
        lost = 1;
    } else {
        rc = flush_once(ps, db, &lost, err);
    }
    if (lost && retry) {
        keep_clear(ps);
        pg_conn_close(ps);
        rh_log(RH_LOG_NOTICE, "event=store_reconnect where=%s the connection broke; "
               "opening it again", pg_where(ps));
        if (pg_conn_ensure(ps, err) == 0)
            rc = flush_once(ps, db, &lost, err);
    }
    if (lost) {
        keep_clear(ps);
        pg_conn_close(ps);
        /* the open transaction is lost, unless nothing of it was sent */
        if (t && t->in_tx && (t->on_server || (ps->nq > 0 && ps->q[0].kind == PG_K_BEGIN)))
            t->broken = 1;
    }
    if (rc != 0)
        keep_clear(ps);
    else if (db && db->in_tx)
        db->on_server = 1;
    pg_queue_clear(ps);
    return rc;
}

static int run_kind(pg_store *ps, pg_db *db, const char *sql, pg_params *p, PGresult **res,
                    int kind, rhai_error *err)
{
    PGresult *dummy = NULL;
    int rc;

    if (res)
        *res = NULL;
    if ((rc = pg_queue(ps, sql, p, res ? res : &dummy, -1, kind, err)) != 0)
        return rc;
    rc = pg_flush(ps, db, err);
    PQclear(dummy);
    return rc;
}

int pg_run(pg_store *ps, pg_db *db, const char *sql, pg_params *p, PGresult **res,
           rhai_error *err)
{
    return run_kind(ps, db, sql, p, res, PG_K_OTHER, err);
}

int pg_run_read(pg_store *ps, pg_db *db, const char *sql, pg_params *p, PGresult **res,
                rhai_error *err)
{
    return run_kind(ps, db, sql, p, res, PG_K_READ, err);
}

/* Run our own constant SQL (no parameters, no answer) now. */
int pg_run_const(pg_store *ps, pg_db *db, const char *sql, rhai_error *err)
{
    return pg_run(ps, db, sql, NULL, NULL, err);
}
