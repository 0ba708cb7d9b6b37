"""The Lua run by Redis: one admission per request (one round trip), and the seed of a day's totals.

Admission evaluates limits.md §3 in order inside Redis, so every instance sees one set of counters and a
request is either fully admitted or refused at its first exceeded check, atomically. Rate windows use the
list layout of `limits`' moving window (newest timestamp first, trimmed to the limit), so `limits`' own
`get_window_stats` reads the same keys.

ADMIT  KEYS: key day hash, workspace day hash, key window, workspace window, key in-flight set, workspace
             in-flight set.
       ARGV: now, window s, key tokens/day, key cost/day, workspace tokens/day, workspace cost/day, key rpm,
             workspace rpm, key concurrent, workspace concurrent, lease id, stale-before, in-flight ttl s,
             then ids of this instance's leases released from those in-flight sets since (removed first).
       returns {0, 0} admitted, or {n, retry_after} with n the 1-based index in rules.CODES.
SEED   KEYS: day hash.  ARGV: tokens, cost, ttl s.  Raises each field to at least the given value.
"""

from __future__ import annotations

ADMIT = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])

local function reached(hash, field, limit)
  if limit <= 0 then return false end
  return tonumber(redis.call('HGET', hash, field) or '0') >= limit
end

if reached(KEYS[1], 'tokens', tonumber(ARGV[3])) then return {1, 0} end
if reached(KEYS[1], 'cost', tonumber(ARGV[4])) then return {2, 0} end
if reached(KEYS[2], 'tokens', tonumber(ARGV[5])) then return {3, 0} end
if reached(KEYS[2], 'cost', tonumber(ARGV[6])) then return {4, 0} end

-- Moving window: full when the limit-th newest event is still inside it; that event leaving frees a slot.
local function hit(list, limit)
  if limit <= 0 then return 0 end
  local edge = redis.call('LINDEX', list, limit - 1)
  if edge and tonumber(edge) >= now - window then
    return math.max(1, math.ceil(tonumber(edge) + window - now))
  end
  redis.call('LPUSH', list, ARGV[1])
  redis.call('LTRIM', list, 0, limit - 1)
  redis.call('EXPIRE', list, window)
  return 0
end

local wait = hit(KEYS[3], tonumber(ARGV[7]))
if wait > 0 then return {5, wait} end
wait = hit(KEYS[4], tonumber(ARGV[8]))
if wait > 0 then return {6, wait} end

-- In-flight sets: members are lease ids scored by their last heartbeat; a crashed instance's leases age out.
local function crowded(set, limit)
  if limit <= 0 then return false end
  redis.call('ZREMRANGEBYSCORE', set, '-inf', ARGV[12])
  return redis.call('ZCARD', set) >= limit
end

for i = 14, #ARGV do
  redis.call('ZREM', KEYS[5], ARGV[i])
  redis.call('ZREM', KEYS[6], ARGV[i])
end

local key_cap = tonumber(ARGV[9])
local workspace_cap = tonumber(ARGV[10])
if crowded(KEYS[5], key_cap) then return {7, 0} end
if crowded(KEYS[6], workspace_cap) then return {8, 0} end
if key_cap > 0 then
  redis.call('ZADD', KEYS[5], now, ARGV[11])
  redis.call('EXPIRE', KEYS[5], ARGV[13])
end
if workspace_cap > 0 then
  redis.call('ZADD', KEYS[6], now, ARGV[11])
  redis.call('EXPIRE', KEYS[6], ARGV[13])
end
return {0, 0}
"""

SEED = """
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens') or '0')
if tonumber(ARGV[1]) > tokens then redis.call('HSET', KEYS[1], 'tokens', ARGV[1]) end
local cost = tonumber(redis.call('HGET', KEYS[1], 'cost') or '0')
if tonumber(ARGV[2]) > cost then redis.call('HSET', KEYS[1], 'cost', ARGV[2]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""
