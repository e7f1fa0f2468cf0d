/** GET /metrics: Prometheus text format. With METRICS_TOKEN set it wants `Authorization: Bearer <token>`. */
import { timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import type { Registry } from 'prom-client';
import { sendError } from '../http/errors.ts';

export function metricsRoutes(deps: { registry: Registry; token?: string }) {
  const app = new Hono();
  app.get('/metrics', async (c) => {
    if (deps.token && !sameSecret(c.req.header('authorization') ?? '', `Bearer ${deps.token}`)) {
      return sendError(c, 'unauthorized', 'metrics want Authorization: Bearer <METRICS_TOKEN>', {
        'WWW-Authenticate': 'Bearer realm="metrics"',
      });
    }
    return c.body(await deps.registry.metrics(), 200, { 'content-type': deps.registry.contentType });
  });
  return app;
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
