/**
 * Models on the device path, in real Chromium (WebAssembly) against the real server and worker:
 * - every decoder through the page's detection worker on a model the test makes (installed in the
 *   server's MODELS_DIR, listed by GET /models, chosen in the model picker): exactly the boxes its
 *   outputs say;
 * - nanodet and centernet on the fixture photos, on the device and on the server: the same boxes
 *   (IoU ≥ 0.9, score within 0.02).
 */
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Detection, type Task, TaskSchema } from '../../shared/contract.ts';
import { iou } from '../../shared/detector/postprocess.ts';
import { ModelManifestSchema } from '../../shared/models/manifest.ts';
import { FIXTURES, fixture, upload, waitForTask } from '../helpers/api.ts';
import { DECODER_CASES } from '../helpers/decoder-models.ts';
import { writeModelFolder } from '../helpers/graph-models.ts';
import { useSystem } from '../helpers/system.ts';
import { type Browser, chooseRoute, exportedTasks, openApp, SLOW, waitForNewestTask } from './browser.ts';

const ctx = useSystem({ workers: 1 });
let browser: Browser;

beforeAll(async () => {
  // The test's models, in the server's MODELS_DIR (what `twinlens models add` leaves there).
  for (const c of DECODER_CASES)
    writeModelFolder(path.join(ctx.sys.dataDir, 'models', c.manifest.id), c.graph, c.manifest);
  browser = await openApp(`${ctx.sys.baseUrl}/?backends=wasm`, { webgpu: false });
  await chooseRoute(browser.page, 'device');
}, SLOW);
afterAll(async () => {
  await browser?.close();
});

/** Chooses the model in the picker, waits until the device runs it, runs one photo there, returns its task. */
async function onDevice(modelId: string, version: string, file: string): Promise<Task> {
  const { page } = browser;
  await page.selectOption('#model', modelId);
  await page.waitForSelector(`#where[data-loaded="${modelId}@${version}"]`, { timeout: 120_000 });
  const before = await page.getAttribute('#history li.task', 'data-task-id').catch(() => null);
  await page.setInputFiles('#files', file);
  await page.waitForFunction((b) => {
    const row = document.querySelector<HTMLElement>('#history li.task');
    return row && row.dataset.taskId !== b && row.dataset.status === 'succeeded';
  }, before);
  const id = await waitForNewestTask(page, ['succeeded']);
  const task = (await exportedTasks(page)).map((t) => TaskSchema.parse(t)).find((t) => t.task_id === id);
  if (!task) throw new Error(`task ${id} is not in the history`);
  return task;
}

describe('every decoder in the browser', () => {
  it(
    'the picker lists the installed models; each gives exactly its boxes on the device',
    async () => {
      const options = await browser.page.$$eval('#model option', (os) => os.map((o) => (o as HTMLOptionElement).value));
      expect(options).toEqual(
        expect.arrayContaining(['centernet', 'nanodet', ...DECODER_CASES.map((c) => c.manifest.id)]),
      );
      for (const c of DECODER_CASES) {
        const file = path.join(ctx.sys.dataDir, `${c.name}.png`);
        await sharp({ create: { ...c.picture, channels: 3, background: '#000' } })
          .png()
          .toFile(file);
        const task = await onDevice(c.manifest.id, '1', file);
        const threshold = ModelManifestSchema.parse({
          ...c.manifest,
          format: 'tfjs-graph',
          model: 'm',
          files: [{ path: 'm' }],
        }).thresholds.score;
        expect(task.model).toMatchObject({ id: c.manifest.id, version: '1', backend: 'wasm' });
        expect(task.params.model).toBe(c.manifest.id);
        // The page keeps detections down to 0.05 (its slider filters them): the model's own threshold here.
        expect(
          task.detections.filter((d) => d.score >= threshold),
          c.name,
        ).toEqual(c.expected);
      }
    },
    SLOW,
  );
});

/** Each of `a` has a partner in `b` (same label, IoU ≥ 0.9, score within 0.02), unless it is within 0.02 of the threshold. */
function unmatched(a: Detection[], b: Detection[], threshold: number): Detection[] {
  return a.filter(
    (d) =>
      d.score >= threshold + 0.02 &&
      !b.some((e) => e.label === d.label && iou(d, e) >= 0.9 && Math.abs(d.score - e.score) <= 0.02),
  );
}

describe('the same boxes on both paths', () => {
  for (const [modelId, version] of [
    ['nanodet', 'human-models-3.0.4'],
    ['centernet', 'human-3.3.6'],
  ] as const) {
    it(
      `${modelId}: the fixture photos give the same boxes in Chromium and on the server`,
      async () => {
        let compared = 0;
        for (const photo of ['astronaut.png', 'coffee.png', 'chelsea.png']) {
          const device = await onDevice(modelId, version, path.join(FIXTURES, photo));
          const res = await upload(ctx.sys.baseUrl, ctx.token, fixture(photo), {
            filename: photo,
            fields: { model: modelId, min_score: '0.05' },
          });
          const server = await waitForTask(ctx.sys.baseUrl, ctx.token, ((await res.json()) as Task).task_id);
          expect(server.model).toMatchObject({ id: modelId, version });
          const kept = (t: Task) => t.detections.filter((d) => d.score >= 0.3);
          const summary = `${photo}: device ${JSON.stringify(kept(device))}\nserver ${JSON.stringify(kept(server))}`;
          compared += kept(server).length;
          expect(unmatched(kept(device), server.detections, 0.3), summary).toEqual([]);
          expect(unmatched(kept(server), device.detections, 0.3), summary).toEqual([]);
        }
        expect(compared).toBeGreaterThan(0);
      },
      SLOW,
    );
  }
});
