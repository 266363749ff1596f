/* schedule.c -- a cron schedule's JSON, checks and Ed25519 signature.
 *
 * A schedule is stored as one JSON object in the field NAME of the hash
 * <prefix>:cron:{W} (docs/protocol.md, "Cron"). Its signature, like a
 * task's (sign.c), binds the deployment (prefix), the schedule's identity
 * (name, worker), what runs (context, caller, hashes of script and args),
 * when (expression and zone) and its creation time; a firing task carries
 * the signature and the expression (cron_sig), so the instance that runs
 * it checks it against the task's own script, args, context and caller. */
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "common.h"
#include "schedule.h"

void rh_sched_init(rh_sched *s)
{
    memset(s, 0, sizeof *s);
}

void rh_sched_clear(rh_sched *s)
{
    char **strs[] = { &s->name, &s->cron, &s->tz, &s->worker, &s->script, &s->args,
                      &s->context, &s->caller, &s->created_by, &s->signature };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        rh_free(*strs[i]);
    rh_sched_init(s);
}

int rh_sched_name_valid(const char *name)
{
    size_t n = 0;
    if (name == NULL)
        return 0;
    for (; name[n]; n++) {
        char c = name[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return 0;
        if (n >= RH_SCHED_NAME_MAX)
            return 0;
    }
    return n > 0;
}

int rh_sched_validate(const rh_sched *s, rhai_error *err)
{
    rh_cron c;
    json_t *a;
    json_error_t je;
    int rc;

    if (!rh_sched_name_valid(s->name))
        return rh_error_set(err, RHAI_EINVAL, "schedule name must be 1..%d of [A-Za-z0-9_.-]",
                            RH_SCHED_NAME_MAX);
    if (s->cron == NULL)
        return rh_error_set(err, RHAI_EINVAL, "schedule %s: no cron expression", s->name);
    if ((rc = rh_cron_parse(s->cron, &c, err)) != 0)
        return rc;
    if ((rc = rh_tz_valid(s->tz ? s->tz : "UTC", err)) != 0)
        return rc;
    if (!rh_name_valid(s->worker))
        return rh_error_set(err, RHAI_EINVAL, "schedule %s: invalid worker id", s->name);
    if (!rh_context_id_valid(s->context))
        return rh_error_set(err, RHAI_EINVAL, "schedule %s: context id must be %s", s->name,
                            RH_CONTEXT_RULE);
    if (s->caller == NULL || s->caller[0] == '\0' || strlen(s->caller) > RH_LIM_CALLER)
        return rh_error_set(err, RHAI_EINVAL, "schedule %s: caller must be 1..%d characters",
                            s->name, RH_LIM_CALLER);
    if (s->script == NULL || s->script[0] == '\0')
        return rh_error_set(err, RHAI_EINVAL, "schedule %s: empty script", s->name);
    if (s->args) {
        a = json_loads(s->args, JSON_DECODE_ANY, &je);
        if (a == NULL)
            return rh_error_set(err, RHAI_EINVAL, "schedule %s: args are not JSON: %s", s->name,
                                je.text);
        json_decref(a);
    }
    return 0;
}

static int take_str(json_t *o, const char *k, char **dst)
{
    json_t *v = json_object_get(o, k);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return RHAI_EINVAL;
    *dst = rh_strdup(json_string_value(v));
    return *dst ? 0 : RHAI_ENOMEM;
}

int rh_sched_from_json(const char *text, size_t len, rh_sched *s, rhai_error *err)
{
    static const char *const keys[] = { "name", "cron", "tz", "worker", "script", "args",
                                        "context", "caller", "created_by", "signature" };
    json_error_t je;
    json_t *o = json_loadb(text, len, 0, &je), *v;
    int rc = 0;

    rh_sched_clear(s);
    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        return rh_error_set(err, RHAI_EINVAL, "schedule is not a JSON object");
    }
    {
        char **dst[] = { &s->name, &s->cron, &s->tz, &s->worker, &s->script, &s->args,
                         &s->context, &s->caller, &s->created_by, &s->signature };
        for (size_t i = 0; i < sizeof keys / sizeof keys[0] && rc == 0; i++)
            if ((rc = take_str(o, keys[i], dst[i])) == RHAI_EINVAL)
                rh_error_set(err, rc, "schedule field %s is not a string", keys[i]);
    }
    v = json_object_get(o, "created_at");
    if (rc == 0 && v != NULL && json_is_integer(v))
        s->created_at = json_integer_value(v);
    v = json_object_get(o, "paused");
    s->paused = v != NULL && json_is_true(v);
    json_decref(o);
    if (rc == RHAI_ENOMEM)
        rh_error_set(err, rc, "out of memory");
    if (rc != 0)
        rh_sched_clear(s);
    return rc;
}

char *rh_sched_to_json(const rh_sched *s)
{
    json_t *o = json_object();
    char *out = NULL, *text;
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "name", json_string(s->name ? s->name : ""));
    json_object_set_new(o, "cron", json_string(s->cron ? s->cron : ""));
    json_object_set_new(o, "tz", json_string(s->tz ? s->tz : "UTC"));
    json_object_set_new(o, "worker", json_string(s->worker ? s->worker : ""));
    json_object_set_new(o, "script", json_string(s->script ? s->script : ""));
    json_object_set_new(o, "args", json_string(s->args ? s->args : "{}"));
    json_object_set_new(o, "context", json_string(s->context ? s->context : ""));
    json_object_set_new(o, "caller", json_string(s->caller ? s->caller : ""));
    json_object_set_new(o, "created_at", json_integer(s->created_at));
    if (s->created_by)
        json_object_set_new(o, "created_by", json_string(s->created_by));
    json_object_set_new(o, "paused", json_boolean(s->paused));
    if (s->signature)
        json_object_set_new(o, "signature", json_string(s->signature));
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (text) {
        out = rh_strdup(text);
        free(text);
    }
    return out;
}

