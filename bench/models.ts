/**
 * `npm run bench:models`: each built-in model whose files are here, on the fixture photos, on both
 * paths in one run — the server's (this process: the worker's decode and the shared detector,
 * WebAssembly; tfjs-node too where it is installed) and headless Chromium's (the app's detection
 * worker, WebAssembly, the model chosen in the picker). Prints ms per photo (median of RUNS after a
 * warm-up; inference only, as the Task's `timings.inference_ms` counts it), the ratio to centernet
 * measured in the same run, and each model's answers (label and score, score ≥ 0.3) on each photo.
 * Environment: RUNS (default 5).
 */

import fs from 'node:fs';
import path from 'node:path';
import { decodeForModel } from '../server/images/decode.ts';
import { initBackend } from '../server/model/backend.ts';
import { loadInstalledModel } from '../server/model/load.ts';
import { startSystem } from '../server/process/local-system.ts';
import { type Detection, TaskSchema } from '../shared/contract.ts';
import { BUILTIN_MODELS } from '../shared/models/builtin.ts';
import { FIXTURES } from './lib/api.ts';
import { chooseRoute, exportedTasks, openApp } from './lib/browser.ts';

const RUNS = Number(process.env.RUNS ?? 5);
const PHOTOS = ['astronaut.png', 'coffee.png', 'chelsea.png'];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? Number.NaN;
const answers = (ds: Detection[]) =>
  ds
    .filter((d) => d.score >= 0.3)
    .map((d) => `${d.label} ${d.score.toFixed(2)}`)
    .join(', ') || '(nothing ≥ 0.3)';

interface Row {
  model: string;
  path: string;
  photo: string;
  ms: number;
  answer: string;
}
const rows: Row[] = [];

async function serverPath(backend: 'wasm' | 'tensorflow', models: string[]): Promise<void> {
  try {
    await initBackend(backend);
  } catch (err) {
    console.log(`server (${backend}): not here (${(err as Error).message.split('\n')[0]})`);
    return;
  }
  for (const id of models) {
    const detector = await loadInstalledModel(id);
    for (const photo of PHOTOS) {
      const bytes = fs.readFileSync(path.join(FIXTURES, photo));
      const times: number[] = [];
      let last: Detection[] = [];
      for (let i = 0; i <= RUNS; i++) {
        const d = await decodeForModel(bytes, detector.inputSize, 40_000_000, 'off');
        const r = await detector.detect(d.pixels, d.original, { min_score: 0.05, max_detections: 20, tiling: 'off' });
        if (i > 0) times.push(r.inferenceMs);
        last = r.detections;
      }
      rows.push({ model: id, path: `server (${backend})`, photo, ms: median(times), answer: answers(last) });
    }
    detector.dispose();
  }
}

async function browserPath(models: string[]): Promise<void> {
  const sys = await startSystem({ workers: 0 });
  const browser = await openApp(`${sys.baseUrl}/?backends=wasm`, { webgpu: false });
  try {
    const { page } = browser;
    await chooseRoute(page, 'device');
    for (const id of models) {
      const m = BUILTIN_MODELS.find((b) => b.id === id)!;
      await page.selectOption('#model', id);
      await page.waitForSelector(`#where[data-loaded="${id}@${m.version}"]`, { timeout: 300_000 });
      for (const photo of PHOTOS) {
        const ids: string[] = [];
        for (let i = 0; i <= RUNS; i++) {
          const before = await page.getAttribute('#history li.task', 'data-task-id').catch(() => null);
          await page.setInputFiles('#files', path.join(FIXTURES, photo));
          await page.waitForFunction(
            (b) => {
              const row = document.querySelector<HTMLElement>('#history li.task');
              return row && row.dataset.taskId !== b && row.dataset.status === 'succeeded';
            },
            before,
            { timeout: 300_000 },
          );
          ids.push((await page.getAttribute('#history li.task', 'data-task-id')) ?? '');
        }
        const tasks = (await exportedTasks(page)).map((t) => TaskSchema.parse(t));
        const mine = ids.slice(1).map((tid) => tasks.find((t) => t.task_id === tid)!);
        rows.push({
          model: id,
          path: 'Chromium (wasm)',
          photo,
          ms: median(mine.map((t) => t.timings.inference_ms ?? Number.NaN)),
          answer: answers(mine.at(-1)?.detections ?? []),
        });
      }
    }
  } finally {
    await browser.close();
    await sys.stop();
  }
}

const models = BUILTIN_MODELS.filter((m) => fs.existsSync(path.join('dist', 'models', m.id, m.model))).map((m) => m.id);
const skipped = BUILTIN_MODELS.filter((m) => !models.includes(m.id)).map((m) => m.id);
console.log(
  `bench:models ${new Date().toISOString()}: ${models.join(', ')}${skipped.length ? ` (not here: ${skipped.join(', ')}: weights not placed)` : ''}; RUNS=${RUNS}`,
);
await serverPath('wasm', models);
await serverPath('tensorflow', models);
await browserPath(models);

console.log('\n| model | path | photo | ms per photo (median) | ×centernet | answers (score ≥ 0.3) |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  const base = rows.find((b) => b.model === 'centernet' && b.path === r.path && b.photo === r.photo);
  const ratio = base ? (r.ms / base.ms).toFixed(2) : '–';
  console.log(`| ${r.model} | ${r.path} | ${r.photo} | ${Math.round(r.ms)} | ${ratio} | ${r.answer} |`);
}
process.exit(0);
