/**
 * `npm run bench:server`: the server path's throughput against the raw model, measured in one
 * run on one machine (machines are noisy, so only same-run ratios mean much).
 *
 *  1. raw model: WORKERS processes running the detector back to back (no HTTP, no queue);
 *  2. end to end: the real API + WORKERS worker processes + Redis, CLIENTS concurrent clients
 *     each uploading and polling until the task is final;
 *  3. the null model through the same system: the serving machinery alone.
 *
 * Environment: WORKERS (default: cores - 1), CLIENTS (16), TASKS (160), POLL_MS (long | ms),
 * RAW_IMAGES (per process; default TASKS / WORKERS).
 */
import os from 'node:os';
import { fixture, login, submit, waitForTask } from '../test/helpers/api.ts';
import { startSystem } from '../test/helpers/system.ts';
import { cpuSeconds, rawModel } from './lib/harness.ts';

// Default: one core left for the API, Redis and the clients (all on this machine).
const WORKERS = Number(process.env.WORKERS ?? Math.max(1, os.availableParallelism() - 1));
const CLIENTS = Number(process.env.CLIENTS ?? 16);
const TASKS = Number(process.env.TASKS ?? 160);
const RAW_IMAGES = Number(process.env.RAW_IMAGES ?? Math.ceil(TASKS / WORKERS));
const IMAGE = 'astronaut.png';

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

interface E2E {
  tasksPerSec: number;
  p50: number;
  p95: number;
  p99: number;
  uploadP50: number;
  backend: string;
  /** CPU ms per task: API process, all workers, this benchmark's clients. */
  cpu: { api: number; workers: number; clients: number };
}

async function endToEnd(model: 'centernet' | 'null'): Promise<E2E> {
  const sys = await startSystem({ workers: WORKERS, env: { MODEL: model, RATE_LIMIT_PER_MINUTE: '0' } });
  try {
    const token = await login(sys.baseUrl, sys.admin.username, sys.admin.password);
    const bytes = fixture(IMAGE);
    // Warm-up: one task per worker, not measured.
    await Promise.all(
      Array.from({ length: WORKERS }, async () =>
        waitForTask(sys.baseUrl, token, (await submit(sys.baseUrl, token, bytes)).task_id),
      ),
    );
    const latencies: number[] = [];
    const uploads: number[] = [];
    let next = 0;
    let backend = '';
    const client = async () => {
      while (next < TASKS) {
        next++;
        const t0 = performance.now();
        const task = await submit(sys.baseUrl, token, bytes);
        uploads.push(performance.now() - t0);
        const done = await pollUntilFinal(sys.baseUrl, token, task.task_id);
        if (done.status !== 'succeeded') throw new Error(`task ${task.task_id} ${done.status}`);
        backend = done.model?.backend ?? '';
        latencies.push(performance.now() - t0);
      }
    };
    const cpuBefore = {
      api: cpuSeconds(sys.api.child.pid),
      workers: sum(sys.workers.map((w) => cpuSeconds(w.child.pid))),
      clients: process.cpuUsage(),
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: CLIENTS }, client));
    const wall = performance.now() - started;
    const clientCpu = process.cpuUsage(cpuBefore.clients);
    const cpu = {
      api: ((cpuSeconds(sys.api.child.pid) - cpuBefore.api) * 1000) / TASKS,
      workers: ((sum(sys.workers.map((w) => cpuSeconds(w.child.pid))) - cpuBefore.workers) * 1000) / TASKS,
      clients: (clientCpu.user + clientCpu.system) / 1000 / TASKS,
    };
    latencies.sort((a, b) => a - b);
    uploads.sort((a, b) => a - b);
    return {
      tasksPerSec: latencies.length / (wall / 1000),
      p50: pct(latencies, 50),
      p95: pct(latencies, 95),
      p99: pct(latencies, 99),
      uploadP50: pct(uploads, 50),
      backend,
      cpu,
    };
  } finally {
    await sys.stop();
  }
}

/** `long` (default): long polls, one request per status change; a number: a poll every that many ms. */
const POLL_MS = process.env.POLL_MS === undefined || process.env.POLL_MS === 'long' ? -1 : Number(process.env.POLL_MS);

/** What a client does: wait for the task to be final. */
async function pollUntilFinal(baseUrl: string, token: string, id: string) {
  return waitForTask(baseUrl, token, id, ['succeeded', 'failed', 'canceled'], 600_000, POLL_MS);
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const f = (n: number, d = 1) => n.toFixed(d);
console.error(
  `bench:server: ${WORKERS} worker process(es), ${CLIENTS} clients, ${TASKS} tasks, ${os.cpus().length} cores (${os.cpus()[0]?.model})`,
);
const raw = await rawModel(WORKERS, RAW_IMAGES, IMAGE);
console.error(`raw model: ${f(raw.imagesPerSec, 2)} images/s (${raw.backend})`);
const e2e = await endToEnd('centernet');
console.error(`end to end: ${f(e2e.tasksPerSec, 2)} tasks/s`);
const nul = await endToEnd('null');
console.error(`null model: ${f(nul.tasksPerSec, 1)} tasks/s`);

const rows = [
  `| measurement | throughput | p50 ms | p95 ms | p99 ms |`,
  `| --- | --- | --- | --- | --- |`,
  `| raw model (${WORKERS} processes, ${raw.backend}, no HTTP/queue) | ${f(raw.imagesPerSec, 2)} images/s | | | |`,
  `| end to end, centernet (${CLIENTS} clients) | ${f(e2e.tasksPerSec, 2)} tasks/s | ${f(e2e.p50, 0)} | ${f(e2e.p95, 0)} | ${f(e2e.p99, 0)} |`,
  `| end to end, null model (${CLIENTS} clients) | ${f(nul.tasksPerSec, 1)} tasks/s | ${f(nul.p50, 0)} | ${f(nul.p95, 0)} | ${f(nul.p99, 0)} |`,
  '',
  `end to end / raw model = **${f((100 * e2e.tasksPerSec) / raw.imagesPerSec, 0)}%** (aim: ≥ 90%)`,
  `upload (POST /tasks → 202) p50: ${f(e2e.uploadP50, 1)} ms with the model, ${f(nul.uploadP50, 1)} ms with the null model`,
  '',
  `CPU per task (ms): | API | workers | clients (this process) |`,
  `| --- | --- | --- | --- |`,
  `| centernet | ${f(e2e.cpu.api)} | ${f(e2e.cpu.workers)} | ${f(e2e.cpu.clients)} |`,
  `| null model | ${f(nul.cpu.api)} | ${f(nul.cpu.workers)} | ${f(nul.cpu.clients)} |`,
];
console.log(rows.join('\n'));
