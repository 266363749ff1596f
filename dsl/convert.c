/* convert.c -- script values in, JSON rows out: the checks and
 * conversions of the generic bindings (bind.c) and of the domain
 * operations. Arguments are checked against the schema's fields and
 * converted into JSON that the task's scratch list owns, so a TypeError
 * thrown half-way leaks nothing; rows go back to scripts as plain JS
 * values. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dsl.h"

int dsl__absidx(js_State *J, int idx)
{
    return idx < 0 ? js_gettop(J) + idx : idx;
}

/* ======================== arguments ======================== */

int64_t dsl_arg_id(js_State *J, int idx, const char *what)
{
    double d;

    if (!js_isnumber(J, idx))
        js_typeerror(J, "%s: id must be a number", what);
    d = js_tonumber(J, idx);
    if (!(d >= 1 && d <= 9007199254740991.0) || floor(d) != d)
        js_typeerror(J, "%s: id must be a positive integer", what);
    return (int64_t)d;
}

double dsl_arg_number(js_State *J, int idx, const char *what)
{
    double d;

    if (!js_isnumber(J, idx) || !isfinite(d = js_tonumber(J, idx)))
        js_typeerror(J, "%s must be a finite number", what);
    return d;
}

const char *dsl_arg_string(js_State *J, int idx, const char *what)
{
    if (!js_isstring(J, idx))
        js_typeerror(J, "%s must be a string", what);
    return js_tostring(J, idx);
}

/* One scalar at idx as JSON of type t (new), checked against f's rules when
 * f is not NULL. All js_* calls happen before the value is created. */
json_t *dsl__scalar_from_js(js_State *J, int idx, const store_field *f, store_type t,
                            const char *what, const char *name)
{
    double d = 0;

    switch (t) {
    case STORE_T_STRING: {
        const char *s;
        size_t n;
        json_t *v;
        if (!js_isstring(J, idx))
            js_typeerror(J, "%s: field '%s' must be a string", what, name);
        s = js_tostring(J, idx);
        n = strlen(s);
        if (f && (f->flags & STORE_F_MAX) && (double)n > f->max)
            js_typeerror(J, "%s: field '%s' is longer than %.0f bytes", what, name, f->max);
        if (f && f->enums) {
            const char *const *e;
            for (e = f->enums; *e; e++)
                if (strcmp(*e, s) == 0)
                    break;
            if (*e == NULL)
                js_typeerror(J, "%s: field '%s' must be one of its allowed values, not "
                             "'%.40s'", what, name, s);
        }
        if ((v = json_stringn(s, n)) == NULL)
            js_typeerror(J, "%s: field '%s' is not valid text (NUL or lone surrogate)",
                         what, name);
        return v;
    }
    case STORE_T_BOOL:
        if (!js_isboolean(J, idx))
            js_typeerror(J, "%s: field '%s' must be a boolean", what, name);
        return json_boolean(js_toboolean(J, idx));
    default:
        break;
    }
    if (!js_isnumber(J, idx) || !isfinite(d = js_tonumber(J, idx)))
        js_typeerror(J, "%s: field '%s' must be a finite number", what, name);
    if (t != STORE_T_NUMBER && (floor(d) != d || fabs(d) > 9007199254740991.0))
        js_typeerror(J, "%s: field '%s' must be an integer", what, name);
    if (t == STORE_T_REF && d < 1)
        js_typeerror(J, "%s: field '%s' must be an id (>= 1)", what, name);
    if (f && (f->flags & STORE_F_MIN) && d < f->min)
        js_typeerror(J, "%s: field '%s' must be at least %g", what, name, f->min);
    if (f && (f->flags & STORE_F_MAX) && d > f->max)
        js_typeerror(J, "%s: field '%s' must be at most %g", what, name, f->max);
    return t == STORE_T_NUMBER ? json_real(d) : json_integer((json_int_t)d);
}

void dsl__attach(js_State *J, json_t *obj, const char *key, json_t *v)
{
    if (v == NULL || json_object_set_new(obj, key, v) != 0)
        js_error(J, "out of memory");
}

static void fields_from_js(js_State *J, int idx, const store_field *fields, size_t n,
                           json_t *dest, int mode, const char *what, const char *owner);

