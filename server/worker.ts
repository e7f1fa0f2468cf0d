/** A worker process: `npm run worker`. Run as many as the machines have cores, anywhere that reaches Redis and the storage. */
import { loadConfig } from './config.ts';
import { runMain } from './entry.ts';
import { createLogger } from './log.ts';
import { runWorker } from './queue/worker-process.ts';

const log = createLogger({ service: 'worker' });

async function main() {
  const config = loadConfig();
  const stop = await runWorker(config, log);
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
