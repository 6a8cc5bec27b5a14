/**
 * Lua scripts that keep the queue's rules atomic across every bot and worker process sharing one Redis:
 * capacity and per-user admission, deficit round-robin between servers inside priority classes (the
 * same rule as fair-scheduler.ts), and clean-up. Keys, all under the prefix P:
 *   P:waiting               count of waiting jobs (capacity)
 *   P:user:<user>           zset of the user's jobs in flight, scored by expiry (self-healing if a process dies)
 *   P:job:<id>              hash: payload (v8-serialised job), lane, prio, cost, user, kind, state, seq, at (arrival, ms),
 *                           off (its class's offset, policy.ts), est (expected service ms); expires
 *   P:seq                   arrival counter (queue positions)
 *   P:prios                 zset of priority classes with waiting jobs
 *   P:ring:<prio>           list of lanes (servers) with waiting jobs; head = lane whose turn it is
 *   P:q:<prio>:<lane>       list of waiting job ids of one server
 *   P:deficit:<prio>        hash lane → deficit; P:granted:<prio> = lane that got this visit's quantum
 *   P:claim:<queue>:<n>     job id BullMQ ticket n of that ticket queue claimed (a retried ticket resumes the same job)
 *   P:res:<id>              v8-serialised result or error; expires
 *   P:running               set of claimed job ids (running, or held by a worker that died until another resumes
 *                           them); pruned of jobs whose hash is gone by STATS
 *   P:workers               hash worker id → "slots|running|expiry|capabilities|version|settings|state" (heartbeat; state up, draining, gone)
 *   P:stores                hash store identity → last published (epoch ms), one per store the front ends use (should be one)
 * Single-node Redis (keys are built inside the scripts).
 */
import { STRICT_CLASS_MS } from "./fair-scheduler.ts";

/**
 * A job's class offset where its hash has none (a job enqueued by an older Mimic, before offsets were stored;
 * a rolling upgrade may still hold some): strict priorities, as STRICT_OFFSETS. Lua, for a priority number `p`.
 */
const strictOffset = (p: string) => `tonumber(${p}) * ${STRICT_CLASS_MS}`;

/**
 * ARGV: P, id, lane, prio, cost, user, capacity, perUser, payload, ttlS, kind, nowMs, userHoldMs, requestId, offsetMs, estMs, version
 * → {status, mine, position}. offsetMs: the class's offset (classOffsetMs).
 */
export const ENQUEUE = `
local P = ARGV[1]
local now = tonumber(ARGV[12])
local userKey = P .. ':user:' .. ARGV[6]
redis.call('ZREMRANGEBYSCORE', userKey, '-inf', now)
local mine = redis.call('ZCARD', userKey)
local waiting = tonumber(redis.call('GET', P .. ':waiting') or '0')
if mine >= tonumber(ARGV[8]) then return {-1, mine, waiting} end
if waiting >= tonumber(ARGV[7]) then return {-2, mine, waiting} end
redis.call('ZADD', userKey, now + tonumber(ARGV[13]), ARGV[2])
redis.call('PEXPIRE', userKey, tonumber(ARGV[13]))
redis.call('INCR', P .. ':waiting')
local jobKey = P .. ':job:' .. ARGV[2]
redis.call('HSET', jobKey, 'payload', ARGV[9], 'lane', ARGV[3], 'prio', ARGV[4], 'cost', ARGV[5],
  'user', ARGV[6], 'kind', ARGV[11], 'state', 'queued', 'rid', ARGV[14], 'seq', redis.call('INCR', P .. ':seq'),
  'at', ARGV[12], 'off', ARGV[15], 'est', ARGV[16], 'ver', ARGV[17])
redis.call('EXPIRE', jobKey, tonumber(ARGV[10]))
local q = P .. ':q:' .. ARGV[4] .. ':' .. ARGV[3]
if redis.call('RPUSH', q, ARGV[2]) == 1 then
  redis.call('RPUSH', P .. ':ring:' .. ARGV[4], ARGV[3])
end
redis.call('ZADD', P .. ':prios', tonumber(ARGV[4]), ARGV[4])
local ahead = 0
for _, p in ipairs(redis.call('ZRANGEBYSCORE', P .. ':prios', '-inf', tonumber(ARGV[4]))) do
  for _, lane in ipairs(redis.call('LRANGE', P .. ':ring:' .. p, 0, -1)) do
    ahead = ahead + redis.call('LLEN', P .. ':q:' .. p .. ':' .. lane)
  end
end
return {0, mine + 1, ahead}
`;

/**
 * ARGV: P, ticket, claimTtlS[, lo, hi] → job id or nil. Deficit round-robin, as FairScheduler.next(), over
 * the priority classes in [lo, hi]: generator jobs live in classes shifted by GENERATOR_PRIORITY_SHIFT and
 * are claimed only by generator tickets, so a worker without the models never takes one. The class that
 * goes is the one whose oldest head has the smallest arrival + offset (ties: the lower number), as
 * FairScheduler's; a worker keeping its last process for cheap jobs claims with hi below the animations'
 * class. When a whole round passes without a start (every head costs more than its lane's deficit), the
 * rounds in which nobody could start anyway are skipped at once, so Redis never spins through many idle rounds.
 */
