/* contacts.c -- domain contacts: contacts and groups.
 *
 * Invariant: a group's members are ids of existing contacts, each once. */
#include <string.h>

#include "dsl.h"

static int group_check(store_db *db, const store_model *m, json_t *old, json_t *row,
                       rhai_error *err)
{
    json_t *members = json_object_get(row, "members");
    json_t *v;
    size_t i;

    (void)m;
    (void)old;
    json_array_foreach(members, i, v) {
        json_t *c = NULL;
        int rc;
        for (size_t j = 0; j < i; j++)
            if (json_equal(json_array_get(members, j), v))
                return rh_error_set(err, RHAI_ESTATE, "contact %lld is in the group twice",
                                    (long long)json_integer_value(v));
        rc = dsl_get_authorized(db, dsl_model("contact"), json_integer_value(v), &c, err);
        json_decref(c);
        if (rc == RHAI_ENOTFOUND)
            return rh_error_set(err, RHAI_ESTATE, "group member: contact %lld does not exist",
                                (long long)json_integer_value(v));
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Group.add_member(id, contact) -> Group */
static void group_add_member(js_State *J)
{
    const store_model *m = js_currentfunctiondata(J);
    json_t *g = NULL, *row = NULL, *upd = NULL;
    int64_t id, contact;
    store_db *db;
    rhai_error err;
    int rc;

    dsl_call_begin(J);
    id = dsl_arg_id(J, 1, "Group.add_member: id");
    contact = dsl_arg_id(J, 2, "Group.add_member: contact");
    db = dsl_write_begin(J);
    rc = dsl_authorize(db, m->name, STORE_OP_UPDATE, id, &err);
    if (rc == 0)
        rc = store_get(db, m, id, &g, &err);
    if (rc == 0) {
        json_t *members = json_object_get(g, "members");
        json_t *nm = json_is_array(members) ? json_copy(members) : json_array();
        if (nm == NULL || json_array_append_new(nm, json_integer(contact)) != 0 ||
            (upd = json_pack("{so}", "members", nm)) == NULL)
            rc = rh_error_set(&err, RHAI_ENOMEM, "out of memory");
        else
            rc = dsl_update_checked(db, m, id, upd, DSL_BY_OP, &row, &err);
    }
    json_decref(g);
    json_decref(upd);
    dsl_write_end_row(J, db, rc, &err, row);
}

const dsl_op dsl_contacts_ops[] = {
    { "group", "add_member", group_add_member, 2 },
    { NULL, NULL, NULL, 0 }
};

const dsl_check dsl_contacts_checks[] = {
    { "group", group_check },
    { NULL, NULL }
};
