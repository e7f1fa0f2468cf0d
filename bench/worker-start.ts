/**
 * `npm run bench:start`: how soon a new worker process takes jobs. Starts STARTS worker processes
 * (default 5) one after another against a running system (the real model, a Redis of the bench's
 * own), each from spawn to its "worker taking jobs" log line, then stops it. Prints each start with
 * its phases as the worker logs them: the model loaded (after its warm-up inference) and taking jobs.
 */
import { f, killChildren, machine, pct, startBench } from './lib/harness.ts';

const STARTS = Number(process.env.STARTS ?? 5);

process.on('SIGINT', () => {
  killChildren();
  process.exit(130);
});

console.error(`bench:start: ${STARTS} worker starts, one after another; ${machine()}`);
const bench = await startBench({ env: { RATE_LIMIT_PER_MINUTE: '0' } });
const rows: string[] = [];
try {
  for (let i = 0; i < STARTS; i++) {
    const spawned = Date.now();
    const w = await bench.addWorker();
    const at = (msg: string) => {
      for (const line of w.logs) {
        try {
          const j = JSON.parse(line) as { msg?: string; time?: string; warm_up_ms?: number };
          if (j.msg === msg && j.time) return { ms: Date.parse(j.time) - spawned, warmUpMs: j.warm_up_ms };
        } catch {}
      }
      return undefined;
    };
    const ready = at('model ready');
    rows.push(
      `| ${i + 1} | ${f(bench.workerStartMs.at(-1) ?? Number.NaN, 0)} | ${f(ready?.ms ?? Number.NaN, 0)} | ${f(ready?.warmUpMs ?? Number.NaN, 0)} |`,
    );
    w.child.kill('SIGTERM');
    await w.exited;
  }
} finally {
  await bench.stop();
}
const sorted = [...bench.workerStartMs].sort((a, b) => a - b);
console.log(
  [
    '| start | spawn → taking jobs (ms) | spawn → model ready (ms) | of which warm-up inference (ms) |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
    `median ${f(pct(sorted, 50), 0)} ms, slowest ${f(sorted.at(-1) ?? Number.NaN, 0)} ms (aim: ≤ 1500)`,
  ].join('\n'),
);
