-- A session's user as the user record says now, and (optionally) one task record in the same round
-- trip (a poll of GET /tasks/{id} needs both). The session stands only if a user with its name
-- still has its id: a removed user's sessions cannot come back for a new user of the same name.
--
-- KEYS[1]  session key   KEYS[2] users hash   KEYS[3] (optional) a task hash
-- ARGV     none
-- Result:  false when the session does not stand; else {user JSON, task owner or false, task JSON or false}
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local ok, session = pcall(cjson.decode, raw)
if not ok or type(session) ~= 'table' then return false end
-- sessions made before ids were checked stored the whole user: its id is 'id'
local id = session.user_id or session.id
if type(id) ~= 'string' or type(session.username) ~= 'string' then return false end
local user = redis.call('HGET', KEYS[2], session.username)
if not user then return false end
local ok2, record = pcall(cjson.decode, user)
if not ok2 or type(record) ~= 'table' or record.id ~= id then return false end
if KEYS[3] then
  local task = redis.call('HMGET', KEYS[3], 'owner', 'doc')
  return {user, task[1], task[2]}
end
return {user, false, false}
