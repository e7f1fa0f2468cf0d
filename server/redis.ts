/** Redis connections and the key layout (all keys share one prefix, hash-tagged for Cluster). */
import { Cluster, Redis } from 'ioredis';
import { createLogger } from './log.ts';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * One Redis server or a Redis Cluster. Both have the same command methods, and every key we use
 * carries the hash-tagged prefix, so the stores, Lua scripts, MULTIs and BullMQ work on either.
 */
export type RedisClient = Redis | Cluster;

/**
 * Where Redis is: REDIS_CLUSTER_NODES (a Cluster's seed nodes) when set, else REDIS_SENTINELS (the
 * primary the sentinels name), else one server's URL.
 */
export interface RedisTarget {
  url: string;
  /** `host:port,host:port`; when set, `url` is not used. */
  clusterNodes?: string | undefined;
  /** Sentinel: `host:port,host:port` of the sentinels; when set, `url` is not used. */
  sentinels?: string | undefined;
  /** The primary's name the sentinels monitor. */
  sentinelName?: string | undefined;
  /** With sentinels: the data nodes' password, and the sentinels' own. */
  password?: string | undefined;
  sentinelPassword?: string | undefined;
}

/** The target the configuration names (every process reads it the same way). */
export function redisTarget(config: {
  REDIS_URL?: string | undefined;
  REDIS_CLUSTER_NODES?: string | undefined;
  REDIS_SENTINELS?: string | undefined;
  REDIS_SENTINEL_NAME?: string | undefined;
  REDIS_PASSWORD?: string | undefined;
  REDIS_SENTINEL_PASSWORD?: string | undefined;
}): RedisTarget {
  return {
    url: config.REDIS_URL ?? DEFAULT_REDIS_URL,
    clusterNodes: config.REDIS_CLUSTER_NODES,
    sentinels: config.REDIS_SENTINELS,
    sentinelName: config.REDIS_SENTINEL_NAME ?? 'mymaster',
    password: config.REDIS_PASSWORD,
    sentinelPassword: config.REDIS_SENTINEL_PASSWORD,
  };
}

/** The target for a log line or a message, without credentials. */
export function describeTarget(target: RedisTarget): string {
  if (target.clusterNodes) return `cluster ${target.clusterNodes}`;
  if (target.sentinels) return `sentinel ${target.sentinelName ?? 'mymaster'} via ${target.sentinels}`;
  return target.url.replace(/\/\/([^@/]*)@/, '//***@');
}

export interface ConnectOptions {
  /**
   * For a connection that serves HTTP requests: while Redis is unreachable commands fail at once
   * (no offline queue, one retry, a command timeout) so the API answers 503 instead of holding
   * requests. Without it (workers, background loops) commands wait for the reconnect.
   */
  failFast?: boolean;
  /**
   * No automatic pipelines, whatever `failFast` says: for the API's BullMQ queues, beside its own connection.
   * ioredis copies every script defined on a connection into each pipeline it builds, and BullMQ
   * defines 64: on a shared connection each automatic pipeline (several per request) cost ~60 µs
   * to build. Apart, the API's own connection carries only our few scripts.
   */
  unpipelined?: boolean;
  /** A failing-fast connection's command timeout, when 5 s is too short (one that waits on WAIT). */
  commandTimeoutMs?: number;
}

/**
 * The options that make a connection fail fast (see ConnectOptions), and their opposite. The API's
 * connection also pipelines automatically: commands of concurrent requests issued in one tick go
 * out in one write (under load, one socket write per command was the API's largest single cost).
 */
const FAIL_FAST = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  commandTimeout: 5000,
  enableAutoPipelining: true,
} as const;
const WAIT = {
  enableOfflineQueue: true,
  maxRetriesPerRequest: null,
  commandTimeout: undefined,
  enableAutoPipelining: false,
} as const;