/* The value at idx for field f into dest[f->name]. */
static void field_from_js(js_State *J, int idx, const store_field *f, json_t *dest,
                          int mode, const char *what)
{
    json_t *arr;
    int len;

    (void)mode;                 /* nested structs are always complete */
    if (js_isnull(J, idx)) {
        if (f->flags & STORE_F_REQUIRED)
            js_typeerror(J, "%s: required field '%s' cannot be null", what, f->name);
        dsl__attach(J, dest, f->name, json_null());
        return;
    }
    if (f->type != STORE_T_LIST) {
        dsl__attach(J, dest, f->name, dsl__scalar_from_js(J, idx, f, f->type, what, f->name));
        return;
    }
    if (!js_isarray(J, idx))
        js_typeerror(J, "%s: field '%s' must be an array", what, f->name);
    len = js_getlength(J, idx);
    if (f->maxitems > 0 && len > f->maxitems)
        js_rangeerror(J, "%s: field '%s' has %d items, more than %ld", what, f->name, len,
                      f->maxitems);
    arr = json_array();
    dsl__attach(J, dest, f->name, arr);      /* owned by dest from here on */
    for (int i = 0; i < len; i++) {
        char name[80];
        js_getindex(J, idx, i);
        snprintf(name, sizeof name, "%s[%d]", f->name, i);
        if (f->of == 0) {
            json_t *o = json_object();
            if (o == NULL || json_array_append_new(arr, o) != 0)
                js_error(J, "out of memory");
            if (!js_isobject(J, -1) || js_isarray(J, -1))
                js_typeerror(J, "%s: field '%s' must be an object (%s)", what, name,
                             f->item_name);
            fields_from_js(J, dsl__absidx(J, -1), f->item, f->nitem, o, DSL_CREATE, what, name);
        } else {
            json_t *v = dsl__scalar_from_js(J, -1, NULL, f->of, what, name);
            if (v == NULL || json_array_append_new(arr, v) != 0)
                js_error(J, "out of memory");
        }
        js_pop(J, 1);
    }
}

/* Check the own properties of the object at idx against 'fields' into
 * dest. 'owner' prefixes field names for nested structs ("" at the top). */
static void fields_from_js(js_State *J, int idx, const store_field *fields, size_t n,
                           json_t *dest, int mode, const char *what, const char *owner)
{
    const char *key;

    js_pushiterator(J, idx, 1);
    while ((key = js_nextiterator(J, -1)) != NULL) {
        size_t i;
        for (i = 0; i < n; i++)
            if (strcmp(fields[i].name, key) == 0)
                break;
        if (i == n)
            js_typeerror(J, "%s: unknown field '%s%s%.64s'", what, owner, *owner ? "." : "",
                         key);
    }
    js_pop(J, 1);
    for (size_t i = 0; i < n; i++) {
        const store_field *f = &fields[i];
        js_getproperty(J, idx, f->name);
        if (js_isundefined(J, -1)) {
            if (mode == DSL_CREATE && f->dflt) {
                json_t *d = json_loads(f->dflt, JSON_DECODE_ANY, NULL);
                dsl__attach(J, dest, f->name, d);
            } else if (mode == DSL_CREATE && (f->flags & STORE_F_REQUIRED)) {
                js_typeerror(J, "%s: missing required field '%s%s%s'", what, owner,
                             *owner ? "." : "", f->name);
            }
        } else {
            field_from_js(J, dsl__absidx(J, -1), f, dest, mode, what);
        }
        js_pop(J, 1);
    }
}

/* Arguments of values_convert, behind a pointer: nothing in the frame
 * that holds the js_try changes after it. */
typedef struct values_conv {
    int                idx;
    const store_model *m;
    int                mode;
    const char        *what;
    json_t            *v;
} values_conv;

static void values_convert(js_State *J, const values_conv *c)
{
    if (js_try(J)) {
        dsl__converting(0);
        js_throw(J);
    }
    dsl__converting(1);
    fields_from_js(J, c->idx, c->m->fields, c->m->nfields, c->v, c->mode, c->what, "");
    js_endtry(J);
    dsl__converting(0);
}

json_t *dsl_values_from_js(js_State *J, int idx, const store_model *m, int mode,
                           const char *what)
{
    values_conv c;

    c.idx = dsl__absidx(J, idx);
    c.m = m;
    c.mode = mode;
    c.what = what;
    if (!js_isobject(J, c.idx) || js_isarray(J, c.idx))
        js_typeerror(J, "%s: values must be an object", what);
    c.v = dsl_keep(J, json_object());
    values_convert(J, &c);
    return c.v;
}

/* ======================== results ======================== */

void dsl_push_json(js_State *J, json_t *v)
{
    const char *key;
    json_t *e;
    size_t i;

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        js_newobject(J);
        json_object_foreach(v, key, e) {
            dsl_push_json(J, e);
            js_setproperty(J, -2, key);
        }
        break;
    case JSON_ARRAY:
        js_newarray(J);
        json_array_foreach(v, i, e) {
            dsl_push_json(J, e);
            js_setindex(J, -2, (int)i);
        }
        break;
    case JSON_STRING:
        js_pushstring(J, json_string_value(v));
        break;
    case JSON_INTEGER:
    case JSON_REAL:
        js_pushnumber(J, json_number_value(v));
        break;
    case JSON_TRUE:
        js_pushboolean(J, 1);
        break;
    case JSON_FALSE:
        js_pushboolean(J, 0);
        break;
    default:
        js_pushnull(J);
        break;
    }
}
