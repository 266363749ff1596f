/* scripts.c -- the Lua scripts that make each worker step atomic in
 * Redis, and how they are sent.
 *
 * The take, claim, start and finish scripts run per task: wk_scripts_load
 * loads them on each new command connection and they then go as EVALSHA
 * (wk_script_args), as EVAL until a digest is known or after NOSCRIPT.
 * The requeue script runs at drain, as EVAL. They are the normative
 * implementation of the take / claim / start / finish / requeue steps of
 * docs/protocol.md; keep the two in step. Recovery of dead instances
 * (rh_lua_recover) is in common/lua.c, shared with rhaictl. */
#include <string.h>

#include "daemon.h"

/* final(st): whether a status is final, for the scripts that must leave
 * a finished task alone (the claim by id, finish, requeue). */
#define LUA_FINAL \
    "local function final(st) return st == 'done' or st == 'error' or " \
    "st == 'timeout' or st == 'cancelled' end\n"

#define STR_(x) #x
#define STR(x) STR_(x)

/* The read of a task hash by every claim: fetch(tk) returns the fields a
 * worker reads (READ), each within its limit, as a table field -> value;
 * the first field over its limit (in READ's order) as the message of the `invalid` reply
 * ("args is 70000000 bytes, limit 1048576 (max_args)"), or nil; and the
 * bytes fetched. flat(out, v, over) appends them to a claim's answer as
 * field, value, ... (in no set order) and, when a field was over, '!over',
 * message. One pass over the hash's fields in the common case: the
 * claim's Lua work is per task.
 * Nothing over a limit is fetched: when MEMORY USAGE of the whole hash
 * (never less than the bytes of its fields and values) is within BUDGET,
 * the sum of the limits, one HGETALL, whose fields are then checked;
 * otherwise HSTRLEN of each field read, then one HMGET of those within
 * their limits. Unknown fields, however large, are never read, so a read
 * carries at most BUDGET bytes (docs/protocol.md, "Field limits").
 * ARGV[3] max_script, ARGV[4] max_args in every script that uses it. The
 * fixed limits are common.h's RH_LIM_*. */
#define LUA_FETCH \
    "local READ = {'script', 'args', 'worker_id', 'context_id', 'caller_id', 'reply_to',\n" \
    "  'timeout_ms', 'created_at', 'status', 'attempts', 'started_at', 'instance',\n" \
    "  'signature', 'schedule', 'tick', 'cron_sig', 'run_at', 'retries', 'backoff',\n" \
    "  'attempt', 'parent_id', 'trace_id', 'depth', 'event'}\n" \
    "local LIM = {script = tonumber(ARGV[3]), args = tonumber(ARGV[4]),\n" \
    "  worker_id = " STR(RH_LIM_NAME) ", context_id = " STR(RH_LIM_NAME) ",\n" \
    "  caller_id = " STR(RH_LIM_CALLER) ", reply_to = " STR(RH_LIM_REPLY_TO) ",\n" \
    "  timeout_ms = " STR(RH_LIM_NUMBER) ", created_at = " STR(RH_LIM_NUMBER) ",\n" \
    "  status = " STR(RH_LIM_STATUS) ", attempts = " STR(RH_LIM_NUMBER) ",\n" \
    "  started_at = " STR(RH_LIM_NUMBER) ", instance = " STR(RH_LIM_NAME) ",\n" \
    "  signature = " STR(RH_LIM_SIGNATURE) ",\n" \
    "  schedule = " STR(RH_LIM_NAME) ", tick = " STR(RH_LIM_NUMBER) ",\n" \
    "  cron_sig = " STR(RH_LIM_CRON_SIG) ", run_at = " STR(RH_LIM_NUMBER) ",\n" \
    "  retries = " STR(RH_LIM_NUMBER) ", attempt = " STR(RH_LIM_NUMBER) ",\n" \
    "  backoff = " STR(RH_BACKOFF_SPEC_MAX) ",\n" \
    "  parent_id = " STR(RH_LIM_NAME) ", trace_id = " STR(RH_LIM_NAME) ",\n" \
    "  depth = " STR(RH_LIM_NUMBER) ", event = " STR(RH_LIM_EVENT) "}\n" \
    "local BUDGET = LIM.script + LIM.args + " STR(RH_LIM_FIXED) " + LIM.event\n" \
    "local function too_big(f, n)\n" \
    "  local opt = (f == 'script' or f == 'args') and (' (max_' .. f .. ')') or ''\n" \
    "  return string.format('%s is %d bytes, limit %d%s', f, n, LIM[f], opt)\n" \
    "end\n" \
    "local function fetch(tk)\n" \
    "  local v, over, size = {}, nil, 0\n" \
    "  local ok, mem = pcall(redis.call, 'MEMORY', 'USAGE', tk, 'SAMPLES', 0)\n" \
    "  if ok and type(mem) == 'number' and mem <= BUDGET then\n" \
    "    local all, bad = redis.call('HGETALL', tk), nil\n" \
    "    for i = 1, #all, 2 do\n" \
    "      local f, x = all[i], all[i + 1]\n" \
    "      local lim = LIM[f]\n" \
    "      if lim then\n" \
    "        if #x > lim then bad = bad or {}; bad[f] = #x\n" \
    "        else v[f] = x; size = size + #x end\n" \
    "      end\n" \
    "    end\n" \
    "    if bad then\n" \
    "      for _, f in ipairs(READ) do\n" \
    "        if bad[f] then over = too_big(f, bad[f]); break end\n" \
    "      end\n" \
    "    end\n" \
    "  else\n" \
    "    local want = {}\n" \
    "    for _, f in ipairs(READ) do\n" \
    "      local n = redis.call('HSTRLEN', tk, f)\n" \
    "      if n > LIM[f] then over = over or too_big(f, n) else want[#want + 1] = f end\n" \
    "    end\n" \
    "    local got = redis.call('HMGET', tk, unpack(want))\n" \
    "    for i, f in ipairs(want) do\n" \
    "      if got[i] then v[f] = got[i]; size = size + #got[i] end\n" \
    "    end\n" \
    "  end\n" \
    "  return v, over, size\n" \
    "end\n" \
    "local function flat(out, v, over)\n" \
    "  local n = #out\n" \
    "  for f, x in pairs(v) do out[n + 1] = f; out[n + 2] = x; n = n + 2 end\n" \
    "  if over then out[n + 1] = '!over'; out[n + 2] = over end\n" \
    "  return out\n" \
    "end\n"

