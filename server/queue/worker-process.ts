/**
 * One worker process: load and warm the model, then take jobs (one at a time; run more
 * processes for more throughput). Announces itself in Redis so /readyz knows a worker with a
 * loaded model is alive. SIGTERM: finish the job in hand, take no new one, exit.
 */
import os from 'node:os';
import { Worker } from 'bullmq';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { serveMetrics, workerMetrics } from '../metrics/worker-metrics.ts';
import { type ModelRunner, NullModelRunner, ThreadModelRunner } from '../model/runner.ts';
import { connectRedis, keys } from '../redis.ts';
import { openBlobStore } from '../storage/open-blob-store.ts';
import { TaskStore } from '../tasks/task-store.ts';
import { DETECT_QUEUE, type DetectJobData } from './detect-queue.ts';
import { createProcessor } from './processor.ts';

export async function runWorker(config: Config, redisUrl: string, log: Logger): Promise<() => Promise<void>> {
  const id = `${os.hostname()}:${process.pid}`;
  const wlog = log.child({ worker: id });
  const model: ModelRunner =
    config.MODEL === 'null'
      ? new NullModelRunner()
      : await ThreadModelRunner.start({
          backend: config.MODEL_BACKEND,
          blockMs: config.DEBUG_INFERENCE_BLOCK_MS,
          timeoutMs: config.JOB_TIMEOUT_MS,
          log: wlog,
        });

  const redis = connectRedis({ url: redisUrl, clusterNodes: config.REDIS_CLUSTER_NODES }, `twinlens-worker-${id}`);
  const k = keys(config.REDIS_PREFIX);
  const blobs = await openBlobStore(config);
  await blobs.init();
  const tasks = new TaskStore(redis, k, blobs, config.TASK_TTL_SECONDS);
  const metrics = workerMetrics({ redis, keys: k, log: wlog });
  const closeMetrics = await serveMetrics(metrics.registry, {
    port: config.WORKER_METRICS_PORT,
    host: config.HOST,
    token: config.METRICS_TOKEN,
    log: wlog,
  });

  const heartbeat = async () => {
    await redis
      .multi()
      .zadd(k.workersSeen, Date.now(), JSON.stringify({ id, model: model.info }))
      .zremrangebyscore(k.workersSeen, '-inf', Date.now() - 10 * config.WORKER_HEARTBEAT_MS)
      .exec();
  };
  await heartbeat();
  const beat = setInterval(
    () => heartbeat().catch((err) => wlog.warn('heartbeat failed', { err })),
    config.WORKER_HEARTBEAT_MS,
  );

  const worker = new Worker<DetectJobData>(
    DETECT_QUEUE,
    createProcessor({ tasks, blobs, model, maxPixels: config.MAX_IMAGE_PIXELS, log: wlog, metrics }),
    {
      connection: connectRedis({ url: redisUrl, clusterNodes: config.REDIS_CLUSTER_NODES }, `twinlens-bullmq-${id}`),
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
  await worker.waitUntilReady();
  wlog.info('worker taking jobs', { model: model.info.name, backend: model.info.backend });

  let closing: Promise<void> | undefined;
  return () => {
    closing ??= (async () => {
      wlog.info('worker stopping: finishing the job in hand');
      clearInterval(beat);
      await worker.close();
      await model.close();
      await closeMetrics();
      await redis.zrem(k.workersSeen, JSON.stringify({ id, model: model.info })).catch(() => {});
      redis.disconnect();
      wlog.info('worker stopped');
    })();
    return closing;
  };
}
