/* fuzz_msg_task.c -- eng_msg_decode_task over arbitrary bytes: the frame
 * payload an executor reads from its parent (the binary format of
 * message.c; the first input byte selects an allocation to fail).
 *
 * Invariants: 0, RHAI_EPROTO or RHAI_ENOMEM (injected), with a message;
 * nothing leaks on failure; eng__msg_task_id (the id the executor answers
 * a refused frame with) never reads outside the payload, and on a decoded
 * task finds its id; a decoded task encodes again and decodes to the same
 * fields and limits. */
#include "fuzz.h"
#include "engine/engine_int.h"

static int same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = { data, size };
    unsigned oom = fz_byte(&in);
    eng_input t, t2;
    eng_limits lim, lim2, r1, r2;
    rhai_error err;
    rh_buf b;
    char *id;
    int rc;

    if (oom % 8 == 7)
        rh_alloc_fail_after(1 + oom / 8);
    memset(&err, 0, sizeof err);
    rc = eng_msg_decode_task((const char *)in.p, in.n, &t, &lim, &err);
    rh_alloc_fail_after(0);
    FZ_CHECK(rc == 0 || rc == RHAI_EPROTO || rc == RHAI_ENOMEM);
    id = eng__msg_task_id((const char *)in.p, in.n);
    if (rc != 0) {
        FZ_CHECK(err.code == rc && err.msg[0] != '\0');
        rh_free(id);
        return 0;
    }
    FZ_CHECK(t.script != NULL);
    FZ_CHECK(same(id, t.task_id));
    rh_free(id);

    rh_buf_init(&b);
    rc = eng_msg_encode_task(&b, &t, &lim);
    FZ_CHECK(rc == 0);
    FZ_CHECK(b.len >= RH_FRAME_HDR);
    rc = eng_msg_decode_task(b.data + RH_FRAME_HDR, b.len - RH_FRAME_HDR, &t2, &lim2, &err);
    if (rc != 0)
        fprintf(stderr, "re-encoded task does not decode: %s\n", err.msg);
    FZ_CHECK(rc == 0);
    FZ_CHECK(same(t.task_id, t2.task_id));
    FZ_CHECK(t.script_len == t2.script_len);
    FZ_CHECK(memcmp(t.script, t2.script, t.script_len) == 0);
    FZ_CHECK(same(t.args_json, t2.args_json));
    FZ_CHECK(same(t.worker_id, t2.worker_id));
    FZ_CHECK(same(t.context_id, t2.context_id));
    FZ_CHECK(same(t.caller_id, t2.caller_id));
    FZ_CHECK(same(t.parent_id, t2.parent_id));
    FZ_CHECK(same(t.trace_id, t2.trace_id));
    FZ_CHECK(same(t.event_json, t2.event_json));
    FZ_CHECK(t.depth >= 0 && t.depth == t2.depth);
    FZ_CHECK(t.depth_max > 0 && t.depth_max == t2.depth_max);
    FZ_CHECK(t.event_repair_ms > 0 && t.event_repair_ms == t2.event_repair_ms);
    /* a 0 limit means "default" and is sent resolved */
    r1.memory = lim.memory ? lim.memory : ENG_DEFAULT_MEMORY;
    r1.max_script = lim.max_script ? lim.max_script : ENG_DEFAULT_MAX_SCRIPT;
    r1.max_output = lim.max_output ? lim.max_output : ENG_DEFAULT_MAX_OUTPUT;
    r1.max_logs = lim.max_logs ? lim.max_logs : ENG_DEFAULT_MAX_LOGS;
    r2 = lim2;
    FZ_CHECK(r1.memory == r2.memory && r1.max_script == r2.max_script &&
             r1.max_output == r2.max_output && r1.max_logs == r2.max_logs);
    eng_input_free(&t2);
    eng_input_free(&t);
    rh_buf_free(&b);
    return 0;
}