/* KEYS[1] task hash, KEYS[2] processing list, KEYS[3] seen-signed-task key,
 * KEYS[4] the queue, KEYS[5] the worker id's pause key. ARGV[1] id, ARGV[2] instance, ARGV[3] max_script, ARGV[4] max_args (the
 * started event is the start's: wk_lua_start).
 * Returns {'missing'}, {'badtype', type} (the task key holds no hash: the
 * id is dropped from the processing list, there is nothing to answer),
 * {'skip', status}, {'replay'} (a signed task already answered, submitted
 * again) or {'run', field, value, ...} (LUA_FETCH: a field over its limit
 * is not fetched and ends the list as '!over', message; the task is
 * claimed all the same, and rhaid answers it `invalid`). A claim sets
 * status `claimed` and the instance only: started_at, attempts and the
 * started event belong to the start (wk_lua_start), so a task taken and
 * given back unrun counts no attempt. A task this instance already
 * claimed or started (its re-read after a reconnect, when the first
 * claim's reply was lost or the claim behind a take got there first) is
 * returned as it is: the same delivery. While the worker id is paused
 * (KEYS[5] exists) anything else is not claimed: the id leaves our
 * processing list and goes back to the queue's taking end (only when it
 * was still in the list: a claim by id sent for an id already given back
 * pushes nothing), and the reply is {'paused'}. */
const char wk_lua_claim[] =
    LUA_FINAL
    LUA_FETCH
    "local ty = redis.call('TYPE', KEYS[1]).ok\n"
    "if ty == 'none' then return {'missing'} end\n"
    "if ty ~= 'hash' then\n"
    "  redis.call('LREM', KEYS[2], 1, ARGV[1])\n"
    "  return {'badtype', ty}\n"
    "end\n"
    "local v, over = fetch(KEYS[1])\n"
    "if final(v.status) then\n"
    "  redis.call('LREM', KEYS[2], 1, ARGV[1])\n"
    "  return {'skip', v.status}\n"
    "end\n"
    "if (v.status == 'claimed' or v.status == 'running') and v.instance == ARGV[2] then\n"
    "  return flat({'run'}, v, over)\n"
    "end\n"
    "if redis.call('EXISTS', KEYS[5]) == 1 then\n"
    "  if redis.call('LREM', KEYS[2], 1, ARGV[1]) > 0 then\n"
    "    redis.call('RPUSH', KEYS[4], ARGV[1])\n"
    "  end\n"
    "  return {'paused'}\n"
    "end\n"
    "if v.signature and v.signature ~= '' and redis.call('EXISTS', KEYS[3]) == 1 then\n"
    "  return {'replay'}\n"
    "end\n"
    "v.status, v.instance = 'claimed', ARGV[2]\n"
    "redis.call('HSET', KEYS[1], 'status', v.status, 'instance', v.instance)\n"
    "return flat({'run'}, v, over)\n";

