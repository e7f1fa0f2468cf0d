/**
 * One worker process: load and warm the default model, then take jobs — from one BullMQ queue per
 * model it serves (WORKER_MODELS, else every model the catalog has, looked at again at each
 * heartbeat, so a model added with `twinlens models add` is served without a restart). Other models
 * load on their first job (server/model/thread.ts). Announces itself, with the models it serves, in
 * the worker registry so /readyz and /stats know who serves what. SIGTERM: finish the jobs in hand,
 * take no new one, exit.
 *
 * Start-up does the slow parts side by side: the model thread loads and warms the model while
 * Redis connects and BullMQ prepares its connection; jobs are taken once both are done.
 */
import os from 'node:os';
import { Worker } from 'bullmq';
import type { ModelInfo } from '../../shared/contract.ts';
import { composeServices } from '../compose.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { serveMetrics, workerMetrics } from '../metrics/worker-metrics.ts';
import type { ModelRunner } from '../model/runner.ts';
import type { ModelCatalog } from '../models/catalog.ts';
import { connectRedis } from '../redis.ts';
import type { Heartbeat } from '../workers/worker-registry.ts';
import { type DetectJobData, queueName } from './detect-queue.ts';
import { createProcessor } from './processor.ts';

/** The models this worker takes jobs for: those named in WORKER_MODELS, else every model whose files are here. */
export async function servedModels(catalog: ModelCatalog, only: string[]): Promise<string[]> {
  const ready = (await catalog.ready()).map((m) => m.manifest.id);
  // A named model is served even before its files are here: its jobs then fail with model_unavailable, visibly.
  return only.length ? only : ready;
}

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
  const connection = connectRedis(
    { url: services.redisUrl, clusterNodes: config.REDIS_CLUSTER_NODES },
    `twinlens-bullmq-${id}`,
  );
  const model = await modelReady;
  const processor = createProcessor({
    tasks: services.tasks,
    blobs: services.blobs,
    model,
    models: services.models,
    maxPixels: config.MAX_IMAGE_PIXELS,
    log: wlog,
    metrics,
  });
  const workers = new Map<string, Worker<DetectJobData>>();
  const serve = async (modelId: string) => {
    const worker = new Worker<DetectJobData>(queueName(modelId), processor, {
      connection,
      prefix: config.REDIS_PREFIX,
      concurrency: config.WORKER_CONCURRENCY,
      lockDuration: config.WORKER_LOCK_MS,
      stalledInterval: config.WORKER_LOCK_MS,
      // A job whose worker died is put back once or twice; beyond that something is wrong with it.
      maxStalledCount: 2,
    });
    worker.on('error', (err) => wlog.error('worker error', { err, model: modelId }));
    worker.on('stalled', (jobId) => wlog.warn('job stalled (its worker died?) and was put back', { task_id: jobId }));
    workers.set(modelId, worker);
    await worker.waitUntilReady();
  };

  const defaultInfo = async (): Promise<ModelInfo> => {
    const m = await services.models.get(services.models.defaultModel);
    return m
      ? model.info(m.manifest)
      : { id: services.models.defaultModel, name: 'unknown', version: 'unknown', backend: model.backend };
  };
  let me: Heartbeat = { id, model: await defaultInfo(), models: [] };
  /** Serves newly added models, stops serving removed ones, and says so in the heartbeat. */
  const refresh = async () => {
    const wanted = await servedModels(services.models, config.WORKER_MODELS);
    for (const m of wanted) if (!workers.has(m)) await serve(m);
    for (const [m, w] of workers) {
      if (wanted.includes(m)) continue;
      workers.delete(m);
      await w.close();
    }
    const next: Heartbeat = { id, model: await defaultInfo(), models: [...workers.keys()].sort() };
    // The heartbeat's text is its member in the registry: a changed one replaces the old at once.
    if (JSON.stringify(next) !== JSON.stringify(me)) await services.workers.leave(me).catch(() => {});
    me = next;
  };
  const beat = () =>
    refresh()
      .then(() => services.workers.beat(me))
      .catch((err) => wlog.warn('heartbeat failed', { err }));
  await beat();
  const beats = setInterval(beat, config.WORKER_HEARTBEAT_MS);
  wlog.info('worker taking jobs', { model: me.model.id, backend: model.backend, models: me.models });

  let closing: Promise<void> | undefined;
  return () => {
    closing ??= (async () => {
      wlog.info('worker stopping: finishing the job in hand');
      clearInterval(beats);
      await Promise.all([...workers.values()].map((w) => w.close()));
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
