/* cmd_context.c -- `rhaictl context create|list|show|export|import`:
 * contexts of a store.
 *
 * A context is one SQLite file under the worker's data dir, or its rows in
 * a shared PostgreSQL store (src/store), with its owners, grants, audit
 * log and ledger inside. Only `context create` (or `import`) makes one; a
 * task for a missing context fails. These commands are local only: run
 * them as the user rhaid runs as (`sudo -u rhaid rhaictl context create
 * ... --data-dir /var/lib/rhaid`), so that files keep the owner rhaid
 * needs, or with the worker's --data-url. export and import move a
 * context between two stores as JSON lines (store.h, moving contexts). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl.h"
#include "dsl/dsl.h"

#define CONTEXT_OWNERS_MAX 16       /* --owner given this many times at most */
#ifndef CONTEXT_LINE_MAX
#define CONTEXT_LINE_MAX (64L * 1024 * 1024)  /* longest line import reads */
#endif

static const char context_help[] =
    "Usage: rhaictl context create ID --owner CALLER [--owner CALLER...] [where]\n"
    "       rhaictl context list [where]\n"
    "       rhaictl context show ID [where]\n"
    "       rhaictl context export ID [where] > FILE\n"
    "       rhaictl context import ID [--from FILE|-] [where]\n"
    "\n"
    "Contexts hold a tenant's data with its owners, grants, audit log and\n"
    "ledger: one SQLite file each (ID.db) under the worker's data dir, or\n"
    "rows of a PostgreSQL store shared by every host. A task for a context\n"
    "that does not exist fails: create it here first. Local only: run on the\n"
    "worker's host as the user rhaid runs as, or against its --data-url.\n"
    "\n"
    "create  make context ID with CALLER as its first owner (owners may do\n"
    "        everything in it, grant and revoke). Fails (exit 1) when it\n"
    "        exists. Audited as caller " CTL_LOCAL_CALLER ", op context_create\n"
    "list    the context ids, one a line\n"
    "show    owners, grants, rows per model, tasks recorded (the ledger),\n"
    "        audit rows, file size (sqlite) and schema version of context ID\n"
    "export  write context ID to stdout as JSON lines: a header, one line a\n"
    "        row (owners, grants, audit, ledger, every model's rows), an end\n"
    "        line with the row count. One consistent snapshot; on sqlite it\n"
    "        holds the context's write lock while it runs\n"
    "import  make context ID (which must not exist: exit 1) from such a file\n"
    "        (the ID given wins over the file's), all rows in one transaction.\n"
    "        A cut or malformed file, an unknown table, model or field, or a\n"
    "        value the schema refuses is refused naming its line (exit 2), and\n"
    "        any failure leaves no context behind. Audited as op\n"
    "        context_import. Moves a context between any two stores, e.g.\n"
    "        from a data dir to postgres\n"
    "\n"
    "Options:\n"
    "  -o, --owner CALLER    create: an owner (a caller id, or the 64-hex public\n"
    "                        key of a signing caller); may be repeated\n"
    "  -f, --from FILE       import: read FILE ('-', the default: stdin)\n"
    "  -d, --data-dir DIR    the worker's data dir: a sqlite store (default\n"
    "                        $RHAI_DATA_DIR, else ./rhai-data)\n"
    "      --data-url URL    the worker's store: sqlite:///DIR, or\n"
    "                        postgres://USER@HOST:PORT/DB or a libpq conninfo\n"
    "                        (default $RHAI_DATA_URL, which wins over\n"
    "                        $RHAI_DATA_DIR). Passwords: PGPASSWORD or a\n"
    "                        passfile; one in the URL is masked in messages\n"
    "      --json            create: {\"id\",\"path\",\"owners\"}; list: [\"ID\",...];\n"
    "                        show: {\"id\",\"backend\",\"path\",\"file_bytes\" (null on\n"
    "                        postgres),\"schema_version\",\"owners\",\"grants\",\n"
    "                        \"tasks_recorded\",\"audit_rows\",\"rows\":{model: count}};\n"
    "                        import: {\"id\",\"where\",\"rows\"}\n"
    "  -h, --help            this help\n"
    "\n"
    "Context ids: 1..100 of [A-Za-z0-9_.:@-], not starting with '.', no '..'.\n"
    "\n"
    "Examples:\n"
    "  sudo -u rhaid rhaictl context create acme --owner alice --data-dir /var/lib/rhaid\n"
    "  rhaictl context show acme --data-dir /var/lib/rhaid --json\n"
    "  sudo -u rhaid rhaictl context export acme --data-dir /var/lib/rhaid > acme.json\n"
    "  rhaictl context import acme --from acme.json \\\n"
    "      --data-url postgres://rhaid@db1:5432/rhai\n"
    "\n"
    CTL_EXIT_HELP;

