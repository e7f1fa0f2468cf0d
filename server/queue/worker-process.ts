/**
 * One worker process: load and warm the model, then take jobs. Announces itself in the worker
 * registry so /readyz and /stats know a worker with a loaded model is alive. SIGTERM: finish the
 * job in hand, take no new one, exit. Its watchdog (server/workers/watchdog.ts) checks that it
 * really takes jobs; a stuck worker fails its readiness and exits 75 to be started afresh.
 *
 * Start-up does the slow parts side by side: the model thread loads and warms the model while
 * Redis connects and BullMQ prepares its connection; jobs are taken once both are done.
 */
import os from 'node:os';
import { Worker } from 'bullmq';
import { composeServices } from '../compose.ts';
import type { Config } from '../config.ts';
import { type Logger, throttledWarning } from '../log.ts';
import { serveMetrics, workerMetrics } from '../metrics/worker-metrics.ts';
import type { ModelRunner } from '../model/runner.ts';
import { connectRedis } from '../redis.ts';
import { WorkerWatchdog } from '../workers/watchdog.ts';
import type { Heartbeat } from '../workers/worker-registry.ts';
import { DETECT_QUEUE, type DetectJobData, DetectQueue } from './detect-queue.ts';
import { createProcessor } from './processor.ts';

/** `modelReady`: the model runner, started before this module (and all it imports) was loaded. */
export async function runWorker(
  config: Config,
  log: Logger,
  modelReady: Promise<ModelRunner>,
): Promise<() => Promise<void>> {
  const id = workerId();
  const wlog = log.child({ worker: id });

  const services = await composeServices(config, 'worker', wlog);
  const metrics = workerMetrics();
  // Liveness and readiness, served beside the metrics (Kubernetes probes them): ready once taking jobs.
  const health = { live: true, ready: false };
  const closeMetrics = await serveMetrics(metrics.registry, {
    port: config.WORKER_METRICS_PORT,
    host: config.HOST,
    token: config.METRICS_TOKEN,
    log: wlog,
    health: () => health,
  });
  // BullMQ's blocking connection: its own, made now so that it is ready when the model is.
  const connection = connectRedis(services.redisTarget, `twinlens-bullmq-${id}`);
  const model = await modelReady;
  const processor = createProcessor({
    tasks: services.tasks,
    blobs: services.blobs,
    model,
    maxPixels: config.MAX_IMAGE_PIXELS,
    log: wlog,
    metrics,
  });
  let stuck: (() => void) | undefined;
  const watchdog =
    config.WORKER_WATCHDOG_MS > 0
      ? new WorkerWatchdog({
          stuckAfterMs: config.WORKER_WATCHDOG_MS,
          concurrency: config.WORKER_CONCURRENCY,
          waitingKeys: DetectQueue.waitingKeys(config.REDIS_PREFIX),
          target: services.redisTarget,
          log: wlog,
          onStuck: () => stuck?.(),
        })
      : undefined;
  const worker = new Worker<DetectJobData>(
    DETECT_QUEUE,
    async (job) => {
      watchdog?.jobStarted();
      try {
        return await processor(job);
      } finally {
        watchdog?.jobEnded();
      }
    },
    {
      connection,
      prefix: config.REDIS_PREFIX,
      concurrency: config.WORKER_CONCURRENCY,
      lockDuration: config.WORKER_LOCK_MS,
      stalledInterval: config.WORKER_LOCK_MS,
      // A job whose worker died is put back once or twice; beyond that something is wrong with it.
      maxStalledCount: 2,
    },
  );
  // While Redis is away BullMQ reports each failed attempt (several a second): logged once per 10 s.
  const workerError = throttledWarning(wlog, 'worker error');
  worker.on('error', (err) => workerError({ err }));
  worker.on('stalled', (jobId) => wlog.warn('job stalled (its worker died?) and was put back', { task_id: jobId }));

  const me: Heartbeat = { id, model: model.info };
  const beat = () =>
    services.workers.beat(me).then(
      () => watchdog?.beat(),
      (err) => wlog.warn('heartbeat failed', { err }),
    );
  await beat();
  const beats = setInterval(beat, config.WORKER_HEARTBEAT_MS);
  await worker.waitUntilReady();
  health.ready = true;
  watchdog?.start();
  wlog.info('worker taking jobs', { model: model.info.name, backend: model.info.backend });
  if (config.DEBUG_WORKER_WEDGE_AFTER_MS > 0) {
    // Diagnostic: stop taking jobs while looking alive, as a wedged blocking connection leaves a worker.
    setTimeout(() => {
      wlog.warn('DEBUG_WORKER_WEDGE_AFTER_MS: this worker stops taking jobs now');
      void worker.close(true);
    }, config.DEBUG_WORKER_WEDGE_AFTER_MS).unref();
  }

  let closing: Promise<void> | undefined;
  const stop = () => {
    closing ??= (async () => {
      wlog.info('worker stopping: finishing the job in hand');
      clearInterval(beats);
      watchdog?.stop();
      await worker.close();
      await model.close();
      await closeMetrics();
      await services.workers.leave(me).catch(() => {});
      connection.disconnect();
      await services.close();
      wlog.info('worker stopped');
    })();
    return closing;
  };
  // Stuck (the watchdog): not ready from now on, and gone from the registry; a moment later the
  // process exits for its supervisor to start a fresh one. No clean stop: a wedged worker may never
  // finish it; whatever it holds goes back to the queue by the stalled-job check.
  stuck = () => {
    health.ready = false;
    health.live = false;
    clearInterval(beats);
    watchdog?.stop();
    void services.workers.leave(me).catch(() => {});
    setTimeout(() => process.exit(STUCK_EXIT_CODE), STUCK_EXIT_DELAY_MS);
  };
  return stop;
}

/** How long a stuck worker answers its probes with 503 before it exits. */
const STUCK_EXIT_DELAY_MS = 1000;

/** A worker that exits because its watchdog found it stuck (EX_TEMPFAIL: start it again). */
export const STUCK_EXIT_CODE = 75;

export function workerId(): string {
  return `${os.hostname()}:${process.pid}`;
}
