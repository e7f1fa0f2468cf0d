/**
 * `npm run dev` (Vite's dev server, vite.config.ts) sends the app cross-origin isolated, with the same
 * headers as the API and the edge (shared/web-headers.ts): the page, its scripts, the detection
 * worker's script, and the model and wasm files the assets plugin serves (web/build/assets-plugin.ts).
 */
import path from 'node:path';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BUILTIN_MODELS, modelUrlPath } from '../../shared/models/builtin.ts';
import { APP_ISOLATION_HEADERS } from '../../shared/web-headers.ts';
import { freePort } from '../helpers/redis-server.ts';
import { ROOT } from '../helpers/system.ts';

let vite: ViteDevServer;
let base = '';

beforeAll(async () => {
  const port = await freePort();
  vite = await createServer({
    configFile: path.join(ROOT, 'vite.config.ts'),
    logLevel: 'silent',
    server: { host: '127.0.0.1', port, strictPort: true, hmr: false },
    optimizeDeps: { noDiscovery: true, include: [] },
  });
  await vite.listen();
  base = `http://127.0.0.1:${port}`;
}, 60_000);
afterAll(async () => {
  await vite?.close();
});

it('the page, its scripts, the detection worker, the model and the wasm: the same isolation headers', async () => {
  const { version } = (await import('@tensorflow/tfjs-backend-wasm/package.json', { with: { type: 'json' } }))
    .default as { version: string };
  for (const file of [
    '/',
    '/src/main.ts',
    '/src/detection/worker.ts?worker_file&type=module',
    `${modelUrlPath(BUILTIN_MODELS[0]!)}centernet.json`,
    `/tfjs/${version}/tfjs-backend-wasm-threaded-simd.wasm`,
    `/tfjs/${version}/tfjs-backend-wasm-threaded-simd.worker.js`,
  ]) {
    const res = await fetch(`${base}${file}`);
    expect(res.status, file).toBe(200);
    for (const [name, value] of Object.entries(APP_ISOLATION_HEADERS)) {
      expect(res.headers.get(name), `${file} ${name}`).toBe(value);
    }
    await res.arrayBuffer();
  }
}, 60_000);
