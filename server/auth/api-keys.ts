/**
 * API keys: named, scoped, optionally expiring credentials for programs (the CLI, scripts), so that
 * they need no user's password and no session that runs out.
 *
 * The secret is `tlk_` + 256 random bits (base64url), shown once when the key is made; Redis keeps
 * only its SHA-256 (a fast hash is enough for a secret with that much entropy: there is nothing to
 * guess, unlike a password), so a leaked Redis dump holds no usable keys. Records live in one hash
 * (id → JSON: few keys per deployment, like users), with an index secret-hash → id for the lookup
 * each request makes, and the last-used times in a hash of their own, written at most once a minute
 * by the lookup script (a busy key costs no write per request).
 *
 * Revocation deletes the index entry and the record in one MULTI: the next request with the key
 * finds nothing (401), whichever API process it reaches.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  API_KEY_PATTERN,
  API_KEY_PREFIX,
  type ApiKey,
  type ApiKeyCreate,
  type ApiKeyScope,
  type User,
} from '../../shared/contract.ts';
import { TwinlensError } from '../../shared/errors.ts';
import { LuaScript } from '../lua-script.ts';
import type { Keys, RedisClient } from '../redis.ts';
import { type StoredTask, storedTask } from '../tasks/task-store.ts';
import { publicUser, type StoredUser } from './user-store.ts';

/** What the records hash holds per key (the public fields, the hash of the secret, expiry in ms). */
interface ApiKeyRecord extends Omit<ApiKey, 'last_used_at'> {
  secret_hash: string;
  /** `expires_at` in ms (the lookup script compares numbers), or null. */
  expires_at_ms: number | null;
}

/** How often a key's last-used time is written at most. */
export const LAST_USED_INTERVAL_MS = 60_000;
/** Keys per user: enough for every script and machine, and a bound on what one user can store. */
export const MAX_KEYS_PER_USER = 100;
/** How much of the secret the listing shows: `tlk_` and 6 characters (36 of its 256 bits). */
const SHOWN_PREFIX_LENGTH = API_KEY_PREFIX.length + 6;

const LOOKUP = new LuaScript(new URL('./lua/api-key-lookup.lua', import.meta.url));

/** A key's owner and scopes, and the task record read with it (when one was asked for). */
export interface ApiKeyLookup {
  keyId: string;
  scopes: readonly ApiKeyScope[];
  user: User;
  task?: StoredTask | null;
}

export type ApiKeyLookupResult = ApiKeyLookup | 'unknown' | 'expired';

export class ApiKeyStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  /** Makes a key for `user`: its record, and the secret (returned here only). */
  async create(user: User, req: ApiKeyCreate, now = Date.now()): Promise<ApiKey & { secret: string }> {
    const expiresAtMs = req.expires_at ? Date.parse(req.expires_at) : null;
    if (expiresAtMs !== null && expiresAtMs <= now) {
      throw new TwinlensError('invalid_request', 'expires_at: must be in the future');
    }
    if ((await this.listOf(user.id)).length >= MAX_KEYS_PER_USER) {
      throw new TwinlensError('conflict', `at most ${MAX_KEYS_PER_USER} API keys per user; revoke one first`);
    }
    const secret = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
    const record: ApiKeyRecord = {
      id: randomUUID(),
      name: req.name,
      scopes: [...req.scopes],
      prefix: secret.slice(0, SHOWN_PREFIX_LENGTH),
      user_id: user.id,
      username: user.username,
      created_at: new Date(now).toISOString(),
      expires_at: expiresAtMs === null ? null : new Date(expiresAtMs).toISOString(),
      expires_at_ms: expiresAtMs,
      secret_hash: hashSecret(secret),
    };
    await this.redis
      .multi()
      .hset(this.keys.apiKeys, record.id, JSON.stringify(record))
      .set(this.keys.apiKeySecret(record.secret_hash), record.id)
      .exec();
    return { ...publicKey(record, null), secret };
  }

  /**
   * The key's user (as the user record says now) and scopes, `expired`, or `unknown` (never made,
   * revoked, or its user removed). With `taskId`, that task's record is read in the same round trip.
   */
  async lookup(secret: string, taskId?: string, now = Date.now()): Promise<ApiKeyLookupResult> {
    if (!API_KEY_PATTERN.test(secret)) return 'unknown';
    const keys = [this.keys.apiKeySecret(hashSecret(secret)), this.keys.apiKeys, this.keys.apiKeyUsed, this.keys.users];
    if (taskId) keys.push(this.keys.task(taskId));
    const reply = (await LOOKUP.run(this.redis, keys, [now, LAST_USED_INTERVAL_MS])) as
      | [string, string, string, string | null, string | null]
      | 'expired'
      | null;
    if (!reply) return 'unknown';
    if (reply === 'expired') return 'expired';
    const [raw, user, , owner, doc] = reply;
    const record = JSON.parse(raw) as ApiKeyRecord;
    const found: ApiKeyLookup = {
      keyId: record.id,
      scopes: record.scopes,
      user: publicUser(JSON.parse(user) as StoredUser),
    };
    if (taskId) found.task = owner && doc ? storedTask(owner, doc) : null;
    return found;
  }

  /** One user's keys, newest first. */
  async listOf(userId: string): Promise<ApiKey[]> {
    return (await this.list()).filter((k) => k.user_id === userId);
  }

  /** Every user's keys, newest first (for admins). */
  async list(): Promise<ApiKey[]> {
    const [records, used] = await Promise.all([
      this.redis.hvals(this.keys.apiKeys),
      this.redis.hgetall(this.keys.apiKeyUsed),
    ]);
    return records
      .map((raw) => JSON.parse(raw) as ApiKeyRecord)
      .map((r) => publicKey(r, used[r.id] ? Number(used[r.id]) : null))
      .sort((a, b) => b.created_at.localeCompare(a.created_at) || a.id.localeCompare(b.id));
  }

  /**
   * Revokes a key at once. `ownerId`: only if it is theirs (another user's key is "not found", as
   * for tasks); null: any user's (admins). False when there is no such key.
   */
  async revoke(id: string, ownerId: string | null): Promise<boolean> {
    const raw = await this.redis.hget(this.keys.apiKeys, id);
    if (!raw) return false;
    const record = JSON.parse(raw) as ApiKeyRecord;
    if (ownerId !== null && record.user_id !== ownerId) return false;
    await this.redis
      .multi()
      .del(this.keys.apiKeySecret(record.secret_hash))
      .hdel(this.keys.apiKeys, id)
      .hdel(this.keys.apiKeyUsed, id)
      .exec();
    return true;
  }

  /** Revokes every key of a user (when the user is removed). Returns how many there were. */
  async revokeAllOf(userId: string): Promise<number> {
    const own = await this.listOf(userId);
    for (const k of own) await this.revoke(k.id, userId);
    return own.length;
  }
}

function publicKey(r: ApiKeyRecord, lastUsedMs: number | null): ApiKey {
  return {
    id: r.id,
    name: r.name,
    scopes: r.scopes,
    prefix: r.prefix,
    user_id: r.user_id,
    username: r.username,
    created_at: r.created_at,
    expires_at: r.expires_at,
    last_used_at: lastUsedMs === null ? null : new Date(lastUsedMs).toISOString(),
  };
}

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
