/**
 * A whole Twinlens system on this machine, in a sandbox of its own: the API process and worker
 * processes (started by the launcher), on a Redis under a key prefix of its own, with a temporary
 * data directory and a known admin. For the tests and the benchmarks; nothing is mocked, and
 * `stop()` leaves nothing behind (processes, keys, files).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { UserStore } from '../auth/user-store.ts';
import { clusterNodes, DEFAULT_REDIS_URL, keys, type RedisClient, redisTarget, sentinelOptions } from '../redis.ts';
import { launch, type Proc, ROOT } from './launcher.ts';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? DEFAULT_REDIS_URL;

export interface System {
  baseUrl: string;
  dataDir: string;
  prefix: string;
  /** A client of the system's Redis (a Cluster client when `env` has REDIS_CLUSTER_NODES, the sentinels' primary with REDIS_SENTINELS). */
  redis: RedisClient;
  admin: { username: string; password: string };
  api: Proc;
  workers: Proc[];
  env: Record<string, string>;
  startWorker(extraEnv?: Record<string, string>): Promise<Proc>;
  stop(): Promise<void>;
  /** Logs of every process, for a failing test's message. */
  dump(): string;
}

export async function startSystem(
  opts: {
    workers?: number;
    env?: Record<string, string>;
    /** A Redis of the test's own (fault tests). */
    redisUrl?: string;
    /** A data directory the caller made (a small filesystem mounted there); removed by `stop()` all the same. */
    dataDir?: string;
    /** The key prefix's name (a random suffix is added). */
    prefixName?: string;
  } = {},
): Promise<System> {
  const redisUrl = opts.redisUrl ?? REDIS_URL;
  const prefix = `{${opts.prefixName ?? 'tltest'}-${randomBytes(4).toString('hex')}}`;
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-test-'));
  const admin = { username: 'alice', password: randomBytes(12).toString('base64url') };
  const env: Record<string, string> = {
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    DATA_DIR: dataDir,
    PORT: '0',
    ADMIN_USERNAME: admin.username,
    ADMIN_PASSWORD: admin.password,
    // The built web app (npm test builds it first); callers that need no page do not mind it.
    WEB_DIR: path.join(ROOT, 'dist', 'web'),
    WORKER_HEARTBEAT_MS: '1000',
    LOG_LEVEL: 'info',
    ...opts.env,
  };
  const api = launch('api', { env });
  const listening = await api.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('listening on'));
  const baseUrl = String(listening.msg).replace('listening on ', '');
  const target = redisTarget(env);
  const redis: RedisClient = target.clusterNodes
    ? new Cluster(clusterNodes(target.clusterNodes), { redisOptions: { maxRetriesPerRequest: null } })
    : target.sentinels
      ? new Redis({ ...sentinelOptions(target), maxRetriesPerRequest: null })
      : new Redis(redisUrl, { maxRetriesPerRequest: null });
  // Fault tests stop Redis on purpose: this client reconnects; its connection errors are noise.
  redis.on('error', () => {});
  const workers: Proc[] = [];

  const system: System = {
    baseUrl,
    dataDir,
    prefix,
    redis,
    admin,
    api,
    workers,
    env,
    async startWorker(extraEnv = {}) {
      const w = launch('worker', { env: { ...env, ...extraEnv } });
      workers.push(w);
      await w.waitFor((l) => l.msg === 'worker taking jobs', 60_000);
      return w;
    },
    async stop() {
      // system.api, not api: a test may have replaced the API process (faults-api-restart).
      const all = [system.api, ...workers];
      for (const p of all) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
      await Promise.all(
        all.map((p) =>
          Promise.race([p.exited, new Promise((r) => setTimeout(r, 10_000))]).then(() => {
            if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
          }),
        ),
      );
      await deleteKeys(redis, prefix);
      redis.disconnect();
      try {
        fs.rmSync(dataDir, { recursive: true, force: true });
      } catch (err) {
        // A filesystem mounted there by the test: emptied, and the test unmounts it.
        if ((err as NodeJS.ErrnoException).code !== 'EBUSY') throw err;
      }
    },
    dump() {
      return [`--- api`, ...system.api.logs, ...workers.flatMap((w, i) => [`--- worker ${i}`, ...w.logs])].join('\n');
    },
  };
  try {
    for (let i = 0; i < (opts.workers ?? 1); i++) await system.startWorker();
  } catch (err) {
    await system.stop();
    throw err;
  }
  return system;
}

async function deleteKeys(client: RedisClient, prefix: string): Promise<void> {
  // SCAN sees one node's keys: on a cluster, scan every master (the prefix's hash tag puts all
  // keys on one, but which one is the cluster's business).
  for (const redis of client instanceof Cluster ? client.nodes('master') : [client]) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  }
}

/** Every file under the data directory's uploads/, results/ and tmp/ (to prove nothing leaked). */
export function storedFiles(dataDir: string): string[] {
  const out: string[] = [];
  for (const area of ['uploads', 'results', 'tmp']) {
    const dir = path.join(dataDir, area);
    if (!fs.existsSync(dir)) continue;
    for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) out.push(path.relative(dataDir, path.join(entry.parentPath, entry.name)));
    }
  }
  return out.sort();
}

/** Adds a user the way the CLI does (the same store); returns the password. */
export async function addUserTo(sys: System, username: string, role: 'admin' | 'user' = 'user'): Promise<string> {
  const password = randomBytes(12).toString('base64url');
  await new UserStore(sys.redis, keys(sys.prefix)).add(username, password, role);
  return password;
}

/**
 * How many times workers recorded a success for the task (their `task succeeded` log lines, across
 * every worker process the test started, killed ones included): exactly-once evidence, since a
 * worker logs it only when its compare-and-set recorded the outcome.
 */
export function successesLogged(sys: System, taskId: string): number {
  let n = 0;
  for (const w of sys.workers) {
    for (const line of w.logs) {
      if (line.includes(taskId) && line.includes('"task succeeded"')) n++;
    }
  }
  return n;
}
