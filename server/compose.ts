/**
 * The composition root: config → Redis → storage → stores and services. The API, the worker, the
 * CLI, the tests and the benchmarks all build what they need from here, so wiring lives in one place.
 */

import path from 'node:path';
import type { BatchWebhook } from '../shared/contract.ts';
import { ApiKeyStore } from './auth/api-keys.ts';
import { LoginLimiter } from './auth/login-limiter.ts';
import { SessionStore } from './auth/sessions.ts';
import { UserStore } from './auth/user-store.ts';
import { BatchService, type StoredBatch } from './batches/batch-service.ts';
import type { Config } from './config.ts';
import { AckJournal } from './durability/ack-journal.ts';
import { ReplicationBarrier } from './durability/replication-barrier.ts';
import type { Logger } from './log.ts';
import { defineAllScripts } from './lua-script.ts';
import { ModelCatalog } from './models/catalog.ts';
import { OutboundClient } from './net/outbound.ts';
import { ROOT } from './process/launcher.ts';
import { PushSubscriptionStore } from './push/subscription-store.ts';
import { DetectQueue } from './queue/detect-queue.ts';
import { connectRedis, type Keys, keys, type RedisClient, type RedisTarget, redisTarget } from './redis.ts';
import { type OpenedBlobStore, openBlobStore } from './storage/open-blob-store.ts';
import { TaskEvents } from './tasks/task-events.ts';
import { TaskService } from './tasks/task-service.ts';
import { TaskStore } from './tasks/task-store.ts';
import { WebhookService } from './webhooks/webhook-service.ts';
import { WorkerRegistry } from './workers/worker-registry.ts';

/** Which process the services are for: the API's Redis connection fails fast (it serves requests). */
export type Role = 'api' | 'worker' | 'cli';

export interface Services {
  config: Config;
  redis: RedisClient;
  /** Where Redis is (the URL; REDIS_CLUSTER_NODES in the config when a cluster). */
  redisUrl: string;
  /** Where Redis is, as every connection of this process reaches it (a URL, a cluster, or sentinels). */
  redisTarget: RedisTarget;
  keys: Keys;
  blobs: OpenedBlobStore;
  users: UserStore;
  sessions: SessionStore;
  /** API keys for programs (issue 23): made by users, checked by the API key middleware. */
  apiKeys: ApiKeyStore;
  loginLimiter: LoginLimiter;
  /** Task records: reads and the files they hold. */
  store: TaskStore;
  /** The task lifecycle: every change of a task. */
  tasks: TaskService;
  queue: DetectQueue;
  /** The models this deployment serves (built-in and MODELS_DIR). */
  models: ModelCatalog;
  /** Album jobs: many photos as one job, each photo a task of the task service. */
  batches: BatchService;
  workers: WorkerRegistry;
  /** Status changes as they happen (a pub/sub connection of its own, opened on first use). */
  readonly events: TaskEvents;
  pushSubscriptions: PushSubscriptionStore;
  /** The guarded client for every request to a URL a user gave (push endpoints, webhooks). */
  outbound: OutboundClient;
  /** Callback URLs, signing secrets, the `webhooks` queue and its delivery log. */
  webhooks: WebhookService;
  /** The acknowledged tasks of the last RECONCILE_WINDOW_SECONDS, kept in the storage (server/durability/). */
  journal: AckJournal;
  close(): Promise<void>;
}

