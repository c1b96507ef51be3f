-- One sync batch: push every delta of this node, pull the global state back. Atomic.
-- KEYS: nl limit keys, then nq quota keys, then nu usage keys.
-- ARGV[1..4]: nl, nq, nu, max debt (us); then
--   per limit: interval (us), tau (us), delta (admissions since the last push; may be < 0)
--   per quota: period start day, delta
--   per usage: day, delta, remaining (-1: no quota)
-- Returns per limit the global tokens x 1000, per quota the global net spent.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local nl, nq, nu = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local maxdebt = tonumber(ARGV[4])
local out = {}
local a = 5
for i = 1, nl do
  local key = KEYS[i]
  local interval, tau, delta = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  a = a + 3
  local tat = tonumber(redis.call('GET', key) or 0)
  if tat < now then tat = now end
  if tat > now + tau + maxdebt then tat = now + tau + maxdebt end
  if delta ~= 0 then
    tat = tat + delta * interval
    if tat < now then tat = now end
    if tat > now + tau + maxdebt then tat = now + tau + maxdebt end
    redis.call('SET', key, string.format('%.0f', tat), 'PX', math.floor((tat - now) / 1000) + 60000)
  end
  out[#out + 1] = math.floor((now + tau - tat) * 1000 / interval)
end
for i = 1, nq do
  local key = KEYS[nl + i]
  local day, delta = ARGV[a], tonumber(ARGV[a + 1])
  a = a + 2
  if redis.call('HGET', key, 'p') ~= day then
    redis.call('HSET', key, 'p', day, 's', 0)
  end
  out[#out + 1] = redis.call('HINCRBY', key, 's', delta)
  redis.call('EXPIRE', key, 3456000)
end
for i = 1, nu do
  local key = KEYS[nl + nq + i]
  local day, delta, rem = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  a = a + 3
  redis.call('HINCRBY', key, day, delta)
  if rem >= 0 then redis.call('HSET', key, 'r' .. day, rem) end
  redis.call('EXPIRE', key, 7862400)
end
return out