/* claim(id, room), shared by the two take scripts below, whose ARGV[1..4]
 * are the prefix, the instance, max_script and max_args: an id with a valid name whose hash has status `queued`
 * and, when it is signed, no replay mark (`seen`) is claimed (status
 * claimed, instance; started_at, attempts and the started event wait for
 * the start) and returned as {'run', id, field, value, ...} (LUA_FETCH, with
 * the fields as written), and the bytes it carries; any other id, or one
 * whose fields would carry more than 'room' bytes (nil: no bound): nil,
 * for the claim by id (wk_lua_claim), which answers or drops it. One read
 * of the hash and one write. The take scripts call it under pcall: a key
 * Redis refuses (another type) sends that id alone to the claim by id. */
#define LUA_CLAIM \
    RH_LUA_KEYS \
    LUA_FETCH \
    "local W = tag(KEYS[1])\n" \
    "local function claim(id, room)\n" \
    "  if #id > 128 or not string.find(id, '^[%w_.:@-]+$') then return nil end\n" \
    "  local tk = k_task(ARGV[1], W, id)\n" \
    "  local v, over, size = fetch(tk)\n" \
    "  if v.status ~= 'queued' or (room and size > room) then return nil end\n" \
    "  if v.signature and v.signature ~= '' and\n" \
    "     redis.call('EXISTS', k_seen(ARGV[1], W, id)) == 1 then\n" \
    "    return nil\n" \
    "  end\n" \
    "  v.status, v.instance = 'claimed', ARGV[2]\n" \
    "  redis.call('HSET', tk, 'status', v.status, 'instance', v.instance)\n" \
    "  return flat({'run', id}, v, over), size\n" \
    "end\n"

/* The claim sent right behind each take, on the take's connection and
 * without waiting for it, so that a take and its claim cost one round trip:
 * Redis runs it as soon as the BLMOVE before it returns, when the id that
 * BLMOVE moved is the head of our processing list (only our pop connection
 * pushes there). It claims only the plain case (LUA_CLAIM) and leaves
 * everything else (no hash, final, replay, a timed-out take) to
 * wk_lua_claim by id.
 * It also says how many ids are left in the queue: rhaid takes the next
 * ones in a batch when there are some, and waits with BLMOVE when there
 * are none, instead of asking a batch take that would come back empty.
 * While the worker id is paused (KEYS[3] exists) it claims nothing: a
 * head whose task is `queued` goes back to the queue's taking end (the
 * BLMOVE is undone) and the answer is {left, {'paused', 1}}; any other
 * head stays for the claim by id ({left, {'paused', 0}}), which answers
 * or drops it.
 * KEYS[1] processing list, KEYS[2] queue, KEYS[3] pause key. ARGV[1..4]
 * as LUA_CLAIM's.
 * Returns {left, {'none'}}, {left, {'paused', back}} or
 * {left, {'run', id, field, value, ...}}. */
const char wk_lua_claim_head[] =
    LUA_CLAIM
    "local left = redis.call('LLEN', KEYS[2])\n"
    "local id = redis.call('LINDEX', KEYS[1], 0)\n"
    "if redis.call('EXISTS', KEYS[3]) == 1 then\n"
    "  local ok, st = false, nil\n"
    "  if id then ok, st = pcall(redis.call, 'HGET', k_task(ARGV[1], W, id), 'status') end\n"
    "  if ok and st == 'queued' then\n"
    "    redis.call('LPOP', KEYS[1])\n"
    "    redis.call('RPUSH', KEYS[2], id)\n"
    "    return {left + 1, {'paused', 1}}\n"
    "  end\n"
    "  return {left, {'paused', 0}}\n"
    "end\n"
    "if not id then return {left, {'none'}} end\n"
    "local ok, r = pcall(claim, id)\n"
    "return {left, ok and r or {'none'}}\n";

