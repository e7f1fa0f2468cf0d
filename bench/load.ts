/**
 * `npm run bench:load`: a sustained load on the real system: TASKS uploads (2000) from CLIENTS
 * (32) concurrent clients, each uploading a photo, long-polling until its task is final, then
 * uploading the next. Checks every task succeeded with exactly one result; reports throughput,
 * latency, memory (peak, and first vs last 10% of the run: bounded or growing?), Redis memory,
 * and the ratio to the raw model measured in the same run.
 *
 * Options (flags, or the environment in capitals): --tasks 2000 --clients 32 --workers 1
 * --model centernet|null --rate-limit 0 --queue-depth 100000 --raw-images 40 --dedupe
 * (identical bytes every time instead of a variant per upload) --sample-ms 500.
 * Quick run: `npm run bench:load -- --tasks 100 --clients 8`.
 */
import { parseArgs } from 'node:util';
import { fixture, login, submit, waitForTask } from './lib/api.ts';
import {
  checkOneResultEach,
  comm,
  cpuSeconds,
  f,
  IMAGES,
  killChildren,
  machine,
  memKb,
  mib,
  pct,
  pngVariant,
  RssSampler,
  rawModel,
  runClients,
  startBench,
  sum,
} from './lib/harness.ts';

const { values: a } = parseArgs({
  options: {
    tasks: { type: 'string', default: process.env.TASKS ?? '2000' },
    clients: { type: 'string', default: process.env.CLIENTS ?? '32' },
    workers: { type: 'string', default: process.env.WORKERS ?? '1' },
    model: { type: 'string', default: process.env.MODEL ?? 'centernet' },
    'rate-limit': { type: 'string', default: process.env.RATE_LIMIT_PER_MINUTE ?? '0' },
    'queue-depth': { type: 'string', default: process.env.MAX_QUEUE_DEPTH ?? '100000' },
    'raw-images': { type: 'string', default: process.env.RAW_IMAGES ?? '40' },
    'sample-ms': { type: 'string', default: '500' },
    dedupe: { type: 'boolean', default: false },
  },
});
const TASKS = Number(a.tasks);
const CLIENTS = Number(a.clients);
const WORKERS = Number(a.workers);
const MODEL = a.model === 'null' ? 'null' : 'centernet';

process.on('SIGINT', () => {
  killChildren();
  process.exit(130);
});

const photos = IMAGES.map((name) => fixture(name));
const image = (i: number) => {
  const png = photos[i % photos.length] as Buffer;
  return a.dedupe ? png : pngVariant(png, `twinlens bench:load ${process.pid} ${i}`);
};

console.error(
  `bench:load: ${TASKS} tasks, ${CLIENTS} clients, ${WORKERS} worker process(es), model ${MODEL}; ${machine()}`,
);
// The raw model before and after the load (the machine's speed drifts over a few minutes).
const rawBefore = MODEL === 'centernet' ? await rawModel(WORKERS, Number(a['raw-images'])) : null;
if (rawBefore) console.error(`raw model, before: ${f(rawBefore.imagesPerSec, 2)} images/s (${rawBefore.backend})`);

