/* fuzz_reply.c -- rh_task_from_reply over arbitrary bytes: what a client
 * does with whatever it pops from a reply list (anyone may LPUSH there).
 *
 * Invariants: 0 or RHAI_EPROTO (RHAI_ENOMEM under injected failure), with
 * a message; on success the id is set and the status known, and the
 * reply rebuilt from the parsed task parses again to the same id, status,
 * error kind, attempts, output text and strings (error, logs, worker_id,
 * instance: rh_task_reply_json writes plain ones itself and has jansson
 * escape the rest). */
#include "fuzz.h"
#include "common/common.h"

/* Equal strings, NULL equal to 'none'. */
static int same(const char *a, const char *b, const char *none)
{
    a = a ? a : none;
    b = b ? b : none;
    return a == b || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = { data, size };
    unsigned oom = fz_byte(&in);
    rh_task t, again;
    rhai_error err;
    char *text;
    int rc;

    rh_task_init(&t);
    if (oom % 8 == 7)
        rh_alloc_fail_after(1 + oom / 8);
    memset(&err, 0, sizeof err);
    rc = rh_task_from_reply(&t, (const char *)in.p, in.n, &err);
    rh_alloc_fail_after(0);
    FZ_CHECK(rc == 0 || rc == RHAI_EPROTO || rc == RHAI_ENOMEM);
    if (rc != 0) {
        FZ_CHECK(err.code == rc && err.msg[0] != '\0');
        rh_task_clear(&t);
        return 0;
    }
    FZ_CHECK(t.id != NULL);
    FZ_CHECK(t.status != RHAI_STATUS_UNKNOWN);

    text = rh_task_reply_json(&t);
    FZ_CHECK(text != NULL);
    rh_task_init(&again);
    rc = rh_task_from_reply(&again, text, strlen(text), &err);
    if (rc != 0)
        fprintf(stderr, "rebuilt reply does not parse: %s\n%s\n", err.msg, text);
    FZ_CHECK(rc == 0);
    FZ_CHECK(strcmp(again.id, t.id) == 0);
    FZ_CHECK(again.status == t.status);
    FZ_CHECK(again.error_kind == t.error_kind);
    FZ_CHECK(again.attempts == t.attempts);
    FZ_CHECK(t.output == NULL || (again.output && strcmp(again.output, t.output) == 0));
    FZ_CHECK(same(again.error, t.error, NULL));
    FZ_CHECK(same(again.logs, t.logs, ""));
    FZ_CHECK(same(again.worker_id, t.worker_id, NULL));
    FZ_CHECK(same(again.instance, t.instance, NULL));
    rh_free(text);
    rh_task_clear(&again);
    rh_task_clear(&t);
    return 0;
}
