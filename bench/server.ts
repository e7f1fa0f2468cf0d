/**
 * `npm run bench:server`: the server path's throughput against the raw model, measured in one
 * run on one machine (machines are noisy, so only same-run ratios mean much).
 *
 *  1. raw model: WORKERS processes running the detector back to back (no HTTP, no queue), before
 *     and again after the end-to-end run (the ratio is against their mean);
 *  2. end to end: the real API + WORKERS worker processes + a Redis of the bench's own, CLIENTS
 *     concurrent clients each uploading and long-polling until the task is final;
 *  3. the null model through the same system: the serving machinery alone, and its CPU per task
 *     by process: the API, the workers, Redis (the aim: ≤ 6 ms for the three together).
 *
 * The processes run the build output (`npm run build`), as production does.
 * Environment: WORKERS (default: cores - 1), CLIENTS (16), TASKS (160), NULL_TASKS (400),
 * RAW_IMAGES (per process; default TASKS / WORKERS); NULL_ONLY=1 stops after the null model (the
 * machinery's cost alone, for profiling: TWINLENS_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR").
 */
import os from 'node:os';
import { fixture, login } from './lib/api.ts';
import { cpuSeconds, f, killChildren, machine, pct, rawModel, runClients, startBench, sum } from './lib/harness.ts';

// Default: one core left for the API, Redis and the clients (all on this machine).
const WORKERS = Number(process.env.WORKERS ?? Math.max(1, os.availableParallelism() - 1));
const CLIENTS = Number(process.env.CLIENTS ?? 16);
const TASKS = Number(process.env.TASKS ?? 160);
const NULL_TASKS = Number(process.env.NULL_TASKS ?? 400);
const RAW_IMAGES = Number(process.env.RAW_IMAGES ?? Math.ceil(TASKS / WORKERS));
const IMAGE = 'astronaut.png';

interface E2E {
  tasksPerSec: number;
  p50: number;
  p95: number;
  p99: number;
  backend: string;
  /** ms from a worker's spawn to its "worker taking jobs" (model loaded and warmed), each worker. */
  workerStartMs: number[];
  /** CPU ms per task: the API process, all workers, Redis, this benchmark's clients. */
  cpu: { api: number; workers: number; redis: number; clients: number };
  /** Redis commands per task, by command (most first; Lua scripts' own calls included). */
  redisCalls: [string, number][];
}

async function endToEnd(model: 'centernet' | 'null', tasks: number): Promise<E2E> {
  const bench = await startBench({ env: { MODEL: model, RATE_LIMIT_PER_MINUTE: '0' } });
  try {
    for (let i = 0; i < WORKERS; i++) await bench.addWorker();
    const { sys } = bench;
    const token = await login(sys.baseUrl, sys.admin.username, sys.admin.password);
    const bytes = fixture(IMAGE);
    // Warm-up, not measured: a few tasks per worker.
    await runClients({ baseUrl: sys.baseUrl, token, clients: WORKERS, tasks: 4 * WORKERS, image: () => bytes });
    const cpuOf = () => ({
      api: cpuSeconds(sys.api.child.pid),
      workers: sum(sys.workers.map((w) => cpuSeconds(w.child.pid))),
      redis: cpuSeconds(bench.redis.pid),
      clients: process.cpuUsage(),
    });
    const callsBefore = await bench.redis.commandCalls();
    const before = cpuOf();
    const run = await runClients({ baseUrl: sys.baseUrl, token, clients: CLIENTS, tasks, image: () => bytes });
    const after = cpuOf();
    const callsAfter = await bench.redis.commandCalls();
    if (run.errors.length || run.failed.length) {
      throw new Error(`${run.errors.length} errors, ${run.failed.length} failed: ${run.errors[0] ?? ''}`);
    }
    const clientCpu = process.cpuUsage(before.clients);
    const perTask = (seconds: number) => (seconds * 1000) / tasks;
    return {
      tasksPerSec: tasks / (run.wallMs / 1000),
      p50: pct(run.latencies, 50),
      p95: pct(run.latencies, 95),
      p99: pct(run.latencies, 99),
      backend: model,
      workerStartMs: bench.workerStartMs,
      cpu: {
        api: perTask(after.api - before.api),
        workers: perTask(after.workers - before.workers),
        redis: perTask(after.redis - before.redis),
        clients: (clientCpu.user + clientCpu.system) / 1000 / tasks,
      },
      redisCalls: [...callsAfter]
        .map(([cmd, n]): [string, number] => [cmd, (n - (callsBefore.get(cmd) ?? 0)) / tasks])
        .filter(([cmd, n]) => n > 0 && cmd !== 'info')
        .sort((a, b) => b[1] - a[1]),
    };
  } finally {
    await bench.stop();
  }
}

