/** The web app's files from the API: precompressed, and cached for good only when their URL is. */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BUILTIN_MODELS, modelUrlPath } from '../../shared/models/builtin.ts';
import { APP_ISOLATION_HEADERS } from '../../shared/web-headers.ts';

const MODEL_URL_PATH = modelUrlPath(BUILTIN_MODELS[0]!);

import { useInProcess } from '../helpers/in-process.ts';
import { ROOT } from '../helpers/system.ts';

const ctx = useInProcess();
const WEB = path.join(ROOT, 'dist', 'web');
const script = fs.readdirSync(path.join(WEB, 'assets')).find((f) => /^index-.*\.js$/.test(f)) ?? '';

describe('static files', () => {
  it('a hashed script: brotli when asked for, gzip otherwise, the same bytes, cached for a year', async () => {
    const original = fs.readFileSync(path.join(WEB, 'assets', script));
    const br = await ctx.api.request(`/assets/${script}`, { headers: { 'accept-encoding': 'gzip, deflate, br' } });
    expect(br.status).toBe(200);
    expect(br.headers.get('content-encoding')).toBe('br');
    expect(br.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const brBytes = Buffer.from(await br.arrayBuffer());
    expect(brBytes.length).toBeLessThan(original.length / 2);
    expect(zlib.brotliDecompressSync(brBytes).equals(original)).toBe(true);

    const gz = await ctx.api.request(`/assets/${script}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(gz.headers.get('content-encoding')).toBe('gzip');
    expect(zlib.gunzipSync(Buffer.from(await gz.arrayBuffer())).equals(original)).toBe(true);

    const plain = await ctx.api.request(`/assets/${script}`);
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(Buffer.from(await plain.arrayBuffer()).equals(original)).toBe(true);
  });

  it('the versioned model and wasm files are immutable; the entry points are revalidated', async () => {
    const model = await ctx.api.request(`${MODEL_URL_PATH}centernet.bin`);
    expect(model.status).toBe(200);
    expect(model.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const [wasmVersion] = fs.readdirSync(path.join(WEB, 'tfjs'));
    const wasm = await ctx.api.request(`/tfjs/${wasmVersion}/tfjs-backend-wasm-simd.wasm`, {
      headers: { 'accept-encoding': 'br' },
    });
    expect(wasm.headers.get('content-encoding')).toBe('br');
    expect(wasm.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    for (const entry of ['/', '/index.html', '/sw.js', '/manifest.webmanifest', '/some/client/route']) {
      const res = await ctx.api.request(entry);
      expect(res.status, entry).toBe(200);
      expect(res.headers.get('cache-control'), entry).toBe('no-cache');
    }
  });

  it('robots.txt is a robots file, not the page; icons are cached for a day', async () => {
    const robots = await ctx.api.request('/robots.txt');
    expect(robots.status).toBe(200);
    expect(robots.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await robots.text();
    expect(text).toMatch(/^User-agent: \*$/m);
    expect(text).not.toMatch(/<html/i);
    expect(robots.headers.get('cache-control')).toBe('public, max-age=86400, stale-while-revalidate=604800');
    for (const icon of ['/icons/icon-192.png', '/favicon.png']) {
      const res = await ctx.api.request(icon);
      expect(res.status, icon).toBe(200);
      expect(res.headers.get('cache-control'), icon).toBe('public, max-age=86400, stale-while-revalidate=604800');
    }
  });

  it('every file of the app is sent cross-origin isolated (COOP, COEP, CORP); the API docs page is not', async () => {
    const [wasmVersion] = fs.readdirSync(path.join(WEB, 'tfjs'));
    const worker = fs.readdirSync(path.join(WEB, 'assets')).find((f) => /^worker-.*\.js$/.test(f));
    const files = [
      '/',
      '/some/client/route',
      `/assets/${script}`,
      `/assets/${worker}`,
      '/sw.js',
      `${MODEL_URL_PATH}centernet.bin`,
      `/tfjs/${wasmVersion}/tfjs-backend-wasm-threaded-simd.wasm`,
      // The wasm backend's threads: their worker script and the script it imports (web/build/wasm-threads-plugin.ts).
      `/tfjs/${wasmVersion}/tfjs-backend-wasm-threaded-simd.worker.js`,
      `/tfjs/${wasmVersion}/tfjs-backend-wasm-threaded-simd.js`,
    ];
    for (const file of files) {
      const res = await ctx.api.request(file);
      expect(res.status, file).toBe(200);
      for (const [name, value] of Object.entries(APP_ISOLATION_HEADERS))
        expect(res.headers.get(name), `${file} ${name}`).toBe(value);
      await res.arrayBuffer();
    }
    const threads = await ctx.api.request(`/tfjs/${wasmVersion}/tfjs-backend-wasm-threaded-simd.worker.js`);
    expect(threads.headers.get('content-type')).toMatch(/javascript/);
    expect(threads.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    // Swagger UI's files come from its CDN, which does not send CORP: under COEP they would be blocked.
    const docs = await ctx.api.request('/api/docs');
    expect(docs.status).toBe(200);
    expect(docs.headers.get('cross-origin-embedder-policy')).toBeNull();
  });
});
