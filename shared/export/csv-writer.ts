/**
 * The one CSV writer of the project: the API's exports, the CLI's files and the web app's download
 * all write through `writeCsv` (by way of csv.ts's `toCsv`).
 *
 * - RFC 4180: comma-separated, CRLF after every record, a field quoted when it holds a comma, a
 *   quote (doubled inside), CR or LF.
 * - CSV injection (OWASP): a text cell that begins with `=`, `+`, `-`, `@`, tab or CR (or their
 *   full-width forms, which some spreadsheets fold to them) gets a leading `'`, so that a
 *   spreadsheet shows it as text instead of running it as a formula. Numbers are left as they are
 *   (`-0.5` stays a number): only values of type string are neutralised, so callers pass numbers
 *   as numbers. A number that is not finite is written as an empty cell.
 *
 * Why not a library: csv-stringify (`escape_formulas`) writes exactly this (the unit tests and
 * `npm run bench:csv` compare the two byte for byte), but measured 3.5–5.8× slower on 20,000 rows
 * (an export blocks the API's event loop that much longer), added 32 KB (10 KB gzip) to the web
 * app's bundle for its Buffer polyfill, and needs `quoted_match` to quote a lone CR or LF at all.
 * See docs/benchmarks.md.
 */
export type CsvValue = string | number | null | undefined;

const FORMULA_START = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;
const NEEDS_QUOTES = /[",\r\n]/;

/** One field as written. */
export function csvCell(v: CsvValue): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  const text = FORMULA_START.test(v) ? `'${v}` : v;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Rows (the first one the header) as a CSV document, each record ended by CRLF. */
export function writeCsv(rows: readonly (readonly CsvValue[])[]): string {
  let out = '';
  for (const row of rows) out += `${row.map(csvCell).join(',')}\r\n`;
  return out;
}
