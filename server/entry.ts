/** Shared start-up for the process entry points: a bad configuration exits 2 with its message. */
import { ConfigError } from './config.ts';
import type { Logger } from './log.ts';

export function runMain(name: string, main: () => Promise<void>, log: Logger): void {
  main().catch((err) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    log.error(`${name} failed to start`, { err });
    process.exit(1);
  });
}
