/* th_tls.h -- test support: a redis-server on its TLS port with a
 * throwaway PKI (tests/support/tls-pki.sh, the openssl CLI). */
#ifndef TH_TLS_H
#define TH_TLS_H

#include "harness.h"

/* A TLS-only redis-server ("--port 0 --tls-port P"). 'r' is an ordinary
 * th_redis (pid, the TLS port, dir; url "rediss://127.0.0.1:P"), so
 * th_redis_stop stops it and removes its dir, PKI included. */
typedef struct th_tls {
    th_redis r;
    char     pki[300];         /* r.dir/pki: ca.crt, server.*, client.*, ... */
    char     cert[32];         /* the server certificate: "server" or "expired" */
    char     auth_clients[16]; /* tls-auth-clients: "no", "optional", "yes" */
    char     extra[10][160];   /* more redis-server args, "" ends */
} th_tls;

/* Make the PKI in a new temp dir and start redis-server with server
 * certificate 'cert' ("server": valid for localhost and 127.0.0.1;
 * "expired": the same names, expired in 2020) and tls-auth-clients 'auth'
 * ("no", "optional", "yes"), plus 'extra' args (NULL-terminated, may be
 * NULL; at most 10). Waits (10 s) until it logs that it accepts
 * connections. 0, or -1 after printing why. */
int  th_tls_start(th_tls *t, const char *cert, const char *auth, const char *const extra[]);
/* Stop and start again on the same port with the same settings. 0 / -1. */
int  th_tls_restart(th_tls *t);
/* Path of PKI file 'name' ("ca.crt") into buf. */
const char *th_tls_file(const th_tls *t, const char *name, char *buf, size_t n);

/* A redis-server listening on unix socket 'sock' only (--port 0), log in
 * 'log'; waits (10 s) until it answers PING there. Its pid (th_stop it),
 * or -1 after printing why. */
pid_t th_redis_start_unix(const char *sock, const char *log);

#endif
