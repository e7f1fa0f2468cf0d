/**
 * A worker process: `npm run worker`. Run as many as the machines have cores, anywhere that reaches
 * Redis and the storage. The model thread starts first, before the rest of the worker's modules are
 * even loaded: loading and warming the model is most of a worker's start-up, and the rest (the
 * configuration's schemas, BullMQ, ioredis: ~0.3 s) then loads beside it, on another core.
 */
import { spawnModelThread } from './model/thread-spawn.ts';

// Read before the configuration is (it loads after the thread starts); MODEL=null wants no thread.
const thread = process.env.MODEL === 'null' ? undefined : spawnModelThread();

const [{ loadConfig }, { runMain }, { createLogger }, { startModelRunner }, { modelCatalog }, { servedModels }] =
  await Promise.all([
    import('./config.ts'),
    import('./entry.ts'),
    import('./log.ts'),
    import('./model/runner.ts'),
    import('./compose.ts'),
    import('./queue/worker-process.ts'),
  ]);

const log = createLogger({ service: 'worker' });

async function main() {
  const config = loadConfig();
  // The default model is loaded and warmed at start when this worker serves it (and its files are here).
  const catalog = modelCatalog(config);
  const warm = (async () => {
    const m = await catalog.get(catalog.defaultModel);
    const served = await servedModels(catalog, config.WORKER_MODELS);
    return m?.ready && served.includes(m.manifest.id) ? { manifest: m.manifest, dir: m.dir } : null;
  })();
  const model = startModelRunner(config, log, warm, thread);
  model.catch(() => {}); // awaited by runWorker; not unhandled meanwhile
  const { runWorker } = await import('./queue/worker-process.ts');
  const stop = await runWorker(config, log, model);
  const onSignal = (signal: string) => {
    log.info('signal received', { signal });
    stop().then(
      () => process.exit(0),
      (err) => {
        log.error('clean stop failed', { err });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
}

runMain('worker', main, log);