export const CLAIM = `
local P = ARGV[1]
local claimKey = P .. ':claim:' .. ARGV[2]
local existing = redis.call('GET', claimKey)
if existing then return existing end
local function headCost(prio, lane)
  local head = redis.call('LINDEX', P .. ':q:' .. prio .. ':' .. lane, 0)
  if not head then return nil, 1 end
  return head, tonumber(redis.call('HGET', P .. ':job:' .. head, 'cost') or '1')
end
local function pickClass()
  local best, bestKey, bestP = nil, nil, nil
  for _, p in ipairs(redis.call('ZRANGEBYSCORE', P .. ':prios', ARGV[4] or '-inf', ARGV[5] or '+inf')) do
    local oldest = nil
    for _, lane in ipairs(redis.call('LRANGE', P .. ':ring:' .. p, 0, -1)) do
      local head = redis.call('LINDEX', P .. ':q:' .. p .. ':' .. lane, 0)
      if head then
        local h = redis.call('HMGET', P .. ':job:' .. head, 'at', 'off')
        local key = (tonumber(h[1]) or 0) + (tonumber(h[2]) or ${strictOffset("p")})
        if oldest == nil or key < oldest then oldest = key end
      end
    end
    -- A class with no lane left is cleaned up below, when it is picked.
    local key = oldest or -math.huge
    local np = tonumber(p)
    if best == nil or key < bestKey or (key == bestKey and np < bestP) then best, bestKey, bestP = p, key, np end
  end
  return best
end
local visits = 0
local prio = pickClass()
for guard = 1, 100000 do
  if not prio then return false end
  local ring = P .. ':ring:' .. prio
  local deficits = P .. ':deficit:' .. prio
  local granted = P .. ':granted:' .. prio
  local lane = redis.call('LINDEX', ring, 0)
  if not lane then
    redis.call('ZREM', P .. ':prios', prio)
    prio = pickClass()
    visits = 0
  else
    if redis.call('GET', granted) ~= lane then
      redis.call('HINCRBY', deficits, lane, 1)
      redis.call('SET', granted, lane)
      visits = visits + 1
    end
    local head, cost = headCost(prio, lane)
    if not head then
      redis.call('LPOP', ring)
      redis.call('HDEL', deficits, lane)
      redis.call('DEL', granted)
    else
      local d = tonumber(redis.call('HGET', deficits, lane) or '0')
      if cost <= d then
        redis.call('HINCRBY', deficits, lane, -cost)
        local q = P .. ':q:' .. prio .. ':' .. lane
        redis.call('LPOP', q)
        if redis.call('LLEN', q) == 0 then
          redis.call('LPOP', ring)
          redis.call('HDEL', deficits, lane)
          redis.call('DEL', granted)
        end
        redis.call('DECR', P .. ':waiting')
        if redis.call('EXISTS', P .. ':job:' .. head) == 1 then
          redis.call('HSET', P .. ':job:' .. head, 'state', 'running', 'ticket', ARGV[2])
          redis.call('SADD', P .. ':running', head)
        end
        redis.call('SET', claimKey, head, 'EX', tonumber(ARGV[3]))
        return head
      else
        redis.call('LPOP', ring)
        redis.call('RPUSH', ring, lane)
        redis.call('DEL', granted)
        local lanes = redis.call('LRANGE', ring, 0, -1)
        if visits >= #lanes then
          local skip = nil
          for _, l in ipairs(lanes) do
            local _, c = headCost(prio, l)
            local need = c - tonumber(redis.call('HGET', deficits, l) or '0')
            if skip == nil or need < skip then skip = need end
          end
          if skip and skip > 1 then
            for _, l in ipairs(lanes) do redis.call('HINCRBY', deficits, l, skip - 1) end
          end
          visits = 0
        end
      end
    end
  end
end
return false
`;

/** ARGV: P, id → 1 when the job was still waiting and is now gone, else 0 (already running/finished). */
export const CANCEL_WAITING = `
local P = ARGV[1]
local jobKey = P .. ':job:' .. ARGV[2]
if redis.call('HGET', jobKey, 'state') ~= 'queued' then return 0 end
local lane = redis.call('HGET', jobKey, 'lane')
local prio = redis.call('HGET', jobKey, 'prio')
local q = P .. ':q:' .. prio .. ':' .. lane
if redis.call('LREM', q, 1, ARGV[2]) == 0 then return 0 end
if redis.call('LLEN', q) == 0 then
  redis.call('LREM', P .. ':ring:' .. prio, 1, lane)
  redis.call('HDEL', P .. ':deficit:' .. prio, lane)
end
redis.call('DECR', P .. ':waiting')
redis.call('ZREM', P .. ':user:' .. redis.call('HGET', jobKey, 'user'), ARGV[2])
redis.call('DEL', jobKey)
return 1
`;

