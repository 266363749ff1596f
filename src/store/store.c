/* store.c -- the store's front: which backend a URL names, what every
 * backend needs checked before it is called, and the dispatch through
 * the backend's table (store_int.h). The helpers both backends share
 * (schema lookups, op names, the ledger digest) live here too; events and
 * subscriptions have their own front, store_events.c.
 *
 * Backends: sqlite (sqlite*.c), the embedded default, one file per
 * context under a data dir; postgres (pg*.c), one database every host
 * shares. docs/store.md says when to use which. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "store_int.h"

/* ======================== schema lookups ======================== */

const store_model *store_schema_model(const store_schema *s, const char *name)
{
    for (size_t i = 0; s && name && i < s->nmodels; i++)
        if (strcmp(s->models[i].name, name) == 0)
            return &s->models[i];
    return NULL;
}

const store_field *store_model_field(const store_model *m, const char *name)
{
    for (size_t i = 0; m && name && i < m->nfields; i++)
        if (strcmp(m->fields[i].name, name) == 0)
            return &m->fields[i];
    return NULL;
}

/* ======================== list filters (both backends) ======================== */

static const store_field meta_fields[] = {
    { "id", STORE_T_INT, 0, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL, NULL },
    { "created_at", STORE_T_DATE, 0, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL, NULL },
    { "updated_at", STORE_T_DATE, 0, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0, NULL, NULL },
};

const store_field *store__column(const store_model *m, const char *name)
{
    for (size_t i = 0; i < sizeof meta_fields / sizeof meta_fields[0]; i++)
        if (strcmp(meta_fields[i].name, name) == 0)
            return &meta_fields[i];
    return store_model_field(m, name);
}

static const struct {
    const char *name;
    const char *sql;
} where_ops[] = {
    { "eq", "=" }, { "ne", "!=" }, { "lt", "<" }, { "lte", "<=" }, { "gt", ">" }, { "gte", ">=" },
};

int store__where_walk(const store_model *m, json_t *where, store__where_fn fn, void *u,
                      rhai_error *err)
{
    const char *key;
    json_t *v;

    if (where == NULL || json_object_size(where) == 0)
        return 0;
    if (!json_is_object(where))
        return rh_error_set(err, RHAI_EINVAL, "where must be an object");
    json_object_foreach(where, key, v) {
        const store_field *f = store__column(m, key);
        const char *opk;
        json_t *ov;

        if (f == NULL)
            return rh_error_set(err, RHAI_EINVAL, "where: %s has no field '%s'", m->name, key);
        if (f->type == STORE_T_LIST)
            return rh_error_set(err, RHAI_EINVAL, "where: list field '%s' cannot be compared",
                                key);
        if (!json_is_object(v)) {
            if (fn(u, f, json_is_null(v) ? "IS NULL" : "=", json_is_null(v) ? NULL : v) != 0)
                return rh_error_set(err, RHAI_ENOMEM, "out of memory");
            continue;
        }
        json_object_foreach(v, opk, ov) {
            size_t k;
            const char *op;
            for (k = 0; k < sizeof where_ops / sizeof where_ops[0]; k++)
                if (strcmp(where_ops[k].name, opk) == 0)
                    break;
            if (k == sizeof where_ops / sizeof where_ops[0])
                return rh_error_set(err, RHAI_EINVAL, "where: unknown operator '%s' "
                                    "(eq, ne, lt, lte, gt, gte)", opk);
            if (json_is_object(ov) || json_is_array(ov))
                return rh_error_set(err, RHAI_EINVAL, "where: %s.%s takes a plain value",
                                    key, opk);
            op = !json_is_null(ov) ? where_ops[k].sql : k == 1 ? "IS NOT NULL" : "IS NULL";
            if (fn(u, f, op, json_is_null(ov) ? NULL : ov) != 0)
                return rh_error_set(err, RHAI_ENOMEM, "out of memory");
        }
    }
    return 0;
}

/* ======================== operations ======================== */

static const char *const op_names[] = { "read", "create", "update", "delete" };

const char *store_op_name(unsigned op)
{
    for (unsigned i = 0; i < 4; i++)
        if (op == (1u << i))
            return op_names[i];
    return "?";
}

int store_ops_parse(const char *s, unsigned *mask)
{
    unsigned m = 0;

    if (s == NULL)
        return RHAI_EINVAL;
    while (*s) {
        size_t n = strcspn(s, ",");
        unsigned bit = 0;
        if (n == 3 && strncmp(s, "all", 3) == 0)
            bit = STORE_OP_ALL;
        for (unsigned i = 0; i < 4; i++)
            if (strlen(op_names[i]) == n && strncmp(s, op_names[i], n) == 0)
                bit = 1u << i;
        if (bit == 0)
            return RHAI_EINVAL;
        m |= bit;
        s += n;
        if (*s == ',')
            s++;
    }
    if (m == 0)
        return RHAI_EINVAL;
    *mask = m;
    return 0;
}

