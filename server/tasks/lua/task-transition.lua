-- Replaces a task's document if its status is one the change is allowed from (compare-and-set), so
-- a duplicate run or a late worker after a cancel can never overwrite a final state. Announces the
-- change. A final status takes the task out of the open tasks. A server task's final status also
-- owes, written here with it so that no crash between them loses one:
--   a push (an outbox entry) when its owner has push subscriptions (most API users have none: no
--   outbox entry, no work for the API's notifier);
--   a webhook (an entry in the webhook outbox, and its delivery state `pending`) when it has a
--   callback URL (its own, else its owner's default): the API relays it to the `webhooks` queue.
-- A success also records its inference time for /api/v1/stats.
--
-- KEYS[1]  task hash   KEYS[2] push outbox (stream)   KEYS[3] recent inference times (list)
-- KEYS[4]  the owner's push subscriptions (hash)   KEYS[5] the owner's webhook settings (hash)
-- KEYS[6]  the task's own callback URL (string)   KEYS[7] open tasks (zset)
-- KEYS[8]  webhook outbox (stream)   KEYS[9] the task's webhook delivery state (string)
-- ARGV[1]  new status   ARGV[2] new task JSON   ARGV[3] event channel   ARGV[4] event JSON
-- ARGV[5]  '1' for a server task's final status (owes a push, a webhook)   ARGV[6] push outbox max length (approx.)
-- ARGV[7]  inference ms to record, or ''   ARGV[8] inference samples kept
-- ARGV[9]  '1' when the new status is final   ARGV[10] TTL of the delivery state (s)
-- ARGV[11…] statuses the change is allowed from (shared/task-lifecycle.ts)
-- Result:  {1} changed, {0} not allowed from the current status, {-1} no such task
local current = redis.call('HGET', KEYS[1], 'status')
if not current then return {-1} end
for i = 11, #ARGV do
  if ARGV[i] == current then
    redis.call('HSET', KEYS[1], 'status', ARGV[1], 'doc', ARGV[2])
    redis.call('PUBLISH', ARGV[3], ARGV[4])
    local taskId = cjson.decode(ARGV[4])['task_id']
    if ARGV[9] == '1' then redis.call('ZREM', KEYS[7], taskId) end
    if ARGV[5] == '1' and redis.call('EXISTS', KEYS[4]) == 1 then
      redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 'task_id', taskId)
    end
    if ARGV[7] ~= '' then
      redis.call('LPUSH', KEYS[3], ARGV[7])
      redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[8]) - 1)
    end
    if ARGV[5] == '1' then
      local url = redis.call('GET', KEYS[6]) or redis.call('HGET', KEYS[5], 'url')
      if url then
        local owner = redis.call('HGET', KEYS[1], 'owner')
        -- Not trimmed (unlike pushes): each entry is a delivery owed, dropped once relayed.
        redis.call('XADD', KEYS[8], '*', 'task_id', taskId, 'owner', owner, 'url', url,
          'type', 'task.' .. ARGV[1], 'task', ARGV[2])
        redis.call('SET', KEYS[9], 'pending', 'EX', tonumber(ARGV[10]))
      end
    end
    return {1}
  end
end
return {0}
