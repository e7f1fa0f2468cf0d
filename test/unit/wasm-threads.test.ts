/**
 * WebAssembly on threads as a device candidate (web/src/detection/backends.ts, protocol.ts): where it
 * is offered, with how many threads, how the route line names it, that the measurement picks it only
 * when faster; and the build's rewrite of the installed @tensorflow/tfjs-backend-wasm that lets its
 * threads start under the CSP (web/build/wasm-threads-plugin.ts). The real thing, threads running in
 * Chromium, is test/e2e/isolation.test.ts.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  rewriteBackendSource,
  rewriteFactorySource,
  THREADED_MAIN,
  THREADED_WORKER,
  threadScripts,
} from '../../web/build/wasm-threads-plugin.ts';
import {
  type BackendResult,
  candidates,
  describeMeasurement,
  measureRest,
  winner,
} from '../../web/src/detection/backends.ts';
import { type GpuProbe, tfBackendOf, wasmThreadsFor } from '../../web/src/detection/protocol.ts';

const probe = (over: Partial<GpuProbe> = {}): GpuProbe => ({
  webgpu: 'software',
  adapter: 'SwiftShader',
  webgl: 'software',
  renderer: 'SwiftShader',
  isolated: true,
  cores: 8,
  ...over,
});

describe('the threads asked for', () => {
  const cases: [number, number | null][] = [
    [1, null], // one core: nothing to share
    [2, 2], // both: one thread is the other candidate
    [3, 2],
    [4, 3], // a core left for the page
    [8, 7],
    [Number.NaN, null],
  ];
  it.each(cases)('%d cores → %s threads', (cores, threads) => {
    expect(wasmThreadsFor(cores)).toBe(threads);
  });
  it('runs on the tf backend "wasm", like one thread', () => {
    expect(tfBackendOf('wasm-threads')).toBe('wasm');
    expect(tfBackendOf('webgl')).toBe('webgl');
  });
});

describe('candidates', () => {
  it('offers threads after one thread where the page is isolated and has two cores', () => {
    expect(candidates(probe())).toEqual(['wasm', 'wasm-threads', 'webgpu', 'webgl']);
    expect(candidates(probe({ cores: 2 }))).toContain('wasm-threads');
  });
  it('offers no threads where the page is not isolated, or on one core', () => {
    expect(candidates(probe({ isolated: false }))).not.toContain('wasm-threads');
    expect(candidates(probe({ cores: 1 }))).not.toContain('wasm-threads');
  });
  it('?backends= narrows to it', () => {
    expect(candidates(probe(), ['wasm-threads'])).toEqual(['wasm-threads']);
  });
});

describe('the measurement', () => {
  const single: BackendResult = { backend: 'wasm', msPerPass: 170, elapsedMs: 0, threads: 1 };

  it('picks threads only when measured faster, and the route line names the threads', async () => {
    const slower = await measureRest(
      ['wasm-threads'],
      [single],
      async () => ({ msPerPass: 190, threads: 2 }),
      () => undefined,
    );
    expect(winner({ results: slower })?.backend).toBe('wasm');
    expect(describeMeasurement({ results: slower })).toBe(
      'WebAssembly, 170 ms per photo on 1 thread; WebAssembly 190 ms on 2 threads',
    );
    const faster = await measureRest(
      ['wasm-threads'],
      [single],
      async () => ({ msPerPass: 95, threads: 2 }),
      () => undefined,
    );
    expect(winner({ results: faster })).toMatchObject({ backend: 'wasm-threads', threads: 2 });
    expect(describeMeasurement({ results: faster })).toBe(
      'WebAssembly, 95 ms per photo on 2 threads; WebAssembly 170 ms on 1 thread',
    );
  });

  it('says so when the threads do not start (no isolation in a worker, a script blocked)', async () => {
    const results = await measureRest(
      ['wasm-threads'],
      [single],
      async () => 'failed',
      () => undefined,
    );
    expect(winner({ results })?.backend).toBe('wasm');
    expect(describeMeasurement({ results })).toBe(
      'WebAssembly, 170 ms per photo on 1 thread; WebAssembly on threads does not run here',
    );
  });

  it('without threads on offer, the line is as before', () => {
    expect(describeMeasurement({ results: [{ backend: 'wasm', msPerPass: 170, elapsedMs: 0 }] })).toBe(
      'WebAssembly, 170 ms per photo',
    );
  });
});

describe('the build rewrite of the installed @tensorflow/tfjs-backend-wasm', () => {
  const require = createRequire(import.meta.url);
  const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
  const source = fs.readFileSync(path.join(dist, 'backend_wasm.js'), 'utf8');

  it('names our files for the threads instead of blob: URLs (the CSP allows scripts from self only)', () => {
    expect(source).toMatch(/URL\.createObjectURL/);
    const out = rewriteBackendSource(source);
    expect(out).not.toMatch(/URL\.createObjectURL/);
    expect(out).not.toMatch(/new Blob/);
    expect(out).toContain(`+ '${THREADED_MAIN}'`);
    expect(out).toContain('return (wasmPathPrefix != null ? wasmPathPrefix : prefix) + path;');
  });

  it('fails by name on a release that changed that code, rather than running on one thread', () => {
    expect(() => rewriteBackendSource(source.replace('URL.createObjectURL(blob)', 'makeUrl(blob)'))).toThrow(
      /tfjs-backend-wasm changed/,
    );
  });

  it('lifts the cap of half the logical cores (2 cores: 1 thread whatever was asked) to all of them', () => {
    const factory = fs.readFileSync(path.join(dist, '..', 'wasm-out', THREADED_MAIN), 'utf8');
    const out = rewriteFactorySource(factory);
    const cores = /function _emscripten_num_logical_cores\(\)\{[^}]*\}/.exec(out)?.[0] ?? '';
    expect(cores).toContain('return 2*navigator["hardwareConcurrency"]');
    // The emitted script the threads import is the rewritten one too.
    expect(threadScripts().get(THREADED_MAIN) === out).toBe(true);
  });

  it('the two scripts: the pthread worker (classic, importScripts) and the factory it imports', () => {
    const scripts = threadScripts();
    expect(scripts.get(THREADED_WORKER)).toMatch(/importScripts\(e\.data\.urlOrBlob\)/);
    expect(scripts.get(THREADED_MAIN)).toMatch(/^\s*var WasmBackendModuleThreadedSimd = /);
    // Both parse as scripts.
    for (const text of scripts.values()) expect(() => new Function(text)).not.toThrow();
  });
});
