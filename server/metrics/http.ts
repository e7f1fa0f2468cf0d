/** HTTP request durations for the API's /metrics, labelled by the matched route pattern (not the raw path). */
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { Histogram, type Registry } from 'prom-client';

export function httpMetrics(registry: Registry): MiddlewareHandler {
  const duration = new Histogram({
    name: 'twinlens_http_request_duration_seconds',
    help: 'HTTP request durations by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  return async (c, next) => {
    const end = duration.startTimer();
    try {
      await next();
    } finally {
      // The route that answered (a pattern such as /api/v1/tasks/:id), so ids do not explode the labels.
      end({ method: c.req.method, route: routePath(c, c.req.routeIndex), status: String(c.res.status) });
    }
  };
}
