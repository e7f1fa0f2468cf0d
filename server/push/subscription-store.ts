/**
 * Push subscriptions per user in Redis: a hash endpoint → subscription and a sorted set of
 * endpoints by when they were last (re)subscribed, so that past the cap the oldest go (browsers
 * replace subscriptions now and then; the old ones would pile up). An endpoint belongs to one
 * user at a time: a browser that someone else logs in on moves to them, so the first user's
 * tasks are not announced on a device they have left.
 */
import { createHash } from 'node:crypto';
import { type PushSubscription, PushSubscriptionSchema } from '../../shared/contract.ts';
import { LuaScript } from '../lua-script.ts';
import type { Keys, RedisClient } from '../redis.ts';

export const MAX_SUBSCRIPTIONS_PER_USER = 20;

const REMOVE = new LuaScript(new URL('./lua/subscription-remove.lua', import.meta.url));

export class PushSubscriptionStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly maxPerUser = MAX_SUBSCRIPTIONS_PER_USER,
  ) {}

  /** Adds or refreshes the subscription (the same endpoint again replaces it). */
  async add(userId: string, sub: PushSubscription): Promise<void> {
    const ownerKey = this.keys.pushEndpointOwner(endpointHash(sub.endpoint));
    const previous = await this.redis.get(ownerKey);
    if (previous && previous !== userId) await this.remove(previous, sub.endpoint);
    const stored: PushSubscription = { endpoint: sub.endpoint, keys: sub.keys };
    await this.redis
      .multi()
      .hset(this.keys.pushSubscriptions(userId), sub.endpoint, JSON.stringify(stored))
      .zadd(this.keys.pushSubscriptionOrder(userId), Date.now(), sub.endpoint)
      .set(ownerKey, userId)
      .exec();
    const excess = await this.redis.zrange(this.keys.pushSubscriptionOrder(userId), 0, -(this.maxPerUser + 1));
    for (const endpoint of excess) await this.remove(userId, endpoint);
  }

  /** Removes the user's subscription with this endpoint; true if there was one. */
  async remove(userId: string, endpoint: string): Promise<boolean> {
    const removed = (await REMOVE.run(
      this.redis,
      [
        this.keys.pushSubscriptions(userId),
        this.keys.pushSubscriptionOrder(userId),
        this.keys.pushEndpointOwner(endpointHash(endpoint)),
      ],
      [endpoint, userId],
    )) as number;
    return removed === 1;
  }

  /** Removes every subscription of the user (when the user is removed); how many there were. */
  async removeAll(userId: string): Promise<number> {
    const endpoints = await this.redis.hkeys(this.keys.pushSubscriptions(userId));
    for (const endpoint of endpoints) await this.remove(userId, endpoint);
    // Anything a concurrent subscribe added between HKEYS and here goes too.
    await this.redis.del(this.keys.pushSubscriptions(userId), this.keys.pushSubscriptionOrder(userId));
    return endpoints.length;
  }

  async list(userId: string): Promise<PushSubscription[]> {
    const raw = await this.redis.hvals(this.keys.pushSubscriptions(userId));
    return raw.flatMap((json) => {
      const parsed = PushSubscriptionSchema.safeParse(JSON.parse(json));
      return parsed.success ? [parsed.data] : [];
    });
  }
}

/** Endpoints are long URLs; a hash keeps the owner keys short. */
function endpointHash(endpoint: string): string {
  return createHash('sha256').update(endpoint).digest('hex');
}
