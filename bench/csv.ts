/**
 * `npm run bench:csv`: the project's CSV writer (hand-written, shared/export/csv-writer.ts)
 * against csv-stringify with `escape_formulas` (the well-kept library the guide prefers), set to
 * the same rules (RFC 4180 quoting, formula cells neutralised, numbers kept), in the same run: the
 * same rows written by each in alternating rounds, the outputs checked identical first; also
 * csv-stringify's browser build (what the web app would run, Buffer polyfilled) and the bytes each
 * adds to a browser bundle (esbuild, minified, gzip).
 *
 *   npm run bench:csv [-- --tasks 2000 --rounds 7]
 */

import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { stringify as browserStringify } from 'csv-stringify/browser/esm/sync';
import { stringify } from 'csv-stringify/sync';
import * as esbuild from 'esbuild';
import { CSV_COLUMNS } from '../shared/export/csv.ts';
import { type CsvValue, writeCsv } from '../shared/export/csv-writer.ts';
import { f, machine } from './lib/harness.ts';

const { values } = parseArgs({
  options: { tasks: { type: 'string', default: '2000' }, rounds: { type: 'string', default: '7' } },
});
const TASKS = Number(values.tasks);
const ROUNDS = Number(values.rounds);

// ---- the alternative: csv-stringify with the options that make it write the same ----
const OPTIONS = {
  escape_formulas: true,
  record_delimiter: 'windows',
  quoted_match: /[\r\n]/,
  cast: { number: (n: number) => (Number.isFinite(n) ? String(n) : '') },
} as const;
const library = (rows: readonly (readonly CsvValue[])[]) => stringify(rows as CsvValue[][], OPTIONS);
const browserBuild = (rows: readonly (readonly CsvValue[])[]) => browserStringify(rows as CsvValue[][], OPTIONS);

// ---- rows as toCsv makes them (shared/export/csv.ts): one per detection, some names hostile ----
const NAMES = ['IMG_0001.jpg', '=HYPERLINK("http://x").png', '+cmd.png', 'a,b "c".jpg', 'café 東京 📷.webp', '-1.png'];
const LABELS = ['person', 'cup', 'dog', 'traffic light', 'cell phone'];
const rows: CsvValue[][] = [[...CSV_COLUMNS]];
for (let i = 0; i < TASKS; i++) {
  const id = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
  for (let j = 0; j < 10; j++) {
    const score = 0.3 + ((i * 7 + j) % 70) / 100;
    rows.push([
      id,
      NAMES[i % NAMES.length],
      'succeeded',
      1920,
      1080,
      LABELS[(i + j) % LABELS.length],
      1 + j,
      score,
      -0.5 + j * 13.25,
      j * 7.5,
      100.125,
      50.5,
      null,
    ]);
  }
}

const writers: [string, (r: CsvValue[][]) => string][] = [
  ["the project's writer (hand-written, baseline)", writeCsv],
  ['csv-stringify escape_formulas (Node build)', library],
  ['csv-stringify (browser build)', browserBuild],
];
const expected = writeCsv(rows);
for (const [name, w] of writers) if (w(rows) !== expected) throw new Error(`${name} writes different CSV`);

// Warm up, then alternating rounds; the median of each.
for (const [, w] of writers) for (let k = 0; k < 3; k++) w(rows);
const times = new Map<string, number[]>(writers.map(([n]) => [n, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, w] of r % 2 ? [...writers].reverse() : writers) {
    const t0 = performance.now();
    w(rows);
    times.get(name)?.push(performance.now() - t0);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const base = median(times.get(writers[0]?.[0] as string) as number[]);
console.log(
  `bench:csv: ${rows.length - 1} rows × 13 columns (${f(expected.length / 1e6, 2)} MB), ${ROUNDS} rounds; ${machine()}`,
);
for (const [name] of writers) {
  const m = median(times.get(name) as number[]);
  console.log(
    `  ${name.padEnd(44)} ${f(m, 1).padStart(7)} ms  ${f((rows.length - 1) / m / 1000, 2)} M rows/s  ×${f(m / base, 2)}`,
  );
}

// ---- what each adds to the web app's bundle ----
async function bundled(contents: string): Promise<{ min: number; gz: number }> {
  const out = await esbuild.build({
    stdin: { contents, resolveDir: process.cwd(), loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    write: false,
  });
  const code = out.outputFiles[0]?.contents ?? new Uint8Array();
  return { min: code.length, gz: gzipSync(code).length };
}
const handSize = await bundled("export { writeCsv } from './shared/export/csv-writer.ts';");
const libSize = await bundled(
  "import { stringify } from 'csv-stringify/browser/esm/sync'; export const w = (r) => stringify(r, { escape_formulas: true, record_delimiter: 'windows', quoted_match: /[\\r\\n]/ });",
);
console.log(
  `  browser bundle: hand-written ${f(handSize.min / 1024, 1)} KB (${f(handSize.gz / 1024, 1)} KB gzip), csv-stringify ${f(libSize.min / 1024, 1)} KB (${f(libSize.gz / 1024, 1)} KB gzip)`,
);
