-- Whether a login may be tried now, given the failed-login counters (login-limiter.ts).
--
-- KEYS[1]  pair counter (account + address)   KEYS[2] address counter   KEYS[3] account counter
-- KEYS[4]  the account's known addresses (set)
-- ARGV[1]  per-pair limit   ARGV[2] per-address limit   ARGV[3] per-account limit   ARGV[4] this address's id
-- Result:  0 when the attempt may go on, else the seconds until the exceeded window ends
local function over(key, max)
  local n = tonumber(redis.call('GET', key) or '0')
  if n < max then return 0 end
  local ttl = redis.call('TTL', key)
  if ttl < 1 then return 1 end
  return ttl
end
local t = over(KEYS[1], tonumber(ARGV[1]))
if t > 0 then return t end
t = over(KEYS[2], tonumber(ARGV[2]))
if t > 0 then return t end
-- the account's own limit holds back only addresses that never logged in to it
if redis.call('SISMEMBER', KEYS[4], ARGV[4]) == 0 then return over(KEYS[3], tonumber(ARGV[3])) end
return 0
