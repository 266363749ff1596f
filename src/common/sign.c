/* sign.c -- Ed25519 signatures of tasks (libsodium).
 *
 * A signed task carries `signature`: the hex Ed25519 signature, by the
 * secret key whose hex public key is the task's caller_id, of the canonical
 * message below. Hashes keep the message small whatever the script size.
 *
 *   rhai-task-v2\n prefix\n id\n worker_id\n context_id\n caller_id\n
 *   hex(sha256(script))\n hex(sha256(args))\n created_at
 *
 * The key prefix names the deployment: a signed task copied under another
 * prefix does not verify there. No field may hold a newline (all are
 * names: rh_name_valid), so the message parses back one way only.
 */
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "common.h"

static int ready(void)
{
    static int ok;
    if (!ok)
        ok = sodium_init() >= 0;
    return ok;
}

static int from_hex(const char *hex, unsigned char *bin, size_t n)
{
    size_t got = 0;
    if (hex == NULL || strlen(hex) != 2 * n ||
        sodium_hex2bin(bin, n, hex, 2 * n, NULL, &got, NULL) != 0 || got != n)
        return -1;
    return 0;
}

int rh_sign_keygen(char pk_hex[RH_SIGN_PK_HEX + 1], char sk_hex[RH_SIGN_SK_HEX + 1])
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    if (!ready() || crypto_sign_keypair(pk, sk) != 0)
        return RHAI_EINTERNAL;
    sodium_bin2hex(pk_hex, RH_SIGN_PK_HEX + 1, pk, sizeof pk);
    sodium_bin2hex(sk_hex, RH_SIGN_SK_HEX + 1, sk, sizeof sk);
    sodium_memzero(sk, sizeof sk);
    return 0;
}

int rh_sign_public_key(const char *sk_hex, char pk_hex[RH_SIGN_PK_HEX + 1])
{
    unsigned char sk[crypto_sign_SECRETKEYBYTES], pk[crypto_sign_PUBLICKEYBYTES];
    if (!ready() || from_hex(sk_hex, sk, sizeof sk) != 0)
        return RHAI_EINVAL;
    crypto_sign_ed25519_sk_to_pk(pk, sk);
    sodium_memzero(sk, sizeof sk);
    sodium_bin2hex(pk_hex, RH_SIGN_PK_HEX + 1, pk, sizeof pk);
    return 0;
}

static void sha256_hex(const char *data, size_t len, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)data, len);
    sodium_bin2hex(out, 65, h, sizeof h);
}

int rh_sign_message(rh_buf *b, const rh_sign_fields *f)
{
    char hs[65], ha[65];
    const char *args = f->args ? f->args : "{}";
    if (!ready())
        return RHAI_EINTERNAL;
    if (f->prefix == NULL || f->prefix[0] == '\0' || f->id == NULL || f->worker_id == NULL ||
        f->context_id == NULL || f->caller_id == NULL || f->script == NULL)
        return RHAI_EINVAL;
    sha256_hex(f->script, f->script_len, hs);
    sha256_hex(args, strlen(args), ha);
    return rh_buf_appendf(b, "rhai-task-v2\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%lld", f->prefix,
                          f->id, f->worker_id, f->context_id, f->caller_id, hs, ha,
                          (long long)f->created_at);
}

int rh_sign_task(const char *sk_hex, const rh_sign_fields *f,
                 char sig_hex[RH_SIGN_SIG_HEX + 1])
{
    unsigned char sk[crypto_sign_SECRETKEYBYTES], sig[crypto_sign_BYTES];
    rh_buf m;
    int rc;

    if (!ready() || from_hex(sk_hex, sk, sizeof sk) != 0)
        return RHAI_EINVAL;
    rh_buf_init(&m);
    if ((rc = rh_sign_message(&m, f)) == 0) {
        crypto_sign_detached(sig, NULL, (const unsigned char *)m.data, m.len, sk);
        sodium_bin2hex(sig_hex, RH_SIGN_SIG_HEX + 1, sig, sizeof sig);
    }
    sodium_memzero(sk, sizeof sk);
    rh_buf_free(&m);
    return rc;
}

int rh_sign_verify(const char *sig_hex, const rh_sign_fields *f, rhai_error *err)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sig[crypto_sign_BYTES];
    rh_buf m;
    int ok;

    if (!ready())
        return rh_error_set(err, RHAI_EINTERNAL, "libsodium failed to initialise");
    if (from_hex(f->caller_id, pk, sizeof pk) != 0)
        return rh_error_set(err, RHAI_EINVAL, "caller_id is not an Ed25519 public key (64 hex)");
    if (from_hex(sig_hex, sig, sizeof sig) != 0)
        return rh_error_set(err, RHAI_EINVAL, "signature is not 128 hex characters");
    rh_buf_init(&m);
    if ((ok = rh_sign_message(&m, f)) != 0) {
        rh_buf_free(&m);
        return rh_error_set(err, ok, ok == RHAI_EINVAL ? "signed fields missing"
                                                       : "out of memory");
    }
    ok = crypto_sign_verify_detached(sig, (const unsigned char *)m.data, m.len, pk) == 0;
    rh_buf_free(&m);
    return ok ? 0 : rh_error_set(err, RHAI_EINVAL, "signature does not match the task "
                                 "(tampered, or signed by another key)");
}
