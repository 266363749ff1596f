/* fuzz_task.c -- the task model: hash field/value pairs as HGETALL returns
 * them, rh_task_validate, then the reply the worker builds from the task.
 *
 * Input: [max_script][oom] then records [field selector][len][len bytes].
 * max_args is max_script too (the byte sets both limits).
 * The selector picks one of rh_task_fields (or an unknown name); values
 * are arbitrary bytes, as a task hash written with redis-cli can hold.
 * 'oom' makes the n-th rh_ allocation fail (exercises RHAI_ENOMEM paths).
 *
 * Invariants: set_field returns 0, RHAI_EINVAL or RHAI_ENOMEM; validate
 * returns 0, RHAI_EINVAL or RHAI_ETOOBIG with a message; a task it
 * accepts has a context id (if any) that can name a file in the data dir
 * (rh_context_id_valid: no '/', no leading '.', no "..", at most 100
 * characters), so the store never refuses what validation let run; and for any task
 * the worker answers (its id is a valid name, status final), the reply
 * JSON exists, parses back with rh_task_from_reply, and keeps the id,
 * status, error kind, attempts and whether an error message was there:
 * a client must be able to read every reply the worker writes. */
#include "fuzz.h"
#include "common/common.h"

static int nfields(void)
{
    int n = 0;
    while (rh_task_fields[n])
        n++;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = { data, size };
    size_t max_script = fz_byte(&in) * 16u + 1;
    unsigned oom = fz_byte(&in);
    int nf = nfields();
    rh_task t, back;
    rhai_error err;
    char *reply;
    int rc;

    rh_task_init(&t);
    /* 1 in 8 inputs runs with an allocation failure injected */
    if (oom % 8 == 7)
        rh_alloc_fail_after(1 + oom / 8);
    while (in.n > 0) {
        unsigned sel = fz_byte(&in) % (unsigned)(nf + 1);
        size_t want = fz_byte(&in), got;
        const uint8_t *v = fz_bytes(&in, want, &got);
        const char *name = (int)sel < nf ? rh_task_fields[sel] : "unknown_field";
        rc = rh_task_set_field(&t, name, (const char *)v, got);
        FZ_CHECK(rc == 0 || rc == RHAI_EINVAL || rc == RHAI_ENOMEM);
    }
    memset(&err, 0, sizeof err);
    rc = rh_task_validate(&t, max_script, max_script, &err);
    FZ_CHECK(rc == 0 || rc == RHAI_EINVAL || rc == RHAI_ETOOBIG);
    FZ_CHECK(rc == 0 || (err.code == rc && err.msg[0] != '\0'));
    FZ_CHECK(rc != 0 || t.context_id == NULL ||
             (rh_context_id_valid(t.context_id) && strchr(t.context_id, '/') == NULL &&
              t.context_id[0] != '.' && strstr(t.context_id, "..") == NULL &&
              strlen(t.context_id) <= RH_CONTEXT_MAX));
    rh_alloc_fail_after(0);

    /* What the worker does before answering (worker.c job_finish): the id
     * is the key's (a valid name), the status final, an invalid task gets
     * the validation message as its error. */
    rh_free(t.id);
    t.id = rh_strdup("fuzz-task");
    rh_free(t.error);
    t.error = NULL;
    if (rc != 0) {
        rh_free(t.output);
        t.output = rh_strdup("null");
        t.error = rh_strdup(err.msg);
        t.status = RHAI_STATUS_ERROR;
        t.error_kind = RH_EK_INVALID;
    } else {
        t.status = RHAI_STATUS_DONE;     /* output and logs: as the fuzzer chose */
        t.error_kind = RH_EK_NONE;
    }
    reply = rh_task_reply_json(&t);
    FZ_CHECK(reply != NULL);
    rh_task_init(&back);
    rc = rh_task_from_reply(&back, reply, strlen(reply), &err);
    if (rc != 0)
        fprintf(stderr, "unreadable reply: %s\n%s\n", err.msg, reply);
    FZ_CHECK(rc == 0);
    FZ_CHECK(strcmp(back.id, t.id) == 0);
    FZ_CHECK(back.status == t.status);
    FZ_CHECK(back.error_kind == t.error_kind);
    FZ_CHECK(back.attempts == t.attempts);
    FZ_CHECK((back.error != NULL) == (t.error != NULL));
    FZ_CHECK(back.output != NULL);
    /* the output the executor produced reaches the client unchanged
     * (unless it is not JSON at all: then null) */
    if (t.output && fz_json_load_ok(t.output)) {
        if (!fz_json_same(t.output, back.output))
            fprintf(stderr, "output changed: %s -> %s\n", t.output, back.output);
        FZ_CHECK(fz_json_same(t.output, back.output));
    }
    rh_free(reply);
    rh_task_clear(&back);
    rh_task_clear(&t);
    return 0;
}
