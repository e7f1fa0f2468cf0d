/** Users in one Redis hash: username → JSON {id, username, role, created_at, password_hash}. */
import { randomUUID } from 'node:crypto';
import { USERNAME_PATTERN, type User } from '../../shared/contract.ts';
import { TwinlensError } from '../../shared/errors.ts';
import type { Keys, RedisClient } from '../redis.ts';
import { hashPassword } from './passwords.ts';

export interface StoredUser extends User {
  password_hash: string;
}

export class UserStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  async count(): Promise<number> {
    return this.redis.hlen(this.keys.users);
  }

  async add(username: string, password: string, role: User['role'] = 'user'): Promise<User> {
    if (!USERNAME_PATTERN.test(username)) {
      throw new TwinlensError('invalid_request', 'username: letters, digits, . _ - (1–64 characters)');
    }
    if (password.length < 8) throw new TwinlensError('invalid_request', 'password: at least 8 characters');
    const user: StoredUser = {
      id: randomUUID(),
      username,
      role,
      created_at: new Date().toISOString(),
      password_hash: await hashPassword(password),
    };
    const added = await this.redis.hsetnx(this.keys.users, username, JSON.stringify(user));
    if (!added) throw new TwinlensError('conflict', `user ${username} already exists`);
    return publicUser(user);
  }

  async findWithHash(username: string): Promise<StoredUser | null> {
    const raw = await this.redis.hget(this.keys.users, username);
    return raw ? (JSON.parse(raw) as StoredUser) : null;
  }

  async findById(id: string): Promise<User | null> {
    // Few users per deployment: a scan of one hash is fine, and sessions cache the user anyway.
    for (const raw of await this.redis.hvals(this.keys.users)) {
      const u = JSON.parse(raw) as StoredUser;
      if (u.id === id) return publicUser(u);
    }
    return null;
  }

  async list(): Promise<User[]> {
    const all = (await this.redis.hvals(this.keys.users)).map((raw) => publicUser(JSON.parse(raw) as StoredUser));
    return all.sort((a, b) => a.username.localeCompare(b.username));
  }

  async remove(username: string): Promise<boolean> {
    return (await this.redis.hdel(this.keys.users, username)) === 1;
  }
}

export function publicUser(u: StoredUser): User {
  return { id: u.id, username: u.username, role: u.role, created_at: u.created_at };
}
