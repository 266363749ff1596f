/* lua.c -- Lua scripts of the wire protocol used by more than one binary.
 *
 * Recovery of dead instances runs in rhaid on every heartbeat and on
 * demand from `rhaictl queue requeue-dead`; both send this text with EVAL.
 * docs/protocol.md, "Heartbeats and recovery", is its normative copy. */
#include <stdio.h>
#include <string.h>

#include "common.h"

#define LUA_FINAL \
    "local function final(st) return st == 'done' or st == 'error' or " \
    "st == 'timeout' or st == 'cancelled' end\n"

/* Recover the work of the dead instances of one worker id W (key layout
 * v2: every key in W's slot). Dead: a name in W's instance set
 * rhai:instances:{W} (or given in ARGV[8..], the registry's members of W)
 * whose heartbeat key has expired. The recent-task index and the failed
 * counter are best effort (pcall), after the reply.
 * KEYS[1] rhai:instances:{W}, KEYS[2] W's queue, KEYS[3] W's dead-letter
 * set, KEYS[4] W's recent-task index. ARGV[1] prefix, ARGV[2] now ms,
 * ARGV[3] max_attempts, ARGV[4] ttl ms, ARGV[5] events channel, ARGV[6]
 * an instance name never to recover (this instance's; "" for none),
 * ARGV[7] the index size, ARGV[8..] more instance names to look at.
 * Derived keys (all tagged {W}): each instance's heartbeat hash and
 * processing list, the task hashes of the ids in it, their reply lists
 * (reply_to when it is a list of W's slot, else the default one), the
 * failed-per-minute counter.
 * Only a task the dead instance was running (status `running`) counts
 * towards max_attempts: one it had only taken or claimed (queued, claimed)
 * never ran there, and goes back to its queue whatever its attempts.
 * A task failed as crashed goes to W's dead-letter set (scored by now)
 * with `dead_at` and its `errors` history one entry longer; its hash loses
 * its TTL while it is there (rhaid's trim or `rhaictl dead delete` gives
 * it result_ttl_ms back, docs/scheduling.md).
 * Returns {instances recovered, ids requeued, ids failed, name, ...}: the
 * names recovered, for the caller to take out of the registry
 * rhai:workers (another slot: a command of its own). */
