/**
 * A worker process's metrics: job wait, inference and total time, failures by error code. Served
 * on WORKER_METRICS_PORT. (The recent inference times /api/v1/stats averages are recorded with each
 * success by the task service, in the same script.)
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Histogram, Registry } from 'prom-client';
import type { Logger } from '../log.ts';
import { collectProcessMetrics } from './process-metrics.ts';

const MS_BUCKETS = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 120_000];

type Timings = { queue_ms: number | null; inference_ms: number | null; total_ms: number | null };

/** What the processor reports about each task it ends (a retried attempt is not an end). */
export interface JobMetrics {
  succeeded(timings: Timings): void;
  failed(errorCode: string, timings: Timings): void;
}

export function workerMetrics(): JobMetrics & { registry: Registry } {
  const registry = new Registry();
  collectProcessMetrics(registry);
  // Labelled by outcome so that slow failures (timeouts) show up beside the successes instead of
  // vanishing from the latency picture.
  const hist = (name: string, help: string) =>
    new Histogram({ name, help, buckets: MS_BUCKETS, labelNames: ['outcome'] as const, registers: [registry] });
  const wait = hist('twinlens_job_queue_ms', 'Time a task waited in the queue before a worker took it (ms)');
  const inference = hist('twinlens_job_inference_ms', 'Model inference time per task (ms)');
  const total = hist('twinlens_job_total_ms', 'Time from upload to its final status per task (ms)');
  const observe = (outcome: 'succeeded' | 'failed', t: Timings) => {
    if (t.queue_ms !== null) wait.observe({ outcome }, t.queue_ms);
    if (t.total_ms !== null) total.observe({ outcome }, t.total_ms);
    if (t.inference_ms !== null) inference.observe({ outcome }, t.inference_ms);
  };
  const failures = new Counter({
    name: 'twinlens_job_failures_total',
    help: 'Tasks failed, by error code',
    labelNames: ['error_code'] as const,
    registers: [registry],
  });
  return {
    registry,
    succeeded(t) {
      observe('succeeded', t);
    },
    failed(errorCode, t) {
      failures.inc({ error_code: errorCode });
      observe('failed', t);
    },
  };
}

/**
 * GET /metrics on its own port (0 = not served), and with `health` the worker's probes: GET
 * /healthz (200 unless the worker is stuck) and GET /readyz (200 once it takes jobs and while it is
 * not stuck; else 503). Resolves with a function that closes it.
 */
export async function serveMetrics(
  registry: Registry,
  opts: {
    port: number;
    host: string;
    token?: string | undefined;
    log: Logger;
    health?: () => { live: boolean; ready: boolean };
  },
): Promise<() => Promise<void>> {
  if (opts.port === 0) return async () => {};
  const server = http.createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (req.method === 'GET' && opts.health && (path === '/healthz' || path === '/readyz')) {
      const h = opts.health();
      const ok = path === '/healthz' ? h.live : h.ready && h.live;
      res
        .writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: ok ? (path === '/healthz' ? 'ok' : 'ready') : 'not_ready' }));
      return;
    }
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    if (opts.token && req.headers.authorization !== `Bearer ${opts.token}`) {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="metrics"' }).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => {
        opts.log.warn('metrics failed', { err });
        res.writeHead(500).end();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  opts.log.info('worker metrics listening', { port: (server.address() as AddressInfo).port });
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}
