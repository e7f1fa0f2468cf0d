/**
 * Client file names kept with tasks and album photos (cleaned, never a path) and in every export;
 * CSV exports neutralise cells that a spreadsheet would run as formulas, numbers unchanged, RFC
 * 4180 intact (read back by a strict parser). In-process for the rules (tasks stay queued: CSV
 * has a row for every task); the real system for COCO (succeeded tasks only).
 */
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { TwinlensClient } from '../../shared/client/twinlens-client.ts';
import { type BatchUpload, type Task, TaskSchema } from '../../shared/contract.ts';
import type { CocoDataset } from '../../shared/export/coco.ts';
import { FILE_NAME_MAX } from '../../shared/file-name.ts';
import { auth, fixture } from '../helpers/api.ts';
import { useInProcess } from '../helpers/in-process.ts';
import { useSystem } from '../helpers/system.ts';

const LONG = `${'Ω📷'.repeat(200)}.jpg`; // 602 UTF-16 units, surrogate pairs on every boundary
// [sent as the multipart filename, kept as]
const NAMES: [string, string][] = [
  ['=HYPERLINK(x).png', '=HYPERLINK(x).png'],
  ['+cmd.png', '+cmd.png'],
  ['-1.png', '-1.png'],
  ['@SUM(1).png', '@SUM(1).png'],
  ['\t=tab.png', '=tab.png'], // control characters removed: then it starts with `=`
  ['say "hi", ok.png', 'say "hi", ok.png'],
  ['cafe\u0301 東京 📷.png', 'café 東京 📷.png'], // NFC
  ['photo\u202Egnp.exe', 'photognp.exe'], // a bidi override removed
  ['a\u0000b\u001fc\u007f\u0085.png', 'abc.png'],
  ['../../etc/passwd', '../../etc/passwd'], // kept as text, never used as a path
  [LONG, ''], // capped: checked below
];

const form = (name: string, fields: Record<string, string> = {}) => {
  const f = new FormData();
  f.set('image', new Blob([new Uint8Array(fixture('chelsea.png'))]), name);
  for (const [k, v] of Object.entries(fields)) f.set(k, v);
  return f;
};

function csvRecords(text: string): Record<string, string>[] {
  const rows = parse(text, { record_delimiter: '\r\n' }) as string[][];
  const header = rows[0] ?? [];
  return rows.slice(1).map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ''])));
}

function checkLong(name: string | undefined): void {
  expect(name?.length).toBeLessThanOrEqual(FILE_NAME_MAX);
  expect(name?.length).toBeGreaterThan(FILE_NAME_MAX - 2);
  expect(LONG.startsWith(name ?? 'x')).toBe(true);
  expect(name?.isWellFormed()).toBe(true); // no half of a pair
}

