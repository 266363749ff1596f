/* fuzz_msg_result.c -- eng_msg_decode_result over arbitrary bytes: the
 * frame payload rhaid reads from an executor (which runs untrusted
 * scripts, so its output is outside input too). The binary format of
 * message.c; the first input byte selects an allocation to fail.
 *
 * Invariants: 0, RHAI_EPROTO or RHAI_ENOMEM (injected), with a message;
 * *id is NULL on failure; every decoded string is UTF-8 that jansson
 * takes (rhaid puts them into JSON replies); a decoded result encodes
 * again and decodes to the same id, status, kind, strings, run time and
 * transient flag. */
#include "fuzz.h"
#include "engine/engine.h"

static int same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* NULL, or a string json_string accepts (it checks UTF-8 itself). */
static int jansson_takes(const char *s)
{
    json_t *j;

    if (s == NULL)
        return 1;
    j = json_string(s);
    json_decref(j);
    return j != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = { data, size };
    unsigned oom = fz_byte(&in);
    eng_output o, o2;
    rhai_error err;
    char *id = (char *)"unset", *id2 = NULL;
    rh_buf b;
    int rc;

    if (oom % 8 == 7)
        rh_alloc_fail_after(1 + oom / 8);
    memset(&err, 0, sizeof err);
    rc = eng_msg_decode_result((const char *)in.p, in.n, &id, &o, &err);
    rh_alloc_fail_after(0);
    FZ_CHECK(rc == 0 || rc == RHAI_EPROTO || rc == RHAI_ENOMEM);
    if (rc != 0) {
        FZ_CHECK(id == NULL);
        FZ_CHECK(err.code == rc && err.msg[0] != '\0');
        return 0;
    }
    FZ_CHECK(o.status != RHAI_STATUS_UNKNOWN);
    FZ_CHECK(jansson_takes(id) && jansson_takes(o.output) && jansson_takes(o.error) &&
             jansson_takes(o.logs));

    rh_buf_init(&b);
    rc = eng_msg_encode_result(&b, id, &o);
    FZ_CHECK(rc == 0);
    rc = eng_msg_decode_result(b.data + RH_FRAME_HDR, b.len - RH_FRAME_HDR, &id2, &o2, &err);
    if (rc != 0)
        fprintf(stderr, "re-encoded result does not decode: %s\n", err.msg);
    FZ_CHECK(rc == 0);
    FZ_CHECK(same(id, id2));
    FZ_CHECK(o.status == o2.status && o.kind == o2.kind && o.run_us == o2.run_us &&
             o.transient == o2.transient);
    FZ_CHECK(same(o.output, o2.output) && same(o.error, o2.error) && same(o.logs, o2.logs));
    FZ_CHECK(same(o.events, o2.events));
    rh_free(id);
    rh_free(id2);
    eng_output_clear(&o);
    eng_output_clear(&o2);
    rh_buf_free(&b);
    return 0;
}
