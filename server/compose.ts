/**
 * The composition root: config → Redis → storage → stores → queue. Entry points (API, CLI,
 * tests, benchmarks) build what they need from here, so wiring lives in one place.
 */
import { SessionStore } from './auth/sessions.ts';
import { UserStore } from './auth/user-store.ts';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import { PushSubscriptionStore } from './push/subscription-store.ts';
import { DetectQueue } from './queue/detect-queue.ts';
import { connectRedis, type Keys, keys, type RedisClient } from './redis.ts';
import { type OpenedBlobStore, openBlobStore } from './storage/open-blob-store.ts';
import { TaskEvents } from './tasks/task-events.ts';
import { TaskStore } from './tasks/task-store.ts';

export interface Services {
  redis: RedisClient;
  keys: Keys;
  blobs: OpenedBlobStore;
  users: UserStore;
  sessions: SessionStore;
  tasks: TaskStore;
  queue: DetectQueue;
  events: TaskEvents;
  pushSubscriptions: PushSubscriptionStore;
  close(): Promise<void>;
}

export async function composeServices(config: Config, redisUrl: string, name: string, log: Logger): Promise<Services> {
  const redis = connectRedis({ url: redisUrl, clusterNodes: config.REDIS_CLUSTER_NODES }, name);
  const k = keys(config.REDIS_PREFIX);
  const blobs = await openBlobStore(config);
  await blobs.init();
  const tasks = new TaskStore(redis, k, blobs, config.TASK_TTL_SECONDS);
  const queue = new DetectQueue(redis, {
    prefix: config.REDIS_PREFIX,
    attempts: config.JOB_ATTEMPTS,
    backoffMs: config.JOB_BACKOFF_MS,
  });
  const events = new TaskEvents(redis, k.taskEvents, log);
  return {
    redis,
    keys: k,
    blobs,
    users: new UserStore(redis, k),
    sessions: new SessionStore(redis, k, config.SESSION_TTL_SECONDS),
    tasks,
    queue,
    events,
    pushSubscriptions: new PushSubscriptionStore(redis, k),
    close: async () => {
      await events.close();
      await queue.close();
      redis.disconnect();
    },
  };
}
