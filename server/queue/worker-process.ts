/**
 * One worker process: load and warm the model, then take jobs. Announces itself in the worker
 * registry so /readyz and /stats know a worker with a loaded model is alive. SIGTERM: finish the
 * job in hand, take no new one, exit.
 *
 * Start-up does the slow parts side by side: the model thread loads and warms the model while
 * Redis connects and BullMQ prepares its connection; jobs are taken once both are done.
 */
import os from 'node:os';
import { Worker } from 'bullmq';
import { composeServices } from '../compose.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { serveMetrics, workerMetrics } from '../metrics/worker-metrics.ts';
import type { ModelRunner } from '../model/runner.ts';
import { connectRedis } from '../redis.ts';
import type { Heartbeat } from '../workers/worker-registry.ts';
import { DETECT_QUEUE, type DetectJobData } from './detect-queue.ts';
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
  const closeMetrics = await serveMetrics(metrics.registry, {
    port: config.WORKER_METRICS_PORT,
    host: config.HOST,
    token: config.METRICS_TOKEN,
    log: wlog,
  });
  // BullMQ's blocking connection: its own, made now so that it is ready when the model is.
  const connection = connectRedis(services.redisTarget, `twinlens-bullmq-${id}`);
  const model = await modelReady;
  const worker = new Worker<DetectJobData>(
    DETECT_QUEUE,
    createProcessor({
      tasks: services.tasks,
      blobs: services.blobs,
      model,
      maxPixels: config.MAX_IMAGE_PIXELS,
      log: wlog,
      metrics,
    }),
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
  worker.on('error', (err) => wlog.error('worker error', { err }));
  worker.on('stalled', (jobId) => wlog.warn('job stalled (its worker died?) and was put back', { task_id: jobId }));

  const me: Heartbeat = { id, model: model.info };
  const beat = () => services.workers.beat(me).catch((err) => wlog.warn('heartbeat failed', { err }));
  await beat();
  const beats = setInterval(beat, config.WORKER_HEARTBEAT_MS);
  await worker.waitUntilReady();
  wlog.info('worker taking jobs', { model: model.info.name, backend: model.info.backend });

  let closing: Promise<void> | undefined;
  return () => {
    closing ??= (async () => {
      wlog.info('worker stopping: finishing the job in hand');
      clearInterval(beats);
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
}

export function workerId(): string {
  return `${os.hostname()}:${process.pid}`;
}
