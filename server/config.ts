/**
 * Configuration from the environment, validated once at start. A bad value stops the process
 * with a message naming the variable, what was given and what is expected.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { isCidr } from './net/address-policy.ts';
import { prefixHashTag } from './redis.ts';

const bytes = (fallback: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return fallback;
      const m = /^(\d+(?:\.\d+)?)\s*(b|kb|k|mb|m|gb|g)?$/i.exec(v.trim());
      if (!m) {
        ctx.addIssue({ code: 'custom', message: 'expected a size such as 10485760, 512kb or 10mb' });
        return z.NEVER;
      }
      const unit = (m[2] ?? 'b').toLowerCase();
      const mult = unit.startsWith('g')
        ? 1024 ** 3
        : unit.startsWith('m')
          ? 1024 ** 2
          : unit.startsWith('k')
            ? 1024
            : 1;
      return Math.floor(Number(m[1]) * mult);
    });

const int = (fallback: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v === '' ? fallback : Number(v)))
    .pipe(z.number({ error: 'expected a whole number' }).int().min(min).max(max));

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : v));

const EnvSchema = z.object({
  HOST: z.string().default('127.0.0.1'),
  PORT: int(8080, 0, 65535),
  REDIS_URL: optionalString.pipe(z.url({ protocol: /^rediss?$/ }).optional()),
  /** Redis Cluster: seed nodes `host:port,host:port,…`; when set, REDIS_URL is not used. */
  REDIS_CLUSTER_NODES: optionalString.pipe(
    z
      .string()
      .regex(/^[^\s,:]+:\d{1,5}(,[^\s,:]+:\d{1,5})*$/, 'expected host:port[,host:port…]')
      .optional(),
  ),
  /**
   * Redis behind Sentinel: the sentinels `host:port,host:port,…` and the primary's name. Every
   * process asks them where the primary is, and again after a failover.
   */
  REDIS_SENTINELS: optionalString.pipe(
    z
      .string()
      .regex(/^[^\s,:]+:\d{1,5}(,[^\s,:]+:\d{1,5})*$/, 'expected host:port[,host:port…]')
      .optional(),
  ),
  REDIS_SENTINEL_NAME: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/)
    .default('mymaster'),
  /** With REDIS_SENTINELS: the password of the primary and replicas, and of the sentinels themselves. */
  REDIS_PASSWORD: optionalString,
  REDIS_SENTINEL_PASSWORD: optionalString,
  /**
   * Acknowledged means replicated: a task is answered 202 only once this many replicas have its
   * creation (WAIT). `auto`: 1 when the primary has a replica (Sentinel knows one, the primary reports
   * one, or the cluster has replicas), else 0.
   */
  REDIS_WAIT_REPLICAS: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v === '' ? 'auto' : v))
    .pipe(z.union([z.literal('auto'), z.string().regex(/^\d{1,2}$/, 'expected auto or a number of replicas')]))
    .transform((v) => (v === 'auto' ? ('auto' as const) : Number(v))),
  /** How long an upload waits for its replicas before it is answered 503 `not_replicated`. */
  REDIS_WAIT_TIMEOUT_MS: int(1000, 10, 60_000),
  /** How often the API looks for a changed primary (a failover, a restart) and for tasks without a live job. */
  RECONCILE_INTERVAL_MS: int(5000, 100, 600_000),
  /** How far back the acknowledgement journal reaches: acknowledged tasks a failover may have lost are looked for there. */
  RECONCILE_WINDOW_SECONDS: int(900, 60, 7 * 24 * 3600),
  /** A task not final after this long whose job is gone or failed is re-queued or failed (never left stuck). */
  RECONCILE_GRACE_MS: int(60_000, 1000, 3_600_000),
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_{}-]+$/)
    .default('{twinlens}'),
  DATA_DIR: z.string().default('./data'),
  /** Where image bytes live: `fs` (DATA_DIR, a shared volume across hosts) or `s3` (any S3-compatible store). */
  STORAGE: z.enum(['fs', 's3']).default('fs'),
  S3_BUCKET: optionalString,
  /** e.g. http://127.0.0.1:9000 for MinIO; unset = AWS's endpoint for S3_REGION. */
  S3_ENDPOINT: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
  S3_REGION: z.string().default('us-east-1'),
  S3_ACCESS_KEY_ID: optionalString,
  S3_SECRET_ACCESS_KEY: optionalString,
  /** Path-style URLs (`endpoint/bucket/key`), which most self-hosted S3 servers want. */
  S3_FORCE_PATH_STYLE: z.enum(['true', 'false']).default('true'),
  /** A folder inside the bucket, so several deployments can share one. */
  S3_PREFIX: z
    .string()
    .regex(/^([A-Za-z0-9._-]+\/)*$/, 'expected empty or a path ending in /, e.g. twinlens/')
    .default(''),
  /** STORAGE=fs: below this much free space /readyz says the storage is full. */
  STORAGE_MIN_FREE_BYTES: bytes(100 * 1024 * 1024),
  /** The default model (tasks that name none run it; workers load it first), or `null`: no inference at all. */
  MODEL: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'expected a model id (GET /api/v1/models) or null')
    .default('centernet'),
  /** The operator's models (`twinlens models add`), a folder per model; default DATA_DIR/models. */
  MODELS_DIR: optionalString,
  /** The models a worker serves, comma-separated; empty: all. */
  WORKER_MODELS: optionalString.pipe(
    z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,39}(,[a-z0-9][a-z0-9-]{0,39})*$/, 'expected model ids, comma-separated')
      .optional(),
  ),
  /** Loaded models a worker keeps (least recently used go first), by their weights in memory. */
  MODEL_MEMORY_LIMIT: bytes(1024 * 1024 * 1024),
  /** `twinlens models add`: the most a model's files may weigh together. */
  MODEL_MAX_BYTES: bytes(512 * 1024 * 1024),
  MODEL_BACKEND: z.enum(['auto', 'tensorflow', 'wasm', 'cpu']).default('auto'),
  WORKERS: int(1, 0, 64),
  /** Jobs a worker process holds at once. The model runs one at a time; a second job's decoding,
   * drawing and storage overlap with it, so the model is never idle waiting for them. */
  WORKER_CONCURRENCY: int(2, 1, 16),
  ADMIN_USERNAME: optionalString,
  ADMIN_PASSWORD: optionalString,
  MAX_UPLOAD_BYTES: bytes(10 * 1024 * 1024),
  MAX_IMAGE_PIXELS: int(40_000_000, 1, 1_000_000_000),
  MIN_IMAGE_SIDE: int(16, 1, 10_000),
  TASK_TTL_SECONDS: int(7 * 24 * 3600, 60, 10 * 365 * 24 * 3600),
  SESSION_TTL_SECONDS: int(7 * 24 * 3600, 60, 365 * 24 * 3600),
  JOB_ATTEMPTS: int(3, 1, 20),
  JOB_BACKOFF_MS: int(1000, 0, 600_000),
  JOB_TIMEOUT_MS: int(120_000, 1000, 3_600_000),
  WORKER_LOCK_MS: int(30_000, 1000, 600_000),
  WORKER_HEARTBEAT_MS: int(5_000, 500, 600_000),
  /**
   * A worker that has not taken a job for this long while jobs wait and it has room for one, or
   * whose heartbeat has failed this long while Redis answers, is stuck: its readiness fails and it
   * exits (75) to be restarted. 0 = no watchdog.
   */
  WORKER_WATCHDOG_MS: int(20_000, 0, 3_600_000),
  /** Backpressure: POST /tasks answers 503 queue_full while this many jobs wait (waiting + delayed). */
  MAX_QUEUE_DEPTH: int(1000, 1, 10_000_000),
  /** Album jobs: a request's body limit, photos per request, tasks per batch, and album jobs waiting in all. */
  MAX_BATCH_UPLOAD_BYTES: bytes(100 * 1024 * 1024),
  MAX_BATCH_IMAGES_PER_REQUEST: int(100, 1, 1000),
  MAX_BATCH_TASKS: int(1000, 1, 100_000),
  MAX_BATCH_QUEUE_DEPTH: int(10_000, 1, 10_000_000),
  /** Task creations per user per minute (429 rate_limited beyond); 0 = no limit. */
  RATE_LIMIT_PER_MINUTE: int(120, 0, 1_000_000),
  COOKIE_SECURE: z.enum(['auto', 'true', 'false']).default('auto'),
  WEB_DIR: z.string().default('./dist/web'),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** If set, GET /metrics (API and workers) wants `Authorization: Bearer <METRICS_TOKEN>`. */
  METRICS_TOKEN: optionalString,
  /** A worker serves its own /metrics on this port (on HOST); 0 = not served. */
  WORKER_METRICS_PORT: int(0, 0, 65535),
  /** Requests to URLs users give (push endpoints, webhooks): plain http allowed (local tests only). */
  OUTBOUND_ALLOW_HTTP: z.enum(['true', 'false']).default('false'),
  /** CIDRs such requests may reach although they are loopback/private/link-local (an internal push relay, tests). */
  OUTBOUND_ALLOW_ADDRESSES: optionalString.pipe(
    z
      .string()
      .refine(
        (v) => v.split(',').every((c) => isCidr(c.trim())),
        'expected IP addresses or CIDRs, comma-separated (127.0.0.1/32,fd00::/8)',
      )
      .optional(),
  ),
  /** A request to such a URL, connection to the end of the (capped) answer. */
  OUTBOUND_TIMEOUT_MS: int(10_000, 100, 600_000),
  /** Webhooks: attempts per event and the first retry's delay, doubled each time (12 × 42 s ≈ 24 h in all). */
  WEBHOOK_ATTEMPTS: int(12, 1, 30),
  WEBHOOK_BACKOFF_MS: int(42_000, 1, 3_600_000),
  /** Webhook requests one API process has in flight at once. */
  WEBHOOK_CONCURRENCY: int(16, 1, 1000),
  /** Reverse proxies in front of the API that append to X-Forwarded-For (the edge: 1); 0 = use the socket's address. */
  TRUST_PROXY_HOPS: int(0, 0, 10),
  /** Failed logins allowed per account+address, per address, and per account (from unknown addresses) in a window. */
  LOGIN_MAX_FAILURES_PER_PAIR: int(5, 1, 1000),
  LOGIN_MAX_FAILURES_PER_ADDRESS: int(30, 1, 100_000),
  LOGIN_MAX_FAILURES_PER_ACCOUNT: int(10, 1, 100_000),
  LOGIN_WINDOW_SECONDS: int(900, 10, 86_400),
  /** HTTP server timeouts: the request headers, the whole request (body included). */
  HEADERS_TIMEOUT_MS: int(15_000, 1000, 600_000),
  REQUEST_TIMEOUT_MS: int(300_000, 1000, 3_600_000),
  /** A request body arriving slower than this (averaged over REQUEST_BODY_GRACE_MS) is cut off with 408. */
  MIN_BODY_BYTES_PER_SECOND: int(1024, 0, 1_000_000_000),
  REQUEST_BODY_GRACE_MS: int(10_000, 1000, 600_000),
  /** Server-Sent Event streams and long polls one user may hold open at once, per API process. */
  MAX_WAITS_PER_USER: int(32, 1, 10_000),
  /** Who runs this server, for push services (sent in the VAPID token; Apple refuses https://localhost). */
  VAPID_SUBJECT: optionalString
    .transform((v) => v ?? 'mailto:admin@localhost')
    .pipe(
      z
        .string()
        .refine(
          (v) => /^(mailto:|https:\/\/)/.test(v) && URL.canParse(v),
          'expected a mailto: address or an https:// URL',
        ),
    ),
  /** Diagnostic: a busy-wait added to every inference, to prove long jobs do not stall. */
  DEBUG_INFERENCE_BLOCK_MS: int(0, 0, 600_000),
  /** Diagnostic: the worker stops taking jobs this long after it starts (as a wedged connection leaves it), to prove the watchdog. */
  DEBUG_WORKER_WEDGE_AFTER_MS: int(0, 0, 3_600_000),
});

