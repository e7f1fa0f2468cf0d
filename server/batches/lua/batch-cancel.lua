-- Closes a batch: it takes no more photos (batch-add.lua refuses), so a cancel or a delete that
-- then goes through its tasks cannot miss one added meanwhile.
--
-- KEYS[1]  batch hash
-- ARGV[1]  owner id
-- Result:  1 canceled now, 0 it was canceled already, -1 no such batch (or not the owner's)
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner or owner ~= ARGV[1] then return -1 end
if redis.call('HGET', KEYS[1], 'status') == 'canceled' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'canceled')
return 1
