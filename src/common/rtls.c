/* rtls.c -- OpenSSL sessions for rediss:// (see rtls.h).
 *
 * Client side only: TLS 1.2 at least, the peer always verified unless the
 * URL says verify=no (chain against tls_ca or the system store, name
 * against tls_sni or the host, an IP literal as an IP SAN). Partial and
 * moving-buffer writes are on, so the caller's output buffer may be
 * compacted or grown between a write that would block and its retry.
 *
 * The session talks to its socket through a BIO of ours that uses
 * send(MSG_NOSIGNAL)/recv: OpenSSL writes not only in SSL_write but in the
 * handshake and, for alerts and key updates, in SSL_read, and its own
 * socket BIO uses write(2), whose SIGPIPE would kill an application that
 * did not ignore it. OpenSSL 3 initialises itself on first use; the one
 * global here is that BIO's method table, made once. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/rtls.h"

struct rh_tls_ctx {
    SSL_CTX *ctx;
    int      has_cert;        /* a client certificate is configured */
};

struct rh_tls {
    SSL        *ssl;          /* holds its own reference to the SSL_CTX */
    int         has_cert;     /* the context had a client certificate */
};

/* ---- a socket BIO that never raises SIGPIPE ---- */

static BIO_METHOD *g_bio_method;
static pthread_once_t g_bio_once = PTHREAD_ONCE_INIT;

static int bio_fd(BIO *b)
{
    return (int)(intptr_t)BIO_get_data(b);
}

