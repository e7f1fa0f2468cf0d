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
import { LuaScript } from '../lua-script.ts';
import type { Keys, RedisClient } from '../redis.ts';
import { type StoredTask, storedTask } from '../tasks/task-store.ts';
import { publicUser, type StoredUser } from './user-store.ts';

/** What a session record holds. */
interface SessionRecord {
  user_id: string;
  /** Where to find the user record (users are keyed by name); the id is what must match. */
  username: string;
}

const LOOKUP = new LuaScript(new URL('./lua/session-lookup.lua', import.meta.url));

/** A session's user, and the task record read with it (when one was asked for). */
export interface SessionLookup {
  user: User;
  /** Present when a task id was given: its record, or null when there is none. */
  task?: StoredTask | null;
}

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

  /**
   * The session's user as the user record says now, or null. With `taskId`, that task's record is
   * read in the same round trip (for requests that need both, such as a poll of a task).
   */
  async lookup(token: string, taskId?: string): Promise<SessionLookup | null> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
    const keys = [this.keys.session(hashToken(token)), this.keys.users];
    if (taskId) keys.push(this.keys.task(taskId));
    const reply = (await LOOKUP.run(this.redis, keys, [])) as [string, string | null, string | null] | null;
    if (!reply) return null;
    const [user, owner, doc] = reply;
    const found: SessionLookup = { user: publicUser(JSON.parse(user) as StoredUser) };
    if (taskId) found.task = owner && doc ? storedTask(owner, doc) : null;
    return found;
  }

  async revoke(token: string): Promise<void> {
    await this.redis.del(this.keys.session(hashToken(token)));
  }
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
