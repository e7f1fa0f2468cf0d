-- Closes a batch: it takes no more photos (batch-add.lua refuses), so a cancel or a delete that
-- then goes through its tasks cannot miss one added meanwhile. A batch canceled while photos were
-- left to finish has ended (canceled) and owes its final event; one canceled after it was done
-- had its final event already. Decided here, atomically with batch-task-ended.lua's count.
--
-- KEYS[1]  batch hash
-- ARGV[1]  owner id
-- Result:  {1, n} canceled now (n > 0: its n-th ending, an event owed; 0: none), {0, 0} it was
--          canceled already, {-1, 0} no such batch (or not the owner's)
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner or owner ~= ARGV[1] then return {-1, 0} end
if redis.call('HGET', KEYS[1], 'status') == 'canceled' then return {0, 0} end
redis.call('HSET', KEYS[1], 'status', 'canceled')
if (tonumber(redis.call('HGET', KEYS[1], 'left')) or 0) > 0 then
  return {1, redis.call('HINCRBY', KEYS[1], 'ends', 1)}
end
return {1, 0}
