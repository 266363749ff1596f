/* fuzz_args.c -- a task's JSON args through the sandbox: eng_run with a
 * small memory cap, args_json from the input and a fixed script.
 *
 * Input: [script selector] then the args text. Invariants: eng_run never
 * crashes, returns 0 (or RHAI_ENOMEM) and always fills the output; an
 * error has a kind and a message, a success has JSON text that jansson
 * reads (the worker splices it into the reply); every string is valid
 * UTF-8 (jansson takes it); and args that rhaid's validation accepts
 * (rh_task_validate: jansson, JSON_DECODE_ANY) are accepted by the
 * sandbox too: they never fail as `invalid`. */
#include "fuzz.h"
#include "engine/engine.h"

static const char *const scripts[] = {
    "JSON.stringify(args)",
    "args",
    "var n = 0; for (var k in args) n++; [typeof args, n]",
};

static int utf8_ok(const char *s)
{
    json_t *j;
    if (s == NULL)
        return 1;
    j = json_string(s);     /* NULL for invalid UTF-8 */
    json_decref(j);
    return j != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = { data, size };
    const char *script = scripts[fz_byte(&in) % (sizeof scripts / sizeof scripts[0])];
    char *args = fz_strndup(in.p, in.n);
    json_t *accepted = json_loads(args, JSON_DECODE_ANY, NULL);
    eng_input ei;
    eng_limits lim;
    eng_output out;
    int rc;

    memset(&ei, 0, sizeof ei);
    ei.task_id = "fuzz-args";
    ei.script = script;
    ei.script_len = strlen(script);
    ei.args_json = args;
    ei.worker_id = "fuzz";
    ei.context_id = "default";
    ei.caller_id = "anonymous";
    memset(&lim, 0, sizeof lim);
    lim.memory = 8u * 1024u * 1024u;
    lim.max_output = 256u * 1024u;

    eng_output_init(&out);
    rc = eng_run(&ei, &lim, &out);
    FZ_CHECK(rc == 0 || rc == RHAI_ENOMEM);
    FZ_CHECK(out.status == RHAI_STATUS_DONE || out.status == RHAI_STATUS_ERROR);
    FZ_CHECK(utf8_ok(out.output) && utf8_ok(out.error) && utf8_ok(out.logs));
    if (out.status == RHAI_STATUS_DONE) {
        /* the worker splices the output into the reply (rh_task_reply_json)
         * and the client reads it back (rh_task_from_reply): same value */
        rh_task t, back;
        char *reply;
        FZ_CHECK(out.kind == RH_EK_NONE && out.output != NULL);
        if (!fz_json_load_ok(out.output))
            fprintf(stderr, "output is not JSON: %s\n", out.output);
        FZ_CHECK(fz_json_load_ok(out.output));
        rh_task_init(&t);
        rh_task_init(&back);
        t.id = (char *)"fuzz-args";
        t.status = RHAI_STATUS_DONE;
        t.output = out.output;
        reply = rh_task_reply_json(&t);
        FZ_CHECK(reply != NULL);
        FZ_CHECK(rh_task_from_reply(&back, reply, strlen(reply), NULL) == 0);
        if (!fz_json_same(out.output, back.output))
            fprintf(stderr, "output changed on its way to the client: %s -> %s\n",
                    out.output, back.output);
        FZ_CHECK(fz_json_same(out.output, back.output));
        rh_free(reply);
        rh_task_clear(&back);
    } else {
        FZ_CHECK(out.kind != RH_EK_NONE && out.error != NULL && out.error[0] != '\0');
        if (accepted && out.kind == RH_EK_INVALID)
            fprintf(stderr, "valid args refused by the sandbox: %s\nargs: %s\n", out.error,
                    args);
        FZ_CHECK(!(accepted && out.kind == RH_EK_INVALID));
    }
    eng_output_clear(&out);
    json_decref(accepted);
    free(args);
    return 0;
}