process.on('SIGINT', () => {
  killChildren();
  process.exit(130);
});

console.error(`bench:server: ${WORKERS} worker process(es), ${CLIENTS} clients, ${TASKS} tasks; ${machine()}`);
const nul = await endToEnd('null', NULL_TASKS);
console.error(`null model: ${f(nul.tasksPerSec, 1)} tasks/s`);
const machinery = nul.cpu.api + nul.cpu.workers + nul.cpu.redis;
console.error(
  `machinery CPU per task: ${f(machinery, 2)} ms (API ${f(nul.cpu.api, 2)} / workers ${f(nul.cpu.workers, 2)} / Redis ${f(nul.cpu.redis, 2)}); clients (this process) ${f(nul.cpu.clients, 2)} ms, p50 ${f(nul.p50, 0)} ms`,
);
const calls = (e: E2E) => e.redisCalls.map(([cmd, n]) => `${cmd} ${f(n, 2)}`).join(', ');
console.error(`Redis commands per task (null model): ${f(sum(nul.redisCalls.map(([, n]) => n)), 1)}: ${calls(nul)}`);
if (process.env.NULL_ONLY === '1') process.exit(0);
// The raw model before and after the end-to-end run: this VM's speed drifts by 10-20 % within a
// minute, and the ratio is taken against their mean (both printed, so a drift shows).
const rawBefore = await rawModel(WORKERS, RAW_IMAGES, IMAGE);
console.error(`raw model: ${f(rawBefore.imagesPerSec, 2)} images/s (${rawBefore.backend})`);
const e2e = await endToEnd('centernet', TASKS);
console.error(`end to end: ${f(e2e.tasksPerSec, 2)} tasks/s`);
console.error(`Redis commands per task (real model): ${f(sum(e2e.redisCalls.map(([, n]) => n)), 1)}: ${calls(e2e)}`);
const rawAfter = await rawModel(WORKERS, RAW_IMAGES, IMAGE);
console.error(`raw model after: ${f(rawAfter.imagesPerSec, 2)} images/s`);
const raw = { backend: rawBefore.backend, imagesPerSec: (rawBefore.imagesPerSec + rawAfter.imagesPerSec) / 2 };

const rows = [
  `| measurement | throughput | p50 ms | p95 ms | p99 ms |`,
  `| --- | --- | --- | --- | --- |`,
  `| raw model (${WORKERS} processes, ${raw.backend}, no HTTP/queue), mean of before / after | ${f(raw.imagesPerSec, 2)} images/s (${f(rawBefore.imagesPerSec, 2)} / ${f(rawAfter.imagesPerSec, 2)}) | | | |`,
  `| end to end, centernet (${CLIENTS} clients) | ${f(e2e.tasksPerSec, 2)} tasks/s | ${f(e2e.p50, 0)} | ${f(e2e.p95, 0)} | ${f(e2e.p99, 0)} |`,
  `| end to end, null model (${CLIENTS} clients, ${NULL_TASKS} tasks) | ${f(nul.tasksPerSec, 1)} tasks/s | ${f(nul.p50, 0)} | ${f(nul.p95, 0)} | ${f(nul.p99, 0)} |`,
  '',
  `end to end / raw model = **${f((100 * e2e.tasksPerSec) / raw.imagesPerSec, 0)}%** (WORKERS=${WORKERS} on ${os.availableParallelism()} cores)`,
  `machinery CPU per task (null model: API + workers + Redis) = **${f(machinery, 2)} ms** (aim: ≤ 6)`,
  `worker start-up to taking jobs (real model): ${e2e.workerStartMs.map((ms) => f(ms, 0)).join(', ')} ms (aim: ≤ 1500)`,
  '',
  `CPU per task (ms): | API | workers | Redis | clients (this process) |`,
  `| --- | --- | --- | --- | --- |`,
  `| centernet | ${f(e2e.cpu.api, 2)} | ${f(e2e.cpu.workers, 1)} | ${f(e2e.cpu.redis, 2)} | ${f(e2e.cpu.clients, 2)} |`,
  `| null model | ${f(nul.cpu.api, 2)} | ${f(nul.cpu.workers, 2)} | ${f(nul.cpu.redis, 2)} | ${f(nul.cpu.clients, 2)} |`,
];
console.log(rows.join('\n'));
