/**
 * One process of the "raw model" baseline: the same backend and detector code as a worker,
 * on pixels decoded once, with no HTTP, no queue and no storage. Prints a JSON line.
 */
import fs from 'node:fs';
import { decodeForModel } from '../server/images/decode.ts';
import { initBackend } from '../server/model/backend.ts';
import { loadInstalledModel } from '../server/model/load.ts';

const [file = 'test/fixtures/astronaut.png', countArg = '50'] = process.argv.slice(2);
const count = Number(countArg);
const backend = await initBackend((process.env.MODEL_BACKEND as 'auto') ?? 'auto');
const detector = await loadInstalledModel(process.env.MODEL_ID ?? 'centernet');
const decoded = await decodeForModel(fs.readFileSync(file), detector.inputSize, 40_000_000);
// Wait for the parent's "go" so that all processes run at the same time.
await new Promise<void>((resolve) => {
  process.stdout.write(`${JSON.stringify({ ready: true, backend })}\n`);
  process.stdin.once('data', () => resolve());
});
const started = performance.now();
for (let i = 0; i < count; i++) {
  const pixels = { ...decoded.pixels, data: new Uint8Array(decoded.pixels.data) };
  await detector.detect(pixels, decoded.original, { min_score: 0.3, max_detections: 20, tiling: 'off' });
}
const ms = performance.now() - started;
process.stdout.write(`${JSON.stringify({ done: true, count, ms })}\n`);
process.exit(0);
