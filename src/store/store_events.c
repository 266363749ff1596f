/* store_events.c -- the store's front for events: names, patterns and
 * ids checked, the outbox and the subscriptions dispatched to the
 * backend's table (store_int.h), and the matching of an event to the
 * subscriptions, the same on both backends. The backends keep the rows
 * (sqlite_events.c, pg_events.c) and build their JSON with the helpers at
 * the end. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* ======================== events: outbox and subscriptions ============ */

/* 1 when every char of s[0..n) is in [A-Za-z0-9_.:-] ('@' too with at). */
static int event_chars(const char *s, size_t n, int at)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '_' && c != '.' && c != ':' && c != '-' && !(at && c == '@'))
            return 0;
    }
    return 1;
}

int store_event_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    return n >= 1 && n <= STORE_EVENT_NAME_MAX && name[0] != '.' && name[n - 1] != '.' &&
           event_chars(name, n, 0);
}

int store_event_pattern_valid(const char *pattern)
{
    size_t n = pattern ? strlen(pattern) : 0;
    char prefix[STORE_EVENT_NAME_MAX + 1];

    if (n == 1 && pattern[0] == '*')
        return 1;
    if (n > 2 && n - 2 <= STORE_EVENT_NAME_MAX && strcmp(pattern + n - 2, ".*") == 0) {
        memcpy(prefix, pattern, n - 2);
        prefix[n - 2] = '\0';
        return store_event_name_valid(prefix);
    }
    return store_event_name_valid(pattern);
}

int store_event_pattern_match(const char *pattern, const char *name)
{
    size_t n;

    if (pattern == NULL || name == NULL)
        return 0;
    if (strcmp(pattern, "*") == 0)
        return 1;
    n = strlen(pattern);
    if (n > 2 && strcmp(pattern + n - 2, ".*") == 0)   /* "p.*": p, '.', more */
        return strncmp(name, pattern, n - 1) == 0 && name[n - 1] != '\0';
    return strcmp(pattern, name) == 0;
}

int store_sub_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    return n >= 1 && n <= STORE_SUB_NAME_MAX && event_chars(name, n, 0);
}

int store_outbox_put(store_db *db, const store_event *ev, rhai_error *err)
{
    size_t n = ev->id ? strlen(ev->id) : 0;

    if (n == 0 || n > STORE_EVENT_ID_MAX || !event_chars(ev->id, n, 1))
        return rh_error_set(err, RHAI_EINVAL, "invalid event id");
    if (!store_event_name_valid(ev->name))
        return rh_error_set(err, RHAI_EINVAL, "invalid event name");
    if (ev->task_id == NULL || *ev->task_id == '\0')
        return rh_error_set(err, RHAI_EINVAL, "an event needs its task");
    if (db->be->outbox_put == NULL)
        return rh_error_set(err, RHAI_EINTERNAL, "%s: no outbox", db->be->name);
    return db->be->outbox_put(db, ev, err);
}

int store_outbox_pending(store_db *db, const char *task_id, int64_t before_ms, long limit,
                         json_t **events, rhai_error *err)
{
    *events = NULL;
    if (limit < 1 || limit > STORE_LIST_MAX)
        return rh_error_set(err, RHAI_EINVAL, "limit must be 1..%d", STORE_LIST_MAX);
    if (db->be->outbox_pending == NULL)
        return rh_error_set(err, RHAI_EINTERNAL, "%s: no outbox", db->be->name);
    return db->be->outbox_pending(db, task_id, before_ms, limit, events, err);
}

int store_outbox_mark_relayed(store_db *db, const char *const *ids, size_t n,
                              int64_t *marked, rhai_error *err)
{
    if (marked)
        *marked = 0;
    if (n == 0 || ids == NULL)
        return rh_error_set(err, RHAI_EINVAL, "no event ids");
    for (size_t i = 0; i < n; i++)
        if (ids[i] == NULL)
            return rh_error_set(err, RHAI_EINVAL, "a NULL event id");
    if (db->be->outbox_mark == NULL)
        return rh_error_set(err, RHAI_EINTERNAL, "%s: no outbox", db->be->name);
    return db->be->outbox_mark(db, ids, n, marked, err);
}

int store_outbox_prune(store_db *db, int64_t before_ms, long limit, int64_t *deleted,
                       rhai_error *err)
{
    if (deleted)
        *deleted = 0;
    if (db == NULL || limit < 1 || limit > STORE_LIST_MAX)
        return rh_error_set(err, RHAI_EINVAL, "outbox prune: bad arguments");
    if (db->be->outbox_prune == NULL)
        return rh_error_set(err, RHAI_EINTERNAL, "%s: no outbox", db->be->name);
    return db->be->outbox_prune(db, before_ms, limit, deleted, err);
}

int store_outbox_stats(store_db *db, json_t **out, rhai_error *err)
{
    *out = NULL;
    if (db->be->outbox_stats == NULL)
        return rh_error_set(err, RHAI_EINTERNAL, "%s: no outbox", db->be->name);
    return db->be->outbox_stats(db, out, err);
}

