/* pg_none.c -- placeholder postgres backend until pg.c lands: every store
 * it would make is refused with a clear message. */
#include "store_int.h"

static int none_create(const char *location, const store_schema *schema, store **out,
                       rhai_error *err)
{
    (void)location;
    (void)schema;
    *out = NULL;
    return rh_error_set(err, RHAI_EINVAL, "this build has no postgres store");
}

const store_backend store__postgres = { .name = "postgres", .create = none_create };