/* ======================== signatures ======================== */

static void sha256_hex(const char *data, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)data, strlen(data));
    sodium_bin2hex(out, 65, h, sizeof h);
}

static int sched_message(rh_buf *m, const rh_sched *s, const char *prefix)
{
    char hs[65], ha[65];
    if (s->name == NULL || s->worker == NULL || s->context == NULL || s->caller == NULL ||
        s->cron == NULL || s->script == NULL || prefix == NULL ||
        strchr(s->cron, '\n') != NULL || (s->tz && strchr(s->tz, '\n') != NULL))
        return RHAI_EINVAL;
    sha256_hex(s->script, hs);
    sha256_hex(s->args ? s->args : "{}", ha);
    return rh_buf_appendf(m, "rhai-cron-v1\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%lld", prefix,
                          s->name, s->worker, s->context, s->caller, s->cron,
                          s->tz ? s->tz : "UTC", hs, ha, (long long)s->created_at);
}

int rh_sched_sign(rh_sched *s, const char *prefix, const char *sk_hex, rhai_error *err)
{
    unsigned char sk[crypto_sign_SECRETKEYBYTES], sig[crypto_sign_BYTES];
    char pk[RH_SIGN_PK_HEX + 1], sig_hex[RH_SIGN_SIG_HEX + 1];
    size_t got = 0;
    rh_buf m;
    int rc;

    if (sodium_init() < 0)
        return rh_error_set(err, RHAI_EINTERNAL, "libsodium failed to initialise");
    if (rh_sign_public_key(sk_hex, pk) != 0 || strlen(sk_hex) != 2 * sizeof sk ||
        sodium_hex2bin(sk, sizeof sk, sk_hex, 2 * sizeof sk, NULL, &got, NULL) != 0 ||
        got != sizeof sk)
        return rh_error_set(err, RHAI_EINVAL, "not an Ed25519 secret key (128 hex)");
    rh_free(s->caller);
    rh_free(s->signature);
    s->signature = NULL;
    if ((s->caller = rh_strdup(pk)) == NULL) {
        sodium_memzero(sk, sizeof sk);
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    }
    rh_buf_init(&m);
    if ((rc = sched_message(&m, s, prefix)) == 0) {
        crypto_sign_detached(sig, NULL, (const unsigned char *)m.data, m.len, sk);
        sodium_bin2hex(sig_hex, sizeof sig_hex, sig, sizeof sig);
        if ((s->signature = rh_strdup(sig_hex)) == NULL)
            rc = RHAI_ENOMEM;
    }
    sodium_memzero(sk, sizeof sk);
    rh_buf_free(&m);
    return rc ? rh_error_set(err, rc, "cannot sign the schedule") : 0;
}

int rh_sched_verify(const rh_sched *s, const char *prefix, rhai_error *err)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sig[crypto_sign_BYTES];
    size_t got = 0;
    rh_buf m;
    int ok;

    if (sodium_init() < 0)
        return rh_error_set(err, RHAI_EINTERNAL, "libsodium failed to initialise");
    if (s->signature == NULL || s->signature[0] == '\0')
        return rh_error_set(err, RHAI_EINVAL, "unsigned schedule");
    if (s->caller == NULL || strlen(s->caller) != 2 * sizeof pk ||
        sodium_hex2bin(pk, sizeof pk, s->caller, 2 * sizeof pk, NULL, &got, NULL) != 0 ||
        got != sizeof pk)
        return rh_error_set(err, RHAI_EINVAL, "caller is not an Ed25519 public key (64 hex)");
    if (strlen(s->signature) != 2 * sizeof sig ||
        sodium_hex2bin(sig, sizeof sig, s->signature, 2 * sizeof sig, NULL, &got, NULL) != 0 ||
        got != sizeof sig)
        return rh_error_set(err, RHAI_EINVAL, "signature is not 128 hex characters");
    rh_buf_init(&m);
    if ((ok = sched_message(&m, s, prefix)) != 0) {
        rh_buf_free(&m);
        return rh_error_set(err, RHAI_EINVAL, "signed fields missing");
    }
    ok = crypto_sign_verify_detached(sig, (const unsigned char *)m.data, m.len, pk) == 0;
    rh_buf_free(&m);
    return ok ? 0 : rh_error_set(err, RHAI_EINVAL, "signature does not match the schedule "
                                 "(tampered, or signed by another key)");
}

void rh_sched_firing_id(char *buf, const char *name, int64_t tick_ms, int now)
{
    snprintf(buf, RH_NAME_MAX + 1, now ? "cron:%s:now:%lld" : "cron:%s:%lld", name,
             (long long)tick_ms);
}

char *rh_sched_sig_json(const rh_sched *s)
{
    json_t *o = json_object();
    char *text, *out = NULL;
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "cron", json_string(s->cron ? s->cron : ""));
    json_object_set_new(o, "tz", json_string(s->tz ? s->tz : "UTC"));
    json_object_set_new(o, "created_at", json_integer(s->created_at));
    json_object_set_new(o, "signature", json_string(s->signature ? s->signature : ""));
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (text) {
        out = rh_strdup(text);
        free(text);
    }
    return out;
}
