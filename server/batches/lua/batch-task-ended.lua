-- One of a batch's tasks became final: counts it down, and when it was the last one not final
-- while the batch is open, the batch has ended (completed) and owes its final event. Counted and
-- decided together with batch-cancel.lua's own decision, so that an album ending while it is
-- canceled gets exactly one final event, from one side or the other. The event owed is written to
-- the webhook outbox here (as a task's is by task-transition.lua): no crash after this loses it.
--
-- KEYS[1]  batch hash   KEYS[2] the owner's webhook settings (hash)   KEYS[3] webhook outbox (stream)
-- KEYS[4]  the batch's webhook delivery state (string)
-- ARGV[1]  batch id   ARGV[2] TTL of the delivery state (s)
-- Result:  0 no event (tasks left, canceled, or the batch is gone); n > 0 completed now, its n-th ending
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local left = redis.call('HINCRBY', KEYS[1], 'left', -1)
if left ~= 0 then return 0 end
if redis.call('HGET', KEYS[1], 'status') ~= 'open' then return 0 end
local seq = redis.call('HINCRBY', KEYS[1], 'ends', 1)
local url = redis.call('HGET', KEYS[1], 'callback') or redis.call('HGET', KEYS[2], 'url')
if url then
  redis.call('XADD', KEYS[3], '*', 'batch_id', ARGV[1], 'owner', redis.call('HGET', KEYS[1], 'owner'), 'url', url,
    'type', 'batch.completed', 'seq', seq)
  redis.call('SET', KEYS[4], 'pending', 'EX', tonumber(ARGV[2]))
end
return seq