/* Take several ids at once while the queue is not empty (rhaid uses it
 * instead of BLMOVE once a take found work, until one comes back short),
 * and claim each plain one as the claim behind a take does (LUA_CLAIM).
 * RPOP with a count and one LPUSH leave the two lists as that many LMOVEs
 * would, in two redis.call instead of N. The claims of one call carry
 * at most BUDGET bytes of fields together (the first always fits): an id
 * whose fields would exceed it is answered {'take', id} and claimed by id,
 * in a reply of its own, so that no reply makes rhaid parse more than
 * one task's worth (docs/protocol.md, "Field limits").
 * KEYS[1] queue, KEYS[2] processing list, KEYS[3] pause key. ARGV[1..4]
 * as LUA_CLAIM's, ARGV[5] how many.
 * Returns one entry per id moved, oldest first: {'run', id, field, value,
 * ...} or {'take', id}; fewer than asked when the queue ran out; {'paused'}
 * (nothing moved) while the worker id is paused (KEYS[3] exists). */
const char wk_lua_take[] =
    LUA_CLAIM
    "if redis.call('EXISTS', KEYS[3]) == 1 then return {'paused'} end\n"
    "local ids = redis.call('RPOP', KEYS[1], ARGV[5])\n"
    "if not ids then return {} end\n"
    "redis.call('LPUSH', KEYS[2], unpack(ids))\n"
    "local out, room = {}, BUDGET\n"
    "for i = 1, #ids do\n"
    "  local ok, r, size = pcall(claim, ids[i], room)\n"
    "  if ok and r then room = room - size end\n"
    "  out[i] = ok and r or {'take', ids[i]}\n"
    "end\n"
    "return out\n";

/* The start of claimed tasks on executors: only now is each running.
 * Batched like the finish: every start that became due in one loop
 * iteration (a burst of results lets the jobs queued behind them start)
 * goes in one call.
 * KEYS[i] the i-th task's hash. ARGV[1] instance, ARGV[2] events
 * channel; then per task ARGV[1 + 2i] its started event (JSON, built by
 * rhaid) and ARGV[2 + 2i] now (ms).
 * A task still `claimed` by this instance becomes `running` with
 * started_at now and attempts + 1 (attempts count starts, not takes; one
 * HSET, from the attempts the HMGET read), and the started event goes
 * out; anything else (running already: the same delivery started again
 * after its executor died; cancelled, or taken over by recovery
 * meanwhile) is left as it is. A task whose key Redis refuses (another
 * type) fails alone.
 * Returns per task the attempts now, 0 when nothing was changed, or an
 * error. */
const char wk_lua_start[] =
    "local inst, chan = ARGV[1], ARGV[2]\n"
    "local function one(i)\n"
    "  local tk, now = KEYS[i], ARGV[2 + 2 * i]\n"
    "  local h = redis.call('HMGET', tk, 'status', 'instance', 'attempts')\n"
    "  if h[1] ~= 'claimed' or h[2] ~= inst then return 0 end\n"
    "  local n = (tonumber(h[3]) or 0) + 1\n"
    "  redis.call('HSET', tk, 'status', 'running', 'started_at', now, 'attempts', n)\n"
    "  redis.call('PUBLISH', chan, ARGV[1 + 2 * i])\n"
    "  return n\n"
    "end\n"
    "local out = {}\n"
    "for i = 1, #KEYS do\n"
    "  local ok, r = pcall(one, i)\n"
    "  out[i] = ok and r or redis.error_reply(tostring(r))\n"
    "end\n"
    "return out\n";