export function connectRedis(target: RedisTarget, name: string, opts: ConnectOptions = {}): RedisClient {
  const chosen = opts.failFast ? FAIL_FAST : WAIT;
  const behaviour = {
    ...chosen,
    ...(opts.unpipelined ? { enableAutoPipelining: false } : {}),
    ...(opts.failFast && opts.commandTimeoutMs ? { commandTimeout: opts.commandTimeoutMs } : {}),
  };
  if (target.clusterNodes) {
    const cluster = new Cluster(clusterNodes(target.clusterNodes), {
      // The same options as for one server, on each node connection (BullMQ reads them here).
      redisOptions: { ...behaviour, connectionName: name },
      enableOfflineQueue: behaviour.enableOfflineQueue,
      // Keep trying while the whole cluster is unreachable, like the single-server client does.
      clusterRetryStrategy: (times: number) => Math.min(200 * times, 2000),
    });
    return logErrors(cluster, name);
  }
  if (target.sentinels) {
    return logErrors(new Redis({ ...sentinelOptions(target), ...behaviour, connectionName: name }), name);
  }
  // maxRetriesPerRequest: null is what BullMQ requires for blocking connections; for ours it
  // means commands wait for a reconnect instead of failing while Redis restarts.
  return logErrors(new Redis(target.url, { ...behaviour, connectionName: name, lazyConnect: false }), name);
}

/**
 * A connection to the primary the sentinels name. ioredis asks them at every (re)connect and
 * checks the node's role; a READONLY answer (a write that reached a node that became a replica)
 * makes the connection reconnect through the sentinels. ioredis's failover detector is not used:
 * it disconnects on +switch-master, and a disconnect that lands while the connection is still
 * asking the sentinels leaves it ended for good (seen once in the failover run, after every
 * sentinel came back; the same trap as BullMQ's issue 4378).
 */
export function sentinelOptions(target: RedisTarget) {
  return {
    sentinels: clusterNodes(target.sentinels ?? ''),
    name: target.sentinelName ?? 'mymaster',
    role: 'master' as const,
    password: target.password,
    sentinelPassword: target.sentinelPassword,
    failoverDetector: false,
    // Keep asking while every sentinel is unreachable (a full outage), as a single server's client does.
    sentinelRetryStrategy: (times: number) => Math.min(100 * times, 1000),
    reconnectOnError: (err: Error) => /^(READONLY|UNBLOCKED)/.test(err.message),
  };
}

