/** Redis connections and the key layout (all keys share one prefix, hash-tagged for Cluster). */
import { Redis } from 'ioredis';
import { createLogger } from './log.ts';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export function connectRedis(url: string, name: string): Redis {
  // maxRetriesPerRequest: null is what BullMQ requires for blocking connections; for ours it
  // means commands wait for a reconnect instead of failing while Redis restarts.
  return logErrors(new Redis(url, { maxRetriesPerRequest: null, connectionName: name, lazyConnect: false }), name);
}

const log = createLogger({ service: 'redis' });

/**
 * Connection errors as JSON log lines, at most one per connection every 10 s: ioredis reconnects
 * by itself, and without a listener it prints "Unhandled error event" on every failed attempt.
 */
export function logErrors(redis: Redis, name: string): Redis {
  let last = 0;
  redis.on('error', (err: Error) => {
    if (Date.now() - last < 10_000) return;
    last = Date.now();
    log.warn('redis connection error; reconnecting', { connection: name, error: err.message });
  });
  return redis;
}

export function keys(prefix: string) {
  return {
    task: (id: string) => `${prefix}:task:${id}`,
    userTasks: (userId: string) => `${prefix}:user-tasks:${userId}`,
    taskRuns: (id: string) => `${prefix}:task-runs:${id}`,
    /** Task ids by the time their record expires; the janitor deletes their files then. */
    expiries: `${prefix}:task-expiries`,
    /** Blob key → set of task ids that use it (content-addressed files are shared). */
    blobRefs: (blobKey: string) => `${prefix}:blob-refs:${blobKey}`,
    /** Task id → its blob keys (outlives the task record so the janitor can release them). */
    taskBlobs: (id: string) => `${prefix}:task-blobs:${id}`,
    users: `${prefix}:users`,
    session: (tokenHash: string) => `${prefix}:session:${tokenHash}`,
    workersSeen: `${prefix}:workers-seen`,
    /** The last inference times (ms) workers recorded, newest first, capped (LPUSH + LTRIM). */
    inferenceSamples: `${prefix}:inference-ms`,
    /** Task creations by one user in one minute window (fixed window, expires with it). */
    rateLimit: (userId: string, window: number) => `${prefix}:rate:${userId}:${window}`,
    /** Pub/sub channel: one message `{task_id, status}` per status change. */
    taskEvents: `${prefix}:task-events`,
    /** User id → hash of endpoint → push subscription JSON. */
    pushSubscriptions: (userId: string) => `${prefix}:push-subs:${userId}`,
    /** User id → sorted set of endpoints by when they were (re)subscribed, to drop the oldest over the cap. */
    pushSubscriptionOrder: (userId: string) => `${prefix}:push-subs-order:${userId}`,
    /** SHA-256 of an endpoint → the user it belongs to (a browser has one endpoint, whoever logs in on it). */
    pushEndpointOwner: (endpointHash: string) => `${prefix}:push-endpoint:${endpointHash}`,
    /** Task id → set once by the API process that sends its push (SET NX), so no other one sends it too. */
    pushSent: (taskId: string) => `${prefix}:push-sent:${taskId}`,
  };
}

export type Keys = ReturnType<typeof keys>;

/** redis-server arguments for a local Redis that keeps its data: AOF on, fsync every second. */
export function aofRedisArgs(port: number, dir: string): string[] {
  return [
    '--bind',
    '127.0.0.1',
    '--port',
    String(port),
    '--dir',
    dir,
    '--appendonly',
    'yes',
    '--appendfsync',
    'everysec',
    '--save',
    '',
  ];
}
