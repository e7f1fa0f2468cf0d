/**
 * TensorFlow.js's threaded WebAssembly build, from files of our own origin instead of `blob:` URLs.
 *
 * Why: @tensorflow/tfjs-backend-wasm (4.x) starts each of its threads as a Web Worker made from a
 * `blob:` URL (the Emscripten pthread script, inlined as a string), and that worker then imports the
 * backend's main script from a second `blob:` URL. The app's Content-Security-Policy allows workers
 * and scripts from 'self' only, so in a cross-origin isolated page those workers never started and
 * the backend ran on one thread. Rather than allow `blob:` scripts for the whole app, the build
 * rewrites those two places to name files it emits next to the wasm binaries
 * (/tfjs/<version>/, served and cached like them, with the app's headers, COEP included):
 *   tfjs-backend-wasm-threaded-simd.worker.js  the pthread worker (the inlined string, as a file)
 *   tfjs-backend-wasm-threaded-simd.js         the main script the threads import (Emscripten's factory)
 *
 * And why `tf.wasm.getThreadsCount()` said 1 after `setThreadsCount(2)`: the backend's C++
 * (`init_with_threads_count`, tfjs-backend-wasm/src/cc/backend.cc) caps the threads at
 * `emscripten_num_logical_cores() / 2` — it assumes two hardware threads per core — so on a 2-core
 * device every count became 1, on an 8-core phone at most 4, whatever was asked. The build makes that
 * function (in the Emscripten factory) report twice `navigator.hardwareConcurrency`, so the cap is the
 * number of logical cores and the count asked for (wasmThreadsFor: all cores but one) is the count run.
 * It is read once, on the backend's own thread, for that cap only (the pool's size is fixed at 8).
 *
 * A TensorFlow.js release that changes that code fails the build here, by name, rather than quietly
 * running on one thread again. `npm run dev` applies the same rewrites when it pre-bundles the package.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Plugin } from 'vite';

const require = createRequire(import.meta.url);

export const THREADED_WORKER = 'tfjs-backend-wasm-threaded-simd.worker.js';
export const THREADED_MAIN = 'tfjs-backend-wasm-threaded-simd.js';

function wasmOut(): string {
  return path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '..', 'wasm-out');
}

/** The two scripts the threads need, by file name (their contents). */
export function threadScripts(): Map<string, string> {
  const { wasmWorkerContents } = require(path.join(wasmOut(), THREADED_WORKER)) as { wasmWorkerContents: string };
  if (typeof wasmWorkerContents !== 'string')
    throw new Error(`${THREADED_WORKER} no longer exports wasmWorkerContents`);
  return new Map([
    // As tfjs does before making its blob: the string's "\n" escapes became newlines in the template literal.
    [THREADED_WORKER, wasmWorkerContents.replace(/\n/g, '\\n')],
    // The same factory as the one bundled into the detection worker (rewritten alike).
    [THREADED_MAIN, rewriteFactorySource(fs.readFileSync(path.join(wasmOut(), THREADED_MAIN), 'utf8'))],
  ]);
}

/** The two rewrites of dist/backend_wasm.js: [what it says now, what it says instead]. */
const REWRITES: [RegExp, string][] = [
  [
    /const blob = new Blob\(\[response\], \{ type: 'application\/javascript' \}\);\s*return URL\.createObjectURL\(blob\);/,
    `return (wasmPathPrefix != null ? wasmPathPrefix : prefix) + path;`,
  ],
  [
    /factoryConfig\.mainScriptUrlOrBlob = new Blob\(\[`var WasmBackendModuleThreadedSimd = ` \+\s*wasmFactoryThreadedSimd\.toString\(\)\], \{ type: 'text\/javascript' \}\);/,
    `factoryConfig.mainScriptUrlOrBlob = (wasmPathPrefix != null ? wasmPathPrefix : '') + '${THREADED_MAIN}';`,
  ],
];

/** The rewrite of wasm-out/tfjs-backend-wasm-threaded-simd.js: the cores the thread cap is halved from (see above). */
const FACTORY_REWRITES: [RegExp, string][] = [
  [
    /return navigator\["hardwareConcurrency"\]\}/,
    `return 2*navigator["hardwareConcurrency"]}/* twinlens: tfjs caps threads at half this */`,
  ],
];

function rewrite(code: string, rewrites: [RegExp, string][], file: string): string {
  let out = code;
  for (const [from, to] of rewrites) {
    if (!from.test(out)) {
      throw new Error(
        `@tensorflow/tfjs-backend-wasm changed: ${from} is not in ${file} (web/build/wasm-threads-plugin.ts)`,
      );
    }
    out = out.replace(from, to);
  }
  return out;
}

/** Rewrites the backend's source (exported for the unit test that pins it to the installed version). */
export function rewriteBackendSource(code: string): string {
  return rewrite(code, REWRITES, 'dist/backend_wasm.js');
}

/** Rewrites the threaded build's Emscripten factory (exported for the unit test). */
export function rewriteFactorySource(code: string): string {
  return rewrite(code, FACTORY_REWRITES, `wasm-out/${THREADED_MAIN}`);
}

/** The rewrite of one module, by its id: undefined when it is none of the two. */
export function wasmThreadsTransform(code: string, id: string): { code: string; map: null } | undefined {
  const file = id.split('?')[0] ?? '';
  if (/[\\/]@tensorflow[\\/]tfjs-backend-wasm[\\/]dist[\\/]backend_wasm\.js$/.test(file)) {
    return { code: rewriteBackendSource(code), map: null };
  }
  if (/[\\/]@tensorflow[\\/]tfjs-backend-wasm[\\/]wasm-out[\\/]tfjs-backend-wasm-threaded-simd\.js$/.test(file)) {
    return { code: rewriteFactorySource(code), map: null };
  }
  return undefined;
}

/**
 * For the worker bundle (vite.config.ts `worker.plugins`: the detection worker is what imports the
 * backend), and for the dev server's pre-bundling of dependencies (`optimizeDeps.rolldownOptions.plugins`).
 */
export function wasmThreadsPlugin(): Plugin & { transform: typeof wasmThreadsTransform } {
  return { name: 'twinlens-wasm-threads', enforce: 'pre', transform: wasmThreadsTransform };
}