/* Finish a batch of tasks, one record per task, in one round trip (rhaid
 * sends every finish ready in one loop iteration together).
 * KEYS[1] processing list, KEYS[2] recent-task index (zset), KEYS[3]
 * delayed set; then per task: task hash, reply list, failed-per-minute
 * counter, seen-signed-task key; last, the worker id's dead-letter set.
 * ARGV[1] ttl ms, ARGV[2] events channel, ARGV[3] index size; then
 * per task a record: n (the count of what follows in it), id, reply JSON,
 * finished event JSON, finished_at, its mode, ms to remember a signed
 * task's id against replays (0: unsigned), the due time of a retry (unix
 * ms, 0: none), this attempt's error entry (JSON object for the task's
 * `errors` array, "" for none), the started event of a start written with
 * the finish (start_defer_ms; its started_at and attempts are among the
 * fields; "" for none), field/value pairs for the hash. Mode: 0
 * done, 1 failed, 2 failed into the dead-letter set (out of retries, or
 * crashed max_attempts times; below), 3 a retry: the task goes back to `scheduled`, attempt +
 * 1, attempts 0, in the delayed set (KEYS[3]) at the due time, and nothing
 * is replied or published as finished (the event arg is published as it
 * is, a "retry" event); a retry of a task whose cancel was requested
 * meanwhile is answered as a failure instead. An error entry is appended
 * to `errors` (the last RH_ERRORS_KEEP kept); a record with an error
 * entry whose attempt is not the hash's `attempt` is stale (the same
 * finish sent again after a lost reply, or a run that recovery gave to
 * another instance, which moved on) and changes nothing: 0, as for a final
 * task. A record of mode 2 (a task that ends in the dead-letter set:
 * crashed max_attempts times, or out of retries; its fields hold dead_at,
 * its finished_at) puts the id in the dead set scored by finished_at,
 * appends the attempt to the `errors` history unless the record carries an
 * error entry, and leaves the hash without a TTL while it is there (docs/scheduling.md, "Dead letters"). The
 * replies of a batch go out with one LPUSH (and one
 * PEXPIRE) per reply list, in the batch's order, and the index gets one
 * ZADD and one trim: what costs in a script is the number of redis.call,
 * not what each one carries. A task whose keys Redis refuses (a reply_to
 * or task key of another type) fails alone: the others of the batch are
 * answered. Its hash may be final already (a reply_to of another type
 * fails at the LPUSH, after the task's writes): then the retry finds it
 * final, and the result is in the hash only. The index and the
 * failed-per-minute counters are best effort, updated after every reply
 * was pushed and each under pcall: a key of another type, or a counter
 * that holds no integer, fails nothing and suppresses no reply. Ids enter the processing list
 * at its head and mostly finish oldest first, so the LREM searches from
 * the tail (count -1): with 64 ids taken it cost 4.5 us a call from the
 * head, 1.2 from the tail.
 * Returns one element per task: 1 answered, 0 already final, 2 scheduled
 * for a retry, or an error. */
