/**
 * Failed logins, counted in Redis (so the limits hold across API processes) in fixed windows:
 * - per account and client address: a guesser at one address stops after a few tries;
 * - per client address: one address cannot spray guesses over many accounts;
 * - per account, for addresses that never logged in to it: many addresses together cannot keep
 *   guessing one password — while the rightful user, at an address they logged in from before,
 *   is not locked out by them.
 * Over a limit, the login is refused before the password is checked, with the seconds until the
 * window ends (Retry-After). Only failures count: a successful login costs one more round trip.
 */
import { createHash } from 'node:crypto';
import { LuaScript } from '../lua-script.ts';
import { parseIPv6 } from '../net/address-policy.ts';
import type { Keys, RedisClient } from '../redis.ts';

export interface LoginLimits {
  perPair: number;
  perAddress: number;
  perAccount: number;
  windowSeconds: number;
}

/** How long an address that logged in stays "known" to the account. */
const KNOWN_ADDRESS_SECONDS = 30 * 24 * 3600;

const CHECK = new LuaScript(new URL('./lua/login-check.lua', import.meta.url));
const FAILED = new LuaScript(new URL('./lua/login-failed.lua', import.meta.url));

export class LoginLimiter {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly limits: LoginLimits,
  ) {}

  /** 0 when a login may be tried now, else seconds to wait. */
  async retryAfter(username: string, address: string): Promise<number> {
    const k = this.keysFor(username, address);
    const l = this.limits;
    return (await CHECK.run(
      this.redis,
      [k.pair, k.address, k.account, k.known],
      [l.perPair, l.perAddress, l.perAccount, k.addressId],
    )) as number;
  }

  async failed(username: string, address: string): Promise<void> {
    const k = this.keysFor(username, address);
    await FAILED.run(this.redis, [k.pair, k.address, k.account], [this.limits.windowSeconds]);
  }

  async succeeded(username: string, address: string): Promise<void> {
    const k = this.keysFor(username, address);
    await this.redis.multi().del(k.pair).sadd(k.known, k.addressId).expire(k.known, KNOWN_ADDRESS_SECONDS).exec();
  }

  private keysFor(username: string, address: string) {
    const addressId = addressKey(address);
    const account = hash(username);
    return {
      addressId,
      pair: this.keys.loginFailures(`pair:${account}:${addressId}`),
      address: this.keys.loginFailures(`address:${addressId}`),
      account: this.keys.loginFailures(`account:${account}`),
      known: this.keys.loginKnownAddresses(account),
    };
  }
}

/** IPv4 as it is; IPv6 by its /64 (one subscriber gets a whole /64, and could rotate within it). */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return mapped[1];
  const v6 = parseIPv6(address);
  if (!v6) return address;
  const prefix = v6.slice(0, 8).map((b) => b.toString(16).padStart(2, '0'));
  return `${prefix.join('')}/64`;
}

function hash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 32);
}
