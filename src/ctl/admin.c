/* admin.c -- what `context`, `acl` and `audit` share: local or remote.
 *
 * Local: the store API on the worker's store (its data dir, or its
 * postgres data_url), as the user rhaid runs as; whoever may write the
 * store (the context's file, or the database as the role of the URL) may
 * change its grants, and every change is audited with caller
 * CTL_LOCAL_CALLER and the OS user in the reason. Remote: an owner task
 * submitted to a worker, whose constant script calls the DSL's acl/audit
 * objects with every value in the task's args JSON, never in the script
 * text; the worker's authorization decides, so a non-owner gets error_kind
 * denied (CTL_EXIT_DENIED). */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "dsl/dsl.h"

#define ADMIN_TIMEOUT_DEFAULT_MS 30000
#define ADMIN_TIMEOUT_MAX_MS 86400000LL
#define ADMIN_WAIT_MARGIN_MS 5000   /* as submit: time to answer past the timeout */
#define ADMIN_CALLER_MAX 256        /* the client library's caller bound */

/* ======================== options ======================== */

int ctl_admin_option(ctl_admin *a, const char *cmd, int c, const char *arg)
{
    switch (c) {
    case 'd':
    case CTL_OPT_DATA_DIR:
        a->data_dir = arg;
        return 1;
    case CTL_OPT_DATA_URL:
        a->data_url = arg;
        return 1;
    case CTL_OPT_REMOTE:
        a->remote = 1;
        return 1;
    case 'w':
    case CTL_OPT_WORKER:
        if (!rh_name_valid(arg)) {
            ctl_usage_error(cmd, "invalid worker id '%s' (1..%d of [A-Za-z0-9_.:@-])",
                            arg, RH_NAME_MAX);
            return -1;
        }
        a->worker = arg;
        a->remote = 1;
        return 1;
    case 'u':
    case CTL_OPT_AS:
        if (!ctl_caller_valid(arg)) {
            ctl_usage_error(cmd, "invalid caller '%s' (1..%d printable ASCII, no spaces)",
                            arg, ADMIN_CALLER_MAX);
            return -1;
        }
        a->as = arg;
        return 1;
    case 'k':
    case CTL_OPT_KEY:
        a->key_file = arg;
        return 1;
    case CTL_OPT_TIMEOUT:
        if (ctl_parse_int(arg, 1, ADMIN_TIMEOUT_MAX_MS, 0, &a->timeout_ms) != 0) {
            ctl_usage_error(cmd, "--timeout '%s' is not a number of milliseconds in "
                            "1..%lld", arg, ADMIN_TIMEOUT_MAX_MS);
            return -1;
        }
        return 1;
    default:
        return 0;
    }
}

int ctl_admin_check(ctl_admin *a, const char *cmd)
{
    if (a->remote && (a->data_dir || a->data_url))
        return ctl_usage_error(cmd, "%s is local; --remote and --worker send the "
                               "change to a worker: give one or the other",
                               a->data_dir ? "--data-dir" : "--data-url");
    if (!a->remote && (a->as || a->key_file || a->timeout_ms))
        return ctl_usage_error(cmd, "%s goes with --remote or --worker W",
                               a->as ? "--caller/--as" : a->key_file ? "--key" : "--timeout");
    if (a->as && a->key_file)
        return ctl_usage_error(cmd, "--key sets the caller (its public key): drop --as");
    return 0;
}

const char *ctl_data_dir(const char *opt)
{
    const char *d = opt;

    if (d == NULL && (d = getenv("RHAI_DATA_DIR")) != NULL && *d == '\0')
        d = NULL;
    return d ? d : CTL_DATA_DIR_DEFAULT;
}

