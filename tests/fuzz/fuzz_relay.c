/* fuzz_relay.c -- rhaid's check of the events an executor's result carries
 * (wk_relay_check, src/daemon/relay.c): outside input, from a process
 * that runs untrusted scripts.
 *
 * The input is the events JSON text of a result of task "t1" (context
 * "acme", caller "alice", trace "root", depth 2). Invariants: never a
 * crash; every event kept names context "acme", has a valid id, a depth
 * in 1..RH_EVENT_DEPTH_LIMIT and, when it is t1's own, caller "alice",
 * trace "root" and depth 3; every subscription of a kept event gives a
 * valid subscriber task id, names a valid worker id and caller, and has
 * a script within max_script. */
#include <string.h>

#include "fuzz.h"
#include "daemon/daemon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static wk_config cfg;
    rh_task t;
    json_t *ok = NULL, *e, *s;
    char *text = malloc(size + 1), sid[RH_NAME_MAX + 1];
    size_t i, k;

    FZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    cfg.max_script = 4096;
    cfg.max_args = 4096;
    rh_task_init(&t);
    t.context_id = (char *)"acme";
    t.caller_id = (char *)"alice";
    t.trace_id = (char *)"root";
    t.parent_id = (char *)"p";
    t.depth = 2;
    (void)wk_relay_check(&cfg, &t, "t1", text, &ok);
    json_array_foreach(ok, i, e) {
        const char *task = json_string_value(json_object_get(e, "task"));
        json_int_t depth = json_integer_value(json_object_get(e, "depth"));

        FZ_CHECK(strcmp(json_string_value(json_object_get(e, "context")), "acme") == 0);
        FZ_CHECK(rh_name_valid(json_string_value(json_object_get(e, "id"))));
        FZ_CHECK(depth >= 1 && depth <= RH_EVENT_DEPTH_LIMIT);
        if (strcmp(task, "t1") == 0) {
            FZ_CHECK(strcmp(json_string_value(json_object_get(e, "caller")), "alice") == 0);
            FZ_CHECK(strcmp(json_string_value(json_object_get(e, "trace")), "root") == 0);
            FZ_CHECK(depth == 3);
        }
        json_array_foreach(json_object_get(e, "subs"), k, s) {
            FZ_CHECK(rh_event_task_id(sid, json_string_value(json_object_get(e, "id")),
                                      json_string_value(json_object_get(s, "name"))) == 0);
            FZ_CHECK(rh_name_valid(sid));
            FZ_CHECK(rh_name_valid(json_string_value(json_object_get(s, "worker"))));
            FZ_CHECK(strlen(json_string_value(json_object_get(s, "script"))) <= 4096);
            FZ_CHECK(json_string_value(json_object_get(s, "caller")) != NULL);
        }
    }
    json_decref(ok);
    free(text);
    return 0;
}
