/**
 * `npm start`: the whole system on one machine. Finds a Redis (REDIS_CLUSTER_NODES, else
 * REDIS_SENTINELS, else REDIS_URL, else 127.0.0.1:6379, else starts `redis-server` with its data
 * under DATA_DIR and AOF on), then runs the API and WORKERS worker processes, restarting any that
 * exit (server/process/supervisor.ts), and stops them all on Ctrl-C.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { ConfigError, loadConfig } from './config.ts';
import { createLogger } from './log.ts';
import { launch, type Role } from './process/launcher.ts';
import { freePort } from './process/ports.ts';
import { Supervisor } from './process/supervisor.ts';
import { aofRedisArgs, clusterNodes, describeTarget, redisTarget, sentinelOptions } from './redis.ts';

const log = createLogger({ service: 'start' });

async function pingRedis(url: string, timeoutMs = 1000): Promise<boolean> {
  const r = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

/** Whether the cluster answers: its slots are known (CLUSTER SLOTS from a seed) and a node answers PING. */
async function pingCluster(nodes: string, timeoutMs: number): Promise<boolean> {
  const c = new Cluster(clusterNodes(nodes), {
    lazyConnect: true,
    clusterRetryStrategy: () => null,
    redisOptions: { connectTimeout: timeoutMs, maxRetriesPerRequest: 0 },
  });
  c.on('error', () => {});
  try {
    await c.connect();
    return (await c.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    c.disconnect();
  }
}

/** Whether the sentinels name a primary and it answers PING. */
async function pingSentinelPrimary(config: Parameters<typeof redisTarget>[0], timeoutMs: number): Promise<boolean> {
  const r = new Redis({
    ...sentinelOptions(redisTarget(config)),
    failoverDetector: false,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    sentinelRetryStrategy: () => null,
  });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

async function startOwnRedis(dataDir: string): Promise<{ url: string; proc: ChildProcess }> {
  const found = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (found.error) {
    throw new Error(
      [
        'No Redis is configured (REDIS_URL), none answers on 127.0.0.1:6379, and redis-server is not installed.',
        'Install one and run `npm start` again:',
        '  Debian/Ubuntu: sudo apt-get install redis-server',
        '  macOS:         brew install redis',
        'or point REDIS_URL at an existing Redis (redis://host:6379).',
      ].join('\n'),
    );
  }
  const dir = path.join(dataDir, 'redis');
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort(6379);
  const proc = spawn('redis-server', aofRedisArgs(port, dir), { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50; i++) {
    if (await pingRedis(url, 200)) {
      log.info('started redis-server (AOF on)', { url, dir });
      return { url, proc };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill();
  throw new Error(`redis-server did not answer on ${url}`);
}

interface Managed {
  name: string;
  role: Role;
  /** Variables for this process alone. */
  env?: Record<string, string>;
}

async function main() {
  const config = loadConfig();
  fs.mkdirSync(config.DATA_DIR, { recursive: true });

  let redisUrl = config.REDIS_URL;
  let ownRedis: ChildProcess | undefined;
  if (config.REDIS_CLUSTER_NODES) {
    // A cluster is run by its operators: never start (or look for) a local Redis instead of it.
    if (!(await pingCluster(config.REDIS_CLUSTER_NODES, 3000))) {
      throw new Error(`REDIS_CLUSTER_NODES=${config.REDIS_CLUSTER_NODES} does not answer`);
    }
    log.info('using the Redis Cluster', { nodes: config.REDIS_CLUSTER_NODES, prefix: config.REDIS_PREFIX });
  } else if (config.REDIS_SENTINELS) {
    // The same: a Sentinel-managed primary is never replaced by a local Redis.
    if (!(await pingSentinelPrimary(config, 3000))) {
      throw new Error(
        `REDIS_SENTINELS=${config.REDIS_SENTINELS} does not name a primary "${config.REDIS_SENTINEL_NAME}" that answers`,
      );
    }
    log.info('using the primary the sentinels name', { target: describeTarget(redisTarget(config)) });
  } else if (redisUrl) {
    if (!(await pingRedis(redisUrl, 3000))) throw new Error(`REDIS_URL=${redisUrl} does not answer`);
  } else if (await pingRedis('redis://127.0.0.1:6379')) {
    redisUrl = 'redis://127.0.0.1:6379';
    log.info('using the Redis on 127.0.0.1:6379');
  } else {
    const own = await startOwnRedis(config.DATA_DIR);
    redisUrl = own.url;
    ownRedis = own.proc;
  }

  // The processes read REDIS_CLUSTER_NODES and REDIS_SENTINELS themselves (from the environment or
  // .env, loaded above).
  const env = redisUrl && !config.REDIS_SENTINELS ? { ...process.env, REDIS_URL: redisUrl } : { ...process.env };
  let stopping = false;
  const children: Managed[] = [
    { name: 'api', role: 'api' as const },
    ...Array.from({ length: config.WORKERS }, (_, i) => ({
      name: `worker-${i + 1}`,
      role: 'worker' as const,
      // Each worker serves its metrics on a port of its own: WORKER_METRICS_PORT, +1, +2, …
      env: workerMetricsEnv(config.WORKER_METRICS_PORT, i),
    })),
  ];
  const supervisors = children.map(
    (m) => new Supervisor(m.name, () => launch(m.role, { env: { ...env, ...m.env }, stdio: 'inherit' }).child, log),
  );
  for (const s of supervisors) s.start();

  const base = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${config.PORT}`;
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`${base}/healthz`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) {
      process.stderr.write(
        `\n  Twinlens is up: ${base}/  (API docs ${base}/api/docs, readiness ${base}/readyz)\n  ${config.WORKERS} worker process(es), model ${config.MODEL}, Redis ${describeTarget(redisTarget({ ...config, REDIS_URL: redisUrl }))}. Ctrl-C stops everything.\n\n`,
      );
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping everything', { signal });
    await Promise.all(supervisors.map((s) => s.stop()));
    if (ownRedis) {
      ownRedis.kill('SIGTERM'); // Redis flushes its AOF on SIGTERM
      await new Promise((r) => ownRedis?.once('exit', r));
    }
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
  process.exit(err instanceof ConfigError ? 2 : 1);
});

/** Worker i's metrics port (0, off, stays 0 for all). */
function workerMetricsEnv(basePort: number, i: number): Record<string, string> {
  return basePort > 0 ? { WORKER_METRICS_PORT: String(basePort + i) } : {};
}