const char wk_lua_finish[] =
    LUA_FINAL
    "local ttl, chan, keep = ARGV[1], ARGV[2], tonumber(ARGV[3])\n"
    "local out, lists, order, zadd, failed = {}, {}, {}, {'ZADD', KEYS[2]}, {}\n"
    "local function one(i, a, k)\n"
    "  local n, id = tonumber(ARGV[a]), ARGV[a + 1]\n"
    "  local tk, rk = KEYS[k], KEYS[k + 1]\n"
    "  redis.call('LREM', KEYS[1], -1, id)\n"
    "  local h = redis.call('HMGET', tk, 'status', 'cancel_requested', 'errors', 'attempt')\n"
    "  if final(h[1]) then return 0 end\n"
    "  local mode = ARGV[a + 5]\n"
    "  if mode == '3' and h[2] then mode = '1' end\n"
    "  if ARGV[a + 8] ~= '' then\n"
    "    local entry = cjson.decode(ARGV[a + 8])\n"
    "    if (tonumber(h[4] or '1') or 1) ~= entry.attempt then return 0 end\n"
    "    local ok, errs = pcall(cjson.decode, h[3] or '[]')\n"
    "    if not ok or type(errs) ~= 'table' then errs = {} end\n"
    "    errs[#errs + 1] = entry\n"
    "    while #errs > " STR(RH_ERRORS_KEEP) " do table.remove(errs, 1) end\n"
    "    redis.call('HSET', tk, 'errors', cjson.encode(errs))\n"
    "  end\n"
    "  if ARGV[a + 9] ~= '' then redis.call('PUBLISH', chan, ARGV[a + 9]) end\n"
    "  if mode == '3' then\n"
    "    local at = (tonumber(h[4] or '1') or 1) + 1\n"
    "    redis.call('HSET', tk, 'status', 'scheduled', 'attempt', at, 'attempts', 0,\n"
    "               'run_at', ARGV[a + 7])\n"
    "    redis.call('ZADD', KEYS[3], ARGV[a + 7], id)\n"
    "    redis.call('PUBLISH', chan, ARGV[a + 3])\n"
    "    return 2\n"
    "  end\n"
    "  redis.call('HSET', tk, unpack(ARGV, a + 10, a + n))\n"
    "  if ARGV[a + 6] ~= '0' then redis.call('SET', KEYS[k + 3], '1', 'PX', ARGV[a + 6]) end\n"
    "  if h[2] then redis.call('HDEL', tk, 'cancel_requested') end\n"
    "  if mode ~= '0' then failed[#failed + 1] = KEYS[k + 2] end\n"
    "  local dead = mode == '2' and ARGV[a + 4]\n"
    "  if dead then\n"
    "    if ARGV[a + 8] == '' then\n"
    "      local e = redis.call('HMGET', tk, 'errors', 'attempts', 'error_kind', 'error')\n"
    "      local ok, list = pcall(cjson.decode, e[1] or '[]')\n"
    "      if not ok or type(list) ~= 'table' then list = {} end\n"
    "      list[#list + 1] = {attempt = tonumber(e[2] or '0') or 0, error_kind = e[3],\n"
    "                         error = e[4], at = tonumber(dead)}\n"
    "      redis.call('HSET', tk, 'errors', cjson.encode(list))\n"
    "    end\n"
    "    redis.call('ZADD', KEYS[#KEYS], dead, id)\n"
    "    redis.call('PERSIST', tk)\n"
    "  else\n"
    "    redis.call('PEXPIRE', tk, ttl)\n"
    "  end\n"
    "  redis.call('PUBLISH', chan, ARGV[a + 3])\n"
    "  local l = lists[rk]\n"
    "  if not l then\n"
    "    l = {cmd = {'LPUSH', rk}, tasks = {}}\n"
    "    lists[rk] = l\n"
    "    order[#order + 1] = l\n"
    "  end\n"
    "  l.cmd[#l.cmd + 1] = ARGV[a + 2]\n"
    "  l.tasks[#l.tasks + 1] = i\n"
    "  zadd[#zadd + 1] = ARGV[a + 4]\n"
    "  zadd[#zadd + 1] = id\n"
    "  return 1\n"
    "end\n"
    "local a, k = 4, 4\n"
    "while a <= #ARGV do\n"
    "  local i = #out + 1\n"
    "  local ok, r = pcall(one, i, a, k)\n"
    "  out[i] = ok and r or redis.error_reply(tostring(r))\n"
    "  a = a + tonumber(ARGV[a]) + 1\n"
    "  k = k + 4\n"
    "end\n"
    "for _, l in ipairs(order) do\n"
    "  if #l.tasks > 0 then\n"
    "    local ok, e = pcall(redis.call, unpack(l.cmd))\n"
    "    if ok then ok, e = pcall(redis.call, 'PEXPIRE', l.cmd[2], ttl) end\n"
    "    if not ok then\n"
    "      for _, i in ipairs(l.tasks) do out[i] = redis.error_reply(tostring(e)) end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if keep > 0 and #zadd > 2 then\n"
    "  if pcall(redis.call, unpack(zadd)) then\n"
    "    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -keep - 1)\n"
    "  end\n"
    "end\n"
    "for _, fk in ipairs(failed) do\n"
    "  if pcall(redis.call, 'INCR', fk) then redis.call('EXPIRE', fk, 7200) end\n"
    "end\n"
    "return out\n";

/* Promote due delayed tasks (docs/scheduling.md, "Delayed tasks"): run by
 * every live instance on a timer (delay.c), so there is no scheduler to
 * lose. Up to ARGV[3] ids whose score is at most ARGV[2] (now, unix ms)
 * leave the delayed set; each id the ZREM removed (so each is moved once,
 * however many instances run this) whose task is still `scheduled` becomes
 * `queued` and goes onto the queue, oldest due first (LPUSH: the queue is
 * taken from its tail). An id whose task is gone or no longer scheduled
 * (cancelled, say) is dropped. Works the same on a paused worker id: its
 * tasks wait in the queue, not here.
 * KEYS[1] delayed set, KEYS[2] queue. ARGV[1] prefix, ARGV[2] now ms,
 * ARGV[3] how many at most.
 * Returns {ids moved, ids taken from the set, score of the earliest id
 * left (-1: none)}. */
const char wk_lua_promote[] =
    RH_LUA_KEYS
    "local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])\n"
    "local push = {}\n"
    "for _, id in ipairs(ids) do\n"
    "  if redis.call('ZREM', KEYS[1], id) == 1 then\n"
    "    local tk = k_task(ARGV[1], tag(KEYS[1]), id)\n"
    "    local ok, st = pcall(redis.call, 'HGET', tk, 'status')\n"
    "    if ok and st == 'scheduled' then\n"
    "      redis.call('HSET', tk, 'status', 'queued')\n"
    "      push[#push + 1] = id\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if #push > 0 then redis.call('LPUSH', KEYS[2], unpack(push)) end\n"
    "local nx = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')\n"
    "return {#push, #ids, nx[2] and math.floor(tonumber(nx[2])) or -1}\n";

