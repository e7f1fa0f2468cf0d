/**
 * One worker process: load and warm the default model, then take jobs — from one BullMQ queue per
 * model it serves (WORKER_MODELS, else every model the catalog has, looked at again at each
 * heartbeat, so a model added with `twinlens models add` is served without a restart). Other models
 * load on their first job (server/model/thread.ts). Announces itself, with the models it serves, in
 * the worker registry so /readyz and /stats know who serves what. SIGTERM: finish the jobs in hand,
 * take no new one, exit. Its watchdog (server/workers/watchdog.ts) checks that it really takes jobs;
 * a stuck worker fails its readiness and exits 75 to be started afresh.
 *
 * Start-up does the slow parts side by side: the model thread loads and warms the model while
 * Redis connects and BullMQ prepares its connection; jobs are taken once both are done.
 */
import os from 'node:os';
import { Worker } from 'bullmq';
import type { ModelInfo } from '../../shared/contract.ts';
import { composeServices } from '../compose.ts';
import type { Config } from '../config.ts';
import { type Logger, throttledWarning } from '../log.ts';
import { serveMetrics, workerMetrics } from '../metrics/worker-metrics.ts';
import type { ModelRunner } from '../model/runner.ts';
import type { ModelCatalog } from '../models/catalog.ts';
import { connectRedis } from '../redis.ts';
import { WorkerWatchdog } from '../workers/watchdog.ts';
import type { Heartbeat } from '../workers/worker-registry.ts';
import { type DetectJobData, DetectQueue, queueName } from './detect-queue.ts';
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
    models: services.models,
    maxPixels: config.MAX_IMAGE_PIXELS,
    log: wlog,
    metrics,
  });
  let stuck: (() => void) | undefined;
  const workers = new Map<string, Worker<DetectJobData>>();
  const watchdog =
    config.WORKER_WATCHDOG_MS > 0
      ? new WorkerWatchdog({
          stuckAfterMs: config.WORKER_WATCHDOG_MS,
          concurrency: config.WORKER_CONCURRENCY,
          waitingKeys: () => DetectQueue.waitingKeys(config.REDIS_PREFIX, [...workers.keys()]),
          target: services.redisTarget,
          log: wlog,
          onStuck: () => stuck?.(),
        })
      : undefined;
  const watched = async (job: Parameters<typeof processor>[0]) => {
    watchdog?.jobStarted();
    try {
      return await processor(job);
    } finally {
      watchdog?.jobEnded();
    }
  };
  // While Redis is away BullMQ reports each failed attempt (several a second): logged once per 10 s.
  const workerError = throttledWarning(wlog, 'worker error');
  const serve = async (modelId: string) => {
    const worker = new Worker<DetectJobData>(queueName(modelId), watched, {
      connection,
      prefix: config.REDIS_PREFIX,
      concurrency: config.WORKER_CONCURRENCY,
      lockDuration: config.WORKER_LOCK_MS,
      stalledInterval: config.WORKER_LOCK_MS,
      // A job whose worker died is put back once or twice; beyond that something is wrong with it.
      maxStalledCount: 2,
    });
    worker.on('error', (err) => workerError({ err, model: modelId }));
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
      .then(
        () => watchdog?.beat(),
        (err) => wlog.warn('heartbeat failed', { err }),
      );
  await beat();
  const beats = setInterval(beat, config.WORKER_HEARTBEAT_MS);
  health.ready = true;
  watchdog?.start();
  wlog.info('worker taking jobs', { model: me.model.id, backend: model.backend, models: me.models });
  if (config.DEBUG_WORKER_WEDGE_AFTER_MS > 0) {
    // Diagnostic: stop taking jobs while looking alive, as a wedged blocking connection leaves a worker.
    setTimeout(() => {
      wlog.warn('DEBUG_WORKER_WEDGE_AFTER_MS: this worker stops taking jobs now');
      for (const w of workers.values()) void w.close(true);
    }, config.DEBUG_WORKER_WEDGE_AFTER_MS).unref();
  }

  let closing: Promise<void> | undefined;
  const stop = () => {
    closing ??= (async () => {
      wlog.info('worker stopping: finishing the job in hand');
      clearInterval(beats);
      watchdog?.stop();
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
