/* rhai/cron.h -- cron schedules: add, remove, pause, resume, run now, read.
 *
 * A schedule runs a script on a worker id at each tick of a cron expression
 * in an IANA time zone; rhaid instances of that worker id fire it, each tick
 * once (docs/scheduling.md). These calls use a connected rhai_client (same
 * thread rules: not thread-safe) and return 0 or a negative RHAI_E*, with
 * detail in 'err' (may be NULL). None of them changes the process's TZ. */
#ifndef RHAI_CRON_H
#define RHAI_CRON_H

#include <stdint.h>
#include "error.h"
#include "client.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A schedule to add. Every string is borrowed for the call. */
typedef struct rhai_cron_def {
    const char *name;        /* 1..64 of [A-Za-z0-9_.-], unique per worker id */
    const char *cron;        /* "m h dom mon dow", or with a leading seconds field */
    const char *tz;          /* IANA zone (e.g. Europe/Brussels); NULL: UTC */
    const char *worker;      /* worker id; NULL: "default" */
    const char *script;      /* JavaScript source */
    const char *args;        /* JSON text; NULL: {} */
    const char *context;     /* context id */
    const char *caller;      /* caller id; ignored when signed (the key's) */
    const char *created_by;  /* free text recorded with it; NULL: none */
    const char *signing_key; /* hex Ed25519 secret key (rhaictl keygen): sign
                                the schedule; its firings run as the public
                                key. NULL: unsigned (refused by workers that
                                require signatures) */
} rhai_cron_def;

/* Add a schedule; it fires from its first tick after an instance saw it.
 * RHAI_EINVAL (bad name, expression, zone, ids, args; message says which),
 * RHAI_ESTATE (a schedule of that name exists on that worker id),
 * RHAI_ECONN, RHAI_EPROTO, RHAI_ENOMEM. */
RHAI_API int rhai_cron_add(rhai_client *c, const rhai_cron_def *def, rhai_error *err);
/* Remove a schedule and its firing history (firings already queued run).
 * RHAI_ENOTFOUND when there is none. */
RHAI_API int rhai_cron_remove(rhai_client *c, const char *worker, const char *name,
                              rhai_error *err);
/* Pause (paused 1) or resume (0): a paused schedule does not fire; resumed,
 * it fires from its next tick after now (the ticks while paused are not
 * fired). RHAI_ENOTFOUND. */
RHAI_API int rhai_cron_pause(rhai_client *c, const char *worker, const char *name,
                             int paused, rhai_error *err);
/* Fire once now, besides the schedule's ticks: an ordinary task
 * "cron:NAME:now:MS" queued at once; its id into id[RHAI_ID_MAX].
 * RHAI_ENOTFOUND. */
RHAI_API int rhai_cron_run_now(rhai_client *c, const char *worker, const char *name,
                               char id[RHAI_ID_MAX], rhai_error *err);
/* The schedule as stored (JSON text) plus "next" (unix ms of its next tick,
 * -1 when not computed yet, null when paused or ended): *out new, freed
 * with rhai_cron_free_text(). RHAI_ENOTFOUND. */
RHAI_API int rhai_cron_get(rhai_client *c, const char *worker, const char *name,
                           char **out, rhai_error *err);
/* Every schedule of 'worker' (NULL: of every worker id), as a JSON array of
 * what rhai_cron_get returns, sorted by worker then name: *out new. */
RHAI_API int rhai_cron_list(rhai_client *c, const char *worker, char **out, rhai_error *err);
RHAI_API void rhai_cron_free_text(char *text);        /* NULL: no-op */

#ifdef __cplusplus
}
#endif
#endif
