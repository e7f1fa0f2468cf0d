-- Creates an album job (batch) record, open for photos, and lists it under its owner.
--
-- KEYS[1]  batch hash   KEYS[2]  owner's batch index (zset)
-- ARGV[1]  batch id   ARGV[2] owner id   ARGV[3] batch JSON {batch_id, created_at, params}
-- ARGV[4]  created (ms)   ARGV[5] TTL (s)
-- Result:  1 created, 0 a batch with this id exists (nothing written)
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[2], 'status', 'open', 'doc', ARGV[3], 'seq', 0)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
return 1
