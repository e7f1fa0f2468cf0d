-- Removes one of a user's push subscriptions, and the endpoint's owner mark if it is theirs.
--
-- KEYS[1]  the user's subscriptions (hash)   KEYS[2] their order (zset)   KEYS[3] the endpoint's owner key
-- ARGV[1]  endpoint   ARGV[2] user id
-- Result:  1 when there was such a subscription, else 0
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('GET', KEYS[3]) == ARGV[2] then redis.call('DEL', KEYS[3]) end
return removed
