/* th_store.c -- see th_store.h. A database per th_store_url call, so tests
 * running in parallel on one server never share a context. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libpq-fe.h>

#include "th_store.h"

int th_store_is_pg(void)
{
    const char *b = getenv("RHAI_TEST_BACKEND");

    return b != NULL && strcmp(b, "postgres") == 0;
}

/* The server's conninfo with dbname set to 'db', into out. */
static int conninfo_with_db(const char *server, const char *db, char *out, size_t n)
{
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(server, &errmsg);
    size_t len = 0;

    if (opts == NULL) {
        fprintf(stderr, "th_store: RHAI_TEST_PG_URL: %s\n", errmsg ? errmsg : "bad");
        PQfreemem(errmsg);
        return -1;
    }
    out[0] = '\0';
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        const char *v = strcmp(o->keyword, "dbname") == 0 ? db : o->val;
        if (v == NULL || *v == '\0')
            continue;
        len += (size_t)snprintf(out + len, len < n ? n - len : 0, "%s%s='%s'",
                                len ? " " : "", o->keyword, v);
    }
    PQconninfoFree(opts);
    return len < n ? 0 : -1;
}

static int admin_exec(const char *sql)
{
    const char *server = getenv("RHAI_TEST_PG_URL");
    char ci[2048];
    PGconn *c;
    PGresult *r;
    int rc = 0;

    if (server == NULL || conninfo_with_db(server, "postgres", ci, sizeof ci) != 0) {
        fprintf(stderr, "th_store: RHAI_TEST_PG_URL is not set (run through "
                "tools/with-postgres.sh)\n");
        return -1;
    }
    c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "th_store: %s", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "th_store: %s: %s", sql, PQerrorMessage(c));
        rc = -1;
    }
    PQclear(r);
    PQfinish(c);
    return rc;
}

int th_store_url(const char *dir, char *url, size_t n)
{
    static unsigned seq;
    char db[64], sql[128];

    if (!th_store_is_pg()) {
        if ((size_t)snprintf(url, n, "%s", dir) >= n)
            return -1;
        return 0;
    }
    snprintf(db, sizeof db, "rhai_t_%d_%u", (int)getpid(), ++seq);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    if (admin_exec(sql) != 0)
        return -1;
    return conninfo_with_db(getenv("RHAI_TEST_PG_URL"), db, url, n);
}

void th_store_done(const char *url)
{
    const char *p;
    char db[64], sql[160];
    size_t k;

    if (!th_store_is_pg() || url == NULL || (p = strstr(url, "dbname='")) == NULL)
        return;
    p += 8;
    k = strcspn(p, "'");
    if (k == 0 || k >= sizeof db)
        return;
    memcpy(db, p, k);
    db[k] = '\0';
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    (void)admin_exec(sql);
}
