/**
 * The composition root: config → Redis → storage → stores → queue. Entry points (API, CLI,
 * tests, benchmarks) build what they need from here, so wiring lives in one place.
 */
import { LoginLimiter } from './auth/login-limiter.ts';
import { SessionStore } from './auth/sessions.ts';
import { UserStore } from './auth/user-store.ts';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import { OutboundClient } from './net/outbound.ts';
import { PushSubscriptionStore } from './push/subscription-store.ts';
import { DetectQueue } from './queue/detect-queue.ts';
import { type ConnectOptions, connectRedis, type Keys, keys, type RedisClient } from './redis.ts';
import { type OpenedBlobStore, openBlobStore } from './storage/open-blob-store.ts';
import { TaskEvents } from './tasks/task-events.ts';
import { TaskStore } from './tasks/task-store.ts';

export interface Services {
  redis: RedisClient;
  keys: Keys;
  blobs: OpenedBlobStore;
  users: UserStore;
  sessions: SessionStore;
  loginLimiter: LoginLimiter;
  tasks: TaskStore;
  queue: DetectQueue;
  events: TaskEvents;
  pushSubscriptions: PushSubscriptionStore;
  /** The guarded client for every request to a URL a user gave (push endpoints, webhooks). */
  outbound: OutboundClient;
  close(): Promise<void>;
}

export async function composeServices(
  config: Config,
  redisUrl: string,
  name: string,
  log: Logger,
  opts: ConnectOptions = {},
): Promise<Services> {
  const redis = connectRedis({ url: redisUrl, clusterNodes: config.REDIS_CLUSTER_NODES }, name, opts);
  const k = keys(config.REDIS_PREFIX);
  const blobs = await openBlobStore(config);
  await blobs.init();
  const tasks = new TaskStore(redis, k, blobs, config.TASK_TTL_SECONDS);
  const queue = new DetectQueue(redis, {
    prefix: config.REDIS_PREFIX,
    attempts: config.JOB_ATTEMPTS,
    backoffMs: config.JOB_BACKOFF_MS,
  });
  const events = new TaskEvents(redis, k.taskEvents, log, config.MAX_WAITS_PER_USER);
  return {
    redis,
    keys: k,
    blobs,
    users: new UserStore(redis, k),
    sessions: new SessionStore(redis, k, config.SESSION_TTL_SECONDS),
    loginLimiter: new LoginLimiter(redis, k, {
      perPair: config.LOGIN_MAX_FAILURES_PER_PAIR,
      perAddress: config.LOGIN_MAX_FAILURES_PER_ADDRESS,
      perAccount: config.LOGIN_MAX_FAILURES_PER_ACCOUNT,
      windowSeconds: config.LOGIN_WINDOW_SECONDS,
    }),
    tasks,
    queue,
    events,
    pushSubscriptions: new PushSubscriptionStore(redis, k),
    outbound: new OutboundClient({
      allowHttp: config.OUTBOUND_ALLOW_HTTP === 'true',
      allowAddresses: config.OUTBOUND_ALLOW_ADDRESSES,
      totalTimeoutMs: config.OUTBOUND_TIMEOUT_MS,
    }),
    close: async () => {
      await events.close();
      await queue.close();
      redis.disconnect();
    },
  };
}
