/**
 * The API process's metrics registry: HTTP durations, queue depth by state and the model
 * backends workers report in their heartbeats (both read at scrape time), and Node's defaults.
 */
import type { MiddlewareHandler } from 'hono';
import { Gauge, Registry } from 'prom-client';
import { backlogOf, type DetectQueue, type QueueCounts } from '../queue/detect-queue.ts';
import type { WorkerRegistry } from '../workers/worker-registry.ts';
import { httpMetrics } from './http.ts';
import { collectProcessMetrics } from './process-metrics.ts';

export interface ApiMetrics {
  registry: Registry;
  http: MiddlewareHandler;
}

export function apiMetrics(deps: { queue: DetectQueue; workers: WorkerRegistry }): ApiMetrics {
  const registry = new Registry();
  collectProcessMetrics(registry);
  new Gauge({
    name: 'twinlens_queue_jobs',
    help: 'Jobs in the detect queue by state (read at scrape time)',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const counts = await deps.queue.counts();
      for (const state of Object.keys(counts) as (keyof QueueCounts)[]) this.set({ state }, counts[state]);
    },
  });
  new Gauge({
    name: 'twinlens_queue_backlog',
    help: 'Jobs before the workers: waiting (the wait list and the prioritized set), delayed and running (what to scale workers on)',
    registers: [registry],
    async collect() {
      this.set(backlogOf(await deps.queue.counts()).backlog);
    },
  });
  new Gauge({
    name: 'twinlens_workers',
    help: 'Workers alive (a heartbeat in the last three intervals) by model backend',
    labelNames: ['backend'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const w of await deps.workers.alive()) {
        this.inc({ backend: w.model.backend });
      }
    },
  });
  return { registry, http: httpMetrics(registry) };
}
