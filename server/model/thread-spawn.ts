/**
 * Starts the model thread (./thread.ts). A module of its own that imports nothing heavy, so that a
 * worker process can start the thread before it loads anything else (server/worker.ts): loading
 * TF.js and the model is most of a worker's start-up, and it then overlaps the rest of it.
 */
import { Worker } from 'node:worker_threads';

export function spawnModelThread(): Worker {
  // The build output runs as plain JavaScript (the thread bundled with TF.js into one file, see
  // scripts/build-server.mjs). From TypeScript sources (tsx), Node 20 does not carry tsx's loader
  // hooks into worker threads: a tiny bootstrap registers tsx in the thread.
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(fromSource ? './thread.ts' : './thread.js', import.meta.url);
  return fromSource
    ? new Worker(
        `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`,
        { eval: true },
      )
    : new Worker(entry);
}