const bench = await startBench({
  env: {
    MODEL,
    RATE_LIMIT_PER_MINUTE: a['rate-limit'],
    MAX_QUEUE_DEPTH: a['queue-depth'],
    LOG_LEVEL: 'info',
  },
});
let exitCode = 1;
try {
  const { sys } = bench;
  for (let i = 0; i < WORKERS; i++) await bench.addWorker();
  const token = await login(sys.baseUrl, sys.admin.username, sys.admin.password);
  // Warm-up, not measured: one task per worker.
  await Promise.all(
    Array.from({ length: WORKERS }, async (_, i) => {
      const t = await submit(sys.baseUrl, token, pngVariant(photos[0] as Buffer, `warm-up ${i}`));
      await waitForTask(sys.baseUrl, token, t.task_id, 120_000);
    }),
  );
  const pids = {
    api: sys.api.child.pid,
    ...Object.fromEntries(sys.workers.map((w, i) => [`worker ${i + 1}`, w.child.pid])),
    redis: bench.redis.pid,
  };
  console.error(`pids: ${Object.entries(pids).map(([k, p]) => `${k} ${p} (${comm(p)})`)}`);
  const redisBefore = await bench.redis.usedMemory();
  const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuSeconds(p)]));
  const self0 = process.cpuUsage();
  const sampler = new RssSampler(() => pids, Number(a['sample-ms']));
  sampler.start();
  const run = await runClients({ baseUrl: sys.baseUrl, token, clients: CLIENTS, tasks: TASKS, image });
  sampler.stop();
  const wallS = run.wallMs / 1000;
  const cpu = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuSeconds(p) - (cpu0[k] ?? 0)]));
  const selfCpu = process.cpuUsage(self0);
  const redisAfter = await bench.redis.usedMemory();
  const rawAfter = rawBefore ? await rawModel(WORKERS, Number(a['raw-images'])) : null;
  const raw =
    rawBefore && rawAfter
      ? { imagesPerSec: (rawBefore.imagesPerSec + rawAfter.imagesPerSec) / 2, backend: rawBefore.backend }
      : null;
  const hwm = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, memKb(p, 'VmHWM')]));
  const problems = await checkOneResultEach(
    bench.redis.url,
    sys.prefix,
    run.ids,
    sys.workers.map((w) => w.logs),
  );

  const succeeded = run.latencies.length;
  const tps = succeeded / wallS;
  const workerKeys = Object.keys(pids).filter((k) => k.startsWith('worker'));
  const lines = [
    `bench:load: ${TASKS} tasks, ${CLIENTS} clients, ${WORKERS} worker process(es), model ${MODEL}, ${a.dedupe ? 'identical bytes' : 'a distinct PNG variant per upload'}`,
    '',
    '| measurement | value |',
    '| --- | --- |',
    `| tasks succeeded | ${succeeded} / ${TASKS} (failed ${run.failed.length}, errors ${run.errors.length}); exactly one result each: ${problems.length === 0 ? 'yes' : `NO (${problems.length} problems)`} |`,
    `| 429 / 503 refusals retried after Retry-After | ${run.retried[429]} / ${run.retried[503]} (RATE_LIMIT_PER_MINUTE=${a['rate-limit']}, MAX_QUEUE_DEPTH=${a['queue-depth']}) |`,
    `| wall time | ${f(wallS, 1)} s |`,
    `| throughput | **${f(tps, 2)} tasks/s** |`,
    raw
      ? `| raw model, same run (${WORKERS} process(es), ${raw.backend}), before / after / mean | ${f(rawBefore?.imagesPerSec ?? Number.NaN, 2)} / ${f(rawAfter?.imagesPerSec ?? Number.NaN, 2)} / ${f(raw.imagesPerSec, 2)} images/s → end to end / raw = **${f((100 * tps) / raw.imagesPerSec, 0)}%** |`
      : '| raw model | not measured with the null model |',
    `| latency p50 / p95 / p99 / max | ${f(pct(run.latencies, 50), 0)} / ${f(pct(run.latencies, 95), 0)} / ${f(pct(run.latencies, 99), 0)} / ${f(pct(run.latencies, 100), 0)} ms |`,
    `| Redis used_memory before → after | ${f(redisBefore / 2 ** 20, 1)} → ${f(redisAfter / 2 ** 20, 1)} MiB (${f((redisAfter - redisBefore) / Math.max(1, run.ids.length) / 1024, 1)} KiB per task kept, TASK_TTL 7 days) |`,
    `| CPU % of one core: API / workers / Redis / clients | ${f((100 * (cpu.api ?? 0)) / wallS, 0)} / ${f((100 * sum(workerKeys.map((k) => cpu[k] ?? 0))) / wallS, 0)} / ${f((100 * (cpu.redis ?? 0)) / wallS, 0)} / ${f((100 * (selfCpu.user + selfCpu.system)) / 1e6 / wallS, 0)} |`,
    '',
    `Memory (MiB; RSS sampled every ${a['sample-ms']} ms during the run, ${sampler.samples.length} samples; VmHWM = the kernel's peak since start):`,
    '',
    '| process | VmHWM | peak sampled RSS | mean RSS, first 10% | mean RSS, last 10% |',
    '| --- | --- | --- | --- | --- |',
    ...Object.keys(pids).map((k) => {
      const s = sampler.summary(k);
      return `| ${k} | ${mib(hwm[k] ?? Number.NaN)} | ${mib(s.peak)} | ${mib(s.first)} | ${mib(s.last)} |`;
    }),
    '',
    'Mean RSS (MiB) in each tenth of the run:',
    '',
    `| process | ${Array.from({ length: 10 }, (_, i) => `${i + 1}`).join(' | ')} |`,
    `| --- |${' --- |'.repeat(10)}`,
    ...Object.keys(pids).map((k) => `| ${k} | ${sampler.slices(k).map(mib).join(' | ')} |`),
  ];
  console.log(lines.join('\n'));
  for (const p of problems.slice(0, 10)) console.error(`problem: ${p}`);
  for (const e of run.errors.slice(0, 10)) console.error(`error: ${e}`);
  for (const x of run.failed.slice(0, 10)) console.error(`failed: ${JSON.stringify(x)}`);
  console.error(`done; ${machine()}`);
  exitCode = succeeded === TASKS && problems.length === 0 && run.errors.length === 0 ? 0 : 1;
} finally {
  await bench.stop();
}
process.exit(exitCode);
