/**
 * The project's one CSV writer (shared/export/csv-writer.ts), table-driven: formula cells
 * neutralised, numbers kept numbers, RFC 4180 quoting that a strict parser (csv-parse) reads back,
 * and the same bytes as csv-stringify with `escape_formulas` (the library it was measured against).
 */
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { describe, expect, it } from 'vitest';
import type { Task } from '../../shared/contract.ts';
import { CSV_COLUMNS, toCsv } from '../../shared/export/csv.ts';
import { type CsvValue, csvCell, writeCsv } from '../../shared/export/csv-writer.ts';

const CELLS: [name: string, value: CsvValue, written: string][] = [
  ['plain text', 'IMG_0001.jpg', 'IMG_0001.jpg'],
  ['= formula', '=HYPERLINK("http://x","y")', `"'=HYPERLINK(""http://x"",""y"")"`],
  ['+ formula', '+cmd|x.png', "'+cmd|x.png"],
  ['- formula', '-2+3.png', "'-2+3.png"],
  ['@ formula', '@SUM(A1).png', "'@SUM(A1).png"],
  ['tab first', '\t=1', "'\t=1"],
  ['CR first', '\r=1', `"'\r=1"`],
  ['full-width ＝', '＝1+1', "'＝1+1"],
  ['full-width ＋', '＋1', "'＋1"],
  ['full-width －', '－1', "'－1"],
  ['full-width ＠', '＠x', "'＠x"],
  ['a dangerous character later on', 'a=b+c-d@e', 'a=b+c-d@e'],
  ['a negative number', -0.5, '-0.5'],
  ['a negative integer', -3, '-3'],
  ['a positive number', 0.875, '0.875'],
  ['zero', 0, '0'],
  ['a number-like string (user text)', '-0.5', "'-0.5"],
  ['not a number', Number.NaN, ''],
  ['infinity', Number.POSITIVE_INFINITY, ''],
  ['null', null, ''],
  ['undefined', undefined, ''],
  ['empty string', '', ''],
  ['comma', 'a,b', '"a,b"'],
  ['quote', 'say "hi"', '"say ""hi"""'],
  ['LF', 'a\nb', '"a\nb"'],
  ['CR', 'a\rb', '"a\rb"'],
  ['CRLF', 'a\r\nb', '"a\r\nb"'],
  ['Unicode', 'café 東京 📷', 'café 東京 📷'],
];

describe('csvCell', () => {
  it.each(CELLS)('%s', (_name, value, written) => {
    expect(csvCell(value)).toBe(written);
  });
});

describe('writeCsv', () => {
  const rows: CsvValue[][] = [['name', 'value'], ...CELLS.map(([name, value]) => [name, value])];
  const text = writeCsv(rows);

  it('CRLF after every record, the header first', () => {
    expect(text.startsWith('name,value\r\n')).toBe(true);
    expect(text.endsWith('\r\n')).toBe(true);
  });

  it('RFC 4180: a strict parser reads every cell back (neutralised text with its one leading quote)', () => {
    const back = parse(text, {
      relax_quotes: false,
      relax_column_count: false,
      record_delimiter: '\r\n',
    }) as string[][];
    expect(back).toHaveLength(rows.length);
    for (const [i, [name, value]] of CELLS.entries()) {
      const cell = back[i + 1]?.[1];
      if (value === null || value === undefined || (typeof value === 'number' && !Number.isFinite(value))) {
        expect(cell, name).toBe('');
      } else if (typeof value === 'number') {
        expect(Number(cell), name).toBe(value); // numbers stay numbers
      } else if (/^[=+\-@\t\r＝＋－＠]/.test(value)) {
        expect(cell, name).toBe(`'${value}`);
      } else {
        expect(cell, name).toBe(value);
      }
    }
  });

  it('the same bytes as csv-stringify with escape_formulas', () => {
    const library = stringify(rows, {
      escape_formulas: true,
      record_delimiter: 'windows',
      quoted_match: /[\r\n]/,
      cast: { number: (n: number) => (Number.isFinite(n) ? String(n) : '') },
    });
    expect(text).toBe(library);
  });
});

describe('toCsv', () => {
  const task = (fileName: string, label: string): Task => ({
    task_id: '00000000-0000-4000-8000-000000000001',
    status: 'succeeded',
    source: 'server',
    created_at: '2026-01-01T00:00:00.000Z',
    started_at: null,
    finished_at: null,
    params: { min_score: 0.3, max_detections: 20, tiling: 'off', model: 'x' },
    model: null,
    image: { width: 100, height: 80, sha256: 'a'.repeat(64), mime: 'image/png' },
    detections: [{ label, class_id: 0, score: 0.5, box: { x: -0.5, y: 2, width: 3.25, height: 4 } }],
    timings: { queue_ms: null, inference_ms: null, total_ms: null },
    error: null,
    file_name: fileName,
  });

  it.each(['=1+1.png', '+1.png', '-1.png', '@x.png', '\tx.png', '\rx.png'])(
    'a file name %j is neutralised; the numbers of its row stay numbers',
    (name) => {
      const back = parse(toCsv([task(name, 'cup')]), { record_delimiter: '\r\n' }) as string[][];
      const row = Object.fromEntries((back[0] ?? []).map((h, i) => [h, back[1]?.[i]]));
      expect(back[0]).toEqual([...CSV_COLUMNS]);
      expect(row.file_name).toBe(`'${name}`);
      expect(row.x).toBe('-0.5');
      expect(row.width).toBe('3.25');
      expect(row.image_width).toBe('100');
    },
  );

  it('a label from an operator’s model is user text too', () => {
    const back = parse(toCsv([task('a.png', '=cmd')]), { record_delimiter: '\r\n' }) as string[][];
    expect(back[1]?.[CSV_COLUMNS.indexOf('label')]).toBe("'=cmd");
  });
});
