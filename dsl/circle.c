/* circle.c -- domain circle: named groups of members with roles.
 *
 * Invariant: a member appears once in a circle, and a circle with members
 * always has an admin. */
#include <string.h>

#include "dsl.h"

static int circle_check(store_db *db, const store_model *m, json_t *old, json_t *row,
                        rhai_error *err)
{
    json_t *members = json_object_get(row, "members");
    json_t *v;
    size_t i;
    int admins = 0;

    (void)db;
    (void)m;
    (void)old;
    json_array_foreach(members, i, v) {
        for (size_t j = 0; j < i; j++)
            if (strcmp(dsl_str(json_array_get(members, j), "member"),
                       dsl_str(v, "member")) == 0)
                return rh_error_set(err, RHAI_ESTATE, "'%s' is in the circle twice",
                                    dsl_str(v, "member"));
        admins += strcmp(dsl_str(v, "role"), "admin") == 0;
    }
    if (json_array_size(members) > 0 && admins == 0)
        return rh_error_set(err, RHAI_ESTATE, "a circle with members needs an admin");
    return 0;
}

/* Circle.add_member(id, member, role) -> Circle */
static void circle_add_member(js_State *J)
{
    const store_model *m = js_currentfunctiondata(J);
    const store_field *f = store_model_field(m, "members");
    json_t *c = NULL, *row = NULL, *upd = NULL;
    char member[201];
    const char *role;
    const char *const *e;
    int64_t id;
    store_db *db;
    rhai_error err;
    int rc;

    dsl_call_begin(J);
    id = dsl_arg_id(J, 1, "Circle.add_member: id");
    if (strlen(dsl_arg_string(J, 2, "Circle.add_member: member")) > 200 ||
        !*js_tostring(J, 2))
        js_typeerror(J, "Circle.add_member: member must be 1..200 bytes");
    snprintf(member, sizeof member, "%s", js_tostring(J, 2));
    role = dsl_arg_string(J, 3, "Circle.add_member: role");
    for (e = store_model_field(&(store_model){ .fields = f->item, .nfields = f->nitem },
                               "role")->enums; *e; e++)
        if (strcmp(*e, role) == 0)
            break;
    if (*e == NULL)
        js_typeerror(J, "Circle.add_member: role must be admin, member or guest");
    role = *e;                          /* static: safe after js_* calls */
    db = dsl_write_begin(J);
    rc = dsl_authorize(db, m->name, STORE_OP_UPDATE, id, &err);
    if (rc == 0)
        rc = store_get(db, m, id, &c, &err);
    if (rc == 0) {
        json_t *members = json_object_get(c, "members");
        json_t *nm = json_is_array(members) ? json_copy(members) : json_array();
        if (nm == NULL ||
            json_array_append_new(nm, json_pack("{ss ss}", "member", member, "role", role)) ||
            (upd = json_pack("{so}", "members", nm)) == NULL)
            rc = rh_error_set(&err, RHAI_ENOMEM, "out of memory");
        else
            rc = dsl_update_checked(db, m, id, upd, DSL_BY_OP, &row, &err);
    }
    json_decref(c);
    json_decref(upd);
    dsl_write_end_row(J, db, rc, &err, row);
}

const dsl_op dsl_circle_ops[] = {
    { "circle", "add_member", circle_add_member, 3 },
    { NULL, NULL, NULL, 0 }
};

const dsl_check dsl_circle_checks[] = {
    { "circle", circle_check },
    { NULL, NULL }
};
