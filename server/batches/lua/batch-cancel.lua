-- Closes a batch: it takes no more photos (batch-add.lua refuses), so a cancel or a delete that
-- then goes through its tasks cannot miss one added meanwhile. A batch canceled while photos were
-- left to finish has ended (canceled) and owes its final event, written to the webhook outbox here
-- (see batch-task-ended.lua); one canceled after it was done had its final event already. Decided
-- here, atomically with batch-task-ended.lua's count.
--
-- KEYS[1]  batch hash   KEYS[2] the owner's webhook settings (hash)   KEYS[3] webhook outbox (stream)
-- KEYS[4]  the batch's webhook delivery state (string)
-- ARGV[1]  owner id   ARGV[2] batch id   ARGV[3] TTL of the delivery state (s)
-- Result:  {1, n} canceled now (n > 0: its n-th ending, an event owed; 0: none), {0, 0} it was
--          canceled already, {-1, 0} no such batch (or not the owner's)
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner or owner ~= ARGV[1] then return {-1, 0} end
if redis.call('HGET', KEYS[1], 'status') == 'canceled' then return {0, 0} end
redis.call('HSET', KEYS[1], 'status', 'canceled')
if (tonumber(redis.call('HGET', KEYS[1], 'left')) or 0) <= 0 then return {1, 0} end
local seq = redis.call('HINCRBY', KEYS[1], 'ends', 1)
local url = redis.call('HGET', KEYS[1], 'callback') or redis.call('HGET', KEYS[2], 'url')
if url then
  redis.call('XADD', KEYS[3], '*', 'batch_id', ARGV[2], 'owner', owner, 'url', url, 'type', 'batch.canceled',
    'seq', seq)
  redis.call('SET', KEYS[4], 'pending', 'EX', tonumber(ARGV[3]))
end
return {1, seq}
