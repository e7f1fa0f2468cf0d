-- A worker takes a task: queued → running (the running document given), or running → running when
-- a previous attempt died mid-job (the stored document kept, its start time with it). Counts the
-- run (exactly-once evidence) and announces the change.
--
-- KEYS[1]  task hash   KEYS[2] the task's run counter
-- ARGV[1]  the running task JSON   ARGV[2] TTL (s)   ARGV[3] event channel   ARGV[4] event JSON
-- ARGV[5…] statuses a claim is allowed from (shared/task-lifecycle.ts)
-- Result:  {'claimed', runs} | {'reclaimed', runs, stored JSON} | {'missing'} | {status} when not allowed
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing'} end
local allowed = false
for i = 5, #ARGV do
  if ARGV[i] == status then allowed = true end
end
if not allowed then return {status} end
local runs = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
if status == 'queued' then
  redis.call('HSET', KEYS[1], 'status', 'running', 'doc', ARGV[1])
  redis.call('PUBLISH', ARGV[3], ARGV[4])
  return {'claimed', runs}
end
return {'reclaimed', runs, redis.call('HGET', KEYS[1], 'doc')}
