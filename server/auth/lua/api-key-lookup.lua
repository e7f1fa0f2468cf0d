-- An API key's record and its user as the user record says now, and (optionally) one task record in
-- the same round trip, like session-lookup.lua. The key stands only if it is not expired and its
-- user still exists with the same id (a removed user's keys cannot come back for a new user of the
-- same name). Records when the key was last used, at most once per interval, so that a busy key
-- costs one write a minute, not one per request.
--
-- KEYS[1]  secret-hash → id key   KEYS[2] API key records (hash)   KEYS[3] last-used times (hash)
-- KEYS[4]  users hash             KEYS[5] (optional) a task hash
-- ARGV[1]  now (ms)               ARGV[2] last-used interval (ms)
-- Result:  false when there is no such key (unknown or revoked); 'expired' when it has expired;
--          else {key JSON, user JSON, last used (ms) or false, task owner or false, task JSON or false}
local id = redis.call('GET', KEYS[1])
if not id then return false end
local raw = redis.call('HGET', KEYS[2], id)
if not raw then return false end
local ok, key = pcall(cjson.decode, raw)
if not ok or type(key) ~= 'table' or type(key.username) ~= 'string' then return false end
local now = tonumber(ARGV[1])
if type(key.expires_at_ms) == 'number' and key.expires_at_ms <= now then return 'expired' end
local user = redis.call('HGET', KEYS[4], key.username)
if not user then return false end
local ok2, record = pcall(cjson.decode, user)
if not ok2 or type(record) ~= 'table' or record.id ~= key.user_id then return false end
local used = redis.call('HGET', KEYS[3], id)
if not used or now - tonumber(used) >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[3], id, ARGV[1])
  used = ARGV[1]
end
if KEYS[5] then
  local task = redis.call('HMGET', KEYS[5], 'owner', 'doc')
  return {raw, user, used, task[1], task[2]}
end
return {raw, user, used, false, false}
