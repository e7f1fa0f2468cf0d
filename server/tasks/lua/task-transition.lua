-- Replaces a task's document if its status is one the change is allowed from (compare-and-set), so
-- a duplicate run or a late worker after a cancel can never overwrite a final state. Announces the
-- change; a server task's final status also owes a push (an outbox entry, written with it) when its
-- owner has push subscriptions (most API users have none: no outbox entry, no work for the API's
-- notifier); a success also records its inference time for /api/v1/stats.
--
-- KEYS[1]  task hash   KEYS[2] push outbox (stream)   KEYS[3] recent inference times (list)
-- KEYS[4]  the owner's push subscriptions (hash)   KEYS[5] the owner's webhook settings (hash)
-- KEYS[6]  the task's own callback URL (string)
-- ARGV[1]  new status   ARGV[2] new task JSON   ARGV[3] event channel   ARGV[4] event JSON
-- ARGV[5]  '1' to append to the outbox   ARGV[6] outbox max length (approx.)
-- ARGV[7]  inference ms to record, or ''   ARGV[8] inference samples kept
-- ARGV[9…] statuses the change is allowed from (shared/task-lifecycle.ts)
-- Result:  {1, webhook URL or false} changed (a final server task's own callback URL, else the
--          owner's default: read here so that ending a task stays one round trip), {0} not allowed
--          from the current status, {-1} no such task
local current = redis.call('HGET', KEYS[1], 'status')
if not current then return {-1} end
for i = 9, #ARGV do
  if ARGV[i] == current then
    redis.call('HSET', KEYS[1], 'status', ARGV[1], 'doc', ARGV[2])
    redis.call('PUBLISH', ARGV[3], ARGV[4])
    if ARGV[5] == '1' and redis.call('EXISTS', KEYS[4]) == 1 then
      redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 'task_id', cjson.decode(ARGV[4])['task_id'])
    end
    if ARGV[7] ~= '' then
      redis.call('LPUSH', KEYS[3], ARGV[7])
      redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[8]) - 1)
    end
    local webhook = false
    if ARGV[5] == '1' then
      webhook = redis.call('GET', KEYS[6]) or redis.call('HGET', KEYS[5], 'url')
    end
    return {1, webhook}
  end
end
return {0}
