/* defaults.h -- the protocol's defaults and bounds, in one place for every
 * binary (rhaid, librhai-client, rhaictl, rhai-web). docs/protocol.md and
 * docs/operations.md name the same numbers; keep them in step. Plain
 * integer constants (no casts) so that they also make strings: RH_DEF_STR. */
#ifndef RH_DEFAULTS_H
#define RH_DEFAULTS_H

/* The wire protocol this build speaks: the key layout of docs/protocol.md
 * ("version 2"). Published as `protocol` in each instance's heartbeat. */
#define RH_PROTOCOL_VERSION 2

#define RH_DEF_TIMEOUT_MS        30000       /* a task's wall clock without timeout_ms */
#define RH_DEF_TIMEOUT_MAX_MS    86400000    /* the longest timeout_ms anybody accepts */
#define RH_DEF_MAX_TIMEOUT_MS    3600000     /* rhaid's max_timeout_ms */
#define RH_DEF_RESULT_TTL_MS     86400000    /* rhaid's result_ttl_ms: answered tasks, replies */
#define RH_DEF_HEARTBEAT_TTL_MS  5000        /* rhaid's heartbeat_ttl_ms */
#define RH_DEF_TASK_INDEX_MAX    10000       /* rhaid's task_index_max: rhai:tasks:{W} */
#define RH_DEF_DEAD_MAX          10000       /* rhaid's dead_max */
#define RH_DEF_DEAD_MAX_AGE_MS   604800000   /* rhaid's dead_max_age_ms: 7 days */
#define RH_DEF_EVENT_KEEP_MS     604800000   /* events' dedupe sets remember 7 days */
/* The task -> worker id lookup hint rhai:taskw:{ID} lives this long (plus
 * the delay of a delayed task): 7 days. */
#define RH_TASKW_TTL_MS          604800000

#define RH_DEF_STR_(x) #x
#define RH_DEF_STR(x) RH_DEF_STR_(x)

#endif
