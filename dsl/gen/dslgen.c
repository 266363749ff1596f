/* dslgen.c -- build-time generator: dsl/schema/<domain>.json -> C tables, docs, .d.ts.
 *
 *   dslgen OUT.c OUT.md OUT.d.ts INTRO.md SCHEMA.json...
 *
 * Validates the schemas together (dsl_schema_check: a duplicate name, an
 * unknown type or a dangling ref fails the build), then writes the
 * store_model tables the store and the JS bindings are driven by, the
 * reference half of docs/dsl.md (after the hand-written INTRO.md) and a
 * TypeScript declaration file for editor completion. Output is a pure
 * function of the inputs, so the checked-in docs/dsl.md can be compared. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../dsl_schema.h"

#define MAX_DOCS 32

static json_t *docs[MAX_DOCS];
static size_t ndocs;

/* ---- helpers ---- */

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static void c_string(FILE *f, const char *s)
{
    if (s == NULL) {
        fputs("NULL", f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c < 0x20)
            fprintf(f, "\\%03o", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* "flow_step" -> "FlowStep" */
static void pascal(const char *name, char *out, size_t n)
{
    size_t j = 0;
    int up = 1;

    for (; *name && j + 1 < n; name++) {
        if (*name == '_') {
            up = 1;
            continue;
        }
        out[j++] = up ? (char)(*name - 'a' + 'A') : *name;
        up = 0;
    }
    out[j] = '\0';
}

/* The set_by of a guarded field as scripts name it: "Account.transfer",
 * "A.x or B.y", "" for owners only. */
static void set_by_text(json_t *fd, char *out, size_t n)
{
    json_t *e;
    size_t i, j = 0;

    out[0] = '\0';
    json_array_foreach(json_object_get(fd, "set_by"), i, e) {
        const char *s = json_string_value(e);
        const char *dot = strchr(s, '.');
        char model[64], js[64];
        if (j >= n)
            break;
        snprintf(model, sizeof model, "%.*s", (int)(dot - s), s);
        pascal(model, js, sizeof js);
        j += (size_t)snprintf(out + j, j < n ? n - j : 0, "%s%s.%s", i ? " or " : "", js,
                              dot + 1);
    }
}

/* What a guarded field's docs and refusals say: "changes only through
 * Account.transfer, or by an owner" / "changes only by an owner". */
static void guard_text(json_t *fd, char *out, size_t n)
{
    char by[512];

    set_by_text(fd, by, sizeof by);
    if (*by)
        snprintf(out, n, "changes only through %s, or by an owner", by);
    else
        snprintf(out, n, "changes only by an owner");
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static json_t *find_struct(const char *name)
{
    for (size_t d = 0; d < ndocs; d++) {
        json_t *s;
        size_t i;
        json_array_foreach(json_object_get(docs[d], "structs"), i, s) {
            if (strcmp(str(s, "name"), name) == 0)
                return s;
        }
    }
    return NULL;
}

static const char *c_type(const char *t)
{
    if (strcmp(t, "string") == 0) return "STORE_T_STRING";
    if (strcmp(t, "int") == 0) return "STORE_T_INT";
    if (strcmp(t, "number") == 0) return "STORE_T_NUMBER";
    if (strcmp(t, "bool") == 0) return "STORE_T_BOOL";
    if (strcmp(t, "date") == 0) return "STORE_T_DATE";
    if (strcmp(t, "ref") == 0) return "STORE_T_REF";
    if (strcmp(t, "list") == 0) return "STORE_T_LIST";
    return "0";                    /* a struct: list elements are objects */
}

static const char *ts_scalar(const char *t)
{
    if (strcmp(t, "string") == 0) return "string";
    if (strcmp(t, "bool") == 0) return "boolean";
    return "number";               /* int, number, date, ref */
}

/* ---- walks over the schemas, shared by the C tables and the docs ---- */

/* Loop over every model m of every schema, in schema order: d is the
 * schema's index, i the model's in it (declare json_t *m and size_t i). */
#define FOR_EACH_MODEL(d, i, m) \
    for (size_t d = 0; d < ndocs; d++) \
        json_array_foreach(json_object_get(docs[d], "models"), i, m)

/* A guarded field (schema key set_by) fd of model m. */
typedef void guard_cb(FILE *f, json_t *m, json_t *fd);

/* Call cb for every guarded field of every model, in schema order. */
static void for_each_guard(guard_cb *cb, FILE *f)
{
    json_t *m;
    size_t i;

    FOR_EACH_MODEL(d, i, m) {
        json_t *fd;
        size_t k;
        json_array_foreach(json_object_get(m, "fields"), k, fd)
            if (json_object_get(fd, "set_by") != NULL)
                cb(f, m, fd);
    }
}

/* A ref field fd: model.field itself when item is NULL, else field item
 * of the struct the list model.field holds. */
typedef void ref_cb(FILE *f, const char *model, const char *field, const char *item,
                    json_t *fd);

/* Call cb for every ref field in schema order: per model, its fields in
 * order, each list field followed by the ref fields of the struct it holds. */
static void for_each_ref(ref_cb *cb, FILE *f)
{
    json_t *m;
    size_t i;

    FOR_EACH_MODEL(d, i, m) {
        json_t *fd;
        size_t k;
        json_array_foreach(json_object_get(m, "fields"), k, fd) {
            json_t *st = strcmp(str(fd, "type"), "list") == 0 ? find_struct(str(fd, "of"))
                                                             : NULL;
            json_t *sf;
            size_t j;
            if (strcmp(str(fd, "type"), "ref") == 0)
                cb(f, str(m, "name"), str(fd, "name"), NULL, fd);
            json_array_foreach(st ? json_object_get(st, "fields") : NULL, j, sf)
                if (strcmp(str(sf, "type"), "ref") == 0)
                    cb(f, str(m, "name"), str(fd, "name"), str(sf, "name"), sf);
        }
    }
}

/* ---- C tables ---- */

static void c_fields(FILE *f, const char *prefix, const char *owner, json_t *fields)
{
    json_t *fd;
    size_t i;

    /* enum lists first */
    json_array_foreach(fields, i, fd) {
        json_t *e = json_object_get(fd, "enum");
        json_t *v;
        size_t k;
        if (e == NULL)
            continue;
        fprintf(f, "static const char *const %s_%s_%s_enum[] = { ", prefix, owner,
                str(fd, "name"));
        json_array_foreach(e, k, v) {
            c_string(f, json_string_value(v));
            fputs(", ", f);
        }
        fputs("NULL };\n", f);
    }
    fprintf(f, "static const store_field %s_%s[] = {\n", prefix, owner);
    json_array_foreach(fields, i, fd) {
        const char *type = str(fd, "type");
        const char *of = str(fd, "of");
        json_t *st = strcmp(type, "list") == 0 ? find_struct(of) : NULL;
        json_t *min = json_object_get(fd, "min");
        json_t *max = json_object_get(fd, "max");
        json_t *dflt = json_object_get(fd, "default");
        char *dtext = dflt ? json_dumps(dflt, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        char flags[128] = "0";

        if (json_is_true(json_object_get(fd, "required")))
            strcat(flags, " | STORE_F_REQUIRED");
        if (json_is_true(json_object_get(fd, "index")))
            strcat(flags, " | STORE_F_INDEX");
        if (min)
            strcat(flags, " | STORE_F_MIN");
        if (max)
            strcat(flags, " | STORE_F_MAX");
        fputs("    { ", f);
        c_string(f, str(fd, "name"));
        fprintf(f, ", %s, %s, ", c_type(type),
                strcmp(type, "list") == 0 ? c_type(of) : "0");
        c_string(f, json_object_get(fd, "ref") ? str(fd, "ref") : NULL);
        fprintf(f, ", %s, %.17g, %.17g, %lld, ", flags, min ? json_number_value(min) : 0.0,
                max ? json_number_value(max) : 0.0,
                (long long)(json_object_get(fd, "maxitems")
                                ? json_integer_value(json_object_get(fd, "maxitems")) : 0));
        if (json_object_get(fd, "enum"))
            fprintf(f, "%s_%s_%s_enum, ", prefix, owner, str(fd, "name"));
        else
            fputs("NULL, ", f);
        c_string(f, dtext);
        free(dtext);
        if (st)
            fprintf(f, ", s_%s, %zu, ", of, json_array_size(json_object_get(st, "fields")));
        else
            fputs(", NULL, 0, ", f);
        c_string(f, st ? of : NULL);
        fputs(", ", f);
        c_string(f, str(fd, "doc"));
        fputs(" },\n", f);
    }
    fputs("};\n\n", f);
}

/* One row of dsl_refs: model.field (or model.field[].item) -> its ref. */
static void c_ref(FILE *f, const char *model, const char *field, const char *item,
                  json_t *fd)
{
    fputs("    { ", f);
    c_string(f, model);
    fputs(", ", f);
    c_string(f, field);
    fputs(", ", f);
    c_string(f, item);
    fputs(", ", f);
    c_string(f, str(fd, "ref"));
    fprintf(f, ", %s },\n", strcmp(str(fd, "on_delete"), "cascade") == 0
                                ? "DSL_ON_DELETE_CASCADE" : "DSL_ON_DELETE_RESTRICT");
}

/* One row of dsl_guards: model.field, who may set it, the refusal's reason. */
static void c_guard(FILE *f, json_t *m, json_t *fd)
{
    char by[512], text[600], reason[700];

    set_by_text(fd, by, sizeof by);
    guard_text(fd, text, sizeof text);
    snprintf(reason, sizeof reason, "guarded field %s: %s", str(fd, "name"), text);
    fputs("    { ", f);
    c_string(f, str(m, "name"));
    fputs(", ", f);
    c_string(f, str(fd, "name"));
    fputs(", ", f);
    c_string(f, by);
    fputs(", ", f);
    c_string(f, reason);
    fputs(" },\n", f);
}

static void emit_c(FILE *f, const char *hash, const char *dts)
{
    json_t *m;
    size_t i, nmodels = 0;

    fputs("/* dsl_schema_gen.c -- generated by dslgen from dsl/schema/<domain>.json. Do not edit. */\n"
          "#include <stddef.h>\n#include \"dsl.h\"\n\n", f);
    for (size_t d = 0; d < ndocs; d++) {
        json_t *s;
        json_array_foreach(json_object_get(docs[d], "structs"), i, s)
            c_fields(f, "s", str(s, "name"), json_object_get(s, "fields"));
    }
    FOR_EACH_MODEL(d, i, m)
        c_fields(f, "f", str(m, "name"), json_object_get(m, "fields"));
    fputs("const store_model dsl_models[] = {\n", f);
    FOR_EACH_MODEL(d, i, m) {
        char js[64];
        pascal(str(m, "name"), js, sizeof js);
        fputs("    { ", f);
        c_string(f, str(m, "name"));
        fputs(", ", f);
        c_string(f, js);
        fputs(", ", f);
        c_string(f, str(docs[d], "domain"));
        fputs(", ", f);
        c_string(f, str(m, "doc"));
        fputs(", ", f);
        c_string(f, str(m, "example"));
        fprintf(f, ", f_%s, %zu },\n", str(m, "name"),
                json_array_size(json_object_get(m, "fields")));
        nmodels++;
    }
    fputs("};\n\n", f);
    fprintf(f, "const store_schema dsl_schema = { dsl_models, %zu, \"%s\" };\n\n", nmodels,
            hash);
    fputs("/* Domain operations the schemas declare; each needs a C implementation. */\n"
          "const dsl_op_decl dsl_op_decls[] = {\n", f);
    FOR_EACH_MODEL(d, i, m) {
        json_t *op;
        size_t k;
        json_array_foreach(json_object_get(m, "ops"), k, op) {
            fputs("    { ", f);
            c_string(f, str(m, "name"));
            fputs(", ", f);
            c_string(f, str(op, "name"));
            fputs(" },\n", f);
        }
    }
    fputs("    { NULL, NULL }\n};\n\n"
          "/* Guarded fields (schema key set_by), in schema order. */\n"
          "const dsl_guard_decl dsl_guards[] = {\n", f);
    for_each_guard(c_guard, f);
    fputs("    { NULL, NULL, NULL, NULL }\n};\n\n"
          "/* References between models (ref fields, schema key on_delete), in\n"
          " * schema order: a model's own ref fields, then those of the structs\n"
          " * its lists hold. */\n"
          "const dsl_ref_decl dsl_refs[] = {\n", f);
    for_each_ref(c_ref, f);
    fputs("    { NULL, NULL, NULL, NULL, 0 }\n};\n\nconst char *const dsl_domains[] = { ", f);
    for (size_t d = 0; d < ndocs; d++) {
        c_string(f, str(docs[d], "domain"));
        fputs(", ", f);
    }
    fputs("NULL };\n\n/* The schema documents, for `rhaictl dsl validate`. */\n"
          "const char *const dsl_schema_sources[] = {\n", f);
    for (size_t d = 0; d < ndocs; d++) {
        char *text = json_dumps(docs[d], JSON_COMPACT | JSON_SORT_KEYS);
        fputs("    ", f);
        c_string(f, text ? text : "{}");
        fputs(",\n", f);
        free(text);
    }
    fputs("    NULL\n};\n\n/* rhai-dsl.d.ts, for `rhaictl dsl types`. */\n"
          "const char dsl_types_dts[] =\n", f);
    /* one C string literal per line keeps the file readable */
    while (*dts) {
        const char *nl = strchr(dts, '\n');
        size_t n = nl ? (size_t)(nl - dts) + 1 : strlen(dts);
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), dts);
        fputs("    ", f);
        c_string(f, line);
        fputc('\n', f);
        dts += n;
    }
    fputs("    \"\";\n", f);
}

/* ---- TypeScript ---- */

static void ts_field_type(FILE *f, json_t *fd)
{
    const char *type = str(fd, "type");

    if (strcmp(type, "list") == 0) {
        const char *of = str(fd, "of");
        if (find_struct(of)) {
            char js[64];
            pascal(of, js, sizeof js);
            fprintf(f, "%s[]", js);
        } else {
            fprintf(f, "%s[]", ts_scalar(of));
        }
    } else if (json_object_get(fd, "enum")) {
        json_t *e;
        size_t k;
        json_array_foreach(json_object_get(fd, "enum"), k, e)
            fprintf(f, "%s\"%s\"", k ? " | " : "", json_string_value(e));
    } else {
        fputs(ts_scalar(type), f);
    }
}

static void ts_interface(FILE *f, const char *name, json_t *fields, int row, int all_optional)
{
    json_t *fd;
    size_t i;

    fprintf(f, "interface %s {\n", name);
    if (row)
        fputs("    id: number;\n    created_at: number;\n    updated_at: number;\n", f);
    json_array_foreach(fields, i, fd) {
        int opt = all_optional || !json_is_true(json_object_get(fd, "required"));
        char guard[600] = "";
        if (json_object_get(fd, "set_by")) {
            char text[560];
            guard_text(fd, text, sizeof text);
            snprintf(guard, sizeof guard, " Guarded: %s.", text);
        }
        fprintf(f, "    /** %s%s */\n    %s%s: ", str(fd, "doc"), guard, str(fd, "name"),
                opt ? "?" : "");
        ts_field_type(f, fd);
        fputs(";\n", f);
    }
    fputs("}\n", f);
}

static void emit_dts(FILE *f)
{
    fputs("// rhai-dsl.d.ts -- generated by dslgen from dsl/schema/<domain>.json. Do not edit.\n"
          "// Globals a rhailib script sees: args, ctx, print and the DSL models.\n\n"
          "declare const args: any;\n"
          "declare const ctx: { readonly task_id: string; readonly worker_id: string;\n"
          "    readonly context_id: string; readonly caller_id: string;\n"
          "    /** 1-based attempt number: 2 and up on a retry (docs/scheduling.md). */\n"
          "    readonly attempt: number;\n"
          "    /** The event that started the task (docs/events.md), or null. */\n"
          "    readonly event: RhaiEvent | null;\n"
          "    /** 0 for a submitted task, the event's depth for a subscriber. */\n"
          "    readonly depth: number;\n"
          "    /** The id of the task at the root of the event chain. */\n"
          "    readonly trace: string;\n"
          "    /** The id of the task that emitted ctx.event, or null. */\n"
          "    readonly parent: string | null };\n"
          "declare function print(...values: any[]): void;\n"
          "interface RhaiEvent {\n    id: string;\n    name: string;\n    payload: any;\n"
          "    context: string;\n    task: string;\n    caller: string;\n    time: number;\n"
          "    trace: string;\n    depth: number;\n}\n"
          "/** Publish an event if and only if the task commits; returns its id\n"
          " * (\"TASKID.N\"). name: 1..128 of [A-Za-z0-9_.:-]; payload: JSON, <= 64 KiB.\n"
          " * Throws EventDepthExceeded past the depth limit, TooManyEvents past 100. */\n"
          "declare function emit(name: string, payload?: any): string;\n\n"
          "/** Thrown by a DSL call the caller may not make (error_kind denied when uncaught). */\n"
          "interface PermissionDenied extends Error {\n"
          "    name: \"PermissionDenied\";\n    caller: string;\n"
          "    op: \"read\" | \"create\" | \"update\" | \"delete\" | string;\n"
          "    model: string;\n    object_id: number | null;\n}\n"
          "type AclOp = \"read\" | \"create\" | \"update\" | \"delete\";\n"
          "interface AclGrant {\n    id: number;\n    caller: string;\n    model: string;\n"
          "    ops: AclOp[];\n    object_id: number | null;\n    expires_at: number | null;\n"
          "    granted_by: string | null;\n    created_at: number;\n}\n"
          "interface AuditRow {\n    id: number;\n    at: number;\n    task_id: string | null;\n"
          "    caller: string;\n    op: string;\n    model: string;\n"
          "    object_id: number | null;\n    decision: \"allowed\" | \"denied\";\n"
          "    reason: string | null;\n}\n"
          "/** The context's owners and grants (owners only). */\n"
          "declare const acl: {\n"
          "    /** returns the new grant's id */\n"
          "    grant(g: { caller: string; model: string; ops: AclOp[] | string;\n"
          "               object_id?: number; expires_at?: number }): number;\n"
          "    /** returns the number of grants changed */\n"
          "    revoke(g: { caller: string; model: string; ops?: AclOp[] | string;\n"
          "                object_id?: number }): number;\n"
          "    list(): AclGrant[];\n    owners(): string[];\n"
          "    add_owner(caller: string): boolean;\n"
          "    /** refuses to remove the last owner */\n"
          "    remove_owner(caller: string): boolean;\n};\n"
          "/** The context's audit log (owners only). */\n"
          "declare const audit: {\n"
          "    /** newest first; limit 1..1000 (default 100) */\n"
          "    query(q?: { caller?: string; model?: string; decision?: \"allowed\" | \"denied\";\n"
          "                limit?: number }): AuditRow[];\n};\n\n"
          "interface ListOptions {\n"
          "    /** field: value (equality) or field: { eq|ne|lt|lte|gt|gte: value } */\n"
          "    where?: { [field: string]: any };\n"
          "    /** \"field\" ascending, \"-field\" descending (default \"id\") */\n"
          "    order?: string;\n    /** at most 1000 */\n    limit?: number;\n"
          "    offset?: number;\n}\n\n", f);
    for (size_t d = 0; d < ndocs; d++) {
        json_t *s;
        size_t i;
        json_array_foreach(json_object_get(docs[d], "structs"), i, s) {
            char js[64];
            pascal(str(s, "name"), js, sizeof js);
            ts_interface(f, js, json_object_get(s, "fields"), 0, 0);
            fputc('\n', f);
        }
    }
    for (size_t d = 0; d < ndocs; d++) {
        json_t *m;
        size_t i;
        fprintf(f, "// ---- domain %s ----\n\n", str(docs[d], "domain"));
        json_array_foreach(json_object_get(docs[d], "models"), i, m) {
            char js[64], in[80];
            json_t *fields = json_object_get(m, "fields");
            json_t *fd, *op;
            size_t k;

            pascal(str(m, "name"), js, sizeof js);
            snprintf(in, sizeof in, "%sInput", js);
            fprintf(f, "/** %s */\n", str(m, "doc"));
            ts_interface(f, js, fields, 1, 0);
            ts_interface(f, in, fields, 0, 0);
            fprintf(f, "interface %sBuilder {\n", js);
            json_array_foreach(fields, k, fd) {
                fprintf(f, "    %s(value: ", str(fd, "name"));
                ts_field_type(f, fd);
                fprintf(f, "): %sBuilder;\n", js);
            }
            fprintf(f, "    /** create the row, or update it when id(n) was set */\n"
                       "    id(value: number): %sBuilder;\n    save(): %s;\n}\n", js, js);
            fprintf(f, "interface %sModel {\n"
                       "    create(values: %s): %s;\n"
                       "    get(id: number): %s;\n"
                       "    update(id: number, values: Partial<%s>): %s;\n"
                       "    delete(id: number): boolean;\n"
                       "    list(options?: ListOptions): %s[];\n"
                       "    count(options?: ListOptions): number;\n",
                    js, in, js, js, in, js, js);
            json_array_foreach(json_object_get(m, "ops"), k, op)
                fprintf(f, "    /** %s */\n    %s(%s): %s;\n", str(op, "doc"), str(op, "name"),
                        str(op, "args"), str(op, "returns"));
            fprintf(f, "}\ndeclare const %s: %sModel;\n", js, js);
            fprintf(f, "declare function new_%s(): %sBuilder;\n\n", str(m, "name"), js);
        }
    }
}

/* ---- markdown ---- */

static void md_type(FILE *f, json_t *fd)
{
    const char *type = str(fd, "type");

    if (strcmp(type, "ref") == 0)
        fprintf(f, "ref → %s", str(fd, "ref"));
    else if (strcmp(type, "list") == 0)
        fprintf(f, "list of %s", str(fd, "of"));
    else
        fputs(type, f);
}

static void md_fields(FILE *f, json_t *fields)
{
    json_t *fd;
    size_t i;

    fputs("| field | type | rules | description |\n|---|---|---|---|\n", f);
    json_array_foreach(fields, i, fd) {
        json_t *v;
        int first = 1;
        fprintf(f, "| `%s` | ", str(fd, "name"));
        md_type(f, fd);
        fputs(" | ", f);
#define RULE(...) do { fputs(first ? "" : ", ", f); fprintf(f, __VA_ARGS__); first = 0; } while (0)
        if (json_is_true(json_object_get(fd, "required")))
            RULE("required");
        if ((v = json_object_get(fd, "min")) != NULL)
            RULE("min %g", json_number_value(v));
        if ((v = json_object_get(fd, "max")) != NULL)
            RULE(strcmp(str(fd, "type"), "string") == 0 ? "max length %g" : "max %g",
                 json_number_value(v));
        if ((v = json_object_get(fd, "maxitems")) != NULL)
            RULE("at most %lld items", (long long)json_integer_value(v));
        if ((v = json_object_get(fd, "enum")) != NULL) {
            json_t *e;
            size_t k;
            RULE("one of");
            json_array_foreach(v, k, e)
                fprintf(f, "%s `%s`", k ? "," : "", json_string_value(e));
        }
        if ((v = json_object_get(fd, "default")) != NULL) {
            char *t = json_dumps(v, JSON_ENCODE_ANY);
            RULE("default `%s`", t ? t : "");
            free(t);
        }
        if (json_is_true(json_object_get(fd, "index")))
            RULE("indexed");
        if (json_object_get(fd, "set_by") != NULL)
            RULE("[guarded](#guarded-fields)");
        if ((v = json_object_get(fd, "on_delete")) != NULL)
            RULE("[on delete: %s](#reference-list)", json_string_value(v));
#undef RULE
        fprintf(f, " | %s |\n", str(fd, "doc"));
    }
    fputc('\n', f);
}

/* "Guarded fields: `balance` (changes only through Account.transfer, or
 * by an owner)." under a model's table, when it has any. */
static void md_guarded(FILE *f, json_t *fields)
{
    json_t *fd;
    size_t i;
    int n = 0;

    json_array_foreach(fields, i, fd) {
        char text[600];
        if (json_object_get(fd, "set_by") == NULL)
            continue;
        guard_text(fd, text, sizeof text);
        fprintf(f, "%s`%s` (%s)", n++ ? "; " : "Guarded fields: ", str(fd, "name"), text);
    }
    if (n > 0)
        fputs(".\n\n", f);
}

/* One row of the guarded field list. */
static void md_guard(FILE *f, json_t *m, json_t *fd)
{
    char js[64], by[512];

    pascal(str(m, "name"), js, sizeof js);
    set_by_text(fd, by, sizeof by);
    fprintf(f, "| [%s](#%s) | `%s` | %s%s%s |\n", js, str(m, "name"), str(fd, "name"),
            *by ? "`" : "", *by ? by : "owners only", *by ? "`" : "");
}

/* One row of the reference list: ref <- model.field or model.field[].item. */
static void md_ref(FILE *f, const char *model, const char *field, const char *item,
                   json_t *fd)
{
    fprintf(f, "| [%s](#%s) | [%s](#%s).`%s%s%s` | %s |\n", str(fd, "ref"), str(fd, "ref"),
            model, model, field, item ? "[]." : "", item ? item : "", str(fd, "on_delete"));
}

static void emit_md(FILE *f, FILE *intro)
{
    char buf[4096];
    size_t n;

    while ((n = fread(buf, 1, sizeof buf, intro)) > 0)
        fwrite(buf, 1, n, f);
    fputs("\n<!-- Everything below is generated by dslgen from dsl/schema/<domain>.json. -->\n\n"
          "## Reference\n\n", f);
    fputs("| domain | models |\n|---|---|\n", f);
    for (size_t d = 0; d < ndocs; d++) {
        json_t *m;
        size_t i;
        fprintf(f, "| %s | ", str(docs[d], "domain"));
        json_array_foreach(json_object_get(docs[d], "models"), i, m) {
            char js[64];
            pascal(str(m, "name"), js, sizeof js);
            fprintf(f, "%s[%s](#%s)", i ? ", " : "", js, str(m, "name"));
        }
        fputs(" |\n", f);
    }
    fputs("\n<a id=\"guarded-field-list\"></a>\n#### Guarded fields\n\n"
          "These fields change only through the domain operations named, or by an owner "
          "of the context (see \"Guarded fields\" above):\n\n"
          "| model | field | set by |\n|---|---|---|\n", f);
    for_each_guard(md_guard, f);
    fputs("\n<a id=\"reference-list\"></a>\n#### References\n\n"
          "What `Model.delete(id)` does to the rows that reference the deleted one "
          "(see \"References and delete\" above): `restrict` refuses the delete with a "
          "`Conflict` while such a row exists, `cascade` deletes them too, in the same "
          "call:\n\n"
          "| referenced model | referenced by | on delete |\n|---|---|---|\n", f);
    for_each_ref(md_ref, f);
    fputc('\n', f);
    for (size_t d = 0; d < ndocs; d++) {
        json_t *m, *s;
        size_t i;
        fprintf(f, "### Domain %s\n\n%s\n\n", str(docs[d], "domain"), str(docs[d], "doc"));
        json_array_foreach(json_object_get(docs[d], "models"), i, m) {
            char js[64];
            json_t *op;
            size_t k;
            pascal(str(m, "name"), js, sizeof js);
            fprintf(f, "<a id=\"%s\"></a>\n#### %s (`%s`)\n\n%s\n\n", str(m, "name"), js,
                    str(m, "name"), str(m, "doc"));
            md_fields(f, json_object_get(m, "fields"));
            md_guarded(f, json_object_get(m, "fields"));
            fprintf(f, "Functions: `%s.create(values)`, `%s.get(id)`, `%s.update(id, values)`, "
                       "`%s.delete(id)`, `%s.list(options)`, `%s.count(options)`, "
                       "`new_%s()` (builder: one setter per field, then `.save()`)",
                    js, js, js, js, js, js, str(m, "name"));
            json_array_foreach(json_object_get(m, "ops"), k, op)
                fprintf(f, ", `%s.%s(%s)`", js, str(op, "name"), str(op, "args"));
            fputs(".\n\n", f);
            json_array_foreach(json_object_get(m, "ops"), k, op) {
                fprintf(f, "- `%s.%s(%s)` → `%s`: %s\n", js, str(op, "name"), str(op, "args"),
                        str(op, "returns"), str(op, "doc"));
                if (json_object_get(op, "example"))
                    fprintf(f, "  Example: `%s`\n", str(op, "example"));
            }
            if (json_array_size(json_object_get(m, "ops")) > 0)
                fputc('\n', f);
            if (*str(m, "example"))
                fprintf(f, "```js\n%s\n```\n\n", str(m, "example"));
        }
        json_array_foreach(json_object_get(docs[d], "structs"), i, s) {
            fprintf(f, "#### struct `%s`\n\n%s\n\n", str(s, "name"), str(s, "doc"));
            md_fields(f, json_object_get(s, "fields"));
        }
    }
}

int main(int argc, char **argv)
{
    char err[512];
    char hash[17];
    uint64_t h = 1469598103934665603ULL;
    FILE *fc, *fm, *ft, *intro;
    int rc = 1;

    if (argc < 6 || argc - 5 > MAX_DOCS) {
        fprintf(stderr, "usage: dslgen OUT.c OUT.md OUT.d.ts INTRO.md SCHEMA.json...\n");
        return 2;
    }
    for (int i = 5; i < argc; i++) {
        json_error_t je;
        char *canon;
        if ((docs[ndocs] = json_load_file(argv[i], JSON_REJECT_DUPLICATES, &je)) == NULL) {
            fprintf(stderr, "%s:%d: %s\n", argv[i], je.line, je.text);
            goto out;
        }
        canon = json_dumps(docs[ndocs++], JSON_SORT_KEYS | JSON_COMPACT);
        h = fnv1a(h, canon ? canon : "");
        free(canon);
    }
    if (dsl_schema_check(docs, ndocs, err, sizeof err) != 0) {
        fprintf(stderr, "dslgen: invalid schema: %s\n", err);
        goto out;
    }
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)h);
    fc = fopen(argv[1], "w");
    fm = fopen(argv[2], "w");
    ft = fopen(argv[3], "w");
    intro = fopen(argv[4], "r");
    if (fc && fm && ft && intro) {
        char *dts = NULL;
        size_t dlen = 0;
        FILE *mem = open_memstream(&dts, &dlen);
        if (mem != NULL) {
            emit_dts(mem);
            fclose(mem);
            fwrite(dts, 1, dlen, ft);
            emit_c(fc, hash, dts);
            emit_md(fm, intro);
            rc = 0;
        }
        free(dts);
    } else {
        perror("dslgen: open");
    }
    if (fc && fclose(fc) != 0)
        rc = 1;
    if (fm && fclose(fm) != 0)
        rc = 1;
    if (ft && fclose(ft) != 0)
        rc = 1;
    if (intro)
        fclose(intro);
out:
    for (size_t i = 0; i < ndocs; i++)
        json_decref(docs[i]);
    return rc;
}