export type Env = z.infer<typeof EnvSchema>;

export interface Config
  extends Omit<Env, 'DATA_DIR' | 'WEB_DIR' | 'OUTBOUND_ALLOW_ADDRESSES' | 'MODELS_DIR' | 'WORKER_MODELS'> {
  DATA_DIR: string;
  WEB_DIR: string;
  MODELS_DIR: string;
  /** Empty: every model. */
  WORKER_MODELS: string[];
  OUTBOUND_ALLOW_ADDRESSES: string[];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads `.env` from the working directory if there is one; variables already set win. */
export function loadDotEnv(file = '.env'): void {
  if (fs.existsSync(file)) process.loadEnvFile(file);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  if (env === process.env) loadDotEnv();
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '?');
      return `  ${key}=${JSON.stringify(env[key] ?? '')}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration (see README, "Configuration"):\n${lines.join('\n')}`);
  }
  const c = parsed.data;
  if (c.REDIS_CLUSTER_NODES && !prefixHashTag(c.REDIS_PREFIX)) {
    // Without one tag, keys spread over slots and nodes: Lua scripts, MULTIs and BullMQ's
    // multi-key commands then fail with CROSSSLOT. Refused here rather than at the first job.
    throw new ConfigError(
      `invalid configuration (see README, "Configuration"):\n  REDIS_PREFIX=${JSON.stringify(c.REDIS_PREFIX)}: with REDIS_CLUSTER_NODES set, the prefix needs a {hash tag}, e.g. {twinlens}, so that every key lands in one cluster slot`,
    );
  }
  if (c.REDIS_SENTINELS && c.REDIS_CLUSTER_NODES) {
    throw new ConfigError(
      'invalid configuration (see README, "Configuration"):\n  REDIS_SENTINELS and REDIS_CLUSTER_NODES are both set: choose one',
    );
  }
  if (c.STORAGE === 's3') {
    // Checked here, with the other variables, rather than as a failed first upload.
    const s3Issues: string[] = [];
    if (!c.S3_BUCKET) s3Issues.push('  S3_BUCKET="": STORAGE=s3 needs a bucket name');
    if (!c.S3_ACCESS_KEY_ID !== !c.S3_SECRET_ACCESS_KEY) {
      const missing = c.S3_ACCESS_KEY_ID ? 'S3_SECRET_ACCESS_KEY' : 'S3_ACCESS_KEY_ID';
      s3Issues.push(
        `  ${missing}="": set both S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, or neither (the SDK's default credentials)`,
      );
    }
    if (s3Issues.length) {
      throw new ConfigError(`invalid configuration (see README, "Configuration"):\n${s3Issues.join('\n')}`);
    }
  }
  return {
    ...c,
    DATA_DIR: path.resolve(c.DATA_DIR),
    WEB_DIR: path.resolve(c.WEB_DIR),
    MODELS_DIR: path.resolve(c.MODELS_DIR ?? path.join(c.DATA_DIR, 'models')),
    WORKER_MODELS: (c.WORKER_MODELS ?? '').split(',').filter(Boolean),
    OUTBOUND_ALLOW_ADDRESSES: (c.OUTBOUND_ALLOW_ADDRESSES ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  };
}