/**
 * ARGV: P, id, user. A job its producer gives up on while it runs (or after Redis lost it): the user's slot is
 * freed and the job removed, so a worker that resumes it later finds it expired and runs nothing.
 */
export const ABANDON = `
local P = ARGV[1]
redis.call('ZREM', P .. ':user:' .. ARGV[3], ARGV[2])
redis.call('DEL', P .. ':job:' .. ARGV[2])
redis.call('SREM', P .. ':running', ARGV[2])
return 1
`;

/** ARGV: P, id, ticket, result, resultTtlS, eventJson. Frees the user's slot, stores the result, tells the producers. */
export const FINISH = `
local P = ARGV[1]
local jobKey = P .. ':job:' .. ARGV[2]
local user = redis.call('HGET', jobKey, 'user')
if user then redis.call('ZREM', P .. ':user:' .. user, ARGV[2]) end
redis.call('DEL', jobKey)
redis.call('SREM', P .. ':running', ARGV[2])
redis.call('DEL', P .. ':claim:' .. ARGV[3])
redis.call('SET', P .. ':res:' .. ARGV[2], ARGV[4], 'EX', tonumber(ARGV[5]))
redis.call('PUBLISH', P .. ':events', ARGV[6])
return 1
`;

/**
 * ARGV: P, id… → {total, position1, ahead1, position2, ahead2, …}: total, the expected service ms of every
 * waiting job; per id, its position (1 = next; 0 = no longer waiting) and the expected service ms of the jobs
 * ahead of it. Ahead: jobs whose class key (arrival + offset, as the claim compares classes) is smaller, or
 * equal with an earlier arrival (deficit round-robin usually serves a quiet server sooner).
 */
export const POSITIONS = `
local P = ARGV[1]
local all = {}
local total = 0
for _, p in ipairs(redis.call('ZRANGE', P .. ':prios', 0, -1)) do
  for _, lane in ipairs(redis.call('LRANGE', P .. ':ring:' .. p, 0, -1)) do
    for _, id in ipairs(redis.call('LRANGE', P .. ':q:' .. p .. ':' .. lane, 0, -1)) do
      local h = redis.call('HMGET', P .. ':job:' .. id, 'seq', 'at', 'off', 'est')
      local est = tonumber(h[4]) or 0
      total = total + est
      all[#all + 1] = { (tonumber(h[2]) or 0) + (tonumber(h[3]) or ${strictOffset("p")}), tonumber(h[1]) or 0, est }
    end
  end
end
local out = { math.floor(total) }
for i = 2, #ARGV do
  local h = redis.call('HMGET', P .. ':job:' .. ARGV[i], 'state', 'prio', 'seq', 'at', 'off')
  if h[1] ~= 'queued' then
    out[#out + 1] = 0
    out[#out + 1] = 0
  else
    local key = (tonumber(h[4]) or 0) + (tonumber(h[5]) or ${strictOffset("h[2]")})
    local sq = tonumber(h[3])
    local n, ms = 0, 0
    for _, e in ipairs(all) do
      if e[1] < key or (e[1] == key and e[2] <= sq) then
        n = n + 1
        if e[2] ~= sq then ms = ms + e[3] end
      end
    end
    out[#out + 1] = n
    out[#out + 1] = math.floor(ms)
  end
end
return out
`;

/** Priority classes of generator jobs start here (their own DRR rings, their own tickets). */
export const GENERATOR_PRIORITY_SHIFT = 1000;

/**
 * ARGV: P, nowMs → {claimed, oldestWaitMs}: the jobs claimed by a worker and not finished (also those of a worker
 * that died, until another resumes them: its heartbeat says nothing of them), and how long the oldest waiting job
 * has waited (-1: none waits). Each lane is FIFO, so the oldest job is among the lanes' heads.
 */
export const STATS = `
local P = ARGV[1]
local now = tonumber(ARGV[2])
local claimed = 0
for _, id in ipairs(redis.call('SMEMBERS', P .. ':running')) do
  if redis.call('EXISTS', P .. ':job:' .. id) == 1 then claimed = claimed + 1 else redis.call('SREM', P .. ':running', id) end
end
local oldest = nil
for _, p in ipairs(redis.call('ZRANGE', P .. ':prios', 0, -1)) do
  for _, lane in ipairs(redis.call('LRANGE', P .. ':ring:' .. p, 0, -1)) do
    local head = redis.call('LINDEX', P .. ':q:' .. p .. ':' .. lane, 0)
    if head then
      local at = tonumber(redis.call('HGET', P .. ':job:' .. head, 'at'))
      if at and (oldest == nil or at < oldest) then oldest = at end
    end
  end
end
if oldest == nil then return {claimed, -1} end
return {claimed, math.max(0, now - oldest)}
`;
