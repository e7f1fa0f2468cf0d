/**
 * `npm run bench:scale`: throughput against the number of worker processes. One Redis and one
 * API for the whole run; worker processes are added one step at a time (1, 2, 3, 4 by default),
 * and each step runs TASKS tasks (200) from CLIENTS concurrent clients (16), after one unmeasured
 * warm-up task per worker. Prints tasks/s, the ratio to the first step, and the CPU each kind of
 * process used (% of one core).
 *
 * --netns: each worker runs in a network namespace of its own (`ip netns exec tl-wN`, root only),
 * a separate host as far as the network goes, reaching Redis over a veth link; Redis listens on
 * the host-side addresses only. See bench/lib/netns.ts. The namespaces are removed on exit.
 *
 * --storage s3: uploads and results go to an S3-compatible server (s3rver, in this process) instead
 * of DATA_DIR; with --netns each worker reaches it over its link, and gets a data directory of its
 * own, so a worker shares nothing with the API but Redis and S3 over the network.
 *
 * Options (flags, or the environment in capitals): --workers 1,2,3,4 --clients 16 --tasks 200
 * --model centernet|null --netns --storage fs|s3.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startS3 } from '../server/process/s3-server.ts';
import { fixture, login, submit, waitForTask } from './lib/api.ts';
import {
  checkOneResultEach,
  cpuSeconds,
  f,
  IMAGES,
  killChildren,
  machine,
  pct,
  pngVariant,
  runClients,
  startBench,
  sum,
} from './lib/harness.ts';
import { addHost, type Host, removeAllHosts } from './lib/netns.ts';

const { values: a } = parseArgs({
  options: {
    workers: { type: 'string', default: process.env.WORKERS ?? '1,2,3,4' },
    clients: { type: 'string', default: process.env.CLIENTS ?? '16' },
    tasks: { type: 'string', default: process.env.TASKS ?? '200' },
    model: { type: 'string', default: process.env.MODEL ?? 'centernet' },
    netns: { type: 'boolean', default: false },
    storage: { type: 'string', default: process.env.STORAGE ?? 'fs' },
  },
});
if (a.storage !== 'fs' && a.storage !== 's3') throw new Error('--storage: fs or s3');
const STEPS = a.workers
  .split(',')
  .map(Number)
  .sort((x, y) => x - y);
const CLIENTS = Number(a.clients);
const TASKS = Number(a.tasks);
const MODEL = a.model === 'null' ? 'null' : 'centernet';
const MAX = STEPS.at(-1) ?? 1;

// Children first (a namespace with processes inside lingers), then the namespaces.
process.on('exit', () => {
  killChildren();
  removeAllHosts();
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

const mode = `${a.netns ? 'netns (each worker in its own network namespace)' : 'local'}, storage ${a.storage}`;
console.error(
  `bench:scale: workers ${STEPS.join(',')}, ${CLIENTS} clients, ${TASKS} tasks per step, ${mode}; ${machine()}`,
);

let hosts: Host[] = [];
if (a.netns) {
  if (process.getuid?.() !== 0) throw new Error('--netns needs root (ip netns add)');
  hosts = Array.from({ length: MAX }, (_, i) => addHost(i + 1));
}
// s3rver listens on every address so that workers in namespaces reach it at their link's host side.
const s3 = a.storage === 's3' ? await startS3({ address: a.netns ? '0.0.0.0' : '127.0.0.1' }) : undefined;
process.on('exit', () => void s3?.stop());
const bench = await startBench({
  env: { MODEL, RATE_LIMIT_PER_MINUTE: '0', MAX_QUEUE_DEPTH: '100000', ...s3?.env },
  ...(a.netns ? { redisBind: hosts.map((h) => h.hostIp) } : {}),
});
const port = new URL(bench.redis.url).port;
const redisUrlFor = (i: number) => (a.netns ? `redis://${hosts[i]?.hostIp}:${port}` : bench.redis.url);
/** A worker's own settings: in a namespace with S3, the S3 endpoint over its link and a DATA_DIR of its own. */
const workerDirs: string[] = [];
const workerEnv = (i: number): Record<string, string> => {
  if (!s3 || !a.netns) return {};
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `twinlens-bench-w${i + 1}-`));
  workerDirs.push(dataDir);
  process.on('exit', () => fs.rmSync(dataDir, { recursive: true, force: true }));
  return { S3_ENDPOINT: s3.endpoint.replace('127.0.0.1', hosts[i]?.hostIp ?? ''), DATA_DIR: dataDir };
};