/* Give back everything this instance holds, at the end of a drain (dead
 * instances' tasks are given back by rh_lua_recover).
 * KEYS[1] processing list, KEYS[2] queue. ARGV[1] prefix.
 * An id whose task key holds another type is dropped (Redis's log says
 * so) instead of failing the whole script.
 * Returns the number of ids put back. */
const char wk_lua_requeue[] =
    LUA_FINAL
    RH_LUA_KEYS
    "local ids = redis.call('LRANGE', KEYS[1], 0, -1)\n"
    "local n = 0\n"
    "local function back(id)\n"
    "  local tk = k_task(ARGV[1], tag(KEYS[1]), id)\n"
    "  if not final(redis.call('HGET', tk, 'status')) then\n"
    "    if redis.call('EXISTS', tk) == 1 then\n"
    "      redis.call('HSET', tk, 'status', 'queued')\n"
    "    end\n"
    "    redis.call('RPUSH', KEYS[2], id)\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "for i = #ids, 1, -1 do\n"
    "  if not pcall(back, ids[i]) then\n"
    "    redis.log(redis.LOG_WARNING, 'rhai requeue: dropped id ' .. ids[i] ..\n"
    "              ': its task key holds no hash')\n"
    "  end\n"
    "end\n"
    "redis.call('DEL', KEYS[1])\n"
    "return n\n";

/* Trim the dead-letter set of our worker id (each heartbeat): ids dead
 * for longer than dead_max_age_ms, then the oldest beyond dead_max, at
 * most BATCH of them per call (a backlog goes over the next beats). A
 * trimmed task's hash gets the result TTL back (it had none while dead).
 * KEYS[1] dead set. ARGV[1] prefix, ARGV[2] now ms, ARGV[3] dead_max,
 * ARGV[4] dead_max_age_ms, ARGV[5] result ttl ms, ARGV[6] batch.
 * Returns the number of ids trimmed. */
const char wk_lua_dead_trim[] =
    RH_LUA_KEYS
    "local p, now, max = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local age, ttl, batch = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])\n"
    "local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - age),\n"
    "                       'LIMIT', 0, batch)\n"
    "local over = redis.call('ZCARD', KEYS[1]) - #ids - max\n"
    "if over > 0 and #ids < batch then\n"
    "  local more = redis.call('ZRANGE', KEYS[1], #ids, #ids + math.min(over, batch - #ids) - 1)\n"
    "  for _, id in ipairs(more) do ids[#ids + 1] = id end\n"
    "end\n"
    "for _, id in ipairs(ids) do\n"
    "  redis.call('ZREM', KEYS[1], id)\n"
    "  pcall(redis.call, 'PEXPIRE', k_task(p, tag(KEYS[1]), id), ttl)\n"
    "end\n"
    "return #ids\n";

/* ======================== loading and sending ======================== */

/* The take, claim, start and finish scripts run once per task: after SCRIPT LOAD on each
 * new connection they go as EVALSHA (40 bytes instead of ~1 KB of text for
 * Redis to hash each time). Until the digest is known, or after NOSCRIPT
 * (a SCRIPT FLUSH, a restarted server), plain EVAL. */
static void on_script_loaded(rh_aconn *ac, redisReply *r, void *priv)
{
    redisReply *reply = r;
    char *dst = priv;
    (void)ac;
    if (reply && reply->type == REDIS_REPLY_STRING && reply->len == 40)
        memcpy(dst, reply->str, 41);
}

/* Forget the digests (plain EVAL until they are known again) and load
 * the scripts on the command connection. Called on NOSCRIPT from either
 * connection's callbacks: when the command connection is down, its
 * reconnect loads them (on_conn_up). */
/* The relay of one event (docs/events.md), before the finish of the task
 * whose result carried it, is 1 + S calls, S the event's subscriptions,
 * each in one hash slot (key layout v2) and each idempotent on its own.
 *
 * wk_lua_relay, in the context's slot {C}: KEYS[1] the context's stream,
 * KEYS[2] its relayed-event set, KEYS[3] the trace's task index. ARGV[1]
 * now (ms), ARGV[2] how long the dedupe set remembers (ms), ARGV[3]
 * MAXLEN of the stream, ARGV[4] event id, ARGV[5] emitting task id,
 * ARGV[6] its time (ms), ARGV[7] n, then the n field/value pairs of the
 * stream entry, then the ids of the subscriber tasks (for the trace
 * index: ZADD NX, so a second call changes nothing). The entry is
 * appended only if the event id is not in the relayed set.
 * Returns {1 appended / 0 already}. */
