-- Extend or reset a key's quota for the current period.
-- KEYS[1]: quota key. ARGV: 'extend' | 'reset', period start day, requests (extend).
-- Returns the net spent after the change.
local key, op, day = KEYS[1], ARGV[1], ARGV[2]
if op == 'reset' or redis.call('HGET', key, 'p') ~= day then
  redis.call('HSET', key, 'p', day, 's', 0)
end
if op == 'extend' then
  redis.call('HINCRBY', key, 's', -tonumber(ARGV[3]))
end
redis.call('EXPIRE', key, 3456000)
return tonumber(redis.call('HGET', key, 's'))
