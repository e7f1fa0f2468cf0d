/**
 * The API process's metrics registry: HTTP durations, queue depth by state and the model
 * backends workers report in their heartbeats (both read at scrape time), and Node's defaults.
 */
import type { MiddlewareHandler } from 'hono';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { DetectQueue } from '../queue/detect-queue.ts';
import type { Keys, RedisClient } from '../redis.ts';
import { httpMetrics } from './http.ts';
import { aliveWorkers } from './workers.ts';

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'] as const;

export interface ApiMetrics {
  registry: Registry;
  http: MiddlewareHandler;
}

export function apiMetrics(deps: {
  redis: RedisClient;
  keys: Keys;
  queue: DetectQueue;
  heartbeatMs: number;
}): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'twinlens_queue_jobs',
    help: 'Jobs in the detect queue by state (read at scrape time)',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const counts = await deps.queue.queue.getJobCounts(...QUEUE_STATES);
      for (const state of QUEUE_STATES) this.set({ state }, counts[state] ?? 0);
    },
  });
  new Gauge({
    name: 'twinlens_workers',
    help: 'Workers alive (a heartbeat in the last three intervals) by model backend',
    labelNames: ['backend'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const w of await aliveWorkers(deps.redis, deps.keys, deps.heartbeatMs)) {
        this.inc({ backend: w.model.backend });
      }
    },
  });
  return { registry, http: httpMetrics(registry) };
}
