/* cmd_dsl.c -- `rhaictl dsl list|types|validate FILE`: the business DSL.
 *
 * list prints the models compiled into this rhaictl (and rhaid) from
 * dsl/schema/<domain>.json, types prints the TypeScript declarations for
 * editor completion, validate checks a schema file the way the build does
 * (together with the built-in domains, the file replacing the built-in
 * domain of the same name). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "dsl/dsl.h"
#include "dsl/dsl_schema.h"

static const char dsl_help[] =
    "Usage: rhaictl dsl list | types | validate FILE\n"
    "\n"
    "  list            the models of every domain: name, JS global, fields,\n"
    "                  domain operations, guarded fields (changed only by\n"
    "                  their operations or an owner; --json: one object per\n"
    "                  model, guarded as [{field, set_by}], and its references\n"
    "                  as refs [{field, item, model, on_delete}]: what deleting\n"
    "                  the referenced row does, restrict or cascade)\n"
    "  types           the TypeScript declarations of the DSL (save as\n"
    "                  rhai-dsl.d.ts next to your scripts for completion)\n"
    "  validate FILE   check a schema file (dsl/schema/<domain>.json format)\n"
    "                  against the built-in domains; exit 0 when valid,\n"
    "                  1 with the first problem otherwise\n"
    "\n"
    "The DSL itself is described in docs/dsl.md.\n"
    "\n"
    CTL_GLOBAL_HELP
    "\n"
    CTL_EXIT_HELP;

json_t *ctl_dsl_models(void)
{
    json_t *all = json_array();

    for (size_t i = 0; all && i < dsl_schema.nmodels; i++) {
        const store_model *m = &dsl_schema.models[i];
        json_t *fields = json_array();
        json_t *ops = json_array();
        json_t *guarded = json_array();
        json_t *refs = json_array();

        for (size_t k = 0; k < m->nfields; k++)
            json_array_append_new(fields, json_string(m->fields[k].name));
        for (const dsl_op_decl *d = dsl_op_decls; d->model; d++)
            if (strcmp(d->model, m->name) == 0)
                json_array_append_new(ops, json_string(d->name));
        for (const dsl_guard_decl *d = dsl_guards; d->model; d++)
            if (strcmp(d->model, m->name) == 0)
                json_array_append_new(guarded, json_pack("{ss ss}", "field", d->field,
                                                         "set_by", d->set_by));
        for (const dsl_ref_decl *d = dsl_refs; d->model; d++)
            if (strcmp(d->model, m->name) == 0)
                json_array_append_new(refs, json_pack("{ss so ss ss}", "field", d->field,
                                                      "item", d->item ? json_string(d->item)
                                                                      : json_null(),
                                                      "model", d->target, "on_delete",
                                                      d->on_delete == DSL_ON_DELETE_CASCADE
                                                          ? "cascade" : "restrict"));
        if (json_array_append_new(all, json_pack("{ss ss ss so so so so}", "domain", m->domain,
                                                 "model", m->name, "global", m->js_name,
                                                 "fields", fields, "ops", ops,
                                                 "guarded", guarded, "refs", refs)) != 0) {
            json_decref(all);
            return NULL;
        }
    }
    return all;
}

static int dsl_list(const ctl_global *g)
{
    json_t *all = ctl_dsl_models(), *e;
    size_t i;

    if (all == NULL) {
        ctl_errorf("dsl", "out of memory");
        return CTL_EXIT_FAILED;
    }
    if (g->json)
        return ctl_print_json(all);
    json_array_foreach(all, i, e) {
        json_t *ops = json_object_get(e, "ops"), *guarded = json_object_get(e, "guarded");
        rh_buf b, gb;

        rh_buf_init(&b);
        rh_buf_init(&gb);
        for (size_t k = 0; k < json_array_size(ops); k++)
            rh_buf_appendf(&b, "%s%s", k ? "," : "", json_string_value(json_array_get(ops, k)));
        for (size_t k = 0; k < json_array_size(guarded); k++)
            rh_buf_appendf(&gb, "%s%s", k ? "," : "",
                           json_string_value(json_object_get(json_array_get(guarded, k),
                                                             "field")));
        if (i == 0)
            printf("%-10s %-22s %-22s %6s  %-12s %s\n", "DOMAIN", "MODEL", "GLOBAL", "FIELDS",
                   "OPS", "GUARDED");
        printf("%-10s %-22s %-22s %6zu  %-12s %s\n",
               json_string_value(json_object_get(e, "domain")),
               json_string_value(json_object_get(e, "model")),
               json_string_value(json_object_get(e, "global")),
               json_array_size(json_object_get(e, "fields")), b.data ? b.data : "-",
               gb.data ? gb.data : "-");
        rh_buf_free(&b);
        rh_buf_free(&gb);
    }
    json_decref(all);
    return ctl_print_flush();
}

static int dsl_validate(const ctl_global *g, const char *path)
{
    json_t *docs[64];
    size_t n = 0;
    json_error_t je;
    json_t *file = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    char err[512] = "";
    int rc;

    if (file == NULL) {
        ctl_errorf("dsl", "%s:%d: %s", path, je.line, je.text);
        return CTL_EXIT_FAILED;
    }
    docs[n++] = file;
    for (size_t i = 0; dsl_schema_sources[i] && n < 64; i++) {
        json_t *d = json_loads(dsl_schema_sources[i], 0, NULL);
        const char *dom = json_string_value(json_object_get(d, "domain"));
        const char *mine = json_string_value(json_object_get(file, "domain"));
        if (d && dom && mine && strcmp(dom, mine) == 0) {
            json_decref(d);             /* the file replaces it */
            continue;
        }
        if (d)
            docs[n++] = d;
    }
    rc = dsl_schema_check(docs, n, err, sizeof err);
    for (size_t i = 0; i < n; i++)
        json_decref(docs[i]);
    if (rc != 0) {
        ctl_errorf("dsl", "%s: %s", path, err);
        return CTL_EXIT_FAILED;
    }
    if (g->json)
        puts("{\"valid\":true}");
    else
        printf("%s: valid\n", path);
    return CTL_EXIT_OK;
}

static int dsl_exec(ctl_global *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        CTL_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 }
    };
    const char *sub;
    int c;

    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (ctl_global_option(g, c, optarg))
            continue;
        if (c == 'h' || c == CTL_OPT_HELP) {
            fputs(dsl_help, stdout);
            return CTL_EXIT_OK;
        }
        return ctl_option_error("dsl", c, argv);
    }
    if (optind >= argc)
        return ctl_usage_error("dsl", "give list, types or validate FILE");
    sub = argv[optind++];
    if (strcmp(sub, "list") == 0 && optind == argc)
        return dsl_list(g);
    if (strcmp(sub, "types") == 0 && optind == argc) {
        fputs(dsl_types_dts, stdout);
        return CTL_EXIT_OK;
    }
    if (strcmp(sub, "validate") == 0 && optind + 1 == argc)
        return dsl_validate(g, argv[optind]);
    return ctl_usage_error("dsl", "unknown or incomplete subcommand '%s'", sub);
}

const ctl_cmd ctl_cmd_dsl = {
    "dsl",
    "list | types | validate FILE",
    "the business DSL: list models, print TypeScript types, validate a schema",
    dsl_exec
};
