-- An upload to a batch whose photos were all refused: with no task of the batch left to finish,
-- the batch is done (again) now and owes its final event, its summary counting the refused.
--
-- KEYS[1]  batch hash
-- Result:  0 no event (tasks still running, canceled, or gone); n > 0 ended now, its n-th ending
if redis.call('HGET', KEYS[1], 'status') ~= 'open' then return 0 end
if (tonumber(redis.call('HGET', KEYS[1], 'left')) or 0) > 0 then return 0 end
return redis.call('HINCRBY', KEYS[1], 'ends', 1)
