// After `vite build`: writes .br and .gz beside each compressible file of dist/web, once, so the
// API serves them precompressed (serveStatic `precompressed`) instead of compressing per request.
// Photos' formats (PNG) and the model's float weights hardly compress; text and wasm do.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const dir = path.resolve(import.meta.dirname, '..', 'dist', 'web');
const COMPRESSIBLE = /\.(js|mjs|css|html|json|webmanifest|svg|wasm|txt)$/;
let files = 0;
let before = 0;
let after = 0;
for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !COMPRESSIBLE.test(entry.name)) continue;
  const file = path.join(entry.parentPath, entry.name);
  const bytes = fs.readFileSync(file);
  if (bytes.length < 1024) continue;
  const br = zlib.brotliCompressSync(bytes, {
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.length },
  });
  const gz = zlib.gzipSync(bytes, { level: 9 });
  if (br.length < bytes.length * 0.95) fs.writeFileSync(`${file}.br`, br);
  if (gz.length < bytes.length * 0.95) fs.writeFileSync(`${file}.gz`, gz);
  files++;
  before += bytes.length;
  after += Math.min(br.length, bytes.length);
}
const kb = (n) => `${(n / 1024).toFixed(0)} KB`;
console.log(`compress-web: ${files} files, ${kb(before)} → ${kb(after)} with brotli`);
