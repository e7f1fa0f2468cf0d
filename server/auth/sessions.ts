/**
 * Sessions: a random 256-bit token; Redis keeps only its SHA-256, so a leaked Redis dump
 * holds no usable tokens. The same token works as a bearer token and as the cookie value.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { User } from '../../shared/contract.ts';
import type { Keys, RedisClient } from '../redis.ts';

export class SessionStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    readonly ttlSeconds: number,
  ) {}

  async create(user: User): Promise<{ token: string; expiresAt: Date }> {
    const token = randomBytes(32).toString('base64url');
    await this.redis.set(this.keys.session(hashToken(token)), JSON.stringify(user), 'EX', this.ttlSeconds);
    return { token, expiresAt: new Date(Date.now() + this.ttlSeconds * 1000) };
  }

  async lookup(token: string): Promise<User | null> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
    const raw = await this.redis.get(this.keys.session(hashToken(token)));
    if (!raw) return null;
    const user = JSON.parse(raw) as User;
    // A removed user's sessions stop working at once, not when they expire.
    const exists = await this.redis.hexists(this.keys.users, user.username);
    return exists ? user : null;
  }

  async revoke(token: string): Promise<void> {
    await this.redis.del(this.keys.session(hashToken(token)));
  }
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