const char rh_lua_recover[] =
    LUA_FINAL
    RH_LUA_KEYS
    "local p, now, maxa, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]\n"
    "local w = tag(KEYS[1])\n"
    "local keep = tonumber(ARGV[7] or '" RH_DEF_STR(RH_DEF_TASK_INDEX_MAX) "') or "
    RH_DEF_STR(RH_DEF_TASK_INDEX_MAX) "\n"
    "local dead, requeued, failed, names, seen = 0, 0, 0, {}, {}\n"
    "local cand = redis.call('SMEMBERS', KEYS[1])\n"
    "for i = 8, #ARGV do cand[#cand + 1] = ARGV[i] end\n"
    "for _, m in ipairs(cand) do\n"
    "  if not seen[m] and m ~= ARGV[6] and redis.call('EXISTS', k_worker(p, w, m)) == 0 then\n"
    "    seen[m] = true\n"
    "    dead = dead + 1\n"
    "    names[#names + 1] = m\n"
    "    local pk = k_processing(p, w, m)\n"
    "    local ids = redis.call('LRANGE', pk, 0, -1)\n"
    "    local function one(id)\n"
    "      local tk = k_task(p, w, id)\n"
    "      local st = redis.call('HGET', tk, 'status')\n"
    "      local att = tonumber(redis.call('HGET', tk, 'attempts') or '0') or 0\n"
    "      if final(st) then\n"
    "      elseif st == 'running' and att >= maxa then\n"
    "        local h = {}\n"
    "        local kv = redis.call('HGETALL', tk)\n"
    "        for j = 1, #kv, 2 do h[kv[j]] = kv[j + 1] end\n"
    "        local msg = 'worker instance died while running the task ' .. att .. ' times'\n"
    "        local errs = {}\n"
    "        if h.errors then\n"
    "          local ok, e = pcall(cjson.decode, h.errors)\n"
    "          if ok and type(e) == 'table' then errs = e end\n"
    "        end\n"
    "        errs[#errs + 1] = {attempt = att, error_kind = 'crashed', error = msg, at = now}\n"
    "        redis.call('HSET', tk, 'status', 'error', 'error_kind', 'crashed',"
    "          'error', msg, 'finished_at', now, 'output', 'null', 'dead_at', now,"
    "          'errors', cjson.encode(errs))\n"
    "        local reply = cjson.encode({id = id, status = 'error', output = cjson.null,"
    "          error = msg, error_kind = 'crashed', logs = h.logs or '',"
    "          worker_id = h.worker_id or w, instance = h.instance or cjson.null,"
    "          attempts = att, created_at = tonumber(h.created_at or '0'),"
    "          started_at = tonumber(h.started_at or '0'), finished_at = now})\n"
    "        local rk = h.reply_to\n"
    "        if not reply_ok(p, w, rk) then rk = k_reply(p, w, id) end\n"
    "        redis.call('LPUSH', rk, reply)\n"
    "        redis.call('PEXPIRE', rk, ttl)\n"
    "        redis.call('PERSIST', tk)\n"
    "        redis.call('ZADD', KEYS[3], now, id)\n"
    "        redis.call('PUBLISH', ARGV[5], cjson.encode({event = 'finished', id = id,"
    "          worker_id = h.worker_id or w, instance = h.instance or cjson.null,"
    "          status = 'error', error_kind = 'crashed', at = now}))\n"
    "        failed = failed + 1\n"
    "        if pcall(redis.call, 'ZADD', KEYS[4], now, id) then\n"
    "          redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -keep - 1)\n"
    "        end\n"
    "        local fk = k_failed(p, w, math.floor(now / 60000))\n"
    "        if pcall(redis.call, 'INCR', fk) then redis.call('EXPIRE', fk, 7200) end\n"
    "      else\n"
    "        if st then redis.call('HSET', tk, 'status', 'queued') end\n"
    "        redis.call('RPUSH', KEYS[2], id)\n"
    "        requeued = requeued + 1\n"
    "      end\n"
    "    end\n"
    "    for i = #ids, 1, -1 do\n"
    "      if not pcall(one, ids[i]) then\n"
    "        redis.log(redis.LOG_WARNING, 'rhai recovery: dropped id ' .. ids[i] ..\n"
    "                  ': its task key or reply list is of another type')\n"
    "      end\n"
    "    end\n"
    "    redis.call('DEL', pk)\n"
    "    redis.call('SREM', KEYS[1], m)\n"
    "  end\n"
    "end\n"
    "local out = {dead, requeued, failed}\n"
    "for _, m in ipairs(names) do out[#out + 1] = m end\n"
    "return out\n";

void rh_recover_argv(rh_recover_cmd *c, const char *prefix, const char *worker, int64_t now,
                     long long max_attempts, long long ttl_ms, const char *events,
                     const char *self, long long index_max, const char *const *names,
                     size_t n)
{
    c->argc = 0;
#define ARG(x) (c->argv[c->argc] = (x), c->lens[c->argc] = strlen(c->argv[c->argc]), c->argc++)
    ARG("EVAL");
    ARG(rh_lua_recover);
    ARG("4");
    ARG(rh_key_instances(c->keys[0], prefix, worker));
    ARG(rh_key_queue(c->keys[1], prefix, worker));
    ARG(rh_key_dead(c->keys[2], prefix, worker));
    ARG(rh_key_tasks(c->keys[3], prefix, worker));
    snprintf(c->now, sizeof c->now, "%lld", (long long)now);
    snprintf(c->maxa, sizeof c->maxa, "%lld", max_attempts);
    snprintf(c->ttl, sizeof c->ttl, "%lld", ttl_ms);
    snprintf(c->keep, sizeof c->keep, "%lld", index_max);
    ARG(prefix);
    ARG(c->now);
    ARG(c->maxa);
    ARG(c->ttl);
    ARG(events);
    ARG(self);
    ARG(c->keep);
    for (size_t i = 0; i < n && c->argc < RH_RECOVER_ARGC_MAX; i++)
        ARG(names[i]);
#undef ARG
}
