"""The Lua scripts: each a step that no other client can interleave, in one round trip.

Times come from the Redis server's clock (`TIME`), never from the hosts', so hosts with skewed
clocks share one rate-limit window, one dedupe claim and one retention. Every script is safe to
run twice (redis-py re-sends a command after a dropped connection): ids and tokens are made by
the caller, and a repeat finds its own earlier effect and reports success.

Some scripts touch keys they build from the prefix (`run:<id>`): groupmsg supports a standalone
Redis (with or without replicas / Sentinel), not Redis Cluster.
"""

from __future__ import annotations

_NOW = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""

# --- registry: KEYS[1] = the registry hash (name → group document) ---------------------------

# ARGV: name, doc, replace ('1'/'0') → 1 added, 0 the name is taken by another group
REGISTRY_ADD = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and ARGV[3] ~= '1' and cur ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

# ARGV: replace, then name, doc pairs → nil (all added) or the first name already taken (none added)
REGISTRY_ADD_MANY = """
if ARGV[1] ~= '1' then
  for i = 2, #ARGV, 2 do
    local cur = redis.call('HGET', KEYS[1], ARGV[i])
    if cur and cur ~= ARGV[i + 1] then return ARGV[i] end
  end
end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return false
"""

# ARGV: name → the removed document, or nil
REGISTRY_REMOVE = """
local doc = redis.call('HGET', KEYS[1], ARGV[1])
if not doc then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
return doc
"""

# ARGV: old, new, old doc as read, new doc → 'done' | 'missing' | 'changed' (read again) | 'taken'
REGISTRY_RENAME = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then
  if redis.call('HGET', KEYS[1], ARGV[2]) == ARGV[4] then return 'done' end
  return 'missing'
end
if cur ~= ARGV[3] then return 'changed' end
if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1 then return 'taken' end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[2], ARGV[4])
return 'done'
"""

# --- form records: KEYS = docs hash, order zset, sequence, forms set --------------------------

# ARGV: form, then id, doc pairs (oldest first) → how many were new (ids already there are skipped)
RECORDS_ADD = """
local added = 0
for i = 2, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[i])
    added = added + 1
  end
end
redis.call('SADD', KEYS[4], ARGV[1])
return added
"""

# KEYS: docs, order. ARGV: id, doc as read, new doc ('' deletes) → 1 done, 0 changed meanwhile
RECORD_SET = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur ~= ARGV[2] then
  if (ARGV[3] == '' and not cur) or cur == ARGV[3] then return 1 end
  return 0
end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
end
return 1
"""

# --- runs -----------------------------------------------------------------------------------

_FORGET_OLD = """
local function forget_finished_before(finished, index, cutoff, prefix, limit)
  local old = redis.call('ZRANGEBYSCORE', finished, '-inf', cutoff, 'LIMIT', 0, limit)
  for _, id in ipairs(old) do
    redis.call('DEL', prefix .. 'run:' .. id)
    redis.call('ZREM', index, id)
    redis.call('ZREM', finished, id)
  end
  return #old
end
"""

# KEYS: run doc, index zset (id → sequence), sequence, lease, finished zset (id → server ms)
# ARGV: id, doc, finished ('1'/'0'), holder token ('' = not held), lease ms, retention ms, prefix
# → 'ok', or 'lost' when another process holds the run now (this one lost its lease)
RUN_SAVE = (
    _NOW
    + _FORGET_OLD
    + """
local token = ARGV[4]
if token ~= '' then
  local holder = redis.call('GET', KEYS[4])
  if holder and holder ~= token then return 'lost' end
end
redis.call('SET', KEYS[1], ARGV[2])
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
end
if ARGV[3] == '1' then
  local now = now_ms()
  redis.call('ZADD', KEYS[5], now, ARGV[1])
  if token ~= '' then redis.call('DEL', KEYS[4]) end
  forget_finished_before(KEYS[5], KEYS[2], now - tonumber(ARGV[6]), ARGV[7], 10)
else
  redis.call('ZREM', KEYS[5], ARGV[1])
  if token ~= '' then redis.call('SET', KEYS[4], token, 'PX', ARGV[5]) end
end
return 'ok'
"""
)

