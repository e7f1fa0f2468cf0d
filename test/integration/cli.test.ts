/**
 * `twinlens detect` against the real server and the real model: a folder of photos → a COCO file
 * that follows the format's rules; a second run sends nothing; `--local` (the detector in the
 * CLI's own process) gives the same detections; CSV parses back.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwinlensClient } from '../../shared/client/twinlens-client.ts';
import type { CocoDataset } from '../../shared/export/coco.ts';
import { FIXTURES } from '../helpers/api.ts';
import { launch, useSystem } from '../helpers/system.ts';

const ctx = useSystem({ workers: 1 });
const PHOTOS = ['astronaut.png', 'chelsea.png', 'coffee.png'];
let dir: string;
let photos: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-cli-'));
  photos = path.join(dir, 'album');
  fs.mkdirSync(path.join(photos, 'more'), { recursive: true });
  fs.copyFileSync(path.join(FIXTURES, PHOTOS[0] as string), path.join(photos, PHOTOS[0] as string));
  fs.copyFileSync(path.join(FIXTURES, PHOTOS[1] as string), path.join(photos, PHOTOS[1] as string));
  fs.copyFileSync(path.join(FIXTURES, PHOTOS[2] as string), path.join(photos, 'more', PHOTOS[2] as string));
  fs.writeFileSync(path.join(photos, 'notes.txt'), 'not a photo');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  const p = launch('cli', { args: ['detect', ...args], env });
  const code = await p.exited;
  return { code, output: p.logs.join('\n') };
}

const client = () => new TwinlensClient({ baseUrl: ctx.sys.baseUrl, token: ctx.token });

function checkCoco(coco: CocoDataset, images: number): void {
  expect(coco.images).toHaveLength(images);
  const imageIds = new Set(coco.images.map((i) => i.id));
  const categoryIds = new Set(coco.categories.map((c) => c.id));
  expect(imageIds.size).toBe(coco.images.length);
  expect(new Set(coco.annotations.map((a) => a.id)).size).toBe(coco.annotations.length);
  expect(categoryIds.size).toBe(80);
  for (const a of coco.annotations) {
    expect(imageIds.has(a.image_id)).toBe(true);
    expect(categoryIds.has(a.category_id)).toBe(true);
    const img = coco.images.find((i) => i.id === a.image_id);
    const [x, y, w, h] = a.bbox;
    expect(x).toBeGreaterThanOrEqual(0);
    expect(y).toBeGreaterThanOrEqual(0);
    expect(x + w).toBeLessThanOrEqual((img?.width ?? 0) + 1e-6);
    expect(y + h).toBeLessThanOrEqual((img?.height ?? 0) + 1e-6);
    expect(a.score).toBeGreaterThan(0);
  }
}

describe('twinlens detect', () => {
  let server: CocoDataset;

  it('a folder through the server → a COCO file with every photo (person is COCO category 1, cup 47)', async () => {
    const out = path.join(dir, 'server.json');
    const r = await cli([photos, '--server', ctx.sys.baseUrl, '--out', out, '--annotated', path.join(dir, 'boxes')], {
      TWINLENS_TOKEN: ctx.token,
    });
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/3\/3/); // the progress line (not a terminal: plain lines)
    expect(r.output).toMatch(/3 sent this run/);
    server = JSON.parse(fs.readFileSync(out, 'utf8')) as CocoDataset;
    checkCoco(server, 3);
    const cats = (name: string) => {
      const img = server.images.find((i) => i.file_name.endsWith(name));
      return new Set(server.annotations.filter((a) => a.image_id === img?.id).map((a) => a.category_id));
    };
    expect(cats('astronaut.png').has(1)).toBe(true);
    expect(cats('coffee.png').has(47)).toBe(true);
    expect(fs.readdirSync(path.join(dir, 'boxes')).sort()).toEqual(['astronaut.jpg', 'chelsea.jpg', 'coffee.jpg']);
    expect((await client().list({ limit: 100 })).items).toHaveLength(3);
  });

  it('a second run sends nothing and writes the same results', async () => {
    const out = path.join(dir, 'server.json');
    const r = await cli([photos, '--server', ctx.sys.baseUrl, '--out', out], { TWINLENS_TOKEN: ctx.token });
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/0 sent this run/);
    expect((await client().list({ limit: 100 })).items).toHaveLength(3);
    const again = JSON.parse(fs.readFileSync(out, 'utf8')) as CocoDataset;
    expect(again.annotations).toEqual(server.annotations);
  });

  it('--local runs the same detector in-process: the same detections, no request', async () => {
    const out = path.join(dir, 'local.json');
    const r = await cli([photos, '--local', '--out', out]);
    expect(r.code, r.output).toBe(0);
    const local = JSON.parse(fs.readFileSync(out, 'utf8')) as CocoDataset;
    checkCoco(local, 3);
    expect(local.annotations.map((a) => a.category_id)).toEqual(server.annotations.map((a) => a.category_id));
    local.annotations.forEach((a, i) => {
      const s = server.annotations[i];
      for (const [k, v] of a.bbox.entries()) expect(Math.abs(v - (s?.bbox[k] ?? 0))).toBeLessThanOrEqual(1);
      expect(Math.abs(a.score - (s?.score ?? 0))).toBeLessThan(0.01);
    });
    expect((await client().list({ limit: 100 })).items).toHaveLength(3);
  });

  it('CSV: one row per detection, parsed back', async () => {
    const out = path.join(dir, 'results.csv');
    const r = await cli([photos, '--server', ctx.sys.baseUrl, '--token', ctx.token, '--out', out]);
    expect(r.code, r.output).toBe(0);
    const lines = fs.readFileSync(out, 'utf8').trimEnd().split('\r\n');
    const header = (lines[0] ?? '').split(',');
    expect(header).toEqual(
      expect.arrayContaining(['task_id', 'file_name', 'label', 'category_id', 'score', 'x', 'y', 'width', 'height']),
    );
    const rows = lines.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [header[i], v])));
    expect(rows).toHaveLength(server.annotations.length);
    expect(rows.map((row) => Number(row.category_id))).toEqual(server.annotations.map((a) => a.category_id));
    expect(rows.every((row) => Number(row.score) > 0 && Number(row.width) > 0)).toBe(true);
  });

  it('without a token, says what it needs (exit 1), and with bad arguments shows the usage (exit 2)', async () => {
    const none = await cli([photos, '--server', ctx.sys.baseUrl, '--out', path.join(dir, 'x.json')]);
    expect(none.code).toBe(1);
    expect(none.output).toMatch(/a token is needed/);
    const usage = await cli([]);
    expect(usage.code).toBe(2);
    expect(usage.output).toMatch(/usage: twinlens detect/);
  });

  it('refused files first, in the middle and last: every result under its own name (by SHA-256), the refused ones by name with their code', async () => {
    const folder = path.join(dir, 'mixed');
    fs.mkdirSync(folder);
    const write = (name: string, bytes: Buffer) => fs.writeFileSync(path.join(folder, name), bytes);
    const photo = (name: string) => fs.readFileSync(path.join(FIXTURES, name));
    // Sorted as the CLI walks them: refused, good, refused, good, good, refused.
    write('0-broken.jpg', Buffer.from('not a photo at all'));
    write('astronaut.png', photo('astronaut.png'));
    write('b-broken.png', Buffer.from('\x89PNG\r\n\x1a\n but nothing after'));
    write('chelsea.png', photo('chelsea.png'));
    write('chelsea-copy.png', photo('chelsea.png')); // the same bytes: one task, each file under its own name
    write('coffee.png', photo('coffee.png'));
    write('zz-broken.webp', Buffer.alloc(0));
    const sha = (name: string) =>
      createHash('sha256')
        .update(fs.readFileSync(path.join(folder, name)))
        .digest('hex');

    for (const format of ['coco', 'csv'] as const) {
      const out = path.join(dir, `mixed.${format === 'coco' ? 'json' : 'csv'}`);
      const r = await cli([folder, '--server', ctx.sys.baseUrl, '--out', out, '--concurrency', '3'], {
        TWINLENS_TOKEN: ctx.token,
      });
      expect(r.code, r.output).toBe(1); // some files were refused
      for (const name of ['0-broken.jpg', 'b-broken.png', 'zz-broken.webp']) {
        expect(r.output).toMatch(
          new RegExp(
            `refused: \\S*${name.replace('.', '\\.')} \\((image_undecodable|empty_body|unsupported_media_type)\\)`,
          ),
        );
      }
      expect(r.output).not.toMatch(/refused: \S*(astronaut|chelsea|coffee)/);
      // Each result's task (by its id) holds the photo of the file it is written under.
      let pairs: [string, string][];
      if (format === 'coco') {
        const coco = JSON.parse(fs.readFileSync(out, 'utf8')) as CocoDataset;
        pairs = coco.images.map((i) => [i.file_name, i.task_id]);
      } else {
        const lines = fs.readFileSync(out, 'utf8').trimEnd().split('\r\n');
        const header = (lines[0] ?? '').split(',');
        const col = (l: string, c: string) => l.split(',')[header.indexOf(c)] as string;
        pairs = [...new Map(lines.slice(1).map((l) => [col(l, 'file_name'), col(l, 'task_id')]))];
      }
      expect(pairs.map(([name]) => path.basename(name)).sort()).toEqual([
        'astronaut.png',
        'chelsea-copy.png',
        'chelsea.png',
        'coffee.png',
      ]);
      for (const [name, taskId] of pairs) {
        const task = await client().task(taskId);
        expect(task.image.sha256, name).toBe(sha(path.basename(name)));
        // The server keeps the name the CLI writes (of the two copies, the one that was sent).
        if (name.includes('chelsea')) expect(task.file_name).toMatch(/^mixed\/chelsea(-copy)?\.png$/);
        else expect(task.file_name).toBe(name);
      }
      const chelsea = pairs.filter(([name]) => name.includes('chelsea')).map(([, id]) => id);
      expect(chelsea[0]).toBe(chelsea[1]);
    }
  });

  it('CSV with file names that start with =, +, -, @: neutralised, the numbers unchanged, RFC 4180, the same names as the server’s', async () => {
    const folder = path.join(dir, 'formulas');
    fs.mkdirSync(folder);
    const names = ['=HYPERLINK("http-x") .png', '+cmd.png', '-2+3.png', '@SUM(1),x.png'];
    for (const [i, name] of names.entries()) {
      const photo = [...PHOTOS, 'camera.png'][i] as string; // four different photos: four tasks
      fs.copyFileSync(path.join(FIXTURES, photo), path.join(folder, name));
    }
    const out = path.join(dir, 'formulas.csv');
    // Files named one by one: each is written under its own name, which then starts with the character.
    const files = names.map((n) => path.join(folder, n));
    const r = await cli([...files, '--server', ctx.sys.baseUrl, '--out', out], { TWINLENS_TOKEN: ctx.token });
    expect(r.code, r.output).toBe(0);
    const text = fs.readFileSync(out, 'utf8');
    const rows = parseCsv(text, { record_delimiter: '\r\n' }) as string[][];
    const header = rows[0] ?? [];
    const records = rows.slice(1).map((row) => Object.fromEntries(header.map((h, i) => [h, row[i] ?? ''])));
    const seen = new Set(records.map((rec) => rec.file_name));
    expect([...seen].sort()).toEqual(names.map((n) => `'${n}`).sort());
    // Numbers as numbers: no quote mark, parse back.
    for (const rec of records) {
      for (const col of ['image_width', 'score', 'x', 'y', 'width', 'height']) {
        expect(rec[col], col).toMatch(/^-?\d/);
        expect(Number.isFinite(Number(rec[col])), col).toBe(true);
      }
      // The server's record of the same task has the same name (before neutralising).
      const task = await client().task(rec.task_id as string);
      expect(`'${task.file_name}`).toBe(rec.file_name);
    }
  });
});
