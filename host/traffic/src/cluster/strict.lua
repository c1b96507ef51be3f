-- One strict admission: every level and the quota checked, and committed only if all pass.
-- KEYS: nl limit keys, then (if metered) the quota key and the usage key.
-- ARGV[1..3]: nl, max debt (us), metered (0/1); per limit: interval (us), tau (us);
--   if metered: period start day, effective limit (-1: no quota), today.
-- Returns {0, net spent or -1} admitted; {1, level, wait us} throttled; {2, spent} quota.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local nl, maxdebt, metered = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tats = {}
local a = 4
for i = 1, nl do
  local interval, tau = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  a = a + 2
  local tat = tonumber(redis.call('GET', KEYS[i]) or 0)
  if tat < now then tat = now end
  if tat > now + tau + maxdebt then tat = now + tau + maxdebt end
  local nxt = tat + interval
  if nxt > now + tau then
    return {1, i - 1, math.ceil(nxt - now - tau)}
  end
  tats[i] = nxt
end
local spent = -1
if metered == 1 then
  local day, limit, today = ARGV[a], tonumber(ARGV[a + 1]), ARGV[a + 2]
  local qkey, ukey = KEYS[nl + 1], KEYS[nl + 2]
  if limit >= 0 then
    local s = 0
    if redis.call('HGET', qkey, 'p') == day then
      s = tonumber(redis.call('HGET', qkey, 's') or 0)
    end
    if s >= limit then return {2, s} end
    redis.call('HSET', qkey, 'p', day, 's', s + 1)
    redis.call('EXPIRE', qkey, 3456000)
    spent = s + 1
    redis.call('HSET', ukey, 'r' .. today, limit - spent)
  end
  redis.call('HINCRBY', ukey, today, 1)
  redis.call('EXPIRE', ukey, 7862400)
end
for i = 1, nl do
  redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX', math.floor((tats[i] - now) / 1000) + 60000)
end
return {0, spent}
