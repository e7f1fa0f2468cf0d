/**
 * One contract, one detector: the same 12 MP photo detected on the device (Chromium,
 * WebAssembly, tiled in the detection worker) and on the server (tiled in a worker) gives the
 * same objects in the same places, and both find the small prints.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { foundPrints, wall } from '../../bench/lib/wall.ts';
import { type Task, TaskSchema } from '../../shared/contract.ts';
import { auth, upload, waitForTask } from '../helpers/api.ts';
import { useSystem } from '../helpers/system.ts';
import { type Browser, chooseRoute, exportedTasks, openApp, SLOW, waitForNewestTask } from './browser.ts';

const ctx = useSystem({ workers: 1 });
let browser: Browser;
beforeAll(async () => {
  browser = await openApp(`${ctx.sys.baseUrl}/?backends=wasm`, { webgpu: false });
}, SLOW);
afterAll(async () => {
  await browser?.close();
});

const iou = (a: Task['detections'][number]['box'], b: Task['detections'][number]['box']) => {
  const ix = Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x));
  const iy = Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
  return (ix * iy) / (a.width * a.height + b.width * b.height - ix * iy);
};

it(
  'a 12 MP photo: the device and the server find the same prints, with matching boxes',
  async () => {
    const { jpeg, prints } = await wall();
    const file = path.join(ctx.sys.dataDir, 'wall.jpg');
    fs.writeFileSync(file, jpeg);

    const { page } = browser;
    await chooseRoute(page, 'device');
    await page.waitForSelector('#where[data-backend="wasm"]', { timeout: 120_000 });
    await page.setInputFiles('#files', file);
    const id = await waitForNewestTask(page, ['succeeded', 'failed'], 180_000);
    const device = (await exportedTasks(page)).map((t) => TaskSchema.parse(t)).find((t) => t.task_id === id);
    expect(device?.status).toBe('succeeded');
    expect(device?.timings.tiles).toBe(6);

    // The server, with the page's threshold (0.05), so that both lists are comparable.
    const res = await upload(ctx.sys.baseUrl, ctx.token, jpeg, { fields: { min_score: '0.05' } });
    const server = await waitForTask(
      ctx.sys.baseUrl,
      ctx.token,
      ((await res.json()) as Task).task_id,
      undefined,
      120_000,
    );
    expect(server.timings.tiles).toBe(6);

    // Both find every print (at the threshold the tiling test uses) …
    const strong = (t: Task | undefined) => ({ detections: (t?.detections ?? []).filter((d) => d.score >= 0.2) });
    expect(foundPrints(strong(device), prints)).toHaveLength(prints.length);
    expect(foundPrints(strong(server), prints)).toHaveLength(prints.length);
    // … and each confident box of one has its match in the other (same class, nearly the same place).
    // (The decoders differ a little: a canvas in the browser, libvips on the server.)
    for (const [a, b] of [
      [device, server],
      [server, device],
    ] as const) {
      for (const d of (a?.detections ?? []).filter((x) => x.score >= 0.4)) {
        const match = (b?.detections ?? []).some((e) => e.label === d.label && iou(e.box, d.box) > 0.7);
        expect(match, `${d.label} ${JSON.stringify(d.box)} has no match`).toBe(true);
      }
    }
    expect((await fetch(`${ctx.sys.baseUrl}/api/v1/tasks/${id}`, { headers: auth(ctx.token) })).status).toBe(404);
  },
  SLOW,
);
