/* lua.c -- Lua scripts of the wire protocol used by more than one binary.
 *
 * Recovery of dead instances runs in rhaid on every heartbeat and on
 * demand from `rhaictl queue requeue-dead`; both send this text with EVAL.
 * docs/protocol.md, "Heartbeats and recovery", is its normative copy. */
#include "common.h"

#define LUA_FINAL \
    "local function final(st) return st == 'done' or st == 'error' or " \
    "st == 'timeout' or st == 'cancelled' end\n"

/* Recover the work of dead instances: members of the workers set whose
 * heartbeat key has expired. The recent-task index and the failed
 * counter are best effort (pcall), after the reply. No KEYS (the set is walked); ARGV[1] prefix,
 * ARGV[2] now ms, ARGV[3] max_attempts, ARGV[4] ttl ms, ARGV[5] events
 * channel, ARGV[6] this instance's member (never recovered by itself).
 * Only a task the dead instance was running (status `running`) counts
 * towards max_attempts: one it had only taken or claimed (queued, claimed)
 * never ran there, and goes back to its queue whatever its attempts.
 * A task failed as crashed goes to its worker id's dead-letter set
 * (`dead:{W}`, scored by now) with `dead_at` and its `errors` history one
 * entry longer; its hash loses its TTL while it is there (rhaid's trim or
 * `rhaictl dead delete` gives it result_ttl_ms back, docs/scheduling.md).
 * Returns {instances recovered, ids requeued, ids failed}. */
const char rh_lua_recover[] =
    LUA_FINAL
    "local p, now, maxa, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]\n"
    "local dead, requeued, failed = 0, 0, 0\n"
    "for _, m in ipairs(redis.call('SMEMBERS', p .. ':workers')) do\n"
    "  if m ~= ARGV[6] and redis.call('EXISTS', p .. ':worker:' .. m) == 0 then\n"
    "    dead = dead + 1\n"
    "    local w = string.match(m, '^{(.-)}:')\n"
    "    local pk = p .. ':processing:' .. m\n"
    "    local ids = redis.call('LRANGE', pk, 0, -1)\n"
    "    local function one(id)\n"
    "      local tk = p .. ':task:{' .. id .. '}'\n"
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
    "        local rk = h.reply_to or (p .. ':reply:{' .. id .. '}')\n"
    "        redis.call('LPUSH', rk, reply)\n"
    "        redis.call('PEXPIRE', rk, ttl)\n"
    "        redis.call('PERSIST', tk)\n"
    "        redis.call('ZADD', p .. ':dead:{' .. w .. '}', now, id)\n"
    "        redis.call('PUBLISH', ARGV[5], cjson.encode({event = 'finished', id = id,"
    "          worker_id = h.worker_id or w, instance = h.instance or cjson.null,"
    "          status = 'error', error_kind = 'crashed', at = now}))\n"
    "        failed = failed + 1\n"
    "        local keep = tonumber(ARGV[7] or '10000') or 10000\n"
    "        local ik = p .. ':tasks:{' .. w .. '}'\n"
    "        if pcall(redis.call, 'ZADD', ik, now, id) then\n"
    "          redis.call('ZREMRANGEBYRANK', ik, 0, -keep - 1)\n"
    "        end\n"
    "        local fk = p .. ':failed:{' .. w .. '}:' .. math.floor(now / 60000)\n"
    "        if pcall(redis.call, 'INCR', fk) then redis.call('EXPIRE', fk, 7200) end\n"
    "      else\n"
    "        if st then redis.call('HSET', tk, 'status', 'queued') end\n"
    "        redis.call('RPUSH', p .. ':queue:{' .. w .. '}', id)\n"
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
    "    redis.call('SREM', p .. ':workers', m)\n"
    "  end\n"
    "end\n"
    "return {dead, requeued, failed}\n";
