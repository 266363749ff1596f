/* cmd_context.c -- `rhaictl context create|list|show`: contexts on a host.
 *
 * A context is one SQLite file under the worker's data dir, with its
 * owners, grants and audit log inside (src/store/acl.c). Only `context
 * create` makes one; a task for a missing context fails. These commands
 * are local only: run them on the worker's host as the user rhaid runs
 * as (`sudo -u rhaid rhaictl context create ... --data-dir
 * /var/lib/rhaid`), so the files keep the owner rhaid needs. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl.h"
#include "dsl/dsl.h"

#define CONTEXT_OWNERS_MAX 16       /* --owner given this many times at most */

static const char context_help[] =
    "Usage: rhaictl context create ID --owner CALLER [--owner CALLER...] [options]\n"
    "       rhaictl context list [options]\n"
    "       rhaictl context show ID [options]\n"
    "\n"
    "Contexts (one SQLite file each, ID.db, under the worker's data dir) hold\n"
    "a tenant's data with its owners, grants and audit log. A task for a\n"
    "context that does not exist fails: create it here first. Local only: run\n"
    "on the worker's host as the user rhaid runs as.\n"
    "\n"
    "create  make context ID with CALLER as its first owner (owners may do\n"
    "        everything in it, grant and revoke). Fails (exit 1) when it\n"
    "        exists. Audited as caller " CTL_LOCAL_CALLER ", op context_create\n"
    "list    the context ids, one a line\n"
    "show    owners, grants, rows per model, tasks recorded (the ledger),\n"
    "        audit rows, file size and schema version of context ID\n"
    "\n"
    "Options:\n"
    "  -o, --owner CALLER    create: an owner (a caller id, or the 64-hex public\n"
    "                        key of a signing caller); may be repeated\n"
    "  -d, --data-dir DIR    the worker's data dir (default $RHAI_DATA_DIR,\n"
    "                        else ./rhai-data)\n"
    "      --json            create: {\"id\",\"path\",\"owners\"}; list: [\"ID\",...];\n"
    "                        show: {\"id\",\"path\",\"file_bytes\",\"schema_version\",\n"
    "                        \"owners\",\"grants\",\"tasks_recorded\",\"audit_rows\",\n"
    "                        \"rows\":{model: count}}\n"
    "  -h, --help            this help\n"
    "\n"
    "Context ids: 1..100 of [A-Za-z0-9_.:@-], not starting with '.', no '..'.\n"
    "\n"
    "Examples:\n"
    "  sudo -u rhaid rhaictl context create acme --owner alice --data-dir /var/lib/rhaid\n"
    "  rhaictl context show acme --data-dir /var/lib/rhaid --json\n"
    "\n"
    CTL_EXIT_HELP;

typedef struct context_opts {
    const char *data_dir;
    const char *owners[CONTEXT_OWNERS_MAX];
    int         nowners;
} context_opts;

/* ======================== create ======================== */

/* Warn when the new file's owner is not the data dir's: rhaid (the dir's
 * owner, as packaged) could then not write it. */
static void context_owner_check(const char *dir, const char *path)
{
    struct stat d, f;

    if (stat(dir, &d) != 0 || stat(path, &f) != 0 || d.st_uid == f.st_uid)
        return;
    ctl_errorf("context", "warning: %s belongs to uid %lu but %s to uid %lu: if rhaid "
               "runs as the latter it cannot write it (run rhaictl as that user, e.g. "
               "sudo -u rhaid, or chown the file)", path, (unsigned long)f.st_uid, dir,
               (unsigned long)d.st_uid);
}