const char wk_lua_relay[] =
    "local now, keep = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
    "local n = tonumber(ARGV[7])\n"
    "for i = 8 + 2 * n, #ARGV do redis.call('ZADD', KEYS[3], 'NX', now, ARGV[i]) end\n"
    "local added = 0\n"
    "if not redis.call('ZSCORE', KEYS[2], ARGV[4]) then\n"
    "  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', unpack(ARGV, 8, 7 + 2 * n))\n"
    "  redis.call('ZADD', KEYS[2], now, ARGV[4])\n"
    "  added = 1\n"
    "end\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - keep)\n"
    "redis.call('ZADD', KEYS[3], 'NX', ARGV[6], ARGV[5])\n"
    "redis.call('PEXPIRE', KEYS[3], keep)\n"
    "return {added}\n";

/* wk_lua_relay_sub, one per subscription, in the target worker id's slot
 * {W}: KEYS[1] W's created-subscriber set, KEYS[2] W's queue, KEYS[3] the
 * subscriber task's hash (rhai:task:{W}:ID). ARGV[1] now (ms), ARGV[2] how
 * long the created set remembers (ms), ARGV[3] the task id, then the
 * field/value pairs of its hash. The task is created only if its id is
 * not in W's created set (so a re-relay, a ledger replay, a repair sweep
 * start nothing twice, even after the task hash expired), then queued.
 * Returns {1 created / 0 already}. */
const char wk_lua_relay_sub[] =
    "local now, keep, id = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]\n"
    "local created = 0\n"
    "if not redis.call('ZSCORE', KEYS[1], id) then\n"
    "  redis.call('ZADD', KEYS[1], now, id)\n"
    "  if redis.call('EXISTS', KEYS[3]) == 0 then\n"
    "    redis.call('HSET', KEYS[3], unpack(ARGV, 4))\n"
    "    redis.call('LPUSH', KEYS[2], id)\n"
    "    created = 1\n"
    "  end\n"
    "end\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - keep)\n"
    "return {created}\n";

void wk_scripts_load(wk_worker *w)
{
    w->sha_claim[0] = w->sha_claim_head[0] = w->sha_finish[0] = w->sha_take[0] = '\0';
    wk_conn_cmd(&w->cmd, on_script_loaded, w->sha_claim, "SCRIPT LOAD %s", wk_lua_claim);
    wk_conn_cmd(&w->cmd, on_script_loaded, w->sha_claim_head, "SCRIPT LOAD %s",
                wk_lua_claim_head);
    wk_conn_cmd(&w->cmd, on_script_loaded, w->sha_finish, "SCRIPT LOAD %s", wk_lua_finish);
    wk_conn_cmd(&w->cmd, on_script_loaded, w->sha_take, "SCRIPT LOAD %s", wk_lua_take);
    w->sha_start[0] = '\0';
    wk_conn_cmd(&w->cmd, on_script_loaded, w->sha_start, "SCRIPT LOAD %s", wk_lua_start);
    w->sha_promote[0] = '\0';
    wk_conn_cmd(&w->cmd, on_script_loaded, w->sha_promote, "SCRIPT LOAD %s", wk_lua_promote);
    w->sha_relay[0] = w->sha_relay_sub[0] = '\0';
    wk_conn_cmd(&w->cmd, on_script_loaded, w->sha_relay, "SCRIPT LOAD %s", wk_lua_relay);
    wk_conn_cmd(&w->cmd, on_script_loaded, w->sha_relay_sub, "SCRIPT LOAD %s",
                wk_lua_relay_sub);
}

/* argv[0..1] for a script: EVALSHA digest or EVAL text. */
void wk_script_args(const char *sha, const char *text, const char **argv, size_t *lens)
{
    argv[0] = sha[0] ? "EVALSHA" : "EVAL";
    argv[1] = sha[0] ? sha : text;
    lens[0] = strlen(argv[0]);
    lens[1] = strlen(argv[1]);
}

int wk_is_noscript(const redisReply *reply)
{
    return reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0;
}
