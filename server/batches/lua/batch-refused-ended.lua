-- An upload to a batch whose photos were all refused: with no task of the batch left to finish,
-- the batch is done (again) now and owes its final event, its summary counting the refused; the
-- event is written to the webhook outbox here (see batch-task-ended.lua).
--
-- KEYS[1]  batch hash   KEYS[2] the owner's webhook settings (hash)   KEYS[3] webhook outbox (stream)
-- KEYS[4]  the batch's webhook delivery state (string)
-- ARGV[1]  batch id   ARGV[2] TTL of the delivery state (s)
-- Result:  0 no event (tasks still running, canceled, or gone); n > 0 ended now, its n-th ending
if redis.call('HGET', KEYS[1], 'status') ~= 'open' then return 0 end
if (tonumber(redis.call('HGET', KEYS[1], 'left')) or 0) > 0 then return 0 end
local seq = redis.call('HINCRBY', KEYS[1], 'ends', 1)
local url = redis.call('HGET', KEYS[1], 'callback') or redis.call('HGET', KEYS[2], 'url')
if url then
  redis.call('XADD', KEYS[3], '*', 'batch_id', ARGV[1], 'owner', redis.call('HGET', KEYS[1], 'owner'), 'url', url,
    'type', 'batch.completed', 'seq', seq)
  redis.call('SET', KEYS[4], 'pending', 'EX', tonumber(ARGV[2]))
end
return seq
