/* calendar.c -- domain calendar: calendars and events.
 *
 * Invariant: an event never ends before it starts. */
#include <string.h>

#include "dsl.h"

static int event_check(store_db *db, const store_model *m, json_t *old, json_t *row,
                       rhai_error *err)
{
    (void)db;
    (void)m;
    (void)old;
    if (dsl_int(row, "end") < dsl_int(row, "start"))
        return rh_error_set(err, RHAI_ESTATE, "event '%s' cannot end (%lld) before it "
                            "starts (%lld)", dsl_str(row, "title"),
                            (long long)dsl_int(row, "end"), (long long)dsl_int(row, "start"));
    return 0;
}

const dsl_op dsl_calendar_ops[] = {
    { NULL, NULL, NULL, 0 }
};

const dsl_check dsl_calendar_checks[] = {
    { "event", event_check },
    { NULL, NULL }
};
