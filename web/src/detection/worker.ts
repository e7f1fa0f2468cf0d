/**
 * The detection Web Worker: owns TensorFlow.js, so inference never runs on the page's thread.
 * It loads and warms the model once (the first task is as fast as the rest), then runs the
 * shared detector on images the page sends as ImageBitmaps (already EXIF-oriented).
 *
 * Its API is the `api` object below, served with shared/rpc.ts; the page's side (bridge.ts) is typed
 * from it (`DetectionApi`), so the two cannot drift. A throwaway copy of this worker measures one
 * backend (`measure`) while the page's own copy keeps running photos.
 */
/// <reference lib="webworker" />
import * as tf from '@tensorflow/tfjs-core';
import type { DetectParams } from '../../../shared/contract.ts';
import { Detector } from '../../../shared/detector/detector.ts';
import { decodeSizeFor } from '../../../shared/detector/preprocess.ts';
import { decodeSizeForTiling } from '../../../shared/detector/tiling.ts';
import { expose, transferred } from '../../../shared/rpc.ts';
import { messageEndpoint } from './endpoint.ts';
import { type DeviceModel, modelKey } from './models.ts';
import {
  type DETECTION_METHODS,
  type Detected,
  type DeviceBackend,
  type FrameDetected,
  type FrameParams,
  type GpuProbe,
  type Loaded,
  type Measured,
  tfBackendOf,
  wasmThreadsFor,
} from './protocol.ts';

declare const self: DedicatedWorkerGlobalScope;

let detector: Detector | undefined;
/** Photos running now, and the models replaced while they ran (disposed once none runs). */
let running = 0;
const retired: Detector[] = [];
function retire(d: Detector): void {
  if (running === 0) d.dispose();
  else retired.push(d);
}
/** Resolved when no photo runs (see `photoDone`). */
let idleWaiters: (() => void)[] = [];
function idle(): Promise<void> {
  return running === 0 ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve));
}
function photoDone(): void {
  if (--running > 0) return;
  for (const d of retired.splice(0)) d.dispose();
  for (const resolve of idleWaiters.splice(0)) resolve();
  idleWaiters = [];
}

/** Any manifest's model, from our origin (the service worker keeps each model and version for offline use). */
function loadModel(model: DeviceModel, onProgress?: (fraction: number) => void): Promise<Detector> {
  return Detector.load(model.manifest, `${model.url}${model.manifest.model}`, onProgress);
}
let loading: { key: string; done: Promise<Loaded> } | undefined;

interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

async function probe(): Promise<GpuProbe> {
  return {
    ...(await probeWebGpu()),
    ...probeWebGl(),
    isolated: self.crossOriginIsolated === true,
    cores: navigator.hardwareConcurrency ?? 1,
  };
}

async function probeWebGpu(): Promise<Pick<GpuProbe, 'webgpu' | 'adapter'>> {
  // adapter.info is newer than the WebGPU typings in node_modules.
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } }).gpu;
  if (!gpu) return { webgpu: 'none', adapter: null };
  const adapter = await gpu.requestAdapter().catch(() => null);
  if (!adapter) return { webgpu: 'none', adapter: null };
  const info = adapter.info ?? {};
  const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'unknown';
  // A fallback adapter is a software rasteriser (SwiftShader): far slower than the server.
  const software = info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false;
  return { webgpu: software ? 'software' : 'hardware', adapter: name };
}

/** A WebGL renderer string that names a software rasteriser (the CPU drawing as a GPU would). */
const SOFTWARE_RENDERER = /swiftshader|llvmpipe|softpipe|software|basic render/i;

