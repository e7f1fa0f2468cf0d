-- One of a batch's tasks became final: counts it down, and when it was the last one not final
-- while the batch is open, the batch has ended (completed) and owes its final event. Counted and
-- decided together with batch-cancel.lua's own decision, so that an album ending while it is
-- canceled gets exactly one final event, from one side or the other.
--
-- KEYS[1]  batch hash
-- Result:  0 no event (tasks left, canceled, or the batch is gone); n > 0 completed now, its n-th ending
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local left = redis.call('HINCRBY', KEYS[1], 'left', -1)
if left ~= 0 then return 0 end
if redis.call('HGET', KEYS[1], 'status') ~= 'open' then return 0 end
return redis.call('HINCRBY', KEYS[1], 'ends', 1)