typedef struct context_opts {
    const char *data_dir;
    const char *data_url;
    const char *from;       /* import: NULL or "-": stdin */
    ctl_where   where;
    const char *owners[CONTEXT_OWNERS_MAX];
    int         nowners;
} context_opts;

/* ======================== create ======================== */

/* Warn when the new file's owner is not the data dir's: rhaid (the dir's
 * owner, as packaged) could then not write it. Only a sqlite store has
 * files. */
static void context_owner_check(const store *st, const char *path)
{
    char dir[CTL_URL_MAX];
    const char *slash = strrchr(path, '/');
    struct stat d, f;

    if (strcmp(store_backend_name(st), "sqlite") != 0)
        return;
    /* the file's own dir, however the store was named (dir or URL) */
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    if (stat(dir, &d) != 0 || stat(path, &f) != 0 || d.st_uid == f.st_uid)
        return;
    ctl_errorf("context", "warning: %s belongs to uid %lu but %s to uid %lu: if rhaid "
               "runs as the latter it cannot write it (run rhaictl as that user, e.g. "
               "sudo -u rhaid, or chown the file)", path, (unsigned long)f.st_uid, dir,
               (unsigned long)d.st_uid);
}

static int context_create(const ctl_global *g, const context_opts *o, const char *id)
{
    const char *dir = o->where.where;
    rhai_error err = { 0, "" };
    char detail[512];
    ctl_local l;
    json_t *owners = NULL;
    store *st = NULL;
    int rc, code = CTL_EXIT_FAILED;

    if ((code = ctl_store_new("context", &o->where, &st)) != 0)
        return code;
    code = CTL_EXIT_FAILED;
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
    if ((code = ctl_local_open("context", &o->where, id, &l)) != 0)
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
    context_owner_check(l.st, store_db_path(l.db));
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
    rhai_error err = { 0, "" };
    json_t *ids = NULL;
    store *st = NULL;
    size_t i;
    json_t *v;
    int rc, code;

    if ((code = ctl_store_new("context", &o->where, &st)) != 0)
        return code;
    rc = store_context_list(st, &ids, &err);
    store_free(st);
    if (rc != 0) {
        ctl_errorf("context", "%s: %s", o->where.where,
                   err.msg[0] ? err.msg : rhai_strerror(rc));
        return CTL_EXIT_FAILED;
    }
    if (g->json)
        return ctl_print_json(ids);
    json_array_foreach(ids, i, v)
        printf("%s\n", json_string_value(v));
    json_decref(ids);
    return ctl_print_flush();
}

/* ======================== show ======================== */

/* The whole picture of an open context as one JSON object (*out new).
 * The file size only for a sqlite store: a postgres context has no file
 * of its own (file_bytes null). */