json_t *store_ops_json(unsigned mask)
{
    json_t *a = json_array();

    for (unsigned i = 0; a && i < 4; i++)
        if ((mask & (1u << i)) && json_array_append_new(a, json_string(op_names[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* ======================== ledger digest ======================== */

void store_ledger_digest(const char *script, size_t script_len, const char *args,
                         unsigned char out[STORE_DIGEST_LEN])
{
    static const char tag[] = "rhai-ledger-v1";
    crypto_hash_sha256_state h;
    unsigned char len[8];
    const char *parts[2] = { script ? script : "", args ? args : "{}" };
    size_t lens[2] = { script ? script_len : 0, strlen(parts[1]) };

    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const unsigned char *)tag, sizeof tag);
    for (int i = 0; i < 2; i++) {
        uint64_t n = lens[i];
        for (int b = 0; b < 8; b++)             /* big-endian length prefix */
            len[b] = (unsigned char)(n >> (56 - 8 * b));
        crypto_hash_sha256_update(&h, len, sizeof len);
        crypto_hash_sha256_update(&h, (const unsigned char *)parts[i], lens[i]);
    }
    crypto_hash_sha256_final(&h, out);
}

void store__digest_hex(const unsigned char d[STORE_DIGEST_LEN],
                       char out[2 * STORE_DIGEST_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";

    for (int i = 0; i < STORE_DIGEST_LEN; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * STORE_DIGEST_LEN] = '\0';
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int store__digest_parse(const char *hex, unsigned char d[STORE_DIGEST_LEN])
{
    if (hex == NULL || strlen(hex) != 2 * STORE_DIGEST_LEN)
        return RHAI_EINVAL;
    for (int i = 0; i < STORE_DIGEST_LEN; i++) {
        int hi = hexval((unsigned char)hex[2 * i]), lo = hexval((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return RHAI_EINVAL;
        d[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

/* ======================== locations ======================== */

static int has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* A libpq conninfo starts with a keyword and '=' ("host=... dbname=..."). */
static int is_conninfo(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    if (!islower((unsigned char)*s))
        return 0;
    while (islower((unsigned char)*s) || *s == '_')
        s++;
    while (isspace((unsigned char)*s))
        s++;
    return *s == '=';
}

int store_url_is_postgres(const char *url)
{
    return url != NULL && (has_prefix(url, "postgres://") || has_prefix(url, "postgresql://") ||
                           is_conninfo(url));
}

/* Append s[0..n) to buf (size cap, used *len), truncating. */
static void put(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
    while (n-- > 0 && *len + 1 < cap)
        buf[(*len)++] = *s++;
    buf[*len] = '\0';
}

/* The end of a conninfo value starting at v: quoted ('...' with \ escapes)
 * or up to white space. */
static const char *conninfo_value_end(const char *v)
{
    if (*v == '\'') {
        for (v++; *v && *v != '\''; v++)
            if (*v == '\\' && v[1])
                v++;
        return *v ? v + 1 : v;
    }
    while (*v && !isspace((unsigned char)*v))
        v++;
    return v;
}

static void mask_conninfo(const char *u, char *buf, size_t n, size_t *len)
{
    while (*u) {
        const char *k = u, *v;
        size_t klen;
        while (*u && !isspace((unsigned char)*u) && *u != '=')
            u++;
        klen = (size_t)(u - k);
        while (isspace((unsigned char)*u))
            u++;
        if (*u != '=') {                /* not key=value: copy the rest */
            put(buf, n, len, k, strlen(k));
            return;
        }
        u++;
        while (isspace((unsigned char)*u))
            u++;
        v = conninfo_value_end(u);
        put(buf, n, len, k, klen);
        put(buf, n, len, "=", 1);
        if (klen == 8 && strncmp(k, "password", 8) == 0)
            put(buf, n, len, "***", 3);
        else
            put(buf, n, len, u, (size_t)(v - u));
        u = v;
        while (isspace((unsigned char)*u))
            u++;
        if (*u)
            put(buf, n, len, " ", 1);
    }
}

/* postgres://user:PASSWORD@host/db?password=PASSWORD&... */
static void mask_pg_url(const char *u, char *buf, size_t n, size_t *len)
{
    const char *auth = strstr(u, "://") + 3;
    const char *end = auth + strcspn(auth, "/?");
    const char *at = NULL, *colon;

    for (const char *p = auth; p < end; p++)
        if (*p == '@')
            at = p;
    put(buf, n, len, u, (size_t)(auth - u));
    if (at && (colon = memchr(auth, ':', (size_t)(at - auth))) != NULL) {
        put(buf, n, len, auth, (size_t)(colon - auth) + 1);
        put(buf, n, len, "***", 3);
        put(buf, n, len, at, (size_t)(end - at));
    } else {
        put(buf, n, len, auth, (size_t)(end - auth));
    }
    u = end;
    while (*u) {                        /* path, then query parameters */
        size_t seg = strcspn(u + 1, "?&") + 1;
        if (has_prefix(u + 1, "password=") && (*u == '?' || *u == '&')) {
            put(buf, n, len, u, 10);
            put(buf, n, len, "***", 3);
        } else {
            put(buf, n, len, u, seg);
        }
        u += seg;
    }
}

void store_url_mask(const char *url, char *buf, size_t n)
{
    size_t len = 0;

    if (n == 0)
        return;
    buf[0] = '\0';
    if (url == NULL)
        return;
    if (has_prefix(url, "postgres://") || has_prefix(url, "postgresql://"))
        mask_pg_url(url, buf, n, &len);
    else if (is_conninfo(url))
        mask_conninfo(url, buf, n, &len);
    else
        put(buf, n, &len, url, strlen(url));
}

/* The backend 'url' names and the location it hands that backend. */
static const store_backend *backend_of(const char *url, const char **where)
{
    if (store_url_is_postgres(url)) {
        *where = url;
        return &store__postgres;
    }
    if (has_prefix(url, "sqlite://"))
        *where = url + 9;               /* sqlite:///abs -> /abs */
    else if (has_prefix(url, "sqlite:"))
        *where = url + 7;
    else
        *where = url;
    return &store__sqlite;
}

/* ======================== stores ======================== */

int store_new(const char *url, const store_schema *schema, store **out, rhai_error *err)
{
    const store_backend *be;
    const char *where;
    char masked[1024];
    store *s;
    int rc;

    *out = NULL;
    if (url == NULL || *url == '\0')
        return rh_error_set(err, RHAI_EINVAL, "no data url or data dir");
    be = backend_of(url, &where);
    if ((rc = be->create(where, schema, &s, err)) != 0)
        return rc;
    store_url_mask(url, masked, sizeof masked);
    if ((s->url = rh_strdup(url)) == NULL || (s->url_masked = rh_strdup(masked)) == NULL) {
        store_free(s);
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    *out = s;
    return 0;
}

void store_free(store *s)
{
    char *url, *masked;

    if (s == NULL)
        return;
    url = s->url;
    masked = s->url_masked;
    s->be->destroy(s);
    if (url)
        sodium_memzero(url, strlen(url));   /* it may hold a password */
    rh_free(url);
    rh_free(masked);
}

const char *store_backend_name(const store *s)
{
    return s->be->name;
}

const char *store_where(const store *s)
{
    return s->url_masked ? s->url_masked : "";
}

int store_probe(store *s, rhai_error *err)
{
    return s->be->probe(s, err);
}

const char *store_db_path(const store_db *db)
{
    return db->be->db_where(db);
}

/* ======================== contexts ======================== */

int store__owner_check(const char *caller, rhai_error *err)
{
    if (caller == NULL || *caller == '\0')
        return rh_error_set(err, RHAI_EINVAL, "a context needs an owner (a caller id)");
    if (strcmp(caller, RH_CALLER_ANONYMOUS) == 0)
        return rh_error_set(err, RHAI_EINVAL, "'%s' cannot own a context: it is every task "
                            "that names no caller; name a real caller", RH_CALLER_ANONYMOUS);
    return 0;
}

const char *store_db_context(const store_db *db)
{
    return db->context;
}

int store_open(store *s, const char *context_id, store_db **out, rhai_error *err)
{
    *out = NULL;
    if (!rh_context_id_valid(context_id))
        return rh_error_set(err, RHAI_EINVAL, "invalid context id (" RH_CONTEXT_RULE ")");
    return s->be->open(s, context_id, out, err);
}

int store_context_exists(store *s, const char *context_id)
{
    return rh_context_id_valid(context_id) && s->be->context_exists(s, context_id) == 1;
}

int store_context_create(store *s, const char *context_id, const char *owner,
                         rhai_error *err)
{
    int rc;

    if (!rh_context_id_valid(context_id))
        return rh_error_set(err, RHAI_EINVAL, "invalid context id '%.100s'", context_id);
    if ((rc = store__owner_check(owner, err)) != 0)
        return rc;
    return s->be->context_create(s, context_id, owner, err);
}

int store_context_drop(store *s, const char *context_id, rhai_error *err)
{
    if (!rh_context_id_valid(context_id))
        return rh_error_set(err, RHAI_EINVAL, "invalid context id '%.100s'", context_id);
    return s->be->context_drop(s, context_id, err);
}

int store_context_list(store *s, json_t **ids, rhai_error *err)
{
    *ids = NULL;
    return s->be->context_list(s, ids, err);
}

int store_context_info(store_db *db, json_t **out, rhai_error *err)
{
    return db->be->context_info(db, out, err);
}

/* ======================== dispatch ======================== */

int store_begin(store_db *db, rhai_error *err) { return db->be->begin(db, err); }
int store_commit(store_db *db, rhai_error *err) { return db->be->commit(db, err); }
int store_in_tx(const store_db *db) { return db->be->in_tx(db); }
int store_savepoint(store_db *db, rhai_error *err) { return db->be->savepoint(db, err); }
int store_release(store_db *db, rhai_error *err) { return db->be->release(db, err); }
void store_rollback_to(store_db *db) { db->be->rollback_to(db); }
int64_t store_tx_changes(const store_db *db) { return db->be->tx_changes(db); }

void store_rollback(store_db *db)
{
    if (db != NULL)
        db->be->rollback(db);
}

int store_ledger_get(store_db *db, const store_ledger_key *key, char **result,
                     rhai_error *err)
{
    *result = NULL;
    return db->be->ledger_get(db, key, result, err);
}

int store_ledger_put(store_db *db, const store_ledger_key *key, const char *result,
                     rhai_error *err)
{
    return db->be->ledger_put(db, key, result, err);
}

int store_insert(store_db *db, const store_model *m, json_t *values, int64_t *id,
                 rhai_error *err)
{
    return db->be->insert(db, m, values, id, err);
}

int store_get(store_db *db, const store_model *m, int64_t id, json_t **row, rhai_error *err)
{
    *row = NULL;
    return db->be->get(db, m, id, row, err);
}

int store_update(store_db *db, const store_model *m, int64_t id, json_t *values,
                 rhai_error *err)
{
    return db->be->update(db, m, id, values, err);
}

int store_delete(store_db *db, const store_model *m, int64_t id, rhai_error *err)
{
    return db->be->del(db, m, id, err);
}

int store_list(store_db *db, const store_model *m, json_t *where, const char *order,
               long limit, long offset, json_t **rows, rhai_error *err)
{
    *rows = NULL;
    return db->be->list(db, m, where, order, limit, offset, rows, err);
}

int store_count(store_db *db, const store_model *m, json_t *where, int64_t *n,
                rhai_error *err)
{
    return db->be->count(db, m, where, n, err);
}

int store_ref_rows(store_db *db, const store_model *m, const char *field, const char *item,
                   int64_t id, long limit, json_t **ids, rhai_error *err)
{
    *ids = NULL;
    return db->be->ref_rows(db, m, field, item, id, limit, ids, err);
}

int store_owner_add(store_db *db, const char *caller, rhai_error *err)
{
    return db->be->owner_add(db, caller, err);
}

int store_owner_remove(store_db *db, const char *caller, rhai_error *err)
{
    return db->be->owner_remove(db, caller, err);
}

int store_owners(store_db *db, json_t **out, rhai_error *err)
{
    *out = NULL;
    return db->be->owners(db, out, err);
}

int store_authorize(store_db *db, const char *caller, const char *model, unsigned op,
                    int64_t object_id, int64_t now_ms, rhai_error *err)
{
    return db->be->authorize(db, caller, model, op, object_id, now_ms, err);
}

int store_grant_add(store_db *db, const store_grant *g, int64_t *id, rhai_error *err)
{
    return db->be->grant_add(db, g, id, err);
}

int store_grant_revoke(store_db *db, const store_grant *g, int *n, rhai_error *err)
{
    return db->be->grant_revoke(db, g, n, err);
}

int store_grant_list(store_db *db, json_t **out, rhai_error *err)
{
    *out = NULL;
    return db->be->grant_list(db, out, err);
}

int store_audit_put(store_db *db, const store_audit *a, rhai_error *err)
{
    return db->be->audit_put(db, a, err);
}

int store_audit_denial(store_db *db, const store_audit *a, int64_t count, int64_t now_ms,
                       const store_audit_limits *lim, rhai_error *err)
{
    return db->be->audit_denial(db, a, count, now_ms, lim, err);
}

int store_audit_has(store_db *db, const char *task_id, const char *caller,
                    const char *decision, rhai_error *err)
{
    return db->be->audit_has(db, task_id, caller, decision, err);
}

int store_audit_query(store_db *db, const char *caller, const char *model,
                      const char *decision, long limit, json_t **out, rhai_error *err)
{
    *out = NULL;
    return db->be->audit_query(db, caller, model, decision, limit, out, err);
}
