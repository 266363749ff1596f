/* fuzz_url.c -- rh_url_parse over arbitrary text (flags, RHAI_REDIS_URL,
 * config files: outside input of every binary), and rh_url_parse_ex with
 * RH_URL_TLS (rediss:// and its ?ca=&cert=&key=&sni=&verify= options, the
 * connection layer's parser, rconn.h).
 *
 * Invariants: 0 or RHAI_EINVAL with a message; on success every string
 * field is NUL-terminated inside its array, the port is 1..65535, a unix
 * URL has an absolute path, and rh_url_format_safe never prints the
 * password and always terminates, even into a small buffer. */
#include "fuzz.h"
#include "common/common.h"

static void check_one(const char *s, int flags);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fz_strndup(data, size);

    check_one(s, 0);
    check_one(s, RH_URL_TLS);
    free(s);
    return 0;
}

static void check_one(const char *s, int flags)
{
    char out[512], tiny[8];
    rhai_error err;
    rh_url u;
    int rc;

    memset(&err, 0, sizeof err);
    memset(&u, 0x5a, sizeof u);
    rc = rh_url_parse_ex(s, flags, &u, &err);
    FZ_CHECK(rc == 0 || rc == RHAI_EINVAL);
    if (rc != 0) {
        FZ_CHECK(err.code == rc && err.msg[0] != '\0');
        return;
    }
    FZ_CHECK(memchr(u.tls_ca, '\0', sizeof u.tls_ca) != NULL);
    FZ_CHECK(memchr(u.tls_cert, '\0', sizeof u.tls_cert) != NULL);
    FZ_CHECK(memchr(u.tls_key, '\0', sizeof u.tls_key) != NULL);
    FZ_CHECK(memchr(u.tls_sni, '\0', sizeof u.tls_sni) != NULL);
    FZ_CHECK(u.tls == 0 || u.tls == 1);
    FZ_CHECK(!u.tls || (flags & RH_URL_TLS));       /* the old parser never says TLS */
    FZ_CHECK(u.tls || (!u.tls_ca[0] && !u.tls_cert[0] && !u.tls_key[0] && !u.tls_sni[0] &&
                       !u.tls_noverify));
    FZ_CHECK(memchr(u.host, '\0', sizeof u.host) != NULL);
    FZ_CHECK(memchr(u.path, '\0', sizeof u.path) != NULL);
    FZ_CHECK(memchr(u.user, '\0', sizeof u.user) != NULL);
    FZ_CHECK(memchr(u.pass, '\0', sizeof u.pass) != NULL);
    FZ_CHECK(u.port >= 1 && u.port <= 65535);
    FZ_CHECK(u.db >= 0);
    FZ_CHECK(!u.is_unix || u.path[0] == '/');
    FZ_CHECK(u.is_unix || u.host[0] != '\0');
    rh_url_format_safe(&u, out, sizeof out);
    FZ_CHECK(memchr(out, '\0', sizeof out) != NULL);
    if (u.pass[0]) {            /* what is printed does not depend on the password */
        rh_url other = u;
        char out2[512];
        strcpy(other.pass, "x");
        rh_url_format_safe(&other, out2, sizeof out2);
        FZ_CHECK(strcmp(out, out2) == 0);
    }
    rh_url_format_safe(&u, tiny, sizeof tiny);
    FZ_CHECK(memchr(tiny, '\0', sizeof tiny) != NULL);
}