/** Resolves when the connection is ready (at once if it is); rejects after `timeoutMs`. */
export function waitUntilReady(redis: RedisClient, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`Redis did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}

/** Whether an error means Redis could not be reached (rather than a command that failed). */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'MaxRetriesPerRequestError' || err.name === 'ClusterAllFailedError') return true;
  // The second line: answers of a node that is not (or not yet) a usable primary — a replica after
  // a failover (READONLY), one loading its data (LOADING), one cut off from its primary
  // (MASTERDOWN), a blocked command ended by a role change (UNBLOCKED), a cluster mid-failover.
  return (
    /Stream isn't writeable|Connection is closed|Command timed out|enableOfflineQueue|None of startup nodes is available|Failed to refresh slots cache|All sentinels are unreachable/.test(
      err.message,
    ) || /^(READONLY|LOADING|MASTERDOWN|UNBLOCKED|NOREPLICAS|CLUSTERDOWN|TRYAGAIN)\b/.test(err.message)
  );
}

/** REDIS_CLUSTER_NODES (`host:port,host:port`, checked by the config) as ioredis seed nodes. */
export function clusterNodes(nodes: string): { host: string; port: number }[] {
  return nodes.split(',').map((hostPort) => {
    const i = hostPort.lastIndexOf(':');
    return { host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) };
  });
}

/**
 * A second connection like `client` (for pub/sub, which takes a connection for itself). The two
 * kinds duplicate differently: a Cluster's first argument is its seed nodes (empty: the same).
 */
export function duplicateClient(client: RedisClient, name: string): RedisClient {
  // The copy waits for reconnects whatever the original does: it serves a background loop
  // (pub/sub, the push outbox), not a request that should fail fast.
  const copy =
    client instanceof Cluster
      ? client.duplicate([], {
          enableOfflineQueue: true,
          redisOptions: { ...client.options.redisOptions, ...WAIT, connectionName: name },
        })
      : client.duplicate({ ...WAIT, connectionName: name });
  return logErrors(copy, name);
}

/**
 * The hash tag of a key prefix: the text between its first `{` and the next `}`, when not empty.
 * Redis Cluster hashes only that part of a key, so with one every key of ours lands in one slot,
 * which Lua scripts and multi-key commands (ours and BullMQ's) require (else CROSSSLOT errors).
 */
export function prefixHashTag(prefix: string): string | undefined {
  return /^[^{]*\{([^}]+)\}/.exec(prefix)?.[1];
}

const log = createLogger({ service: 'redis' });

/**
 * Connection errors as JSON log lines, at most one per connection every 10 s: ioredis reconnects
 * by itself, and without a listener it prints "Unhandled error event" on every failed attempt.
 */
export function logErrors<C extends RedisClient>(redis: C, name: string): C {
  let last = 0;
  redis.on('error', (err: Error) => {
    if (Date.now() - last < 10_000) return;
    last = Date.now();
    log.warn('redis connection error; reconnecting', { connection: name, error: err.message });
  });
  reconnectIfEnded(redis, name);
  return redis;
}

/**
 * A connection that ends without being closed by us (ioredis's terminal `end`, which it never
 * leaves by itself: a disconnect that raced a reconnect) is connected again, so no process is left
 * answering 503 for good after an outage. Our own `disconnect()` / `quit()` are told apart.
 */
function reconnectIfEnded(redis: RedisClient, name: string): void {
  let closedByUs = false;
  const disconnect = redis.disconnect.bind(redis);
  redis.disconnect = ((reconnect?: boolean) => {
    if (!reconnect) closedByUs = true;
    return disconnect(reconnect);
  }) as typeof redis.disconnect;
  const quit = redis.quit.bind(redis) as (...args: unknown[]) => Promise<'OK'>;
  redis.quit = ((...args: unknown[]) => {
    closedByUs = true;
    return quit(...args);
  }) as typeof redis.quit;
  redis.on('end', () => {
    if (closedByUs) return;
    log.warn('redis connection ended by itself; connecting again', { connection: name });
    setTimeout(() => {
      if (!closedByUs && redis.status === 'end') redis.connect().catch(() => {});
    }, 1000).unref();
  });
}

export function keys(prefix: string) {
  return {
    task: (id: string) => `${prefix}:task:${id}`,
    userTasks: (userId: string) => `${prefix}:user-tasks:${userId}`,
    taskRuns: (id: string) => `${prefix}:task-runs:${id}`,
    /** A deleted task's id, kept for the task TTL so that it is not given to a new task. */
    taskTombstone: (id: string) => `${prefix}:task-gone:${id}`,
    /** Task ids by the time their record expires; the janitor deletes their files then. */
    expiries: `${prefix}:task-expiries`,
    /** Blob key → set of task ids that use it (content-addressed files are shared). */
    blobRefs: (blobKey: string) => `${prefix}:blob-refs:${blobKey}`,
    /** Task id → its blob keys (outlives the task record so the janitor can release them). */
    taskBlobs: (id: string) => `${prefix}:task-blobs:${id}`,
    users: `${prefix}:users`,
    session: (tokenHash: string) => `${prefix}:session:${tokenHash}`,
    /** Failed-login counters (per account+address, address, account), each expiring with its window. */
    loginFailures: (what: string) => `${prefix}:login-failures:${what}`,
    /** Addresses (ids) that logged in to an account: not held back by the account's own limit. */
    loginKnownAddresses: (accountHash: string) => `${prefix}:login-known:${accountHash}`,
    /** API keys: id → JSON record (server/auth/api-keys.ts); the secret itself is never stored. */
    apiKeys: `${prefix}:api-keys`,
    /** SHA-256 of a key's secret → the key's id (the lookup on each request). */
    apiKeySecret: (secretHash: string) => `${prefix}:api-key:${secretHash}`,
    /** Key id → when it last authenticated a request (ms), written at most once a minute. */
    apiKeyUsed: `${prefix}:api-key-used`,
    workersSeen: `${prefix}:workers-seen`,
    /** The last inference times (ms) workers recorded, newest first, capped (LPUSH + LTRIM). */
    inferenceSamples: `${prefix}:inference-ms`,
    /** Task creations by one user in one minute window (fixed window, expires with it). */
    rateLimit: (userId: string, window: number) => `${prefix}:rate:${userId}:${window}`,
    /** An album job (batch): hash {owner, status open|canceled, doc, seq}. */
    batch: (id: string) => `${prefix}:batch:${id}`,
    /** A batch's task ids by upload order (score: the batch's sequence number). */
    batchTasks: (id: string) => `${prefix}:batch-tasks:${id}`,
    /** A batch's photos refused at upload (JSON RejectedPhoto entries). */
    batchRejected: (id: string) => `${prefix}:batch-rejected:${id}`,
    /** User id → their batches that may still have tasks waiting (for the album fair share). */
    userActiveBatches: (userId: string) => `${prefix}:user-active-batches:${userId}`,
    /** User id → their batch ids by creation time. */
    userBatches: (userId: string) => `${prefix}:user-batches:${userId}`,
    /** Pub/sub channel: one message `{task_id, status}` per status change. */
    taskEvents: `${prefix}:task-events`,
    /** User id → hash of endpoint → push subscription JSON. */
    pushSubscriptions: (userId: string) => `${prefix}:push-subs:${userId}`,
    /** User id → sorted set of endpoints by when they were (re)subscribed, to drop the oldest over the cap. */
    pushSubscriptionOrder: (userId: string) => `${prefix}:push-subs-order:${userId}`,
    /** SHA-256 of an endpoint → the user it belongs to (a browser has one endpoint, whoever logs in on it). */
    pushEndpointOwner: (endpointHash: string) => `${prefix}:push-endpoint:${endpointHash}`,
    /** Stream of server tasks that reached a final status, read by the API processes' push notifiers. */
    pushOutbox: `${prefix}:push-outbox`,
    /** User id → hash {url, secret}: the default callback URL and the signing secret. */
    webhookUser: (userId: string) => `${prefix}:webhook-user:${userId}`,
    /** A task's own callback URL, keyed by its owner too (a task id another user names cannot take it). */
    webhookTask: (ownerId: string, taskId: string) => `${prefix}:webhook-task:${ownerId}:${taskId}`,
    /** Subject (task) id → list of delivery attempts (JSON), and its delivery state. */
    webhookDeliveries: (subjectId: string) => `${prefix}:webhook-deliveries:${subjectId}`,
    webhookState: (subjectId: string) => `${prefix}:webhook-state:${subjectId}`,
    /** User id → list of their webhooks' latest failed attempts (JSON, newest first, capped). */
    webhookFailures: (userId: string) => `${prefix}:webhook-failures:${userId}`,
    /** Stream of server tasks that became final with a callback URL, written with the final status. */
    webhookOutbox: `${prefix}:webhook-outbox`,
    /** Tasks not final yet, by creation time (ms): the reconciliation looks for ones whose job is gone. */
    tasksOpen: `${prefix}:tasks-open`,
    /** Written before each WAIT, so that the WAIT covers every write made before it (any connection). */
    replicationBarrier: `${prefix}:replication-barrier`,
    /** Held by the API process that reconciles now (one at a time). */
    reconcileLock: `${prefix}:reconcile-lock`,
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