int ctl_where_resolve(const char *cmd, const char *url_opt, const char *dir_opt,
                      ctl_where *w)
{
    const char *url = NULL, *dir = NULL;

    memset(w, 0, sizeof *w);
    if (url_opt && dir_opt)
        return ctl_usage_error(cmd, "give --data-url or --data-dir, not both (--data-dir "
                               "DIR is --data-url sqlite:DIR)");
    if (url_opt && *url_opt == '\0')
        return ctl_usage_error(cmd, "--data-url is empty");
    if (dir_opt && *dir_opt == '\0')
        return ctl_usage_error(cmd, "--data-dir is empty");
    if (url_opt)
        url = url_opt;
    else if (dir_opt)
        dir = dir_opt;
    else if ((url = getenv("RHAI_DATA_URL")) != NULL && *url == '\0')
        url = NULL;
    if (url == NULL && dir == NULL)
        dir = ctl_data_dir(NULL);
    if (strlen(url ? url : dir) >= CTL_URL_MAX - 16)
        return ctl_usage_error(cmd, "the %s is too long", url ? "data url" : "data dir");
    if (url) {
        snprintf(w->url, sizeof w->url, "%s", url);
        store_url_mask(url, w->where, sizeof w->where);
        snprintf(w->hint, sizeof w->hint, "--data-url %s", w->where);
        return 0;
    }
    /* sqlite:///abs or sqlite:rel: never read as a postgres conninfo,
     * whatever the dir's name holds ('=' ...) */
    snprintf(w->url, sizeof w->url, "sqlite:%s%s", dir[0] == '/' ? "//" : "", dir);
    snprintf(w->where, sizeof w->where, "%s", dir);
    snprintf(w->hint, sizeof w->hint, "--data-dir %s", dir);
    w->is_dir = 1;
    return 0;
}

int ctl_store_new(const char *cmd, const ctl_where *w, store **out)
{
    rhai_error err = { 0, "" };
    int rc;

    if ((rc = store_new(w->url, &dsl_schema, out, &err)) != 0) {
        ctl_errorf(cmd, "%s: %s", w->where, err.msg[0] ? err.msg : rhai_strerror(rc));
        return rc == RHAI_EINVAL ? CTL_EXIT_USAGE : CTL_EXIT_FAILED;
    }
    /* A database that does not answer is said so, not taken for a store
     * without the context. A data dir is not probed: probing asks for a
     * writable dir, and reading commands need none. */
    if (!w->is_dir && store_url_is_postgres(w->url) && (rc = store_probe(*out, &err)) != 0) {
        ctl_errorf(cmd, "%s: %s", w->where, err.msg[0] ? err.msg : rhai_strerror(rc));
        store_free(*out);
        *out = NULL;
        return CTL_EXIT_FAILED;
    }
    return 0;
}

int ctl_caller_valid(const char *s)
{
    size_t n = 0;

    if (s == NULL)
        return 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] <= ' ' || (unsigned char)s[n] >= 127 ||
            n >= ADMIN_CALLER_MAX)
            return 0;
    return n > 0;
}

int ctl_context_check(const char *cmd, const char *id)
{
    if (!rh_context_id_valid(id))
        return ctl_usage_error(cmd, "invalid context id '%.140s' (" RH_CONTEXT_RULE ")", id);
    return 0;
}

/* ======================== local ======================== */

int ctl_local_open(const char *cmd, const ctl_where *w, const char *id, ctl_local *l)
{
    rhai_error err = { 0, "" };
    int rc, code;

    memset(l, 0, sizeof *l);
    l->w = w;
    if ((code = ctl_store_new(cmd, w, &l->st)) != 0)
        return code;
    /* store_open would create it: only `context create` may. */
    if (!store_context_exists(l->st, id)) {
        ctl_errorf(cmd, "no context '%s' in %s (rhaictl context create %s --owner "
                   "CALLER %s)", id, w->where, id, w->hint);
        ctl_local_close(l);
        return CTL_EXIT_NOTFOUND;
    }
    if ((rc = store_open(l->st, id, &l->db, &err)) != 0) {
        ctl_errorf(cmd, "context '%s' in %s: %s", id, w->where,
                   err.msg[0] ? err.msg : rhai_strerror(rc));
        ctl_local_close(l);
        return CTL_EXIT_FAILED;
    }
    return 0;
}

void ctl_local_close(ctl_local *l)
{
    store_free(l->st);              /* rolls back an open transaction */
    l->st = NULL;
    l->db = NULL;
}

int ctl_local_audit(ctl_local *l, const char *op, const char *model, int64_t object_id,
                    const char *detail, rhai_error *err)
{
    char reason[600];
    char who[300];
    const char *sudo = getenv("SUDO_USER");
    struct passwd pw, *res = NULL;
    char pwbuf[1024];
    uid_t uid = geteuid();
    store_audit a;

    /* getpwuid_r: NSS may be missing in a container; the uid still tells. */
    if (getpwuid_r(uid, &pw, pwbuf, sizeof pwbuf, &res) == 0 && res != NULL)
        snprintf(who, sizeof who, "os user %s (uid %lu)", res->pw_name, (unsigned long)uid);
    else
        snprintf(who, sizeof who, "os user uid %lu", (unsigned long)uid);
    /* SUDO_USER is informative only: whoever runs us may set it. */
    if (sudo && *sudo)
        snprintf(reason, sizeof reason, "%s via sudo from %.64s: %s", who, sudo, detail);
    else
        snprintf(reason, sizeof reason, "%s: %s", who, detail);

    memset(&a, 0, sizeof a);
    a.at = rh_now_ms();
    a.caller = CTL_LOCAL_CALLER;
    a.op = op;
    a.model = model;
    a.object_id = object_id;
    a.decision = "allowed";
    a.reason = reason;
    return store_audit_put(l->db, &a, err);
}