function probeWebGl(): Pick<GpuProbe, 'webgl' | 'renderer'> {
  try {
    const gl = new OffscreenCanvas(1, 1).getContext('webgl2');
    if (!gl) return { webgl: 'none', renderer: null };
    const debug = gl.getExtension('WEBGL_debug_renderer_info');
    const renderer = String(gl.getParameter(debug ? debug.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? '');
    gl.getExtension('WEBGL_lose_context')?.loseContext();
    return { webgl: SOFTWARE_RENDERER.test(renderer) ? 'software' : 'hardware', renderer: renderer || null };
  } catch {
    return { webgl: 'none', renderer: null };
  }
}

/** Whether this browser can run the wasm threaded build here (evaluated once, before the flag is forced). */
let threadsSupported: Promise<boolean> | undefined;
/**
 * How the 'wasm' backend of this worker was initialised (tf keeps one backend per name): 0 for the
 * single-threaded build, else the threaded build's thread count.
 */
let wasmThreads: number | undefined;
/** `?threads=N` (benchmarks): the `wasm-threads` candidate runs N threads instead of wasmThreadsFor(cores). */
let threadsOverride: number | null = null;

/**
 * Readies the 'wasm' backend with `threads` threads. Why each step (the count stayed 1 before):
 * - the threaded build loads only where `WASM_HAS_MULTITHREAD_SUPPORT` (SharedArrayBuffer: the page
 *   and this worker cross-origin isolated, shared/web-headers.ts); one thread is the single-threaded
 *   SIMD build, so the flag is forced off for it;
 * - `setThreadsCount` is read when the backend is created, so it comes before `setBackend`, in this
 *   worker (the page's copy of the module is another one);
 * - its threads are Web Workers whose scripts the build serves from /tfjs/<version>/ (blob: URLs are
 *   refused by the CSP: web/build/wasm-threads-plugin.ts);
 * - tfjs's C++ caps the threads at half the logical cores (2 cores: 1 thread): the build lifts the cap
 *   (same file), and `threadsNow` checks that what runs is what was asked;
 * - tf creates a backend once per name: another thread count re-creates it, after the photos running
 *   on it (their model is disposed with it).
 */
async function useWasm(threads: number, threaded: boolean): Promise<void> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  // Versioned like the files the build emits (web/build/assets-plugin.ts).
  wasm.setWasmPaths(`/tfjs/${wasm.version_wasm}/`);
  threadsSupported ??= tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT') as Promise<boolean>;
  if (threaded && !(await threadsSupported)) throw new Error('no WebAssembly threads: not cross-origin isolated');
  const kind = threaded ? threads : 0;
  if (wasmThreads !== undefined && wasmThreads !== kind) {
    const factory = tf.findBackendFactory('wasm');
    if (!factory) throw new Error('the wasm backend is not registered');
    await idle();
    // Its tensors live in the backend being replaced (loadWith, the only caller here, loads the model again).
    if (detector) {
      detector.dispose();
      detector = undefined;
    }
    tf.removeBackend('wasm');
    tf.registerBackend('wasm', factory, 2);
    wasmThreads = undefined;
  }
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', threaded);
  wasm.setThreadsCount(threads);
  wasmThreads = kind;
}

/** The threads the 'wasm' backend runs with (null for a GPU backend). */
async function threadsNow(name: DeviceBackend): Promise<number | null> {
  if (tfBackendOf(name) !== 'wasm') return null;
  return (await import('@tensorflow/tfjs-backend-wasm')).getThreadsCount();
}

async function useBackend(name: DeviceBackend): Promise<boolean> {
  try {
    const wanted =
      name === 'wasm'
        ? 1
        : name === 'wasm-threads'
          ? (threadsOverride ?? wasmThreadsFor(navigator.hardwareConcurrency))
          : null;
    if (name === 'webgpu') await import('@tensorflow/tfjs-backend-webgpu');
    else if (name === 'webgl') await import('@tensorflow/tfjs-backend-webgl');
    else if (wanted === null) return false;
    else await useWasm(wanted, name === 'wasm-threads');
    const tfName = tfBackendOf(name);
    if (!(await tf.setBackend(tfName))) return false;
    await tf.ready();
    if (tf.getBackend() !== tfName) return false;
    // Asked for threads but their workers did not start: not the candidate it claims to be.
    const runs = wanted === null ? null : await threadsNow(name);
    if (runs !== wanted) {
      console.warn(`${name}: asked for ${wanted} threads, ${runs} run`);
      return false;
    }
    return true;
  } catch (err) {
    console.warn(`${name} does not run here: ${(err as Error)?.message ?? err}`);
    return false;
  }
}

