/**
 * Shared pieces of `bench/load.ts` and `bench/scale.ts`: a redis-server of the bench's own,
 * processes spawned with any command (so a worker can run inside a network namespace), client
 * loops that upload and long-poll like a real client (retrying 429/503 after `Retry-After`),
 * /proc readers for CPU time and memory, and the raw-model baseline.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { Redis } from 'ioredis';
import { entryCommand, type Proc, ROOT, spawnCommand } from '../../server/process/launcher.ts';
import { type System, startSystem } from '../../server/process/local-system.ts';
import { freePort } from '../../server/process/ports.ts';
import { aofRedisArgs, keys } from '../../server/redis.ts';
import { TwinlensApiError, TwinlensClient } from '../../shared/client/twinlens-client.ts';
import type { Task } from '../../shared/contract.ts';

// The system's processes run the build output, as production does (`npm run bench:*` builds first).
process.env.TWINLENS_RUN ??= 'build';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
export const mean = (xs: number[]) => (xs.length ? sum(xs) / xs.length : Number.NaN);
export const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
export const mib = (kb: number) => f(kb / 1024, 0);

export function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

// ---------------------------------------------------------------------------------------------
// /proc

/** CPU seconds a process has used so far, threads included (utime + stime). NaN if it is gone. */
export function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks of 1/100 s
  } catch {
    return Number.NaN;
  }
}

/** The process and all its descendants (worker threads are in the process itself; this adds child processes). */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const p = out[i] as number;
    let tids: string[] = [];
    try {
      tids = fs.readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const kids = fs.readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8').trim();
        if (kids) out.push(...kids.split(/\s+/).map(Number));
      } catch {}
    }
  }
  return out;
}

/** A `/proc/<pid>/status` field in kB (VmRSS, VmHWM), summed over the process tree; NaN if gone. */
export function memKb(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number {
  if (pid === undefined) return Number.NaN;
  let total = 0;
  let found = false;
  for (const p of processTree(pid)) {
    try {
      const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) {
        total += Number(m[1]);
        found = true;
      }
    } catch {}
  }
  return found ? total : Number.NaN;
}

export function comm(pid: number | undefined): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/** RSS sampled every `everyMs` for each named process, for peaks and first-vs-last comparisons. */
export class RssSampler {
  readonly samples: { t: number; kb: Record<string, number> }[] = [];
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly procs: () => Record<string, number | undefined>,
    private readonly everyMs = 500,
  ) {}
  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
  }
  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }
  private sample(): void {
    const kb: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.procs())) kb[name] = memKb(pid, 'VmRSS');
    this.samples.push({ t: performance.now(), kb });
  }
  /** Mean sampled RSS in each of `parts` equal slices of the run, in order: the shape over time. */
  slices(name: string, parts = 10): number[] {
    const xs = this.samples.map((s) => s.kb[name] ?? Number.NaN).filter(Number.isFinite);
    return Array.from({ length: parts }, (_, i) =>
      mean(xs.slice(Math.floor((i * xs.length) / parts), Math.floor(((i + 1) * xs.length) / parts))),
    );
  }
  /** Peak sampled RSS, and the mean over the first and the last `share` of the samples. */
  summary(name: string, share = 0.1): { peak: number; first: number; last: number } {
    const xs = this.samples.map((s) => s.kb[name] ?? Number.NaN).filter(Number.isFinite);
    const n = Math.max(1, Math.round(xs.length * share));
    return { peak: Math.max(...xs), first: mean(xs.slice(0, n)), last: mean(xs.slice(-n)) };
  }
}

// ---------------------------------------------------------------------------------------------
// Processes

/** Children this bench started, killed synchronously if it is interrupted. */
export const children = new Set<ChildProcess>();
/** Temporary directories (Redis's, the data directory) removed by `killChildren` too. */
const tempDirs = new Set<string>();
/** Synchronous, for exit and signal handlers: kills this bench's processes, removes its directories. */
export function killChildren(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
}
// A bench that throws exits without running its `finally` stops: its API, workers and Redis must not
// outlive it (one such crash left a worker retrying a dead Redis for an hour).
process.on('exit', killChildren);

export interface BenchRedis {
  url: string;
  pid: number;
  /** Redis INFO memory's used_memory, bytes. */
  usedMemory(): Promise<number>;
  /** Calls so far by command (INFO commandstats; scripts count as evalsha, plus what they call). */
  commandCalls(): Promise<Map<string, number>>;
  destroy(): Promise<void>;
}