/* ======================== remote ======================== */

/* The owner task. 0, or an exit code after printing why. */
static int remote_task(const char *cmd, const ctl_admin *a, const char *context,
                       const char *script, const char *args, long long timeout_ms,
                       rhai_task **out)
{
    rhai_task *t = NULL;
    int rc;

    *out = NULL;
    if ((rc = rhai_task_new(script, &t)) != 0) {
        ctl_errorf(cmd, "cannot build the task: %s", rhai_strerror(rc));
        return ctl_exit_for_rc(rc);
    }
    if ((a->worker && (rc = rhai_task_set_worker(t, a->worker)) != 0) ||
        (rc = rhai_task_set_context(t, context)) != 0 ||
        (a->as && (rc = rhai_task_set_caller(t, a->as)) != 0) ||
        (rc = rhai_task_set_args(t, args)) != 0 ||
        (rc = rhai_task_set_timeout(t, timeout_ms)) != 0) {
        ctl_errorf(cmd, "cannot build the task: %s", rhai_strerror(rc));
        rhai_task_free(t);
        return ctl_exit_for_rc(rc);
    }
    if (a->key_file && ctl_script_sign(cmd, t, a->key_file) != 0) {
        rhai_task_free(t);
        return CTL_EXIT_USAGE;
    }
    *out = t;
    return 0;
}