async function loadWith(backends: DeviceBackend[], model: DeviceModel): Promise<Loaded> {
  const started = performance.now();
  let chosen: DeviceBackend | undefined;
  for (const b of backends) {
    if (await useBackend(b)) {
      chosen = b;
      break;
    }
  }
  if (!chosen) throw new Error(`none of these backends works here: ${backends.join(', ')}`);
  const next = await loadModel(model, (fraction) => events.emit('progress', fraction));
  const warmStart = performance.now();
  await next.warmUp();
  const warmUpMs = performance.now() - warmStart;
  const msPerPass = await timePass(next);
  // A photo may still be running on the model this one replaces (another model was chosen): it finishes first.
  if (detector) retire(detector);
  detector = next;
  const threads = await threadsNow(chosen);
  return { backend: chosen, model: detector.info(), loadMs: warmStart - started, warmUpMs, msPerPass, threads };
}

/**
 * One layer of the kind the model is made of (a 3×3 convolution, 96×96×32 → 32), after a first run
 * that compiles it: ms per run, the result read back. Cheap on any backend (one kernel, one shader),
 * and telling: a backend far slower at it than another cannot run the whole model faster.
 */
async function layerMs(): Promise<number> {
  // Made here, not by a random kernel: the one shader compiled is the convolution's.
  const values = (n: number) => Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 255) / 255);
  const x = tf.tensor4d(values(96 * 96 * 32), [1, 96, 96, 32]);
  const w = tf.tensor4d(values(3 * 3 * 32 * 32), [3, 3, 32, 32]);
  const run = async () => {
    const y = tf.conv2d(x, w, 1, 'same');
    await y.data();
    y.dispose();
  };
  try {
    await run();
    const t0 = performance.now();
    await run();
    await run();
    return (performance.now() - t0) / 2;
  } finally {
    x.dispose();
    w.dispose();
  }
}

/**
 * A blank photo after the warm-up, through the same steps as a real one (bitmap → canvas → pixels →
 * model), timed: what a photo costs on this backend; it also readies those steps for the first photo.
 */
async function timePass(d: Detector): Promise<number> {
  const [w, h] = d.manifest.input.size;
  const blank = await createImageBitmap(new ImageData(w, h));
  const t0 = performance.now();
  await detectWith(d, blank, { min_score: 1, max_detections: 1, tiling: 'off', model: d.manifest.id });
  return performance.now() - t0;
}

