/* redisconn.c -- open a blocking hiredis connection from a Redis URL.
 *
 * What the sync client and rhaictl used to do each on their own: default
 * and check the URL and the key prefix, then connect with a timeout and
 * send the AUTH and SELECT the URL asks for (hiredis 0.14 has no helper for
 * either). Messages name the server by 'where', never by a password. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/redisconn.h"

int rh_redisconn_config(const char *url, const char *prefix, rh_url *u,
                        char out_prefix[RH_PREFIX_MAX + 1], rhai_error *err)
{
    int rc;

    if (url == NULL)
        url = getenv("RHAI_REDIS_URL");          /* NULL or "": the default */
    if ((rc = rh_url_parse(url, u, err)) != 0)
        return rc;
    if (prefix == NULL)
        prefix = RH_PREFIX_DEFAULT;
    if (strlen(prefix) > RH_PREFIX_MAX || !rh_name_valid(prefix))
        return rh_error_set(err, RHAI_EINVAL,
                            "invalid key prefix '%.64s' (1..%d of [A-Za-z0-9_.:@-])",
                            prefix, RH_PREFIX_MAX);
    memcpy(out_prefix, prefix, strlen(prefix) + 1);
    return 0;
}

/* Run one setup command (AUTH, SELECT) on a new connection. 0 or
 * RHAI_ECONN. */
static int redisconn_setup(redisContext *rc, const char *where, int argc,
                           const char **argv, rhai_error *err)
{
    size_t lens[3];
    rh_nopipe g;
    redisReply *r;
    int ok;

    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    rh_nopipe_begin(&g);
    r = redisCommandArgv(rc, argc, argv, lens);
    rh_nopipe_end(&g);
    if (r == NULL)
        return rh_error_set(err, RHAI_ECONN, "%s: %s failed: %s", where, argv[0],
                            rc->errstr[0] ? rc->errstr : "connection lost");
    ok = r->type != REDIS_REPLY_ERROR;
    if (!ok)
        rh_error_set(err, RHAI_ECONN, "%s: %s refused: %s", where, argv[0], r->str);
    freeReplyObject(r);
    return ok ? 0 : RHAI_ECONN;
}

int rh_redisconn_open(const rh_url *u, const char *where, int64_t connect_ms,
                      int64_t io_ms, redisContext **out, rhai_error *err)
{
    struct timeval tv = { (time_t)(connect_ms / 1000), (long)(connect_ms % 1000) * 1000 };
    struct timeval io = { (time_t)(io_ms / 1000), (long)(io_ms % 1000) * 1000 };
    redisContext *rc;
    const char *argv[3];
    char db[16];
    int n = 0;

    *out = NULL;
    rc = u->is_unix ? redisConnectUnixWithTimeout(u->path, tv)
                    : redisConnectWithTimeout(u->host, u->port, tv);
    if (rc == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory connecting to %s", where);
    if (rc->err) {
        rh_error_set(err, RHAI_ECONN, "cannot connect to %s: %s", where, rc->errstr);
        redisFree(rc);
        return RHAI_ECONN;
    }
    if (redisSetTimeout(rc, io) != REDIS_OK) {
        rh_error_set(err, RHAI_ECONN, "%s: cannot set socket timeout: %s", where,
                     rc->errstr);
        redisFree(rc);
        return RHAI_ECONN;
    }
    if (u->pass[0]) {
        argv[n++] = "AUTH";
        if (u->user[0])
            argv[n++] = u->user;
        argv[n++] = u->pass;
        if (redisconn_setup(rc, where, n, argv, err) != 0) {
            redisFree(rc);
            return RHAI_ECONN;
        }
    }
    if (u->db != 0) {
        snprintf(db, sizeof db, "%d", u->db);
        argv[0] = "SELECT";
        argv[1] = db;
        if (redisconn_setup(rc, where, 2, argv, err) != 0) {
            redisFree(rc);
            return RHAI_ECONN;
        }
    }
    *out = rc;
    return 0;
}