int ctl_remote_call(const ctl_global *g, const char *cmd, const ctl_admin *a,
                    const char *context, const char *script, json_t *args,
                    json_t **out)
{
    long long timeout_ms = a->timeout_ms ? a->timeout_ms : ADMIN_TIMEOUT_DEFAULT_MS;
    rhai_error err = { 0, "" };
    rhai_client *client = NULL;
    rhai_task *task = NULL;
    rhai_result *res = NULL;
    char id[RHAI_ID_MAX];
    char *args_text;
    json_error_t jerr;
    rhai_status status;
    const char *kind, *output, *msg;
    int code, rc;

    *out = NULL;
    if ((args_text = json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL) {
        ctl_errorf(cmd, "out of memory");
        return CTL_EXIT_FAILED;
    }
    code = remote_task(cmd, a, context, script, args_text, timeout_ms, &task);
    free(args_text);                    /* jansson's allocator */
    if (code != 0)
        return code;
    if ((code = ctl_connect(g, &client)) != 0)
        goto done;
    if ((rc = rhai_submit(client, task, id, &err)) != 0) {
        code = ctl_report_rc(rc, &err);
        goto done;
    }
    rc = rhai_wait(client, id, timeout_ms + ADMIN_WAIT_MARGIN_MS, &res, &err);
    if (rc == RHAI_ETIMEOUT) {
        ctl_errorf(cmd, "no result for task %s within %lld ms: is a rhaid worker serving "
                   "'%s' running? (rhaictl task show %s)", id,
                   timeout_ms + ADMIN_WAIT_MARGIN_MS,
                   a->worker ? a->worker : RHAI_DEFAULT_WORKER, id);
        code = CTL_EXIT_TIMEOUT;
        goto done;
    }
    if (rc != 0) {
        code = ctl_report_rc(rc, &err);
        goto done;
    }
    status = rhai_result_status(res);
    kind = rhai_result_error_kind(res);
    output = rhai_result_output(res);
    ctl_print_logs(rhai_result_logs(res));
    if (status != RHAI_STATUS_DONE) {
        msg = rhai_result_error(res);
        fprintf(stderr, "%s: %s\n", kind && *kind ? kind : rh_status_str(status),
                msg && *msg ? msg : "(no message)");
        code = ctl_exit_for_result(status, kind);
        /* as locally: a context that does not exist is "not found" */
        if (msg && strncmp(msg, "UnknownContext", 14) == 0)
            code = CTL_EXIT_NOTFOUND;
        goto done;
    }
    if ((*out = json_loads(output ? output : "null", JSON_DECODE_ANY, &jerr)) == NULL) {
        ctl_errorf(cmd, "task %s: its output is not JSON: %s", id, jerr.text);
        code = CTL_EXIT_FAILED;
        goto done;
    }
    code = 0;
done:
    rhai_result_free(res);
    rhai_task_free(task);
    rhai_client_free(client);
    return code;
}

/* ======================== output ======================== */

void ctl_fmt_time(int64_t ms, char *buf, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (ms <= 0 || gmtime_r(&t, &tm) == NULL || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, n, "-");
}

/* An integer field of a row, 0 when absent or null. */
static long long row_int(json_t *row, const char *k)
{
    return (long long)json_integer_value(json_object_get(row, k));
}

/* A string field of a row, 'def' when absent or null. */
static const char *row_str(json_t *row, const char *k, const char *def)
{
    const char *s = json_string_value(json_object_get(row, k));
    return s ? s : def;
}

/* A grant's ops array as "read,update" ("all" for the four). */
static void ops_text(json_t *ops, char *buf, size_t n)
{
    size_t i, len = 0;
    json_t *v;

    buf[0] = '\0';
    if (json_array_size(ops) == 4) {
        snprintf(buf, n, "all");
        return;
    }
    json_array_foreach(ops, i, v) {
        const char *s = json_string_value(v);
        int w = snprintf(buf + len, n - len, "%s%s", len ? "," : "", s ? s : "?");
        if (w < 0 || (size_t)w >= n - len)
            break;
        len += (size_t)w;
    }
    if (len == 0)
        snprintf(buf, n, "-");
}

/* The widest value of string field 'k' over 'rows', at least 'min'. */
static int col_width(json_t *rows, const char *k, int min)
{
    size_t i;
    json_t *r;
    int w = min;

    json_array_foreach(rows, i, r) {
        int n = (int)strlen(row_str(r, k, "-"));
        if (n > w)
            w = n;
    }
    return w;
}

int ctl_print_grants(json_t *grants, const char *indent)
{
    int wc = col_width(grants, "caller", 6), wm = col_width(grants, "model", 5);
    char ops[64], exp[32], obj[24];
    int64_t now = rh_now_ms();
    size_t i;
    json_t *r;

    if (json_array_size(grants) == 0) {
        printf("%sno grants\n", indent);
        return ctl_print_flush();
    }
    printf("%s%-5s %-*s %-*s %-23s %-8s %-30s %s\n", indent, "ID", wc, "CALLER", wm, "MODEL",
           "OPS", "OBJECT", "EXPIRES", "GRANTED_BY");
    json_array_foreach(grants, i, r) {
        long long e = row_int(r, "expires_at"), o = row_int(r, "object_id");
        ops_text(json_object_get(r, "ops"), ops, sizeof ops);
        if (e > 0) {
            ctl_fmt_time(e, exp, sizeof exp);
            if (e <= now)
                snprintf(exp + strlen(exp), sizeof exp - strlen(exp), " (expired)");
        } else {
            snprintf(exp, sizeof exp, "never");
        }
        if (o > 0)
            snprintf(obj, sizeof obj, "%lld", o);
        else
            snprintf(obj, sizeof obj, "all");
        printf("%s%-5lld %-*s %-*s %-23s %-8s %-30s %s\n", indent, row_int(r, "id"), wc,
               row_str(r, "caller", "-"), wm, row_str(r, "model", "-"), ops, obj, exp,
               row_str(r, "granted_by", "-"));
    }
    return ctl_print_flush();
}

int ctl_print_audit(json_t *rows)
{
    int wc = col_width(rows, "caller", 6), wm = col_width(rows, "model", 5);
    int wo = col_width(rows, "op", 2);
    char at[32], obj[24];
    size_t i;
    json_t *r;

    if (json_array_size(rows) == 0) {
        printf("no audit rows\n");
        return ctl_print_flush();
    }
    printf("%-20s %-8s %-*s %-*s %-*s %-8s %-36s %s\n", "AT", "DECISION", wc, "CALLER", wo,
           "OP", wm, "MODEL", "OBJECT", "TASK", "REASON");
    json_array_foreach(rows, i, r) {
        long long o = row_int(r, "object_id");
        ctl_fmt_time(row_int(r, "at"), at, sizeof at);
        if (o > 0)
            snprintf(obj, sizeof obj, "%lld", o);
        else
            snprintf(obj, sizeof obj, "-");
        printf("%-20s %-8s %-*s %-*s %-*s %-8s %-36s %s\n", at,
               row_str(r, "decision", "-"), wc, row_str(r, "caller", "-"), wo,
               row_str(r, "op", "-"), wm, row_str(r, "model", "-"), obj,
               row_str(r, "task_id", "-"), row_str(r, "reason", ""));
    }
    return ctl_print_flush();
}
