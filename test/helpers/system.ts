/**
 * Starts the real system for a test: the API process and worker processes, on the real Redis
 * (under a key prefix of their own) with a temporary data directory. Nothing is mocked.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { UserStore } from '../../server/auth/user-store.ts';
import { clusterNodes, keys, type RedisClient } from '../../server/redis.ts';
import { login as loginAs } from './api.ts';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const REDIS_URL = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface Proc {
  child: ChildProcess;
  logs: string[];
  /** Resolves with the first parsed log line for which `match` is true. */
  waitFor(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

export interface System {
  baseUrl: string;
  dataDir: string;
  prefix: string;
  /** A Cluster client when `env` has REDIS_CLUSTER_NODES. */
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

/** One of the project's scripts in a node process of its own (`node --import tsx <script>`). */
export function spawnScript(script: string, env: Record<string, string>, args: string[] = []): Proc {
  return spawnCommand(process.execPath, ['--import', 'tsx', path.join(ROOT, script), ...args], env, script);
}

/** Any command (e.g. `ip netns exec … node …`), its stdout and stderr lines collected, JSON lines awaitable. */
export function spawnCommand(cmd: string, args: string[], env: Record<string, string>, label: string): Proc {
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const logs: string[] = [];
  const waiters: { match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] =
    [];
  const onLine = (line: string) => {
    logs.push(line);
    let parsed: Record<string, unknown> | null = null;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    for (const w of [...waiters]) {
      if (w.match(parsed)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(parsed);
      }
    }
  };
  let buf = '';
  const feed = (chunk: Buffer) => {
    buf += chunk.toString('utf8');
    let i = buf.indexOf('\n');
    while (i >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
      i = buf.indexOf('\n');
    }
  };
  child.stdout?.on('data', feed);
  child.stderr?.on('data', feed);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    logs,
    exited,
    waitFor(match, timeoutMs = 30_000) {
      for (const line of logs) {
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          if (match(parsed)) return Promise.resolve(parsed);
        } catch {}
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting; logs:\n${logs.join('\n')}`)), timeoutMs);
        waiters.push({
          match,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`${label} exited (${code}) before the expected line; logs:\n${logs.join('\n')}`));
        });
      });
    },
  };
}

export async function startSystem(
  opts: {
    workers?: number;
    env?: Record<string, string>;
    /** A Redis of the test's own (fault tests). */
    redisUrl?: string;
    /** A data directory the test made (a small filesystem mounted there); removed by `stop()` all the same. */
    dataDir?: string;
  } = {},
): Promise<System> {
  const redisUrl = opts.redisUrl ?? REDIS_URL;
  const prefix = `{tltest-${randomBytes(4).toString('hex')}}`;
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-test-'));
  const admin = { username: 'alice', password: randomBytes(12).toString('base64url') };
  const env: Record<string, string> = {
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    DATA_DIR: dataDir,
    PORT: '0',
    ADMIN_USERNAME: admin.username,
    ADMIN_PASSWORD: admin.password,
    // The built web app (npm test builds it first); tests that need no page do not mind it.
    WEB_DIR: path.join(ROOT, 'dist', 'web'),
    WORKER_HEARTBEAT_MS: '1000',
    LOG_LEVEL: 'info',
    ...opts.env,
  };
  const api = spawnScript('server/api.ts', env);
  const listening = await api.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('listening on'));
  const baseUrl = String(listening.msg).replace('listening on ', '');
  const redis: RedisClient = env.REDIS_CLUSTER_NODES
    ? new Cluster(clusterNodes(env.REDIS_CLUSTER_NODES), { redisOptions: { maxRetriesPerRequest: null } })
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
      const w = spawnScript('server/worker.ts', { ...env, ...extraEnv });
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

/**
 * For a test file: starts the system before its tests, logs in as the admin, stops it after.
 * Read `ctx.sys` and `ctx.token` inside tests (they are set by then).
 */
export function useSystem(opts: Parameters<typeof startSystem>[0] = {}): { sys: System; token: string } {
  const ctx = {} as { sys: System; token: string };
  beforeAll(async () => {
    ctx.sys = await startSystem(opts);
    ctx.token = await loginAs(ctx.sys.baseUrl, ctx.sys.admin.username, ctx.sys.admin.password);
  });
  afterAll(async () => {
    await ctx.sys?.stop();
  });
  return ctx;
}

/** Adds a user the way the CLI does (the same store), and logs in: returns the token. */
export async function addUser(sys: System, username: string, role: 'admin' | 'user' = 'user'): Promise<string> {
  const password = randomBytes(12).toString('base64url');
  await new UserStore(sys.redis, keys(sys.prefix)).add(username, password, role);
  return loginAs(sys.baseUrl, username, password);
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