static int context_create(const ctl_global *g, const context_opts *o, const char *id)
{
    const char *dir = ctl_data_dir(o->data_dir);
    rhai_error err = { 0, "" };
    char detail[512];
    ctl_local l;
    json_t *owners = NULL;
    store *st = NULL;
    int rc, code = CTL_EXIT_FAILED;

    if ((rc = store_new(dir, &dsl_schema, &st, &err)) != 0) {
        ctl_errorf("context", "%s: %s", dir, err.msg[0] ? err.msg : rhai_strerror(rc));
        return rc == RHAI_EINVAL ? CTL_EXIT_USAGE : CTL_EXIT_FAILED;
    }
    rc = store_context_create(st, id, o->owners[0], &err);
    store_free(st);
    if (rc == RHAI_ESTATE) {
        ctl_errorf("context", "context '%s' exists already in %s (rhaictl context show %s)",
                   id, dir, id);
        return CTL_EXIT_FAILED;
    }
    if (rc != 0) {
        ctl_errorf("context", "cannot create '%s' in %s: %s", id, dir,
                   err.msg[0] ? err.msg : rhai_strerror(rc));
        return CTL_EXIT_FAILED;
    }
    /* The file exists now: the other owners and the audit row, at once. */
    if ((code = ctl_local_open("context", dir, id, &l)) != 0)
        return code;
    code = CTL_EXIT_FAILED;
    if ((rc = store_begin(l.db, &err)) != 0)
        goto fail;
    for (int i = 1; i < o->nowners; i++)
        if ((rc = store_owner_add(l.db, o->owners[i], &err)) != 0)
            goto fail;
    if ((rc = store_owners(l.db, &owners, &err)) != 0)
        goto fail;
    {
        size_t len = 0;
        size_t i;
        json_t *v;
        len = (size_t)snprintf(detail, sizeof detail, "created context %s; owners", id);
        json_array_foreach(owners, i, v) {
            int w = snprintf(detail + len, sizeof detail - len, " %s", json_string_value(v));
            if (w < 0 || (size_t)w >= sizeof detail - len)
                break;
            len += (size_t)w;
        }
    }
    if ((rc = ctl_local_audit(&l, "context_create", "*", 0, detail, &err)) != 0 ||
        (rc = store_commit(l.db, &err)) != 0)
        goto fail;
    context_owner_check(dir, store_db_path(l.db));
    if (g->json) {
        code = ctl_print_json(json_pack("{s:s, s:s, s:O}", "id", id, "path",
                                        store_db_path(l.db), "owners", owners));
    } else {
        size_t i;
        json_t *v;
        printf("created context %s in %s, owners:", id, dir);
        json_array_foreach(owners, i, v)
            printf(" %s", json_string_value(v));
        putchar('\n');
        code = ctl_print_flush();
    }
    json_decref(owners);
    ctl_local_close(&l);
    return code;
fail:
    ctl_errorf("context", "create '%s': %s", id, err.msg[0] ? err.msg : rhai_strerror(rc));
    json_decref(owners);
    ctl_local_close(&l);
    return CTL_EXIT_FAILED;
}

/* ======================== list ======================== */

static int context_list(const ctl_global *g, const context_opts *o)
{
    const char *dir = ctl_data_dir(o->data_dir);
    rhai_error err = { 0, "" };
    json_t *ids = NULL;
    store *st = NULL;
    size_t i;
    json_t *v;
    int rc;

    if ((rc = store_new(dir, &dsl_schema, &st, &err)) != 0 ||
        (rc = store_context_list(st, &ids, &err)) != 0) {
        store_free(st);
        ctl_errorf("context", "%s", err.msg[0] ? err.msg : rhai_strerror(rc));
        return CTL_EXIT_FAILED;
    }
    store_free(st);
    if (g->json)
        return ctl_print_json(ids);
    json_array_foreach(ids, i, v)
        printf("%s\n", json_string_value(v));
    json_decref(ids);
    return ctl_print_flush();
}

/* ======================== show ======================== */

/* The whole picture of an open context as one JSON object (*out new). */
static int context_doc(ctl_local *l, const char *id, json_t **out, rhai_error *err)
{
    json_t *doc = NULL, *owners = NULL, *grants = NULL, *rows = NULL;
    struct stat sb;
    int64_t n;
    int rc;

    *out = NULL;
    if ((rc = store_context_info(l->db, &doc, err)) != 0 ||
        (rc = store_owners(l->db, &owners, err)) != 0 ||
        (rc = store_grant_list(l->db, &grants, err)) != 0)
        goto fail;
    if ((rows = json_object()) == NULL)
        goto oom;
    for (size_t i = 0; i < dsl_schema.nmodels; i++) {
        const store_model *m = &dsl_schema.models[i];
        if ((rc = store_count(l->db, m, NULL, &n, err)) != 0)
            goto fail;
        if (json_object_set_new(rows, m->name, json_integer(n)) != 0)
            goto oom;
    }
    if (stat(store_db_path(l->db), &sb) != 0) {
        rc = rh_error_set(err, RHAI_EIO, "%s: %s", store_db_path(l->db), strerror(errno));
        goto fail;
    }
    /* Keys in the order the text shows them; info's counts follow. */
    {
        json_t *o = json_pack("{s:s, s:s, s:I, s:O, s:o, s:o}", "id", id, "path",
                              store_db_path(l->db), "file_bytes", (json_int_t)sb.st_size,
                              "schema_version", json_object_get(doc, "schema_version"),
                              "owners", owners, "grants", grants);
        owners = grants = NULL;             /* stolen by "o", even on failure */
        if (o == NULL || json_object_set(o, "tasks_recorded",
                                         json_object_get(doc, "tasks_recorded")) != 0 ||
            json_object_set(o, "audit_rows", json_object_get(doc, "audit_rows")) != 0 ||
            json_object_set_new(o, "rows", rows) != 0) {
            rows = NULL;                    /* set_new steals even on failure */
            json_decref(o);
            goto oom;
        }
        json_decref(doc);
        *out = o;
    }
    return 0;
oom:
    rc = rh_error_set(err, RHAI_ENOMEM, "out of memory");
fail:
    json_decref(doc);
    json_decref(owners);
    json_decref(grants);
    json_decref(rows);
    return rc;
}

