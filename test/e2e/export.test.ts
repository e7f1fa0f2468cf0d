/**
 * The web app's own exports (the history's CSV and COCO buttons) in real Chromium: photos chosen
 * with names that start with each character a spreadsheet would run (`=`, `+`, `-`, `@`) are
 * detected on the device and exported under their own names, the CSV neutralising them (numbers
 * unchanged, RFC 4180 read back by a strict parser), COCO's `file_name` as chosen.
 */
import fs from 'node:fs';
import { parse } from 'csv-parse/sync';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TaskSchema } from '../../shared/contract.ts';
import type { CocoDataset } from '../../shared/export/coco.ts';
import { fixture } from '../helpers/api.ts';
import { useSystem } from '../helpers/system.ts';
import { type Browser, chooseRoute, exportedTasks, openApp, SLOW } from './browser.ts';

const ctx = useSystem({ workers: 0 });
let browser: Browser;

beforeAll(async () => {
  browser = await openApp(ctx.sys.baseUrl, { webgpu: false });
}, SLOW);
afterAll(async () => {
  await browser?.close();
});

const NAMES = ['=HYPERLINK("x").png', '+cmd.png', '-1.png', '@SUM(1),2.png'];
const PHOTOS = ['astronaut.png', 'coffee.png', 'chelsea.png', 'camera.png'];

async function download(page: Page, button: string): Promise<string> {
  const [file] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
  return fs.readFileSync((await file.path()) as string, 'utf8');
}

it(
  'CSV and COCO from the history: each photo under its own name, formula-like names neutralised in the CSV, numbers kept',
  async () => {
    const { page } = browser;
    await chooseRoute(page, 'device');
    await page.setInputFiles(
      '#files',
      NAMES.map((name, i) => ({ name, mimeType: 'image/png', buffer: fixture(PHOTOS[i] as string) })),
    );
    await page.waitForFunction(
      (n) => document.querySelectorAll('#history li.task[data-status="succeeded"]').length === n,
      NAMES.length,
      { timeout: 240_000 },
    );

    const tasks = (await exportedTasks(page)).map((t) => TaskSchema.parse(t));
    expect(tasks.map((t) => t.file_name).sort()).toEqual([...NAMES].sort());

    const rows = parse(await download(page, '#export-csv'), { record_delimiter: '\r\n' }) as string[][];
    const header = rows[0] ?? [];
    const records = rows.slice(1).map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ''])));
    expect(new Set(records.map((r) => r.file_name))).toEqual(new Set(NAMES.map((n) => `'${n}`)));
    for (const r of records) {
      const task = tasks.find((t) => t.task_id === r.task_id);
      expect(`'${task?.file_name}`).toBe(r.file_name); // the row is its own task's
      for (const col of ['image_width', 'score', 'x', 'y', 'width', 'height']) {
        expect(r[col], col).toMatch(/^-?\d/);
        expect(Number.isFinite(Number(r[col])), col).toBe(true);
      }
    }

    const coco = JSON.parse(await download(page, '#export-coco')) as CocoDataset;
    for (const img of coco.images) {
      expect(img.file_name).toBe(tasks.find((t) => t.task_id === img.task_id)?.file_name);
    }
    expect(coco.images.map((i) => i.file_name).sort()).toEqual([...NAMES].sort());
  },
  SLOW,
);