# KEYS: lease, run doc. ARGV: token, lease ms → {1, doc or ''} held, {0, holder} held by another
RUN_HOLD = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return {0, holder} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1, redis.call('GET', KEYS[2]) or ''}
"""

# KEYS: lease. ARGV: token, lease ms → 1 renewed, 0 lost
RUN_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# KEYS: lease. ARGV: token
RUN_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""

# KEYS: index, finished. ARGV: age ms, prefix, batch → how many were forgotten
RUN_PRUNE = (
    _NOW
    + _FORGET_OLD
    + """
return forget_finished_before(KEYS[2], KEYS[1], now_ms() - tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]))
"""
)

# --- dedupe: KEYS[1] = the key's claim ("run id|claimed at, server ms") ----------------------

# ARGV: run id, retention ms, orphan ms, prefix → nil (claimed for this run) or the holder's run id
DEDUPE_CLAIM = (
    _NOW
    + """
local now = now_ms()
local cur = redis.call('GET', KEYS[1])
if cur then
  local sep = string.find(cur, '|', 1, true)
  local holder = sep and string.sub(cur, 1, sep - 1) or cur
  local at = sep and tonumber(string.sub(cur, sep + 1)) or 0
  if holder == ARGV[1] then return false end
  if redis.call('EXISTS', ARGV[4] .. 'run:' .. holder) == 1 or now - at <= tonumber(ARGV[3]) then
    return holder
  end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. now, 'PX', ARGV[2])
return false
"""
)

# --- rate limits: KEYS = in flight zset (id → sent at), answered zset (id → answered at); block key --

# ARGV: count, window ms, in-flight max ms, slot id, poll ms
# → {1, 0} taken; {0, ms to wait} window full (a block is the delivery layer's: see state.limiting)
LIMIT_ACQUIRE = (
    _NOW
    + """
local count, window, inflight_max = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then return {1, 0} end
local now = now_ms()
-- a slot in flight this long belongs to a process that died mid-request: count it as answered then
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - inflight_max), 'WITHSCORES')
for i = 1, #stale, 2 do
  redis.call('ZREM', KEYS[1], stale[i])
  redis.call('ZADD', KEYS[2], tonumber(stale[i + 1]) + inflight_max, stale[i])
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
local inflight, done = redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2])
if inflight + done >= count then
  local excess = inflight + done - count
  if excess < done then
    local oldest = redis.call('ZRANGE', KEYS[2], excess, excess, 'WITHSCORES')
    return {0, math.max(1, tonumber(oldest[2]) + window - now)}
  end
  return {0, tonumber(ARGV[5])}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window + inflight_max)
redis.call('PEXPIRE', KEYS[2], window + inflight_max)
return {1, 0}
"""
)

# ARGV: slot id, reached ('1': stamp the slot with the answer's time; '0': give it back), window ms
LIMIT_RELEASE = (
    _NOW
    + """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 and ARGV[2] == '1' then
  redis.call('ZADD', KEYS[2], now_ms(), ARGV[1])
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]) + 1000)
end
return 1
"""
)

# KEYS: block. ARGV: ms → a longer block than the one recorded wins
LIMIT_BLOCK = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
"""

# --- tokens: KEYS[1] = the cached token (expires with it), KEYS[2] = the refresh lock ---------

# → {token, ms left} or nil
TOKEN_GET = """
local token = redis.call('GET', KEYS[1])
if not token then return false end
return {token, redis.call('PTTL', KEYS[1])}
"""

# ARGV: token, ms it lives, lock owner → stores it and releases the lock if still ours
TOKEN_SET = """
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1
"""

# --- scheduled flows' marks: KEYS[1] = <prefix>schedule:<flow> ----------------------------------

# ARGV: '1' when a mark is expected ('0': none yet), the expected mark, the new one → 1 set (or
# already the new one: a repeated call finds its own effect), 0 the mark is something else
SCHEDULE_CAS = """
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[3] then return 1 end
if (ARGV[1] == '0' and not cur) or (ARGV[1] == '1' and cur == ARGV[2]) then
  redis.call('SET', KEYS[1], ARGV[3])
  return 1
end
return 0
"""
