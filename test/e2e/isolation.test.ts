/**
 * Cross-origin isolation in real Chromium against the real server: the page is `crossOriginIsolated`,
 * everything it loads still loads (the model, the wasm binaries and the threads' scripts, the service
 * worker) with nothing blocked, and WebAssembly on threads is measured as one more candidate — with the
 * thread count it asked for really running — and runs only if it measured faster.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { APP_ISOLATION_HEADERS } from '../../shared/web-headers.ts';
import { wasmThreadsFor } from '../../web/src/detection/protocol.ts';
import { FIXTURES } from '../helpers/api.ts';
import { useSystem } from '../helpers/system.ts';
import { type Browser, chooseRoute, openApp, SLOW, waitForNewestTask } from './browser.ts';

const ctx = useSystem({ workers: 0 });
let browser: Browser;
/** Requests that failed (blocked by COEP/CORP or CSP, or not found), from the page and its workers. */
const failed: string[] = [];
const problems: string[] = [];
const loaded = new Set<string>();

interface StoredResult {
  backend: string;
  msPerPass: number | null;
  threads?: number | null;
}

beforeAll(async () => {
  browser = await openApp(ctx.sys.baseUrl, { webgpu: false });
  const { context, page } = browser;
  context.on('requestfailed', (r) => {
    const why = r.failure()?.errorText ?? '';
    // Aborted: a measuring worker stopped (it has lost) or a page left mid-load; blocked ones say so.
    if (!/ERR_ABORTED/.test(why)) failed.push(`${r.url()} ${why}`);
  });
  context.on('response', (r) => {
    const p = new URL(r.url()).pathname;
    // The API answers 401 before a login: not a resource of the app.
    if (r.status() >= 400 && !p.startsWith('/api/')) failed.push(`${r.url()} ${r.status()}`);
    else loaded.add(p);
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Cross-Origin|COEP|blocked/i.test(m.text())) {
      problems.push(m.text());
    }
  });
  // A fresh load, with the listeners on from its start.
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
}, SLOW);
afterAll(async () => {
  await browser?.close();
});

it('the page and its documents are cross-origin isolated; the service worker controls it', async () => {
  const { page } = browser;
  const doc = await page.goto(ctx.sys.baseUrl);
  for (const [name, value] of Object.entries(APP_ISOLATION_HEADERS)) {
    expect(doc?.headers()[name.toLowerCase()], name).toBe(value);
  }
  await page.waitForSelector('body[data-ready="true"]');
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  expect(await page.evaluate(() => typeof SharedArrayBuffer)).toBe('function');
  expect(await page.getAttribute('#where', 'data-isolated')).toBe('true');
  // The service worker: registered, active and controlling the page (its script loaded under COEP).
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  expect(await page.evaluate(() => navigator.serviceWorker.controller?.state)).toBe('activated');
  // Served by the service worker (from its cache) the page is still isolated: the cached headers came along.
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
});

it(
  'WebAssembly on threads is measured with its thread count, runs only if faster, and detects the photo',
  async () => {
    const { page } = browser;
    await chooseRoute(page, 'device');
    await page.waitForSelector('#where[data-measured]', { timeout: 240_000 });
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    const threads = wasmThreadsFor(cores);
    expect(threads, 'this test needs 2 cores or more').not.toBeNull();

    // The measurement as the page stored it (IndexedDB): both WebAssembly candidates, with their threads.
    const results = await page.evaluate<StoredResult[]>(`new Promise((resolve, reject) => {
      const open = indexedDB.open('twinlens-device');
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const all = open.result.transaction('measurements').objectStore('measurements').getAll();
        all.onsuccess = () => resolve(all.result.flatMap((m) => m.results));
        all.onerror = () => reject(all.error);
      };
    })`);
    const single = results.find((r) => r.backend === 'wasm');
    const threaded = results.find((r) => r.backend === 'wasm-threads');
    expect(single?.msPerPass).toBeGreaterThan(0);
    // The threaded build ran with as many threads as asked (tf.wasm.getThreadsCount(), or it is not recorded).
    expect(threaded).toMatchObject({ threads });
    expect(threaded?.msPerPass).toBeGreaterThan(0);

    // The one running is the faster of the two, and the route line names both, with the threads.
    const faster = (threaded?.msPerPass ?? Number.POSITIVE_INFINITY) < (single?.msPerPass ?? 0) ? threaded : single;
    await expect.poll(() => page.getAttribute('#where', 'data-candidate')).toBe(faster?.backend);
    expect(await page.getAttribute('#where', 'data-backend')).toBe('wasm');
    expect(await page.getAttribute('#where', 'data-threads')).toBe(String(faster === threaded ? threads : 1));
    const line = (await page.textContent('#where')) ?? '';
    expect(line).toMatch(new RegExp(`WebAssembly,? \\d+ ms( per photo)? on ${threads} threads`));
    expect(line).toMatch(/WebAssembly,? \d+ ms( per photo)? on 1 thread\b/);

    await page.setInputFiles('#files', path.join(FIXTURES, 'astronaut.png'));
    const id = await waitForNewestTask(page, ['succeeded', 'failed']);
    expect(await page.getAttribute(`li[data-task-id="${id}"]`, 'data-status')).toBe('succeeded');
    await expect.poll(() => page.textContent('#result-list'), { timeout: 10_000 }).toContain('person');
  },
  SLOW,
);

it('everything the app loaded loaded: the model, the wasm and the threads’ scripts, nothing blocked', async () => {
  expect(failed).toEqual([]);
  expect(problems).toEqual([]);
  const seen = [...loaded];
  expect(seen.some((p) => /^\/models\/.+\.bin$/.test(p))).toBe(true);
  // (The single-threaded build's .wasm and sw.js were fetched before the listeners: that build ran, measured
  // above, and the service worker controls the page, checked above.) Fetched since: the threads' files.
  expect(seen.some((p) => /^\/tfjs\/[^/]+\/tfjs-backend-wasm-threaded-simd\.wasm$/.test(p))).toBe(true);
  expect(seen.some((p) => /^\/tfjs\/[^/]+\/tfjs-backend-wasm-threaded-simd\.worker\.js$/.test(p))).toBe(true);
  expect(seen.some((p) => /^\/tfjs\/[^/]+\/tfjs-backend-wasm-threaded-simd\.js$/.test(p))).toBe(true);
});

it('the API docs page is not made to embed under COEP (its Swagger UI comes from a CDN); its document loads', async () => {
  const { page } = browser;
  const docs = await page.goto(`${ctx.sys.baseUrl}/api/docs`);
  expect(docs?.status()).toBe(200);
  expect(docs?.headers()['cross-origin-embedder-policy']).toBeUndefined();
  const spec = await page.evaluate(async () => (await fetch('/api/openapi.json')).status);
  expect(spec).toBe(200);
});
