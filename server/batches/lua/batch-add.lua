-- Reserves places in a batch for new tasks (in upload order) and records the photos refused at
-- upload, if the batch is the owner's, still open, and stays within its cap. Checked and written
-- together: two requests adding to one batch cannot pass the cap between them, and nothing is
-- added after a cancel. The tasks themselves are made afterwards, by the task service. A batch
-- given tasks is marked as one of its owner's with work waiting (the album fair share reads those).
--
-- KEYS[1]  batch hash   KEYS[2]  the batch's task ids (zset, score = upload order)
-- KEYS[3]  the batch's refused photos (list of JSON)   KEYS[4]  the owner's batches with work waiting (set)
-- ARGV[1]  owner id   ARGV[2] most photos a batch may have (tasks + refused)   ARGV[3] TTL (s)
-- ARGV[4]  batch id   ARGV[5] R, the number of refused entries   ARGV[6 … 5+R] refused entries (JSON)
-- ARGV[6+R …]  the new task ids
-- Result:  1 added; -1 no such batch (or not the owner's); -2 canceled; -3 over the cap (nothing written)
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner or owner ~= ARGV[1] then return -1 end
if redis.call('HGET', KEYS[1], 'status') ~= 'open' then return -2 end
local r = tonumber(ARGV[5])
local n = #ARGV - 5 - r
if redis.call('ZCARD', KEYS[2]) + redis.call('LLEN', KEYS[3]) + n + r > tonumber(ARGV[2]) then return -3 end
for i = 6 + r, #ARGV do
  redis.call('ZADD', KEYS[2], redis.call('HINCRBY', KEYS[1], 'seq', 1), ARGV[i])
end
for i = 6, 5 + r do redis.call('RPUSH', KEYS[3], ARGV[i]) end
if n > 0 then redis.call('SADD', KEYS[4], ARGV[4]) end
local ttl = tonumber(ARGV[3])
for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ttl) end
return 1
