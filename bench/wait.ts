/**
 * `npm run bench:wait`: what "acknowledged means replicated" costs per upload. The same uploads
 * (POST /tasks, the null model's workers draining the queue) against
 *   - a primary alone (no replica: REDIS_WAIT_REPLICAS=auto waits for nothing) — the baseline;
 *   - the same primary with a replica attached (auto: each 202 waits for WAIT 1);
 *   - the replica attached but REDIS_WAIT_REPLICAS=0 (replication without waiting for it),
 * each measured sequentially (one client: the latency one upload pays) and with 16 clients at once
 * (throughput: concurrent uploads share one WAIT, a group commit), in alternating rounds, reported as
 * ratios against the baseline of the same run. The acknowledgement journal is written in every run.
 * First, WAIT alone: the barrier the API uses, on a primary and its replica with nothing else running.
 *
 *   npm run bench:wait [-- --uploads 400 --rounds 2]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { ReplicationBarrier } from '../server/durability/replication-barrier.ts';
import { freePort } from '../server/process/ports.ts';
import { aofRedisArgs } from '../server/redis.ts';
import { TwinlensApiError, TwinlensClient } from '../shared/client/twinlens-client.ts';
import { fixture } from './lib/api.ts';
import {
  children,
  cpuSeconds,
  f,
  killChildren,
  machine,
  mean,
  pct,
  pngVariant,
  sleep,
  startBench,
  startBenchRedis,
} from './lib/harness.ts';

const { values } = parseArgs({
  options: { uploads: { type: 'string', default: '400' }, rounds: { type: 'string', default: '2' } },
});
const UPLOADS = Number(values.uploads);
const ROUNDS = Number(values.rounds);
const CONCURRENT = 16;

type Mode = 'no replica' | 'replica, WAIT 1' | 'replica, WAIT 0';
interface Sample {
  mode: Mode;
  clients: number;
  latencies: number[];
  wallMs: number;
  apiCpuMs: number;
}

/** A replica of `primaryPort` (AOF on, as the primary), ready once in sync. */
async function startReplica(primaryPort: number): Promise<{ proc: ChildProcess; stop(): Promise<void> }> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-bench-replica-'));
  const proc = spawn('redis-server', [...aofRedisArgs(port, dir), '--replicaof', '127.0.0.1', String(primaryPort)], {
    stdio: 'ignore',
  });
  children.add(proc);
  const r = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  r.on('error', () => {});
  for (let i = 0; ; i++) {
    try {
      if (r.status === 'wait') await r.connect();
      const info = await r.info('replication');
      if (/master_link_status:up/.test(info) && /master_sync_in_progress:0/.test(info)) break;
    } catch {}
    if (i > 200) throw new Error('replica did not sync');
    await sleep(50);
  }
  r.disconnect();
  return {
    proc,
    async stop() {
      const exited = new Promise((res) => proc.once('exit', res));
      proc.kill('SIGKILL');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function uploads(baseUrl: string, token: string, n: number, clients: number, tag: string) {
  const api = new TwinlensClient({ baseUrl, token });
  const png = fixture('coffee.png');
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < n) {
        const i = next++;
        const bytes = pngVariant(png, `${tag}-${i}`);
        const t0 = performance.now();
        for (;;) {
          try {
            await api.upload(bytes, { filename: 'b.png' });
            break;
          } catch (err) {
            if (!(err instanceof TwinlensApiError && err.status === 503)) throw err;
            await sleep(100);
          }
        }
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { latencies: latencies.sort((a, b) => a - b), wallMs: performance.now() - started };
}

async function run(mode: Mode, round: number): Promise<Sample[]> {
  const bench = await startBench({
    env: {
      MODEL: 'null',
      RATE_LIMIT_PER_MINUTE: '0',
      MAX_QUEUE_DEPTH: '1000000',
      REDIS_WAIT_REPLICAS: mode === 'replica, WAIT 0' ? '0' : 'auto',
    },
  });
  const replica = mode === 'no replica' ? undefined : await startReplica(Number(new URL(bench.redis.url).port));
  try {
    await bench.addWorker();
    const { token } = await new TwinlensClient({ baseUrl: bench.sys.baseUrl }).login(
      bench.sys.admin.username,
      bench.sys.admin.password,
    );
    // Warm-up (JIT, connections, the replica's first writes; auto detection), then the two measured runs.
    await uploads(bench.sys.baseUrl, token, 50, 4, `warm-${mode}-${round}`);
    const out: Sample[] = [];
    for (const clients of [1, CONCURRENT]) {
      const cpu0 = cpuSeconds(bench.sys.api.child.pid);
      const r = await uploads(bench.sys.baseUrl, token, UPLOADS, clients, `${mode}-${round}-${clients}`);
      const apiCpuMs = ((cpuSeconds(bench.sys.api.child.pid) - cpu0) * 1000) / UPLOADS;
      out.push({ mode, clients, latencies: r.latencies, wallMs: r.wallMs, apiCpuMs });
    }
    return out;
  } finally {
    await bench.stop();
    await replica?.stop();
  }
}

/**
 * WAIT alone, without the API: a write then `ReplicationBarrier.confirm()` (the code the API runs),
 * against the write alone, on a primary with one replica; one caller, then 16 at once (group commit).
 */
async function waitAlone(): Promise<void> {
  const primary = await startBenchRedis();
  const replica = await startReplica(Number(new URL(primary.url).port));
  const writes = new Redis(primary.url);
  const waits = new Redis(primary.url);
  const barrier = new ReplicationBarrier(waits, 'bench:barrier', {
    replicas: 1,
    timeoutMs: 1000,
    target: { url: primary.url },
  });
  const time = async (callers: number, n: number, confirm: boolean) => {
    const latencies: number[] = [];
    const started = performance.now();
    await Promise.all(
      Array.from({ length: callers }, async () => {
        for (let i = 0; i < n; i++) {
          const t0 = performance.now();
          await writes.incr('bench:k');
          if (confirm) await barrier.confirm();
          latencies.push(performance.now() - t0);
        }
      }),
    );
    latencies.sort((a, b) => a - b);
    return {
      p50: pct(latencies, 50),
      p99: pct(latencies, 99),
      perSecond: (callers * n * 1000) / (performance.now() - started),
    };
  };
  try {
    await time(4, 200, true); // warm-up
    console.log('\nWAIT alone (a write, then the barrier; no API):');
    console.log(
      '| callers | write p50 ms | write + WAIT p50 ms | write p99 ms | write + WAIT p99 ms | writes/s | confirmed writes/s |',
    );
    console.log('| --- | --- | --- | --- | --- | --- | --- |');
    for (const callers of [1, 16]) {
      const n = callers === 1 ? 2000 : 200;
      const plain = await time(callers, n, false);
      const waited = await time(callers, n, true);
      console.log(
        `| ${callers} | ${f(plain.p50, 3)} | ${f(waited.p50, 3)} | ${f(plain.p99, 3)} | ${f(waited.p99, 3)} | ${f(plain.perSecond, 0)} | ${f(waited.perSecond, 0)} |`,
      );
    }
  } finally {
    writes.disconnect();
    waits.disconnect();
    await replica.stop();
    await primary.destroy();
  }
}

async function main() {
  console.log(`bench:wait — ${UPLOADS} uploads per measurement, ${ROUNDS} rounds; ${machine()}`);
  await waitAlone();
  const modes: Mode[] = ['no replica', 'replica, WAIT 1', 'replica, WAIT 0'];
  const samples: Sample[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of round % 2 ? [...modes].reverse() : modes) {
      console.error(`  round ${round + 1}: ${mode}`);
      samples.push(...(await run(mode, round)));
    }
  }
  const summary = (mode: Mode, clients: number) => {
    const ss = samples.filter((s) => s.mode === mode && s.clients === clients);
    const all = ss.flatMap((s) => s.latencies).sort((a, b) => a - b);
    return {
      p50: pct(all, 50),
      p99: pct(all, 99),
      mean: mean(all),
      perSecond: (UPLOADS * ss.length * 1000) / ss.reduce((a, s) => a + s.wallMs, 0),
      cpu: mean(ss.map((s) => s.apiCpuMs)),
    };
  };
  for (const clients of [1, CONCURRENT]) {
    const base = summary('no replica', clients);
    console.log(`\n${clients === 1 ? 'one client (latency of one upload)' : `${CONCURRENT} clients at once`}:`);
    console.log('| mode | upload p50 ms | p99 ms | mean ms | uploads/s | API CPU ms/upload | mean vs no replica |');
    console.log('| --- | --- | --- | --- | --- | --- | --- |');
    for (const mode of modes) {
      const s = summary(mode, clients);
      console.log(
        `| ${mode} | ${f(s.p50, 2)} | ${f(s.p99, 2)} | ${f(s.mean, 2)} | ${f(s.perSecond, 0)} | ${f(s.cpu, 2)} | ${f(s.mean / base.mean, 2)}× |`,
      );
    }
  }
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => {
    killChildren();
    process.exit();
  });
