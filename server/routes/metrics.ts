/**
 * GET /metrics: Prometheus text format. GET /metrics/backlog: the workers' backlog as JSON (what an
 * autoscaler such as KEDA's metrics-api trigger reads; deploy/kubernetes/). With METRICS_TOKEN set
 * both want `Authorization: Bearer <token>`.
 */
import { timingSafeEqual } from 'node:crypto';
import { type Context, Hono } from 'hono';
import type { Registry } from 'prom-client';
import { sendError } from '../http/errors.ts';
import { backlogOf, type DetectQueue } from '../queue/detect-queue.ts';

export function metricsRoutes(deps: { registry: Registry; queue: DetectQueue; token?: string | undefined }) {
  const app = new Hono();
  const refused = (c: Context) =>
    deps.token && !sameSecret(c.req.header('authorization') ?? '', `Bearer ${deps.token}`)
      ? sendError(c, 'unauthorized', 'metrics want Authorization: Bearer <METRICS_TOKEN>', {
          'WWW-Authenticate': 'Bearer realm="metrics"',
        })
      : undefined;
  app.get('/metrics', async (c) => {
    return refused(c) ?? c.body(await deps.registry.metrics(), 200, { 'content-type': deps.registry.contentType });
  });
  app.get('/metrics/backlog', async (c) => {
    // Read now (not the admission's cached counts): a scaler polls every few seconds at most.
    return refused(c) ?? c.json(backlogOf(await deps.queue.counts()), 200, { 'cache-control': 'no-store' });
  });
  return app;
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