static int context_doc(ctl_local *l, const char *id, json_t **out, rhai_error *err)
{
    json_t *doc = NULL, *owners = NULL, *grants = NULL, *rows = NULL, *bytes;
    int sqlite = strcmp(store_backend_name(l->st), "sqlite") == 0;
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
    if (sqlite && stat(store_db_path(l->db), &sb) != 0) {
        rc = rh_error_set(err, RHAI_EIO, "%s: %s", store_db_path(l->db), strerror(errno));
        goto fail;
    }
    /* Keys in the order the text shows them; info's counts follow. */
    {
        json_t *o;
        if ((bytes = sqlite ? json_integer((json_int_t)sb.st_size) : json_null()) == NULL)
            goto oom;
        o = json_pack("{s:s, s:s, s:s, s:o, s:O, s:o, s:o}", "id", id, "backend",
                      store_backend_name(l->st), "path", store_db_path(l->db),
                      "file_bytes", bytes,
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
    rhai_error err = { 0, "" };
    ctl_local l;
    json_t *doc = NULL, *v;
    const char *k;
    size_t i;
    int code, rc, nonempty = 0;

    if ((code = ctl_local_open("context", &o->where, id, &l)) != 0)
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
    printf("backend         %s\n", json_string_value(json_object_get(doc, "backend")));
    printf("%s%s\n", json_is_integer(json_object_get(doc, "file_bytes")) ? "path            "
           : "where           ", json_string_value(json_object_get(doc, "path")));
    if (json_is_integer(json_object_get(doc, "file_bytes")))
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

/* ======================== export and import ======================== */

/* Each line of the export on stdout, compact, keys in their order. */
static int context_export_line(void *u, json_t *line, rhai_error *err)
{
    char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    int bad;

    (void)u;
    if (text == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    bad = fputs(text, stdout) == EOF || putchar('\n') == EOF;
    free(text);                         /* jansson's allocator: malloc */
    if (bad)
        return rh_error_set(err, RHAI_EIO, "cannot write to stdout: %s", strerror(errno));
    return 0;
}

static int context_export(const context_opts *o, const char *id)
{
    rhai_error err = { 0, "" };
    ctl_local l;
    int code, rc;

    if ((code = ctl_local_open("context", &o->where, id, &l)) != 0)
        return code;
    rc = store_context_export(l.db, context_export_line, NULL, &err);
    ctl_local_close(&l);
    if (rc == 0 && fflush(stdout) != 0)
        rc = rh_error_set(&err, RHAI_EIO, "cannot write to stdout: %s", strerror(errno));
    if (rc != 0) {
        /* what went out has no end line: import refuses it */
        ctl_errorf("context", "export '%s' from %s: %s", id, o->where.where,
                   err.msg[0] ? err.msg : rhai_strerror(rc));
        return CTL_EXIT_FAILED;
    }
    return CTL_EXIT_OK;
}

/* The import's input, a line at a time. */
typedef struct context_reader {
    FILE  *f;
    char  *buf;
    size_t cap;
} context_reader;

static int context_import_next(void *u, json_t **line, rhai_error *err)
{
    context_reader *r = u;
    json_error_t jerr;
    ssize_t n;

    *line = NULL;
    errno = 0;
    if ((n = getline(&r->buf, &r->cap, r->f)) < 0) {
        if (ferror(r->f))
            return rh_error_set(err, RHAI_EIO, "read: %s", strerror(errno ? errno : EIO));
        return 0;                       /* the end of the input */
    }
    if (n > CONTEXT_LINE_MAX)
        return rh_error_set(err, RHAI_EINVAL, "longer than %ld bytes", CONTEXT_LINE_MAX);
    if (n > 0 && r->buf[n - 1] == '\n')
        n--;
    *line = json_loadb(r->buf, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (*line == NULL)
        return rh_error_set(err, RHAI_EINVAL, "not JSON: %s (column %d)", jerr.text,
                            jerr.column);
    return 0;
}

static int context_import(const ctl_global *g, const context_opts *o, const char *id)
{
    const char *from = o->from && strcmp(o->from, "-") != 0 ? o->from : NULL;
    rhai_error err = { 0, "" };
    context_reader r = { NULL, NULL, 0 };
    char detail[300];
    store *st = NULL;
    ctl_local l;
    int64_t rows = 0;
    int code, rc;

    if (from && (r.f = fopen(from, "re")) == NULL) {
        ctl_errorf("context", "cannot read %s: %s", from, strerror(errno));
        return CTL_EXIT_USAGE;
    }
    if (from == NULL)
        r.f = stdin;
    if ((code = ctl_store_new("context", &o->where, &st)) != 0)
        goto done;
    rc = store_context_import(st, id, context_import_next, &r, &rows, &err);
    store_free(st);
    if (rc != 0) {
        ctl_errorf("context", "import '%s' into %s from %s: %s", id, o->where.where,
                   from ? from : "stdin", err.msg[0] ? err.msg : rhai_strerror(rc));
        code = rc == RHAI_EINVAL ? CTL_EXIT_USAGE : CTL_EXIT_FAILED;
        goto done;
    }
    /* The context exists: its audit row, as create writes one. */
    snprintf(detail, sizeof detail, "imported context %s: %lld rows from %.200s", id,
             (long long)rows, from ? from : "stdin");
    if ((code = ctl_local_open("context", &o->where, id, &l)) != 0)
        goto done;
    if ((rc = store_begin(l.db, &err)) != 0 ||
        (rc = ctl_local_audit(&l, "context_import", "*", 0, detail, &err)) != 0 ||
        (rc = store_commit(l.db, &err)) != 0) {
        ctl_errorf("context", "import '%s': the rows are in, but not its audit row: %s", id,
                   err.msg[0] ? err.msg : rhai_strerror(rc));
        ctl_local_close(&l);
        code = CTL_EXIT_FAILED;
        goto done;
    }
    ctl_local_close(&l);
    if (g->json) {
        code = ctl_print_json(json_pack("{s:s, s:s, s:I}", "id", id, "where", o->where.where,
                                        "rows", (json_int_t)rows));
    } else {
        printf("imported context %s into %s: %lld rows\n", id, o->where.where,
               (long long)rows);
        code = ctl_print_flush();
    }
done:
    free(r.buf);
    if (from && r.f)
        fclose(r.f);
    return code;
}

/* ======================== dispatch ======================== */

static int context_exec(ctl_global *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "owner", required_argument, NULL, 'o' },
        { "from", required_argument, NULL, 'f' },
        { "data-dir", required_argument, NULL, 'd' },
        CTL_DATA_URL_LONGOPT,
        CTL_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 }
    };
    context_opts o;
    const char *sub, *id = NULL;
    int c;

    memset(&o, 0, sizeof o);
    while ((c = getopt_long(argc, argv, ":o:f:d:h", longopts, NULL)) != -1) {
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
        case CTL_OPT_DATA_URL:
            o.data_url = optarg;
            break;
        case 'f':
            o.from = optarg;
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
        return ctl_usage_error("context", "missing subcommand: create, list, show, export "
                               "or import");
    sub = argv[optind++];
    if (strcmp(sub, "create") != 0 && strcmp(sub, "list") != 0 && strcmp(sub, "show") != 0 &&
        strcmp(sub, "export") != 0 && strcmp(sub, "import") != 0)
        return ctl_usage_error("context", "unknown subcommand '%s' (create, list, show, "
                               "export, import)", sub);
    if (strcmp(sub, "list") != 0) {
        if (optind >= argc)
            return ctl_usage_error("context", "%s: missing context ID", sub);
        id = argv[optind++];
    }
    if (optind < argc)
        return ctl_usage_error("context", "unexpected argument '%s'", argv[optind]);
    if (id && ctl_context_check("context", id) != 0)
        return CTL_EXIT_USAGE;
    if (ctl_where_resolve("context", o.data_url, o.data_dir, &o.where) != 0)
        return CTL_EXIT_USAGE;
    if (o.from && strcmp(sub, "import") != 0)
        return ctl_usage_error("context", "--from goes with import");
    if (o.from && *o.from == '\0')
        return ctl_usage_error("context", "--from is empty");
    if (strcmp(sub, "create") == 0) {
        if (o.nowners == 0)
            return ctl_usage_error("context", "create: --owner CALLER is required (who "
                                   "may administer the context)");
        return context_create(g, &o, id);
    }
    if (o.nowners > 0)
        return ctl_usage_error("context", "--owner goes with create");
    if (strcmp(sub, "export") == 0)
        return context_export(&o, id);
    if (strcmp(sub, "import") == 0)
        return context_import(g, &o, id);
    return strcmp(sub, "list") == 0 ? context_list(g, &o) : context_show(g, &o, id);
}

const ctl_cmd ctl_cmd_context = {
    "context",
    "create ID --owner CALLER | list | show ID | export ID | import ID [--data-url URL]",
    "create, list, inspect, export and import contexts (local: the worker's store)",
    context_exec
};
