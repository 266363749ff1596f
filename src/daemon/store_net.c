/* store_net.c -- what an executor must reach of a postgres store, read
 * from its data_url the way libpq reads it (PQconninfoParse, then the
 * PGHOST/PGHOSTADDR/PGPORT/PGPASSFILE defaults): unix sockets and/or TCP
 * ports, and the passfile libpq reads at each connect. The executor's
 * confinement (confine_linux.c) opens exactly that and no more: rhaid
 * passes it as `--store-net` and `--store-read` (neither is secret; the
 * url, which may be, travels in the environment). A sqlite store needs
 * none of it. */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <libpq-fe.h>

#include "daemon.h"

/* Debian's libpq: no host means the socket in /var/run/postgresql. */
#define WK_PG_DEFAULT_PORT 5432

static const char *opt_or_env(const PQconninfoOption *o, const char *key, const char *env)
{
    for (; o && o->keyword; o++)
        if (strcmp(o->keyword, key) == 0 && o->val && *o->val)
            return o->val;
    return getenv(env) && *getenv(env) ? getenv(env) : NULL;
}

static void add_port(wk_store_net *n, long port)
{
    for (int i = 0; i < n->nports; i++)
        if (n->ports[i] == (int)port)
            return;
    if (n->nports < WK_STORE_NET_PORTS)
        n->ports[n->nports++] = (int)port;
}

/* The i-th element of a comma-separated list into buf ("" past its end;
 * a list of one applies to every i, as libpq's port list does). */
static void nth(const char *list, int i, int one_for_all, char *buf, size_t n)
{
    const char *p = list, *e;
    int k = 0;

    buf[0] = '\0';
    if (list == NULL)
        return;
    if (one_for_all && strchr(list, ',') == NULL) {
        snprintf(buf, n, "%s", list);
        return;
    }
    for (;;) {
        e = strchr(p, ',');
        if (k == i) {
            snprintf(buf, n, "%.*s", (int)(e ? (size_t)(e - p) : strlen(p)), p);
            return;
        }
        if (e == NULL)
            return;
        p = e + 1;
        k++;
    }
}

int wk_store_net_of(const char *url, wk_store_net *out, rhai_error *err)
{
    PQconninfoOption *o;
    const char *host, *hostaddr, *port, *pass;
    char *msg = NULL, h[256], a[256], pt[32];
    int count = 1;

    memset(out, 0, sizeof *out);
    if ((o = PQconninfoParse(url, &msg)) == NULL) {
        rh_error_set(err, RHAI_EINVAL, "data_url: %s", msg ? msg : "out of memory");
        PQfreemem(msg);
        return RHAI_EINVAL;
    }
    host = opt_or_env(o, "host", "PGHOST");
    hostaddr = opt_or_env(o, "hostaddr", "PGHOSTADDR");
    port = opt_or_env(o, "port", "PGPORT");
    pass = opt_or_env(o, "passfile", "PGPASSFILE");
    for (const char *s = host ? host : hostaddr ? hostaddr : ""; *s; s++)
        count += *s == ',';
    out->nhosts = count;
    for (int i = 0; i < count; i++) {
        char *end;
        long p;
        nth(host, i, 0, h, sizeof h);
        nth(hostaddr, i, 0, a, sizeof a);
        nth(port, i, 1, pt, sizeof pt);
        p = pt[0] ? strtol(pt, &end, 10) : WK_PG_DEFAULT_PORT;
        if (pt[0] && (*end || p < 1 || p > 65535)) {
            PQconninfoFree(o);
            return rh_error_set(err, RHAI_EINVAL, "data_url: port '%s' is not a port", pt);
        }
        if (a[0] == '\0' && (h[0] == '\0' || h[0] == '/' || h[0] == '@')) {
            out->unix_sock = 1;                 /* a socket dir, or the default one */
        } else {
            out->tcp = 1;
            add_port(out, p);
            if (a[0] == '\0' && strspn(h, "0123456789.:abcdefABCDEF[]") != strlen(h))
                snprintf(out->name, sizeof out->name, "%s", h);
        }
    }
    if (pass && strlen(pass) < sizeof out->passfile)
        memcpy(out->passfile, pass, strlen(pass) + 1);
    PQconninfoFree(o);
    return 0;
}

void wk_store_net_format(const wk_store_net *n, char *buf, size_t len)
{
    size_t k = 0;

    buf[0] = '\0';
    if (n->unix_sock)
        k += (size_t)snprintf(buf, len, "unix");
    for (int i = 0; i < n->nports && k < len; i++)
        k += (size_t)snprintf(buf + k, len - k, "%stcp:%d", k ? "," : "", n->ports[i]);
}

/* A host given by name, resolved here, while rhaid can still read
 * /etc/hosts and /etc/resolv.conf: its first address, as libpq's hostaddr
 * (libpq then connects to the address and keeps the name for TLS checks
 * and the passfile). One host only; a list, an address or a socket dir is
 * left to libpq as given. */
int wk_store_url_pin(const char *url, char **out, rhai_error *err)
{
    wk_store_net net;
    struct addrinfo hints, *ai = NULL;
    char addr[NI_MAXHOST];
    int rc;

    *out = NULL;
    if ((rc = wk_store_net_of(url, &net, err)) != 0)
        return rc;
    if (net.name[0] == '\0' || net.nhosts > 1)
        return 0;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if ((rc = getaddrinfo(net.name, NULL, &hints, &ai)) != 0)
        return rh_error_set(err, RHAI_EIO, "cannot resolve the store's host %s: %s", net.name,
                            gai_strerror(rc));
    rc = getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof addr, NULL, 0, NI_NUMERICHOST);
    freeaddrinfo(ai);
    if (rc != 0)
        return rh_error_set(err, RHAI_EIO, "cannot resolve the store's host %s: %s", net.name,
                            gai_strerror(rc));
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
        *out = rh_sprintf("%s%chostaddr=%s", url, strchr(url, '?') ? '&' : '?', addr);
    else
        *out = rh_sprintf("%s hostaddr='%s'", url, addr);
    return *out ? 0 : rh_error_set(err, RHAI_ENOMEM, "out of memory");
}
