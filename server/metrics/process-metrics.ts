/**
 * Node's own process metrics (CPU, memory, GC, event-loop lag) for a Prometheus registry, one
 * setting for the API and the workers.
 */
import { collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * prom-client samples event-loop lag with a timer every 10 ms by default: 100 wake-ups a second
 * that cost an idle process ~20 ms of CPU per second (measured: API and worker each). Lag is still
 * measured at a coarser sampling; its percentiles need no more than a few samples a second.
 */
const EVENT_LOOP_SAMPLE_MS = 250;

export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
}