/** A redis-server of this bench's own (AOF on, as `npm start` runs it), bound to `bind` addresses. */
export async function startBenchRedis(bind: string[] = ['127.0.0.1']): Promise<BenchRedis> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-bench-redis-'));
  tempDirs.add(dir);
  const args = [...aofRedisArgs(port, dir), '--bind', ...bind, '--protected-mode', 'no'];
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  children.add(child);
  const url = `redis://${bind[0]}:${port}`;
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3, retryStrategy: () => 100 });
  client.on('error', () => {});
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      if (client.status === 'wait') await client.connect();
      if ((await client.ping()) === 'PONG') break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`redis-server on ${url} did not start`);
    await sleep(50);
  }
  return {
    url,
    pid: child.pid as number,
    async usedMemory() {
      const info = await client.info('memory');
      return Number(/^used_memory:(\d+)/m.exec(info)?.[1]);
    },
    async commandCalls() {
      const info = await client.info('commandstats');
      const calls = new Map<string, number>();
      for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(m[1] as string, Number(m[2]));
      return calls;
    },
    async destroy() {
      client.disconnect();
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Images

export const IMAGES = ['astronaut.png', 'coffee.png', 'chelsea.png'];

/**
 * The same PNG with a `tEXt` chunk after IHDR: the same pixels (same decode and inference cost)
 * but different bytes, so content-addressed storage does not dedupe the uploads.
 */
export function pngVariant(png: Buffer, text: string): Buffer {
  const ihdrEnd = 8 + 4 + 4 + png.readUInt32BE(8) + 4;
  const typeAndData = Buffer.concat([Buffer.from('tEXt'), Buffer.from(`Comment\0${text}`, 'latin1')]);
  const chunk = Buffer.alloc(4 + typeAndData.length + 4);
  chunk.writeUInt32BE(typeAndData.length - 4, 0);
  typeAndData.copy(chunk, 4);
  chunk.writeUInt32BE(zlib.crc32(typeAndData), 4 + typeAndData.length);
  return Buffer.concat([png.subarray(0, ihdrEnd), chunk, png.subarray(ihdrEnd)]);
}

// ---------------------------------------------------------------------------------------------
// Clients

export interface ClientRun {
  wallMs: number;
  latencies: number[];
  ids: string[];
  failed: { id: string; status: string; error: unknown }[];
  /** Refusals retried after Retry-After, by status. */
  retried: { 429: number; 503: number };
  errors: string[];
}

/**
 * `clients` loops, each uploading a photo, long-polling (`?wait=30`) until its task is final,
 * then uploading the next, until `tasks` tasks are final. A 429 or 503 is retried after
 * `Retry-After`, as a real client would; any other refusal counts as an error.
 */
export async function runClients(opts: {
  baseUrl: string;
  token: string;
  clients: number;
  tasks: number;
  /** The bytes for the i-th upload. */
  image: (i: number) => Buffer;
}): Promise<ClientRun> {
  const run: ClientRun = { wallMs: 0, latencies: [], ids: [], failed: [], retried: { 429: 0, 503: 0 }, errors: [] };
  let next = 0;
  const api = new TwinlensClient({ baseUrl: opts.baseUrl, token: opts.token });
  const client = async () => {
    while (next < opts.tasks) {
      const i = next++;
      const bytes = opts.image(i);
      const t0 = performance.now();
      try {
        let task: Task | undefined;
        while (!task) {
          try {
            task = await api.upload(bytes, { filename: `bench-${i}.png` });
          } catch (err) {
            if (!(err instanceof TwinlensApiError && (err.status === 429 || err.status === 503))) throw err;
            run.retried[err.status]++;
            await sleep(Math.max(0.1, err.retryAfter ?? 1) * 1000);
          }
        }
        run.ids.push(task.task_id);
        const done = await api.waitForTask(task.task_id, { timeoutMs: 600_000 });
        if (done.status !== 'succeeded') run.failed.push({ id: done.task_id, status: done.status, error: done.error });
        else run.latencies.push(performance.now() - t0);
      } catch (err) {
        run.errors.push(String((err as Error).message ?? err).slice(0, 300));
      }
    }
  };
  const started = performance.now();
  const progress = setInterval(() => {
    const done = run.latencies.length + run.failed.length + run.errors.length;
    console.error(
      `  … ${done}/${opts.tasks} final after ${f((performance.now() - started) / 1000, 0)} s; ${machine()}`,
    );
  }, 30_000);
  await Promise.all(Array.from({ length: opts.clients }, client));
  clearInterval(progress);
  run.wallMs = performance.now() - started;
  run.latencies.sort((a, b) => a - b);
  return run;
}

/**
 * Exactly one result per task: the workers logged "task succeeded" once for it (across all
 * workers: a worker logs it only when its compare-and-set recorded the outcome), and the task
 * still holds exactly its one upload. Returns the problems found.
 */
export async function checkOneResultEach(
  redisUrl: string,
  prefix: string,
  ids: string[],
  workerLogs: string[][],
): Promise<string[]> {
  // A worker logs "task succeeded" just after recording the outcome, which is what the client's
  // long poll returns on: give the last lines a moment to arrive through the pipes.
  const deadline = Date.now() + 5000;
  for (;;) {
    const problems = await checkOnce(redisUrl, prefix, ids, workerLogs);
    if (problems.length === 0 || Date.now() > deadline) return problems;
    await sleep(250);
  }
}

async function checkOnce(redisUrl: string, prefix: string, ids: string[], workerLogs: string[][]): Promise<string[]> {
  const succeeded = new Map<string, number>();
  for (const logs of workerLogs) {
    for (const line of logs) {
      if (!line.includes('"task succeeded"')) continue;
      const id = (JSON.parse(line) as { task_id?: string }).task_id ?? '?';
      succeeded.set(id, (succeeded.get(id) ?? 0) + 1);
    }
  }
  const redis = new Redis(redisUrl);
  const k = keys(prefix);
  const problems: string[] = [];
  try {
    const pipe = redis.pipeline();
    for (const id of ids) pipe.smembers(k.taskBlobs(id));
    const res = (await pipe.exec()) ?? [];
    ids.forEach((id, i) => {
      const uploads = ((res[i]?.[1] as string[] | undefined) ?? []).filter((b) => b.startsWith('uploads/'));
      if (uploads.length !== 1) problems.push(`${id}: holds ${uploads.length} uploads`);
      if (succeeded.get(id) !== 1) problems.push(`${id}: "task succeeded" logged ${succeeded.get(id) ?? 0} times`);
    });
  } finally {
    redis.disconnect();
  }
  if (new Set(ids).size !== ids.length) problems.push('duplicate task ids');
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Baseline

/**
 * The raw model (bench/raw-model.ts): `procs` processes running the detector back to back on
 * pixels decoded once, no HTTP, no queue, no storage, started together. Images/s over all.
 */
export async function rawModel(procs: number, imagesPerProc: number, image = 'astronaut.png') {
  const ps = Array.from({ length: procs }, () => {
    const p = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'bench/raw-model.ts'), path.join(ROOT, 'test/fixtures', image)].concat(
        String(imagesPerProc),
      ),
      { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] },
    );
    children.add(p);
    return p;
  });
  const lines = ps.map((p) => {
    const queue: Record<string, unknown>[] = [];
    const waiters: ((l: Record<string, unknown>) => void)[] = [];
    let buf = '';
    p.stdout.on('data', (c: Buffer) => {
      buf += c.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const l = JSON.parse(buf.slice(0, i)) as Record<string, unknown>;
        buf = buf.slice(i + 1);
        const w = waiters.shift();
        if (w) w(l);
        else queue.push(l);
      }
    });
    return () => new Promise<Record<string, unknown>>((r) => (queue.length ? r(queue.shift()!) : waiters.push(r)));
  });
  const ready = await Promise.all(lines.map((next) => next()));
  const started = performance.now();
  for (const p of ps) p.stdin.write('go\n');
  await Promise.all(lines.map((next) => next()));
  const wall = performance.now() - started;
  return { imagesPerSec: (procs * imagesPerProc) / (wall / 1000), backend: String(ready[0]?.backend) };
}

