/* schema_check.c -- validate the dsl schema documents (dsl/schema/<domain>.json).
 *
 * Shared by the build-time generator (dslgen, which refuses to emit
 * anything from a schema that fails here) and by `rhaictl dsl validate`.
 * Depends on jansson only, so the generator builds before anything else.
 * The format is described in docs/dsl.md ("Schema format"). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dsl_schema.h"

static int fail(char *err, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && n > 0) {
        va_start(ap, fmt);
        vsnprintf(err, n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* [a-z][a-z0-9_]*, at most 40 chars: safe as a quoted SQL identifier, a
 * JS property and a file name. */
int dsl_ident_valid(const char *s)
{
    size_t i;

    if (s == NULL || !(s[0] >= 'a' && s[0] <= 'z'))
        return 0;
    for (i = 0; s[i]; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return i <= 40;
}

static const char *const scalar_types[] = { "string", "int", "number", "bool", "date",
                                            NULL };

static int in_list(const char *const *l, const char *s)
{
    for (; *l; l++)
        if (strcmp(*l, s) == 0)
            return 1;
    return 0;
}

/* Names a field cannot take: the columns every table has. */
static const char *const reserved_fields[] = { "id", "created_at", "updated_at", "save",
                                               NULL };

static const char *const field_keys[] = { "name", "type", "ref", "of", "required", "index",
                                          "min", "max", "maxitems", "enum", "default",
                                          "doc", "set_by", "on_delete", NULL };

/* Is 'name' the name of a model / struct in any of the documents? */
static json_t *find_named(json_t *const *docs, size_t n, const char *section,
                          const char *name)
{
    for (size_t d = 0; d < n; d++) {
        json_t *arr = json_object_get(docs[d], section);
        size_t i;
        json_t *m;

        json_array_foreach(arr, i, m) {
            const char *mn = json_string_value(json_object_get(m, "name"));
            if (mn && strcmp(mn, name) == 0)
                return m;
        }
    }
    return NULL;
}

static int check_default(const char *where, json_t *f, const char *type, char *err,
                         size_t n)
{
    json_t *d = json_object_get(f, "default");

    if (d == NULL)
        return 0;
    if ((strcmp(type, "string") == 0 && !json_is_string(d)) ||
        ((strcmp(type, "int") == 0 || strcmp(type, "date") == 0) && !json_is_integer(d)) ||
        (strcmp(type, "number") == 0 && !json_is_number(d)) ||
        (strcmp(type, "bool") == 0 && !json_is_boolean(d)) ||
        strcmp(type, "ref") == 0 || strcmp(type, "list") == 0)
        return fail(err, n, "%s: default does not fit type %s", where, type);
    if (json_is_string(d) && json_object_get(f, "enum")) {
        json_t *e;
        size_t i;
        int found = 0;
        json_array_foreach(json_object_get(f, "enum"), i, e)
            found |= json_equal(e, d);
        if (!found)
            return fail(err, n, "%s: default is not one of its enum values", where);
    }
    return 0;
}

/* "set_by" of a guarded field: a list, possibly empty (owners only), of
 * the domain operations that write it, each "model.op" naming an op some
 * schema declares, once. Only on a model's own fields (a struct's fields
 * are written with their list), and never on a required field: a caller
 * who is not an owner could not create the row at all. */
static int check_set_by(json_t *const *docs, size_t ndocs, const char *where, json_t *f,
                        json_t *v, int in_struct, char *err, size_t n)
{
    json_t *e;
    size_t i;

    if (in_struct)
        return fail(err, n, "%s: set_by only goes on a model's fields, not a struct's", where);
    if (!json_is_array(v))
        return fail(err, n, "%s: set_by is a list of \"model.op\" (empty: owners only)",
                    where);
    if (json_is_true(json_object_get(f, "required")))
        return fail(err, n, "%s: a guarded field (set_by) cannot be required", where);
    json_array_foreach(v, i, e) {
        const char *s = json_string_value(e);
        const char *dot = s ? strchr(s, '.') : NULL;
        char model[64];
        json_t *m, *op;
        size_t k;
        int found = 0;

        if (dot == NULL || (size_t)(dot - s) >= sizeof model)
            return fail(err, n, "%s: set_by entries are \"model.op\"", where);
        snprintf(model, sizeof model, "%.*s", (int)(dot - s), s);
        if ((m = find_named(docs, ndocs, "models", model)) == NULL)
            return fail(err, n, "%s: set_by names unknown model \"%s\"", where, model);
        json_array_foreach(json_object_get(m, "ops"), k, op) {
            const char *on = json_string_value(json_object_get(op, "name"));
            found |= on != NULL && strcmp(on, dot + 1) == 0;
        }
        if (!found)
            return fail(err, n, "%s: set_by names \"%s\", not an op of model %s", where, s,
                        model);
        for (size_t j = 0; j < i; j++)
            if (json_equal(json_array_get(v, j), e))
                return fail(err, n, "%s: set_by names \"%s\" twice", where, s);
    }
    return 0;
}

/* One field of a model (in_struct 0) or of a struct (1). */
static int check_field(json_t *const *docs, size_t ndocs, const char *owner, json_t *f,
                       int in_struct, char *err, size_t n)
{
    char where[160];
    const char *name = json_string_value(json_object_get(f, "name"));
    const char *type = json_string_value(json_object_get(f, "type"));
    const char *key;
    json_t *v;

    if (!json_is_object(f))
        return fail(err, n, "%s: a field is not an object", owner);
    if (!dsl_ident_valid(name))
        return fail(err, n, "%s: field name %s is not [a-z][a-z0-9_]* (40 chars at most)",
                    owner, name ? name : "(missing)");
    snprintf(where, sizeof where, "%s.%s", owner, name);
    if (!in_struct && in_list(reserved_fields, name))
        return fail(err, n, "%s: %s is a reserved field name", where, name);
    json_object_foreach(f, key, v) {
        if (!in_list(field_keys, key))
            return fail(err, n, "%s: unknown key \"%s\"", where, key);
    }
    if (type == NULL)
        return fail(err, n, "%s: no type", where);
    if (strcmp(type, "ref") == 0) {
        const char *ref = json_string_value(json_object_get(f, "ref"));
        if (ref == NULL)
            return fail(err, n, "%s: a ref needs \"ref\": the model it points to", where);
        if (find_named(docs, ndocs, "models", ref) == NULL)
            return fail(err, n, "%s: ref to unknown model \"%s\"", where, ref);
        /* what deleting the row it points to does, declared per reference */
        v = json_object_get(f, "on_delete");
        if (v == NULL)
            return fail(err, n, "%s: a ref needs \"on_delete\": \"restrict\" (deleting the "
                        "%s it points to fails) or \"cascade\" (deletes this row too)",
                        where, ref);
        if (!json_is_string(v) || (strcmp(json_string_value(v), "restrict") != 0 &&
                                   strcmp(json_string_value(v), "cascade") != 0))
            return fail(err, n, "%s: on_delete is \"restrict\" or \"cascade\"", where);
    } else if (strcmp(type, "list") == 0) {
        const char *of = json_string_value(json_object_get(f, "of"));
        if (in_struct)
            return fail(err, n, "%s: lists cannot nest inside a struct", where);
        if (of == NULL)
            return fail(err, n, "%s: a list needs \"of\": a scalar type or a struct", where);
        if (!in_list(scalar_types, of) && find_named(docs, ndocs, "structs", of) == NULL)
            return fail(err, n, "%s: list of unknown type or struct \"%s\"", where, of);
    } else if (!in_list(scalar_types, type)) {
        return fail(err, n, "%s: unknown type \"%s\"", where, type);
    }
    if (json_object_get(f, "ref") && strcmp(type, "ref") != 0)
        return fail(err, n, "%s: \"ref\" only goes with type ref", where);
    if (json_object_get(f, "on_delete") && strcmp(type, "ref") != 0)
        return fail(err, n, "%s: \"on_delete\" only goes with type ref", where);
    if (json_object_get(f, "of") && strcmp(type, "list") != 0)
        return fail(err, n, "%s: \"of\" only goes with type list", where);
    if ((v = json_object_get(f, "enum")) != NULL) {
        json_t *e;
        size_t i;
        if (strcmp(type, "string") != 0 || !json_is_array(v) || json_array_size(v) == 0)
            return fail(err, n, "%s: enum is a non-empty list of strings on a string",
                        where);
        json_array_foreach(v, i, e) {
            if (!json_is_string(e))
                return fail(err, n, "%s: enum values must be strings", where);
        }
    }
    if ((v = json_object_get(f, "min")) != NULL && !json_is_number(v))
        return fail(err, n, "%s: min must be a number", where);
    if ((v = json_object_get(f, "max")) != NULL && !json_is_number(v))
        return fail(err, n, "%s: max must be a number", where);
    if ((v = json_object_get(f, "maxitems")) != NULL &&
        (!json_is_integer(v) || json_integer_value(v) < 1 || strcmp(type, "list") != 0))
        return fail(err, n, "%s: maxitems is a positive integer on a list", where);
    if ((v = json_object_get(f, "required")) != NULL && !json_is_boolean(v))
        return fail(err, n, "%s: required is true or false", where);
    if ((v = json_object_get(f, "index")) != NULL && !json_is_boolean(v))
        return fail(err, n, "%s: index is true or false", where);
    if ((v = json_object_get(f, "doc")) != NULL && !json_is_string(v))
        return fail(err, n, "%s: doc is a string", where);
    if ((v = json_object_get(f, "set_by")) != NULL &&
        check_set_by(docs, ndocs, where, f, v, in_struct, err, n) != 0)
        return -1;
    return check_default(where, f, type, err, n);
}

static int check_fields(json_t *const *docs, size_t ndocs, const char *owner,
                        json_t *fields, int in_struct, char *err, size_t n)
{
    json_t *f;
    size_t i;

    if (!json_is_array(fields) || json_array_size(fields) == 0)
        return fail(err, n, "%s: \"fields\" must be a non-empty list", owner);
    json_array_foreach(fields, i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        if (check_field(docs, ndocs, owner, f, in_struct, err, n) != 0)
            return -1;
        for (size_t j = 0; j < i; j++) {
            const char *other = json_string_value(json_object_get(json_array_get(fields, j),
                                                                  "name"));
            if (strcmp(other, name) == 0)
                return fail(err, n, "%s: duplicate field \"%s\"", owner, name);
        }
    }
    return 0;
}

/* Count the entries named 'name' in 'section' of every document. */
static int count_named(json_t *const *docs, size_t n, const char *name)
{
    static const char *const sections[] = { "models", "structs" };
    int count = 0;

    for (size_t d = 0; d < n; d++) {
        for (int s = 0; s < 2; s++) {
            json_t *m;
            size_t i;
            json_array_foreach(json_object_get(docs[d], sections[s]), i, m) {
                const char *mn = json_string_value(json_object_get(m, "name"));
                if (mn && strcmp(mn, name) == 0)
                    count++;
            }
        }
    }
    return count;
}

static int check_entries(json_t *const *docs, size_t ndocs, const char *domain,
                         json_t *arr, int structs, char *err, size_t n)
{
    json_t *m;
    size_t i;

    json_array_foreach(arr, i, m) {
        const char *name = json_string_value(json_object_get(m, "name"));
        const char *key;
        json_t *v;
        char owner[100];

        if (!json_is_object(m) || !dsl_ident_valid(name))
            return fail(err, n, "%s: %s name %s is not [a-z][a-z0-9_]*", domain,
                        structs ? "struct" : "model", name ? name : "(missing)");
        if (strncmp(name, "sqlite_", 7) == 0 || strncmp(name, "rhai_", 5) == 0)
            return fail(err, n, "%s: model name %s is reserved", domain, name);
        if (count_named(docs, ndocs, name) > 1)
            return fail(err, n, "%s: duplicate model or struct name \"%s\"", domain, name);
        json_object_foreach(m, key, v) {
            if (strcmp(key, "name") != 0 && strcmp(key, "doc") != 0 &&
                strcmp(key, "fields") != 0 && strcmp(key, "example") != 0 &&
                (structs || strcmp(key, "ops") != 0))
                return fail(err, n, "%s.%s: unknown key \"%s\"", domain, name, key);
        }
        snprintf(owner, sizeof owner, "%s", name);
        if ((v = json_object_get(m, "ops")) != NULL) {
            json_t *op;
            size_t k;
            if (!json_is_array(v))
                return fail(err, n, "%s: \"ops\" must be a list", name);
            json_array_foreach(v, k, op) {
                const char *on = json_string_value(json_object_get(op, "name"));
                if (!dsl_ident_valid(on) || !json_is_string(json_object_get(op, "doc")) ||
                    !json_is_string(json_object_get(op, "args")) ||
                    !json_is_string(json_object_get(op, "returns")))
                    return fail(err, n, "%s: an op needs name, args, returns and doc", name);
            }
        }
        if (check_fields(docs, ndocs, owner, json_object_get(m, "fields"), structs,
                         err, n) != 0)
            return -1;
    }
    return 0;
}

int dsl_schema_check(json_t *const *docs, size_t ndocs, char *err, size_t n)
{
    for (size_t d = 0; d < ndocs; d++) {
        const char *domain = json_string_value(json_object_get(docs[d], "domain"));
        json_t *models = json_object_get(docs[d], "models");
        json_t *structs = json_object_get(docs[d], "structs");
        const char *key;
        json_t *v;

        if (!json_is_object(docs[d]) || !dsl_ident_valid(domain))
            return fail(err, n, "schema %zu: \"domain\" must be [a-z][a-z0-9_]*", d + 1);
        for (size_t e = 0; e < d; e++) {
            if (strcmp(json_string_value(json_object_get(docs[e], "domain")), domain) == 0)
                return fail(err, n, "duplicate domain \"%s\"", domain);
        }
        json_object_foreach(docs[d], key, v) {
            if (strcmp(key, "domain") != 0 && strcmp(key, "doc") != 0 &&
                strcmp(key, "models") != 0 && strcmp(key, "structs") != 0)
                return fail(err, n, "%s: unknown key \"%s\"", domain, key);
        }
        if (!json_is_array(models) || json_array_size(models) == 0)
            return fail(err, n, "%s: \"models\" must be a non-empty list", domain);
        if (structs != NULL && !json_is_array(structs))
            return fail(err, n, "%s: \"structs\" must be a list", domain);
        if (check_entries(docs, ndocs, domain, structs, 1, err, n) != 0 ||
            check_entries(docs, ndocs, domain, models, 0, err, n) != 0)
            return -1;
    }
    return 0;
}
