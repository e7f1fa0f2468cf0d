/**
 * Sessions: a random 256-bit token; Redis keeps only its SHA-256, so a leaked Redis dump
 * holds no usable tokens. The same token works as a bearer token and as the cookie value.
 *
 * A session names its user by id and carries nothing else the user record could contradict:
 * every lookup reads the user record now (one script, one round trip) and the session stands only
 * if a user with that name still has that id. So a removed user's sessions end for good — also
 * when someone of the same name is added later (a new user gets a new id) — and a changed role
 * counts at once.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { User } from '../../shared/contract.ts';
import type { Keys, RedisClient } from '../redis.ts';
import { publicUser, type StoredUser } from './user-store.ts';

/** What a session record holds. */
interface SessionRecord {
  user_id: string;
  /** Where to find the user record (users are keyed by name); the id is what must match. */
  username: string;
}

// KEYS[1] session key, KEYS[2] users hash. Result: the user record (JSON) when the session's user
// still exists with the same id, else false.
const LOOKUP = `
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
return user
`;

export class SessionStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    readonly ttlSeconds: number,
  ) {}

  async create(user: User): Promise<{ token: string; expiresAt: Date }> {
    const token = randomBytes(32).toString('base64url');
    const record: SessionRecord = { user_id: user.id, username: user.username };
    await this.redis.set(this.keys.session(hashToken(token)), JSON.stringify(record), 'EX', this.ttlSeconds);
    return { token, expiresAt: new Date(Date.now() + this.ttlSeconds * 1000) };
  }

  /** The session's user as the user record says now, or null. */
  async lookup(token: string): Promise<User | null> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
    const raw = (await this.redis.eval(LOOKUP, 2, this.keys.session(hashToken(token)), this.keys.users)) as
      | string
      | null;
    return raw ? publicUser(JSON.parse(raw) as StoredUser) : null;
  }

  async revoke(token: string): Promise<void> {
    await this.redis.del(this.keys.session(hashToken(token)));
  }
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
