/**
 * While Redis is unreachable, routes that need it answer 503 `not_ready` with `Retry-After` at
 * once, instead of waiting for a reconnect. (A command that fails mid-request is turned into the
 * same answer by the error handler; this gate spares the attempt.) Recovery needs no restart:
 * the connection reconnects by itself and the gate opens when it is ready.
 */
import type { MiddlewareHandler } from 'hono';
import type { RedisClient } from '../redis.ts';
import { redisUnavailable } from './errors.ts';

export function requireRedis(redis: RedisClient): MiddlewareHandler {
  return async (c, next) => (redis.status === 'ready' ? next() : redisUnavailable(c));
}