static int context_show(const ctl_global *g, const context_opts *o, const char *id)
{
    const char *dir = ctl_data_dir(o->data_dir);
    rhai_error err = { 0, "" };
    ctl_local l;
    json_t *doc = NULL, *v;
    const char *k;
    size_t i;
    int code, rc, nonempty = 0;

    if ((code = ctl_local_open("context", dir, id, &l)) != 0)
        return code;
    rc = context_doc(&l, id, &doc, &err);
    ctl_local_close(&l);
    if (rc != 0) {
        ctl_errorf("context", "show '%s': %s", id, err.msg[0] ? err.msg : rhai_strerror(rc));
        return CTL_EXIT_FAILED;
    }
    if (g->json)
        return ctl_print_json(doc);

    printf("context         %s\n", id);
    printf("path            %s\n", json_string_value(json_object_get(doc, "path")));
    printf("file size       %lld bytes\n",
           (long long)json_integer_value(json_object_get(doc, "file_bytes")));
    printf("schema version  %s\n",
           json_is_string(json_object_get(doc, "schema_version"))
               ? json_string_value(json_object_get(doc, "schema_version")) : "-");
    printf("owners         ");
    json_array_foreach(json_object_get(doc, "owners"), i, v)
        printf(" %s", json_string_value(v));
    putchar('\n');
    printf("tasks recorded  %lld\n",
           (long long)json_integer_value(json_object_get(doc, "tasks_recorded")));
    printf("audit rows      %lld\n",
           (long long)json_integer_value(json_object_get(doc, "audit_rows")));
    printf("grants          %zu\n", json_array_size(json_object_get(doc, "grants")));
    if (json_array_size(json_object_get(doc, "grants")) > 0)
        ctl_print_grants(json_object_get(doc, "grants"), "  ");
    printf("rows (models with rows; --json lists all)\n");
    json_object_foreach(json_object_get(doc, "rows"), k, v) {
        if (json_integer_value(v) == 0)
            continue;
        printf("  %-22s %lld\n", k, (long long)json_integer_value(v));
        nonempty++;
    }
    if (nonempty == 0)
        printf("  none\n");
    json_decref(doc);
    return ctl_print_flush();
}

/* ======================== dispatch ======================== */

static int context_exec(ctl_global *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "owner", required_argument, NULL, 'o' },
        { "data-dir", required_argument, NULL, 'd' },
        CTL_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 }
    };
    context_opts o;
    const char *sub, *id = NULL;
    int c;

    memset(&o, 0, sizeof o);
    while ((c = getopt_long(argc, argv, ":o:d:h", longopts, NULL)) != -1) {
        if (ctl_global_option(g, c, optarg))
            continue;
        switch (c) {
        case 'o':
            if (!ctl_caller_valid(optarg))
                return ctl_usage_error("context", "invalid owner '%s' (1..256 printable "
                                       "ASCII, no spaces)", optarg);
            if (o.nowners == CONTEXT_OWNERS_MAX)
                return ctl_usage_error("context", "at most %d --owner", CONTEXT_OWNERS_MAX);
            o.owners[o.nowners++] = optarg;
            break;
        case 'd':
            o.data_dir = optarg;
            break;
        case 'h':
        case CTL_OPT_HELP:
            fputs(context_help, stdout);
            return CTL_EXIT_OK;
        default:
            return ctl_option_error("context", c, argv);
        }
    }
    if (optind >= argc)
        return ctl_usage_error("context", "missing subcommand: create, list or show");
    sub = argv[optind++];
    if (strcmp(sub, "create") != 0 && strcmp(sub, "list") != 0 && strcmp(sub, "show") != 0)
        return ctl_usage_error("context", "unknown subcommand '%s' (create, list, show)", sub);
    if (strcmp(sub, "list") != 0) {
        if (optind >= argc)
            return ctl_usage_error("context", "%s: missing context ID", sub);
        id = argv[optind++];
    }
    if (optind < argc)
        return ctl_usage_error("context", "unexpected argument '%s'", argv[optind]);
    if (o.data_dir && *o.data_dir == '\0')
        return ctl_usage_error("context", "--data-dir is empty");
    if (id && ctl_context_check("context", id) != 0)
        return CTL_EXIT_USAGE;
    if (strcmp(sub, "create") == 0) {
        if (o.nowners == 0)
            return ctl_usage_error("context", "create: --owner CALLER is required (who "
                                   "may administer the context)");
        return context_create(g, &o, id);
    }
    if (o.nowners > 0)
        return ctl_usage_error("context", "--owner goes with create");
    return strcmp(sub, "list") == 0 ? context_list(g, &o) : context_show(g, &o, id);
}

const ctl_cmd ctl_cmd_context = {
    "context",
    "create ID --owner CALLER | list | show ID [--data-dir DIR]",
    "create, list and inspect contexts (local, on the worker's host)",
    context_exec
};