describe('file names, in-process', () => {
  const ctx = useInProcess();
  const tasks: Task[] = [];
  let token: string;

  it('POST /tasks keeps the multipart filename, cleaned, in the task (and GET gives it back)', async () => {
    token = (await ctx.api.addUser('bob')).token;
    for (const [sent, kept] of NAMES) {
      const res = await ctx.api.request('/api/v1/tasks', { method: 'POST', headers: auth(token), body: form(sent) });
      expect(res.status, await res.clone().text()).toBe(202);
      const task = TaskSchema.parse(await res.json());
      const again = TaskSchema.parse(
        await (await ctx.api.request(`/api/v1/tasks/${task.task_id}`, { headers: auth(token) })).json(),
      );
      expect(again.file_name).toBe(task.file_name);
      if (sent === LONG) checkLong(task.file_name);
      else expect(task.file_name, JSON.stringify(sent)).toBe(kept);
      tasks.push(task);
    }
  });

  it('/tasks/export CSV: every name, the dangerous ones neutralised, numbers unchanged, RFC 4180', async () => {
    const ids = tasks.map((t) => t.task_id).join(',');
    const res = await ctx.api.request(`/api/v1/tasks/export?format=csv&ids=${ids}`, { headers: auth(token) });
    expect(res.status).toBe(200);
    const records = csvRecords(await res.text());
    expect(records).toHaveLength(tasks.length);
    for (const [i, t] of tasks.entries()) {
      const r = records[i] as Record<string, string>;
      const name = t.file_name as string;
      expect(r.task_id).toBe(t.task_id);
      expect(r.file_name).toBe(/^[=+\-@]/.test(name) ? `'${name}` : name);
      expect(r.image_width).toBe(String(t.image.width));
    }
    // COCO of queued tasks has no images; the JSON export carries the names.
    const json = (await (
      await ctx.api.request(`/api/v1/tasks/export?format=json&ids=${ids}`, { headers: auth(token) })
    ).json()) as { tasks: Task[] };
    expect(json.tasks.map((t) => t.file_name)).toEqual(tasks.map((t) => t.file_name));
  });

  it('album photos keep their names (a refused one echoed cleaned); the batch CSV neutralises them', async () => {
    const f = new FormData();
    f.append('image', new Blob([new Uint8Array(fixture('coffee.png'))]), '=cup\u202E.png');
    f.append('image', new Blob([new Uint8Array([1, 2, 3])]), '+broken\u0007.png');
    f.append('image', new Blob([new Uint8Array(fixture('astronaut.png'))]), LONG);
    const res = await ctx.api.request('/api/v1/batches', { method: 'POST', headers: auth(token), body: f });
    expect(res.status, await res.clone().text()).toBe(202);
    const body = (await res.json()) as BatchUpload;
    expect(body.tasks[0]?.file_name).toBe('=cup.png');
    checkLong(body.tasks[1]?.file_name);
    expect(body.rejected.map((r) => r.filename)).toEqual(['+broken.png']);
    const csv = await ctx.api.request(`/api/v1/batches/${body.batch.batch_id}/results?format=csv`, {
      headers: auth(token),
    });
    const records = csvRecords(await csv.text());
    expect(records.map((r) => r.file_name)).toEqual(["'=cup.png", body.tasks[1]?.file_name]);
  });
});

describe('file names, through the worker: COCO file_name', () => {
  const ctx = useSystem({ workers: 1 });

  it('succeeded tasks: COCO `file_name` is the client’s name (odd Unicode, a long one), the same in the CSV', async () => {
    const client = new TwinlensClient({ baseUrl: ctx.sys.baseUrl, token: ctx.token });
    const names = ['café 東京 📷.png', LONG, '=x.png'];
    const done: Task[] = [];
    for (const [i, name] of names.entries()) {
      const bytes = fixture(['chelsea.png', 'coffee.png', 'astronaut.png'][i] as string);
      const t = await client.upload(bytes, { filename: name });
      done.push(await client.waitForTask(t.task_id, { timeoutMs: 120_000 }));
    }
    expect(done.map((t) => t.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const ids = done.map((t) => t.task_id).join(',');
    const res = await fetch(`${ctx.sys.baseUrl}/api/v1/tasks/export?format=coco&ids=${ids}`, {
      headers: auth(ctx.token),
    });
    const coco = (await res.json()) as CocoDataset;
    expect(coco.images.map((i) => i.task_id)).toEqual(done.map((t) => t.task_id));
    expect(coco.images[0]?.file_name).toBe('café 東京 📷.png');
    checkLong(coco.images[1]?.file_name);
    expect(coco.images[2]?.file_name).toBe('=x.png'); // JSON: no formula to neutralise
    const csv = await fetch(`${ctx.sys.baseUrl}/api/v1/tasks/export?format=csv&ids=${ids}`, {
      headers: auth(ctx.token),
    });
    const records = csvRecords(await csv.text());
    const byTask = new Map(records.map((r) => [r.task_id, r]));
    expect(byTask.get(done[0]?.task_id as string)?.file_name).toBe('café 東京 📷.png');
    expect(byTask.get(done[1]?.task_id as string)?.file_name).toBe(coco.images[1]?.file_name);
    expect(byTask.get(done[2]?.task_id as string)?.file_name).toBe("'=x.png");
    for (const r of records) if (r.score) expect(Number(r.score)).toBeGreaterThan(0);
  });
});