/** `keepBitmap`: the bitmap is left open, to go back to the page; otherwise it is closed once drawn. */
async function detectWith(d: Detector, bitmap: ImageBitmap, params: DetectParams, keepBitmap = false) {
  const original = { width: bitmap.width, height: bitmap.height };
  // One draw: small for the whole pass alone, larger (bounded) when the photo will be tiled.
  const size = decodeSizeForTiling(
    bitmap.width,
    bitmap.height,
    params.tiling,
    decodeSizeFor(d.inputSize, bitmap.width, bitmap.height),
  );
  const canvas = new OffscreenCanvas(size.width, size.height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('no 2D canvas in this worker');
  ctx.drawImage(bitmap, 0, 0, size.width, size.height);
  if (!keepBitmap) bitmap.close();
  const { data } = ctx.getImageData(0, 0, size.width, size.height);
  const r = await d.detect({ data, width: size.width, height: size.height, channels: 4 }, original, params);
  return { ...r, ...original };
}

/** The Live view's canvas, kept between frames (one allocation for the stream, not one per frame). */
let frameCanvas: OffscreenCanvas | undefined;

/**
 * One video frame through the loaded model: drawn once at the model's input side (a photo is drawn at
 * twice that, for tiling and faithful resizing; a frame is small and there are many), never tiled.
 */
async function detectFrame(d: Detector, frame: ImageBitmap | VideoFrame, params: FrameParams): Promise<FrameDetected> {
  const t0 = performance.now();
  const width = 'displayWidth' in frame ? frame.displayWidth : frame.width;
  const height = 'displayHeight' in frame ? frame.displayHeight : frame.height;
  const scale = Math.min(1, d.inputSize / Math.max(width, height));
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  if (!frameCanvas || frameCanvas.width !== w || frameCanvas.height !== h) frameCanvas = new OffscreenCanvas(w, h);
  const ctx = frameCanvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('no 2D canvas in this worker');
  ctx.drawImage(frame, 0, 0, w, h);
  frame.close(); // the camera's buffer goes back to it at once
  const { data } = ctx.getImageData(0, 0, w, h);
  const t1 = performance.now();
  const r = await d.detect({ data, width: w, height: h, channels: 4 }, { width, height }, { ...params, tiling: 'off' });
  return { detections: r.detections, width, height, drawMs: t1 - t0, inferenceMs: r.inferenceMs };
}

const api = {
  probe,

  /** `?threads=N` (benchmarks, diagnostics): the threads the `wasm-threads` candidate asks for. */
  setThreads(n: number | null): void {
    threadsOverride = n !== null && Number.isInteger(n) && n >= 1 ? n : null;
  },

  /** Loads (once) with the first backend of the list that works here; the same list again answers at once. */
  load(backends: DeviceBackend[], model: DeviceModel): Promise<Loaded> {
    const key = `${backends.join(',')} ${modelKey(model)}`;
    if (loading?.key !== key) {
      const done = loadWith(backends, model);
      loading = { key, done };
      done.catch(() => {
        if (loading?.done === done) loading = undefined;
      });
    }
    return loading.done;
  },

  /** One layer on the loaded backend (ms): the first round other candidates are held to (backends.ts). */
  layer: () => layerMs(),

  /**
   * A throwaway worker's job: how fast one backend runs the model here (the page stops it when too
   * slow). First one layer: slower than `layerLimitMs`, it stops there (see LAYER_STOP_FACTOR).
   */
  async measure(backend: DeviceBackend, layerLimitMs: number | null, model: DeviceModel): Promise<Measured> {
    const started = performance.now();
    if (!(await useBackend(backend))) throw new Error(`${backend} does not work here`);
    const layer = await layerMs();
    if (layerLimitMs !== null && layer > layerLimitMs) {
      const threads = await threadsNow(backend);
      return { backend, msPerPass: null, layerMs: layer, loadMs: performance.now() - started, warmUpMs: 0, threads };
    }
    const d = await loadModel(model);
    const warmStart = performance.now();
    await d.warmUp();
    const warmUpMs = performance.now() - warmStart;
    const msPerPass = Math.min(await timePass(d), await timePass(d));
    return {
      backend,
      msPerPass,
      layerMs: layer,
      loadMs: warmStart - started,
      warmUpMs,
      threads: await threadsNow(backend),
    };
  },

  /** `keepBitmap`: the photo's bitmap comes back with the answer (the page shows it: no second decode). */
  async detect(bitmap: ImageBitmap, params: DetectParams, keepBitmap: boolean) {
    try {
      if (!detector) throw new Error('the model is not loaded');
      running++;
      const r = await detectWith(detector, bitmap, params, keepBitmap).finally(photoDone);
      const out: Detected = {
        detections: r.detections,
        inferenceMs: r.inferenceMs,
        width: r.width,
        height: r.height,
        tiles: r.tiles,
        tileMs: r.tileMs,
        bitmap: keepBitmap ? bitmap : undefined,
      };
      return transferred(out, keepBitmap ? [bitmap] : []);
    } catch (err) {
      bitmap.close(); // kept for the page, but there is no answer to send it with
      throw err;
    }
  },

  /** One frame of the Live view (an ImageBitmap or a VideoFrame, transferred; closed here once drawn). */
  async detectFrame(frame: ImageBitmap | VideoFrame, params: FrameParams): Promise<FrameDetected> {
    if (!detector) {
      frame.close();
      throw new Error('the model is not loaded');
    }
    running++;
    try {
      return await detectFrame(detector, frame, params);
    } catch (err) {
      try {
        frame.close();
      } catch {
        // closed already
      }
      throw err;
    } finally {
      if (--running === 0) for (const d of retired.splice(0)) d.dispose();
    }
  },
};

export type DetectionApi = typeof api;
// The page names the methods (protocol.ts): the compiler checks that it names exactly these.
api satisfies Record<(typeof DETECTION_METHODS)[number], unknown>;

const events = expose(api, messageEndpoint(self));