if (a.netns) {
  // Evidence that a namespace is a host of its own: Redis is reachable over the link, and this
  // host's loopback (where Redis does not listen) is another machine's loopback from in there.
  const probe = (host: string) => {
    try {
      return execFileSync('ip', ['netns', 'exec', 'tl-w1', 'redis-cli', '-h', host, '-p', port, '--no-raw', 'ping'], {
        timeout: 3000,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
        .toString()
        .trim();
    } catch (err) {
      return `fails (${String((err as { stderr?: Buffer }).stderr ?? err)
        .trim()
        .slice(0, 80)})`;
    }
  };
  console.error(`from tl-w1: redis-cli -h ${hosts[0]?.hostIp} ping → ${probe(hosts[0]?.hostIp ?? '')}`);
  console.error(`from tl-w1: redis-cli -h 127.0.0.1 ping → ${probe('127.0.0.1')}`);
}

const photos = IMAGES.map((name) => fixture(name));
interface Row {
  workers: number;
  tps: number;
  p50: number;
  p95: number;
  cpu: { api: number; workers: number; redis: number; clients: number };
  ok: boolean;
}
const rows: Row[] = [];
let failed = false;
try {
  const { sys } = bench;
  const token = await login(sys.baseUrl, sys.admin.username, sys.admin.password);
  let upload = 0;
  for (const n of STEPS) {
    while (sys.workers.length < n) {
      const i = sys.workers.length;
      await bench.addWorker({ ...(a.netns ? { ns: hosts[i]?.ns } : {}), redisUrl: redisUrlFor(i), env: workerEnv(i) });
    }
    await Promise.all(
      Array.from({ length: n }, async () => {
        const t = await submit(sys.baseUrl, token, pngVariant(photos[0] as Buffer, `warm-up ${upload++}`));
        await waitForTask(sys.baseUrl, token, t.task_id, 120_000);
      }),
    );
    const workerPids = sys.workers.map((w) => w.child.pid);
    const cpu0 = {
      api: cpuSeconds(sys.api.child.pid),
      workers: sum(workerPids.map(cpuSeconds)),
      redis: cpuSeconds(bench.redis.pid),
    };
    const self0 = process.cpuUsage();
    const base = upload;
    upload += TASKS;
    const run = await runClients({
      baseUrl: sys.baseUrl,
      token,
      clients: CLIENTS,
      tasks: TASKS,
      image: (i) => pngVariant(photos[i % photos.length] as Buffer, `twinlens bench:scale ${process.pid} ${base + i}`),
    });
    const wallS = run.wallMs / 1000;
    const self = process.cpuUsage(self0);
    const cpu = {
      api: (100 * (cpuSeconds(sys.api.child.pid) - cpu0.api)) / wallS,
      workers: (100 * (sum(workerPids.map(cpuSeconds)) - cpu0.workers)) / wallS,
      redis: (100 * (cpuSeconds(bench.redis.pid) - cpu0.redis)) / wallS,
      clients: (100 * (self.user + self.system)) / 1e6 / wallS,
    };
    const problems = await checkOneResultEach(
      bench.redis.url,
      sys.prefix,
      run.ids,
      sys.workers.map((w) => w.logs),
    );
    const ok = run.latencies.length === TASKS && problems.length === 0 && run.errors.length === 0;
    if (!ok) {
      failed = true;
      console.error(`step ${n}: ${run.latencies.length}/${TASKS} succeeded; ${[...problems, ...run.errors][0] ?? ''}`);
    }
    const row = {
      workers: n,
      tps: run.latencies.length / wallS,
      p50: pct(run.latencies, 50),
      p95: pct(run.latencies, 95),
      cpu,
      ok,
    };
    rows.push(row);
    console.error(`  ${n} worker(s): ${f(row.tps, 2)} tasks/s; ${machine()}`);
  }
  if (s3) {
    // The point of S3 storage: no image bytes on any host's disk, the API's included.
    const onDisk = [sys.dataDir, ...workerDirs].flatMap((root) =>
      ['uploads', 'results'].flatMap((d) =>
        fs.existsSync(path.join(root, d))
          ? fs.readdirSync(path.join(root, d), { recursive: true, encoding: 'utf8' })
          : [],
      ),
    );
    console.error(`storage s3: ${onDisk.length} entries under the API's and workers' DATA_DIR uploads/ and results/`);
    if (onDisk.length > 0) failed = true;
  }
} finally {
  await bench.stop();
}

const first = rows[0]?.tps ?? Number.NaN;
console.log(
  [
    `bench:scale (${mode}): ${CLIENTS} clients, ${TASKS} tasks per step, model ${MODEL}`,
    '',
    `| workers | tasks/s | vs 1st step | p50 / p95 ms | worker CPU ms per task | CPU %: API | workers (sum) | per worker | Redis | clients | total (of ${os.availableParallelism() * 100}%) | all succeeded, one result each |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.workers} | ${f(r.tps, 2)} | ${f(r.tps / first, 2)}× | ${f(r.p50, 0)} / ${f(r.p95, 0)} | ${f((10 * r.cpu.workers) / r.tps, 0)} | ${f(r.cpu.api, 0)} | ${f(r.cpu.workers, 0)} | ${f(r.cpu.workers / r.workers, 0)} | ${f(r.cpu.redis, 0)} | ${f(r.cpu.clients, 0)} | ${f(r.cpu.api + r.cpu.workers + r.cpu.redis + r.cpu.clients, 0)} | ${r.ok ? 'yes' : 'NO'} |`,
    ),
  ].join('\n'),
);
console.error(`done; ${machine()}`);
process.exit(failed ? 1 : 0);
