/* schedule.h -- a cron schedule as stored in Redis (docs/protocol.md,
 * "Cron"): its JSON, its name rule, its Ed25519 signature, and the firing
 * task id. Shared by rhaid (firing), librhai-client (rhai_cron_*) and
 * rhaictl (cron ...). Prefix rh_sched_. */
#ifndef RH_SCHEDULE_H
#define RH_SCHEDULE_H

#include <stdint.h>

#include "common.h"
#include "cron.h"

#define RH_SCHED_NAME_MAX  64     /* [A-Za-z0-9_.-], no ':' (firing ids parse) */
#define RH_SCHED_RUNS_MAX  50     /* firings kept in rhai:cron:runs:{W}:NAME */

/* Every string is new (rh_free) or NULL when absent. */
typedef struct rh_sched {
    char   *name;
    char   *cron;        /* the expression, as given */
    char   *tz;          /* IANA zone, "UTC" by default */
    char   *worker;
    char   *script;
    char   *args;        /* JSON text, "{}" by default */
    char   *context;
    char   *caller;      /* a signed schedule: the signer's public key */
    char   *created_by;  /* free text: who ran `cron add` (user@host) */
    char   *signature;   /* hex Ed25519, NULL when unsigned */
    int64_t created_at;  /* unix ms */
    int     paused;
} rh_sched;

void rh_sched_init(rh_sched *s);
void rh_sched_clear(rh_sched *s);
/* 1 when 'name' is a valid schedule name (1..RH_SCHED_NAME_MAX of
 * [A-Za-z0-9_.-]). */
int  rh_sched_name_valid(const char *name);
/* Check a schedule: name, expression, zone (the tz database), worker and
 * context ids, caller, script present, args one JSON value. 0 or
 * RHAI_EINVAL with a message. */
int  rh_sched_validate(const rh_sched *s, rhai_error *err);
/* Parse the stored JSON into *s (cleared first). 0, RHAI_EINVAL (not a
 * schedule object), RHAI_ENOMEM. Does not validate: call rh_sched_validate. */
int  rh_sched_from_json(const char *text, size_t len, rh_sched *s, rhai_error *err);
/* The stored JSON (new string, compact), NULL on no memory. */
char *rh_sched_to_json(const rh_sched *s);

/* Signatures. The message, with sha256 of script and args (sign.c's way):
 *   rhai-cron-v1\n prefix\n name\n worker\n context\n caller\n cron\n tz\n
 *   hex(sha256(script))\n hex(sha256(args))\n created_at
 * rh_sched_sign sets s->caller to the key's public key and s->signature.
 * rh_sched_verify: 0, or RHAI_EINVAL with why. paused and created_by are
 * not signed (pausing needs no key). */
int  rh_sched_sign(rh_sched *s, const char *prefix, const char *sk_hex, rhai_error *err);
int  rh_sched_verify(const rh_sched *s, const char *prefix, rhai_error *err);

/* The firing task of a regular tick: "cron:NAME:TICKMS"; of a run-now:
 * "cron:NAME:now:MS". Into buf[RH_NAME_MAX + 1]. */
void rh_sched_firing_id(char *buf, const char *name, int64_t tick_ms, int now);
/* The cron_sig field of a firing task of a signed schedule (new string):
 * {"cron":..,"tz":..,"created_at":..,"signature":..}, what a worker needs,
 * with the task's own fields, to check the schedule's signature. */
char *rh_sched_sig_json(const rh_sched *s);

#endif