static int bio_write(BIO *b, const char *buf, int n)
{
    ssize_t r;

    BIO_clear_retry_flags(b);
    do
        r = send(bio_fd(b), buf, (size_t)n, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        BIO_set_retry_write(b);
    return (int)r;
}

static int bio_read(BIO *b, char *buf, int n)
{
    ssize_t r;

    BIO_clear_retry_flags(b);
    do
        r = recv(bio_fd(b), buf, (size_t)n, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        BIO_set_retry_read(b);
    return (int)r;
}

static int bio_puts(BIO *b, const char *s)
{
    return bio_write(b, s, (int)strlen(s));
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;   /* nothing is buffered here */
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void bio_method_make(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "rhai socket");

    if (m == NULL)
        return;
    if (!BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
        !BIO_meth_set_puts(m, bio_puts) || !BIO_meth_set_ctrl(m, bio_ctrl) ||
        !BIO_meth_set_create(m, bio_create)) {
        BIO_meth_free(m);
        return;
    }
    g_bio_method = m;
}

/* A BIO on socket 'fd' (not closed by it), or NULL. */
static BIO *bio_new_socket(int fd)
{
    BIO *b;

    pthread_once(&g_bio_once, bio_method_make);
    if (g_bio_method == NULL || (b = BIO_new(g_bio_method)) == NULL)
        return NULL;
    BIO_set_data(b, (void *)(intptr_t)fd);
    return b;
}

/* The reason of the oldest queued OpenSSL error ("no such file"), or
 * 'dflt'; the queue is cleared. */
static const char *tls_reason(char *buf, size_t n, const char *dflt)
{
    unsigned long e = ERR_get_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;

#ifdef ERR_SYSTEM_ERROR
    if (e && ERR_SYSTEM_ERROR(e))            /* OpenSSL 3: an errno, no string */
        r = strerror(ERR_GET_REASON(e));
#endif
    if (r)
        snprintf(buf, n, "%s", r);
    else if (e)
        snprintf(buf, n, "OpenSSL error %lx", e);
    else
        snprintf(buf, n, "%s", dflt);
    ERR_clear_error();
    return buf;
}

/* Why file 'path' cannot be a PEM file, in words ("No such file or
 * directory", "is a directory"), or NULL when it can be opened and read:
 * OpenSSL says "no certificate or crl found" or "unsupported" for a
 * directory, and "OpenSSL error 80000002" for a missing file in 3.0. */
static const char *file_problem(const char *path)
{
    struct stat st;
    int fd, e;

    do
        fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return strerror(errno);
    e = fstat(fd, &st) != 0 ? errno : 0;
    close(fd);
    if (e)
        return strerror(e);
    return S_ISDIR(st.st_mode) ? "is a directory, not a PEM file" : NULL;
}

/* The reason of a PEM file OpenSSL would not load: the file's own problem
 * first, else OpenSSL's reason, with 'hint' when that reason only says
 * the content is not what was wanted ("no start line", "unsupported"). */
static const char *load_reason(const char *path, const char *hint, char *buf, size_t n)
{
    const char *p = file_problem(path);

    if (p) {
        ERR_clear_error();
        snprintf(buf, n, "%s", p);
        return buf;
    }
    tls_reason(buf, n, "unreadable");
    if (strcmp(buf, "no start line") == 0 || strcmp(buf, "unsupported") == 0 ||
        strcmp(buf, "no certificate or crl found") == 0 ||
        strcmp(buf, "decoder routines::unsupported") == 0)
        snprintf(buf + strlen(buf), n - strlen(buf), " (%s)", hint);
    return buf;
}

/* The passphrase callback: none is given, and that one was asked for is
 * noted in *userdata. OpenSSL's default prompts on the terminal, which
 * hung rhaictl, rhaid or any program of the library started from one. */
static int no_passphrase(char *buf, int size, int rwflag, void *userdata)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    if (userdata)
        *(int *)userdata = 1;
    return 0;
}

int rh_tls_ctx_new(const rh_url *u, rh_tls_ctx **out, rhai_error *err)
{
    rh_tls_ctx *x;
    char why[200];
    int rc = RHAI_ETLS, asked = 0;

    *out = NULL;
    ERR_clear_error();
    if ((x = rh_calloc(1, sizeof *x)) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    if ((x->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
        rh_error_set(err, RHAI_ETLS, "TLS: cannot create a context: %s",
                     tls_reason(why, sizeof why, "unknown"));
        goto fail;
    }
    SSL_CTX_set_min_proto_version(x->ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(x->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_verify(x->ctx, u->tls_noverify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    if (u->tls_ca[0]) {
        if (SSL_CTX_load_verify_locations(x->ctx, u->tls_ca, NULL) != 1) {
            rh_error_set(err, RHAI_ETLS, "TLS: cannot load the CA file '%.200s' (tls_ca): %s",
                         u->tls_ca, load_reason(u->tls_ca, "want PEM certificates", why,
                                                sizeof why));
            goto fail;
        }
    } else if (SSL_CTX_set_default_verify_paths(x->ctx) != 1) {
        rh_error_set(err, RHAI_ETLS, "TLS: cannot load the system CA store: %s",
                     tls_reason(why, sizeof why, "unknown"));
        goto fail;
    }
    SSL_CTX_set_default_passwd_cb(x->ctx, no_passphrase);
    SSL_CTX_set_default_passwd_cb_userdata(x->ctx, &asked);
    if (u->tls_cert[0]) {
        if (SSL_CTX_use_certificate_chain_file(x->ctx, u->tls_cert) != 1) {
            rh_error_set(err, RHAI_ETLS,
                         "TLS: cannot load the client certificate '%.200s' (tls_cert): %s",
                         u->tls_cert, load_reason(u->tls_cert, "want a PEM certificate", why,
                                                  sizeof why));
            goto fail;
        }
        if (SSL_CTX_use_PrivateKey_file(x->ctx, u->tls_key, SSL_FILETYPE_PEM) != 1) {
            unsigned long q = ERR_peek_error();
            if (ERR_GET_LIB(q) == ERR_LIB_X509 &&
                ERR_GET_REASON(q) == X509_R_KEY_VALUES_MISMATCH) {   /* checked on load */
                rh_error_set(err, RHAI_ETLS, "TLS: the key '%.200s' (tls_key) does not match "
                             "the certificate '%.200s' (tls_cert): %s", u->tls_key,
                             u->tls_cert, tls_reason(why, sizeof why, "mismatch"));
                goto fail;
            }
            if (asked) {
                ERR_clear_error();
                rh_error_set(err, RHAI_ETLS, "TLS: cannot load the client key '%.200s' "
                             "(tls_key): it is encrypted, and no passphrase can be given: "
                             "keep it unencrypted, readable by this user only", u->tls_key);
                goto fail;
            }
            rh_error_set(err, RHAI_ETLS, "TLS: cannot load the client key '%.200s' (tls_key): %s",
                         u->tls_key, load_reason(u->tls_key, "want a PEM private key", why,
                                                 sizeof why));
            goto fail;
        }
        if (SSL_CTX_check_private_key(x->ctx) != 1) {
            rh_error_set(err, RHAI_ETLS, "TLS: the key '%.200s' does not match the "
                         "certificate '%.200s': %s", u->tls_key, u->tls_cert,
                         tls_reason(why, sizeof why, "mismatch"));
            goto fail;
        }
        x->has_cert = 1;
    }
    SSL_CTX_set_default_passwd_cb_userdata(x->ctx, NULL);  /* 'asked' dies with us */
    *out = x;
    return 0;
fail:
    rh_tls_ctx_free(x);
    return rc;
}

void rh_tls_ctx_free(rh_tls_ctx *x)
{
    if (x == NULL)
        return;
    SSL_CTX_free(x->ctx);
    rh_free(x);
}

static int is_ip(const char *s)
{
    unsigned char b[16];
    return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

int rh_tls_new(rh_tls_ctx *x, int fd, const rh_url *u, rh_tls **out, rhai_error *err)
{
    const char *name = u->tls_sni[0] ? u->tls_sni : u->host;
    char why[200];
    rh_tls *t;

    *out = NULL;
    ERR_clear_error();
    if ((t = rh_calloc(1, sizeof *t)) == NULL)
        return rh_error_set(err, RHAI_ENOMEM, "out of memory");
    t->has_cert = x->has_cert;
    if ((t->ssl = SSL_new(x->ctx)) == NULL) {
        rh_error_set(err, RHAI_ETLS, "TLS: cannot create a session: %s",
                     tls_reason(why, sizeof why, "unknown"));
        rh_tls_free(t);
        return RHAI_ETLS;
    } else {
        BIO *bio = bio_new_socket(fd);
        if (bio == NULL) {
            rh_error_set(err, RHAI_ENOMEM, "TLS: cannot create a socket BIO: %s",
                         tls_reason(why, sizeof why, "out of memory"));
            rh_tls_free(t);
            return RHAI_ENOMEM;
        }
        SSL_set_bio(t->ssl, bio, bio);      /* the session owns it */
    }
    if (!is_ip(name) && SSL_set_tlsext_host_name(t->ssl, name) != 1) {
        rh_error_set(err, RHAI_ETLS, "TLS: bad server name '%.200s': %s", name,
                     tls_reason(why, sizeof why, "rejected"));
        rh_tls_free(t);
        return RHAI_ETLS;
    }
    if (!u->tls_noverify) {
        int ok = is_ip(name) ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), name)
                             : SSL_set1_host(t->ssl, name);
        if (ok != 1) {
            rh_error_set(err, RHAI_ETLS, "TLS: cannot check the name '%.200s': %s", name,
                         tls_reason(why, sizeof why, "rejected"));
            rh_tls_free(t);
            return RHAI_ETLS;
        }
    }
    SSL_set_connect_state(t->ssl);
    *out = t;
    return 0;
}

void rh_tls_free(rh_tls *t)
{
    if (t == NULL)
        return;
    SSL_free(t->ssl);
    rh_free(t);
}

/* Turn the result 'ret' of an SSL_* call into our status. 'what' names
 * the step in messages ("TLS handshake", "TLS read", "TLS write"). */
static int tls_status(rh_tls *t, int ret, const char *what, int *want, rhai_error *err)
{
    int e = SSL_get_error(t->ssl, ret), saved = errno;
    unsigned long q;
    long vr;
    char why[200];

    switch (e) {
    case SSL_ERROR_WANT_READ:
        *want = RH_IO_READ;
        return RHAI_EAGAIN;
    case SSL_ERROR_WANT_WRITE:
        *want = RH_IO_WRITE;
        return RHAI_EAGAIN;
    case SSL_ERROR_ZERO_RETURN:               /* close_notify */
        ERR_clear_error();
        return 0;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        if (saved == 0 || saved == EPIPE || saved == ECONNRESET)
            return rh_error_set(err, RHAI_ECONN, "%s: connection closed by the server%s",
                                what, saved ? " (reset)" : "");
        return rh_error_set(err, RHAI_ECONN, "%s: %s", what, strerror(saved));
    default:
        break;
    }
    vr = SSL_get_verify_result(t->ssl);
    if (vr != X509_V_OK) {
        ERR_clear_error();
        return rh_error_set(err, RHAI_ETLS, "%s: certificate verify failed: %s", what,
                            X509_verify_cert_error_string(vr));
    }
    q = ERR_peek_error();
    if (ERR_GET_LIB(q) == ERR_LIB_SSL && ERR_GET_REASON(q) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ERR_clear_error();
        return rh_error_set(err, RHAI_ECONN, "%s: connection closed by the server", what);
    }
    if (ERR_GET_LIB(q) == ERR_LIB_SSL &&
        (ERR_GET_REASON(q) == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED ||
         (ERR_GET_REASON(q) == SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE && !t->has_cert)) &&
        !t->has_cert)
        return rh_error_set(err, RHAI_ETLS,
                            "%s: the server requires a client certificate (set tls_cert "
                            "and tls_key): %s", what, tls_reason(why, sizeof why, "refused"));
    /* bytes that are not TLS records: another protocol on the port */
    if (ERR_GET_LIB(q) == ERR_LIB_SSL && (ERR_GET_REASON(q) == SSL_R_WRONG_VERSION_NUMBER ||
                                          ERR_GET_REASON(q) == SSL_R_PACKET_LENGTH_TOO_LONG))
        return rh_error_set(err, RHAI_ETLS, "%s failed: %s (does the server speak TLS on "
                            "this port?)", what, tls_reason(why, sizeof why, "not TLS"));
    /* an alert about a certificate, from the server: about ours */
    if (t->has_cert && ERR_GET_LIB(q) == ERR_LIB_SSL &&
        (ERR_GET_REASON(q) == SSL_R_TLSV1_ALERT_UNKNOWN_CA ||
         ERR_GET_REASON(q) == SSL_R_SSLV3_ALERT_BAD_CERTIFICATE ||
         ERR_GET_REASON(q) == SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE ||
         ERR_GET_REASON(q) == SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED ||
         ERR_GET_REASON(q) == SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED ||
         ERR_GET_REASON(q) == SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN))
        return rh_error_set(err, RHAI_ETLS,
                            "%s: the server refused our client certificate (tls_cert): %s",
                            what, tls_reason(why, sizeof why, "refused"));
    return rh_error_set(err, RHAI_ETLS, "%s failed: %s", what,
                        tls_reason(why, sizeof why, "unknown error"));
}

int rh_tls_handshake(rh_tls *t, int *want, rhai_error *err)
{
    int ret;

    ERR_clear_error();
    errno = 0;
    ret = SSL_do_handshake(t->ssl);
    if (ret == 1)
        return 0;
    ret = tls_status(t, ret, "TLS handshake", want, err);
    if (ret == 0)                             /* close_notify mid-handshake */
        return rh_error_set(err, RHAI_ECONN, "TLS handshake: connection closed by the server");
    return ret;
}

ssize_t rh_tls_read(rh_tls *t, void *buf, size_t n, int *want, rhai_error *err)
{
    size_t got = 0;
    int ret;

    ERR_clear_error();
    errno = 0;
    ret = SSL_read_ex(t->ssl, buf, n, &got);
    if (ret == 1)
        return (ssize_t)got;
    return tls_status(t, 0, "TLS read", want, err);
}

ssize_t rh_tls_write(rh_tls *t, const void *buf, size_t n, int *want, rhai_error *err)
{
    size_t put = 0;
    int ret, rc;

    ERR_clear_error();
    errno = 0;
    ret = SSL_write_ex(t->ssl, buf, n, &put);
    if (ret == 1)
        return (ssize_t)put;
    if (SSL_get_error(t->ssl, 0) == SSL_ERROR_SYSCALL) {
        /* The peer closed on us. In TLS 1.3 a server checks our
         * certificate after the handshake, so its reason (an alert such as
         * "certificate required") may be waiting in the socket ahead of
         * the reset: read it, so the caller learns why, not just "reset". */
        char scrap[256];
        size_t got = 0;
        int w2 = 0;
        ERR_clear_error();
        if (SSL_read_ex(t->ssl, scrap, sizeof scrap, &got) != 1 &&
            SSL_get_error(t->ssl, 0) == SSL_ERROR_SSL &&
            (rc = tls_status(t, 0, "TLS write", &w2, err)) == RHAI_ETLS)
            return rc;
        ERR_clear_error();
        errno = EPIPE;
        return rh_error_set(err, RHAI_ECONN, "TLS write: connection closed by the server");
    }
    rc = tls_status(t, 0, "TLS write", want, err);
    if (rc == 0)
        return rh_error_set(err, RHAI_ECONN, "TLS write: connection closed by the server");
    return rc;
}