export async function composeServices(config: Config, role: Role, log: Logger): Promise<Services> {
  const target = redisTarget(config);
  const redisUrl = target.url;
  const redis = connectRedis(target, `twinlens-${role}`, { failFast: role === 'api' });
  // The API's BullMQ queues get a connection of their own (see ConnectOptions.unpipelined); the
  // worker's and the CLI's connections build no automatic pipelines, so they share theirs.
  const queueRedis =
    role === 'api' ? connectRedis(target, 'twinlens-api-queues', { failFast: true, unpipelined: true }) : redis;
  // Before its first command: the API's connection pipelines automatically (see defineAllScripts).
  defineAllScripts(redis);
  const k = keys(config.REDIS_PREFIX);
  const blobs = await openBlobStore(config);
  // The CLI manages users: it needs no storage (and should work while storage is down).
  if (role !== 'cli') await blobs.init();
  const store = new TaskStore(redis, k, blobs, config.TASK_TTL_SECONDS);
  const models = modelCatalog(config);
  const queue = new DetectQueue(
    queueRedis,
    {
      prefix: config.REDIS_PREFIX,
      attempts: config.JOB_ATTEMPTS,
      backoffMs: config.JOB_BACKOFF_MS,
    },
    async () => (await models.list()).map((m) => m.manifest.id),
  );
  let events: TaskEvents | undefined;
  const outbound = new OutboundClient({
    allowHttp: config.OUTBOUND_ALLOW_HTTP === 'true',
    allowAddresses: config.OUTBOUND_ALLOW_ADDRESSES,
    totalTimeoutMs: config.OUTBOUND_TIMEOUT_MS,
  });
  const webhooks = new WebhookService(
    redis,
    k,
    outbound,
    {
      prefix: config.REDIS_PREFIX,
      attempts: config.WEBHOOK_ATTEMPTS,
      backoffMs: config.WEBHOOK_BACKOFF_MS,
      ttlSeconds: config.TASK_TTL_SECONDS,
    },
    log,
    queueRedis,
  );
  const tasks = new TaskService(store, queue, blobs);
  // The API acknowledges a task (202) only once it is on the replicas and in the journal.
  const waitRedis =
    role === 'api'
      ? connectRedis(target, 'twinlens-api-wait', {
          failFast: true,
          unpipelined: true,
          commandTimeoutMs: config.REDIS_WAIT_TIMEOUT_MS + 5000,
        })
      : undefined;
  const journal = new AckJournal(blobs, config.RECONCILE_WINDOW_SECONDS);
  if (waitRedis) {
    tasks.acknowledgement = {
      barrier: new ReplicationBarrier(waitRedis, k.replicationBarrier, {
        replicas: config.REDIS_WAIT_REPLICAS,
        timeoutMs: config.REDIS_WAIT_TIMEOUT_MS,
        target,
        log,
      }),
      journal,
    };
  }
  const batches = new BatchService(redis, k, tasks, queue, config.TASK_TTL_SECONDS, {
    maxPixels: config.MAX_IMAGE_PIXELS,
    minSide: config.MIN_IMAGE_SIDE,
    maxTasks: config.MAX_BATCH_TASKS,
    maxQueueDepth: config.MAX_BATCH_QUEUE_DEPTH,
  });
  // An album's tasks count it down; however it ends (completed, canceled, all refused), the script
  // that decides it writes its event to the webhook outbox, and its summary is queued at once to the
  // batch's callback URL (else the owner's default); the outbox relay queues the same event (the same
  // id: once) should this process die first, with the summary read then.
  tasks.onBatchTaskFinal = (task, ownerId) =>
    batches
      .taskEnded(task, ownerId)
      .catch((err) => log.warn('could not count down a batch', { batch_id: task.batch_id, err }));
  const batchSummary = async (batch: StoredBatch) =>
    batches.summary(batch, { counts: await queue.counts(), workers: 0, meanInferenceMs: null });
  batches.onEnded = async (batch, ending) => {
    try {
      await webhooks.enqueue({
        ownerId: batch.ownerId,
        subjectId: batch.id,
        url: ending.callbackUrl,
        type: ending.type,
        data: (await batchSummary(batch)) satisfies BatchWebhook['data'],
        seq: ending.seq,
        markPending: false,
      });
    } catch (err) {
      log.warn('could not queue the webhook of a batch (the outbox relays it)', {
        batch_id: batch.id,
        type: ending.type,
        err,
      });
    }
  };
  webhooks.batchSummary = async (batchId) => {
    const batch = await batches.find(batchId);
    return batch ? batchSummary(batch) : null;
  };
  return {
    config,
    redis,
    redisUrl,
    redisTarget: target,
    keys: k,
    blobs,
    users: new UserStore(redis, k),
    sessions: new SessionStore(redis, k, config.SESSION_TTL_SECONDS),
    apiKeys: new ApiKeyStore(redis, k),
    loginLimiter: new LoginLimiter(redis, k, {
      perPair: config.LOGIN_MAX_FAILURES_PER_PAIR,
      perAddress: config.LOGIN_MAX_FAILURES_PER_ADDRESS,
      perAccount: config.LOGIN_MAX_FAILURES_PER_ACCOUNT,
      windowSeconds: config.LOGIN_WINDOW_SECONDS,
    }),
    store,
    tasks,
    queue,
    models,
    batches,
    workers: new WorkerRegistry(redis, k, config.WORKER_HEARTBEAT_MS),
    get events() {
      events ??= new TaskEvents(redis, k.taskEvents, log, config.MAX_WAITS_PER_USER);
      return events;
    },
    pushSubscriptions: new PushSubscriptionStore(redis, k),
    outbound,
    webhooks,
    journal,
    close: async () => {
      await events?.close();
      await queue.close();
      await webhooks.close();
      if (queueRedis !== redis) queueRedis.disconnect();
      waitRedis?.disconnect();
      redis.disconnect();
    },
  };
}

/** The models catalog the configuration names: the build's models, and the operator's in MODELS_DIR. */
export function modelCatalog(config: Pick<Config, 'MODEL' | 'MODELS_DIR'>): ModelCatalog {
  return new ModelCatalog({
    builtinDir: path.join(ROOT, 'dist', 'models'),
    modelsDir: config.MODELS_DIR,
    ...(config.MODEL === 'null' ? {} : { defaultModel: config.MODEL }),
  });
}
