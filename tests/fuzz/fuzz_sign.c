/* fuzz_sign.c -- signature checking of a task (rh_sign_verify): the hex
 * signature and caller_id come from the task hash, so from anyone who can
 * write to Redis.
 *
 * Input: newline-separated fields signature, caller_id, id, worker_id,
 * context_id, args, created_at, then the script (the rest). Invariants:
 * verify returns 0 or RHAI_EINVAL with a message, never accepts a
 * signature it cannot parse; and a task signed with a fresh key (caller_id
 * set to its public key) verifies, while the same task under another key
 * prefix (deployment), or with one byte of the script changed, does not. */
#include "fuzz.h"
#include "common/common.h"

static char pk[RH_SIGN_PK_HEX + 1], sk[RH_SIGN_SK_HEX + 1];

/* The next '\n'-terminated field as a new string (free()). */
static char *field(fz_in *in)
{
    const uint8_t *nl = memchr(in->p, '\n', in->n);
    size_t n = nl ? (size_t)(nl - in->p) : in->n;
    char *s = fz_strndup(in->p, n);
    in->p += n + (nl != NULL);
    in->n -= n + (nl != NULL);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = { data, size };
    char *sig = field(&in), *caller = field(&in), *id = field(&in);
    char *worker = field(&in), *context = field(&in), *args = field(&in);
    char *created = field(&in);
    char good[RH_SIGN_SIG_HEX + 1];
    char *script = fz_strndup(in.p, in.n);
    rh_sign_fields f;
    rhai_error err;
    int rc;

    if (pk[0] == '\0')
        FZ_CHECK(rh_sign_keygen(pk, sk) == 0);
    f.id = id;
    f.worker_id = worker;
    f.context_id = context;
    f.caller_id = caller;
    f.script = script;
    f.script_len = in.n;
    f.args = args[0] ? args : NULL;
    f.created_at = strtoll(created, NULL, 10);
    f.prefix = "rhai";

    memset(&err, 0, sizeof err);
    rc = rh_sign_verify(sig, &f, &err);
    FZ_CHECK(rc == 0 || rc == RHAI_EINVAL);
    FZ_CHECK(rc == 0 || (err.code == rc && err.msg[0] != '\0'));
    FZ_CHECK(rc != 0 || (strlen(sig) == RH_SIGN_SIG_HEX && strlen(caller) == RH_SIGN_PK_HEX));

    f.caller_id = pk;
    FZ_CHECK(rh_sign_task(sk, &f, good) == 0);
    FZ_CHECK(rh_sign_verify(good, &f, &err) == 0);
    f.prefix = "rhai-staging";               /* copied to another deployment */
    FZ_CHECK(rh_sign_verify(good, &f, &err) == RHAI_EINVAL);
    f.prefix = "rhai";
    if (in.n > 0) {
        script[0] ^= 1;
        FZ_CHECK(rh_sign_verify(good, &f, &err) == RHAI_EINVAL);
    }
    /* a secret key from the input: parsed or refused, never a crash */
    {
        char pk2[RH_SIGN_PK_HEX + 1];
        rc = rh_sign_public_key(sig, pk2);
        FZ_CHECK(rc == 0 || rc == RHAI_EINVAL);
    }
    free(sig);
    free(caller);
    free(id);
    free(worker);
    free(context);
    free(args);
    free(created);
    free(script);
    return 0;
}