export function machine(): string {
  const load = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  return `${os.availableParallelism()} cores (${os.cpus()[0]?.model}), Node ${process.version}, load average ${load}`;
}

// ---------------------------------------------------------------------------------------------
// The system under test

export interface Bench {
  sys: System;
  redis: BenchRedis;
  /** Starts one more worker process; `ns`: inside that network namespace, with `redisUrl` and `env`. */
  addWorker(opts?: { ns?: string; redisUrl?: string; env?: Record<string, string> }): Promise<Proc>;
  /** Each added worker's start-up: ms from its spawn to its "worker taking jobs" line. */
  workerStartMs: number[];
  stop(): Promise<void>;
}

/**
 * A redis-server of the bench's own, the API process (server/process/local-system.ts, on that
 * Redis) and no worker yet: add them with `addWorker`.
 */
export async function startBench(opts: { env: Record<string, string>; redisBind?: string[] }): Promise<Bench> {
  const redis = await startBenchRedis(opts.redisBind);
  let sys: System;
  try {
    sys = await startSystem({ workers: 0, redisUrl: redis.url, env: opts.env });
  } catch (err) {
    await redis.destroy();
    throw err;
  }
  children.add(sys.api.child);
  tempDirs.add(sys.dataDir);
  const workerStartMs: number[] = [];
  return {
    sys,
    redis,
    workerStartMs,
    async addWorker(w = {}) {
      const spawned = performance.now();
      const env = { ...sys.env, ...(w.redisUrl ? { REDIS_URL: w.redisUrl } : {}), ...w.env };
      const worker = entryCommand('worker', { ...process.env, ...env });
      const script = [worker.cmd, ...worker.args];
      const label = `worker ${sys.workers.length + 1}${w.ns ? ` (${w.ns})` : ''}`;
      const proc = w.ns
        ? spawnCommand('ip', ['netns', 'exec', w.ns, ...script], env, label)
        : spawnCommand(script[0] as string, script.slice(1), env, label);
      children.add(proc.child);
      sys.workers.push(proc);
      await proc.waitFor((l: Record<string, unknown>) => l.msg === 'worker taking jobs', 120_000);
      workerStartMs.push(performance.now() - spawned);
      return proc;
    },
    async stop() {
      try {
        await sys.stop();
      } finally {
        await redis.destroy();
      }
    },
  };
}
