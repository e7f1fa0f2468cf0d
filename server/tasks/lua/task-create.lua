-- Creates a task record, indexes it under its owner, its expiry and (until it is final) the open
-- tasks, and claims its blobs. The id must be free: clients may choose task ids, and a deleted
-- task's id is not reused (its finished job may still sit in the queue under that id, where a new
-- one would be dropped).
--
-- KEYS[1]  task hash                 KEYS[2]  the id's tombstone
-- KEYS[3]  owner's task index (zset) KEYS[4]  expiry index (zset)
-- KEYS[5]  the task's blob set       KEYS[6]  open tasks (zset, by creation time)
-- KEYS[7…] each blob's reference set
-- ARGV[1]  task id   ARGV[2] status   ARGV[3] owner id   ARGV[4] task JSON
-- ARGV[5]  created (ms)   ARGV[6] TTL (s)   ARGV[7…] blob keys, in the order of KEYS[7…]
-- Result:  1 created, 0 a task with this id exists, -1 the id belonged to a deleted task
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local ttl = tonumber(ARGV[6])
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'owner', ARGV[3], 'doc', ARGV[4])
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
redis.call('ZADD', KEYS[4], tonumber(ARGV[5]) + ttl * 1000, ARGV[1])
if ARGV[2] == 'queued' or ARGV[2] == 'running' then redis.call('ZADD', KEYS[6], ARGV[5], ARGV[1]) end
for i = 7, #KEYS do
  redis.call('SADD', KEYS[i], ARGV[1])
  redis.call('SADD', KEYS[5], ARGV[i])
end
return 1