int store_sub_put(store_db *db, const store_sub *s, rhai_error *err)
{
    json_t *args;

    if (!store_sub_name_valid(s->name))
        return rh_error_set(err, RHAI_EINVAL, "invalid subscription name (1..%d of "
                            "[A-Za-z0-9_.:-])", STORE_SUB_NAME_MAX);
    if (!store_event_pattern_valid(s->pattern))
        return rh_error_set(err, RHAI_EINVAL, "invalid event pattern (an event name, "
                            "'prefix.*' or '*')");
    if (!rh_name_valid(s->worker))
        return rh_error_set(err, RHAI_EINVAL, "invalid worker id");
    if (!rh_name_valid(s->caller))
        return rh_error_set(err, RHAI_EINVAL, "invalid caller id");
    if (s->script == NULL || *s->script == '\0')
        return rh_error_set(err, RHAI_EINVAL, "a subscription needs a script");
    if (strlen(s->script) > STORE_SUB_SCRIPT_MAX)
        return rh_error_set(err, RHAI_EINVAL, "a subscription's script holds at most %u "
                            "bytes", STORE_SUB_SCRIPT_MAX);
    if (s->args) {
        if ((args = json_loads(s->args, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
            !json_is_object(args)) {
            json_decref(args);
            return rh_error_set(err, RHAI_EINVAL, "args must be a JSON object");
        }
        json_decref(args);
    }
    if (db->be->sub_put == NULL)
        return rh_error_set(err, RHAI_EINTERNAL, "%s: no subscriptions", db->be->name);
    return db->be->sub_put(db, s, err);
}

int store_sub_get(store_db *db, const char *name, json_t **out, rhai_error *err)
{
    *out = NULL;
    if (!store_sub_name_valid(name))
        return rh_error_set(err, RHAI_EINVAL, "invalid subscription name");
    if (db->be->sub_get == NULL)
        return rh_error_set(err, RHAI_EINTERNAL, "%s: no subscriptions", db->be->name);
    return db->be->sub_get(db, name, out, err);
}

int store_sub_list(store_db *db, json_t **out, rhai_error *err)
{
    *out = NULL;
    if (db->be->sub_list == NULL)
        return rh_error_set(err, RHAI_EINTERNAL, "%s: no subscriptions", db->be->name);
    return db->be->sub_list(db, out, err);
}

int store_sub_set_paused(store_db *db, const char *name, int paused, rhai_error *err)
{
    if (!store_sub_name_valid(name))
        return rh_error_set(err, RHAI_EINVAL, "invalid subscription name");
    if (db->be->sub_set_paused == NULL)
        return rh_error_set(err, RHAI_EINTERNAL, "%s: no subscriptions", db->be->name);
    return db->be->sub_set_paused(db, name, paused != 0, err);
}

int store_sub_del(store_db *db, const char *name, rhai_error *err)
{
    if (!store_sub_name_valid(name))
        return rh_error_set(err, RHAI_EINVAL, "invalid subscription name");
    if (db->be->sub_del == NULL)
        return rh_error_set(err, RHAI_EINTERNAL, "%s: no subscriptions", db->be->name);
    return db->be->sub_del(db, name, err);
}

/* Matching is the front's: the same on both backends, over the list
 * (bounded by STORE_SUBS_MAX). */
int store_sub_match(store_db *db, const char *name, json_t **subs, rhai_error *err)
{
    json_t *all = NULL;
    int rc;

    *subs = NULL;
    if ((rc = store_sub_list(db, &all, err)) != 0)
        return rc;
    rc = store_subs_matching(all, name, subs, err);
    json_decref(all);
    return rc;
}

int store_subs_matching(json_t *all, const char *name, json_t **subs, rhai_error *err)
{
    json_t *out, *s;
    size_t i;

    *subs = NULL;
    if ((out = json_array()) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    json_array_foreach(all, i, s) {
        json_t *args = json_object_get(s, "args");
        char *args_text;
        json_t *e;

        if (json_is_true(json_object_get(s, "paused")) ||
            !store_event_pattern_match(json_string_value(json_object_get(s, "pattern")),
                                       name))
            continue;
        args_text = json_is_object(args) ? json_dumps(args, JSON_COMPACT) : NULL;
        e = json_pack("{s:O, s:O, s:O, s:s, s:O}", "name", json_object_get(s, "name"),
                      "worker", json_object_get(s, "worker"),
                      "script", json_object_get(s, "script"),
                      "args", args_text ? args_text : "{}",
                      "caller", json_object_get(s, "caller"));
        free(args_text);
        if (e == NULL || json_array_append_new(out, e) != 0) {
            json_decref(out);
            return rh_error_set(err, RHAI_ENOMEM, "out of memory");
        }
    }
    *subs = out;
    return 0;
}

json_t *store__event_json(const char *context, const char *id, const char *name,
                          const char *payload, const char *task, const char *caller,
                          int64_t at, const char *trace, int64_t depth, const char *subs)
{
    json_t *p = json_loads(payload ? payload : "null", JSON_DECODE_ANY | JSON_ALLOW_NUL,
                           NULL);
    json_t *s = json_loads(subs ? subs : "[]", 0, NULL);

    if (p == NULL)
        p = json_null();
    if (!json_is_array(s)) {
        json_decref(s);
        s = json_array();
    }
    return json_pack("{s:s, s:s, s:o, s:s, s:s, s:s, s:I, s:s, s:I, s:o}", "id", id,
                     "name", name, "payload", p, "context", context, "task", task,
                     "caller", caller ? caller : "", "time", (json_int_t)at,
                     "trace", trace && *trace ? trace : task, "depth", (json_int_t)depth,
                     "subs", s);
}

json_t *store__sub_json(const char *name, const char *pattern, const char *worker,
                        const char *script, const char *args, const char *caller,
                        const char *created_by, int paused, int64_t created_at,
                        int64_t updated_at)
{
    json_t *a = args ? json_loads(args, 0, NULL) : NULL;

    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:s?, s:b, s:I, s:I}", "name", name,
                     "pattern", pattern, "worker", worker, "script", script,
                     "args", a ? a : json_null(), "caller", caller, "created_by", created_by,
                     "paused", paused, "created_at", (json_int_t)created_at,
                     "updated_at", (json_int_t)updated_at);
}
