/** What crosses between the page and the detection worker (worker.ts serves it, bridge.ts calls it). */
import type { Detection, ModelInfo } from '../../../shared/contract.ts';

/** What the device offers: a WebGPU adapter and a WebGL 2 renderer, each on real hardware, in software, or none. */
export interface GpuProbe {
  webgpu: 'hardware' | 'software' | 'none';
  adapter: string | null;
  webgl: 'hardware' | 'software' | 'none';
  /** The WebGL renderer's name, where the browser tells it. */
  renderer: string | null;
  /** Whether the worker is cross-origin isolated (SharedArrayBuffer: the wasm backend's threads). */
  isolated: boolean;
  /** Logical cores the browser reports (navigator.hardwareConcurrency). */
  cores: number;
}

/**
 * `wasm`: TensorFlow.js's single-threaded WebAssembly build (SIMD); `wasm-threads`: its threaded build
 * with `wasmThreadsFor(cores)` threads, only where the page is cross-origin isolated. Both are the tf
 * backend 'wasm' (one at a time per worker); measured as two candidates, so threads win only where faster.
 */
export type DeviceBackend = 'webgpu' | 'webgl' | 'wasm' | 'wasm-threads';

/**
 * Threads for the `wasm-threads` candidate: all cores but one, left for the page (its scrolling,
 * drawing the results), and at least 2 (one thread is the `wasm` candidate). On a 2-core device that is
 * both cores: whether that beats one thread is what the measurement finds out. Null: no candidate.
 */
export function wasmThreadsFor(cores: number): number | null {
  if (!Number.isFinite(cores) || cores < 2) return null;
  return Math.max(2, Math.floor(cores) - 1);
}

/** The TensorFlow.js backend a device backend runs on. */
export function tfBackendOf(b: DeviceBackend): 'webgpu' | 'webgl' | 'wasm' {
  return b === 'wasm-threads' ? 'wasm' : b;
}

/** The model loaded and warmed on a backend, and one photo's time through it (ms per model pass). */
export interface Loaded {
  backend: DeviceBackend;
  model: ModelInfo;
  loadMs: number;
  warmUpMs: number;
  msPerPass: number;
  /** WebAssembly: the threads running it (tf.wasm.getThreadsCount()); null on a GPU backend. */
  threads: number | null;
}

/**
 * A throwaway worker's measurement of one backend; `msPerPass` null when its one layer was slower than
 * the limit asked for (it was stopped there, before the model was loaded).
 */
export interface Measured {
  backend: DeviceBackend;
  msPerPass: number | null;
  layerMs: number;
  loadMs: number;
  warmUpMs: number;
  /** WebAssembly: the threads it ran with; null on a GPU backend. */
  threads: number | null;
}

export interface Detected {
  detections: Detection[];
  inferenceMs: number;
  /** The photo's size (EXIF-oriented): boxes are in these pixels. */
  width: number;
  height: number;
  tiles: number;
  tileMs: number | null;
  /** With `keepBitmap`: the photo decoded (EXIF-oriented), back from the worker; the caller closes it. */
  bitmap?: ImageBitmap | undefined;
}

/** What the Live view asks of one video frame (no tiling: a frame is drawn once, at the model's input size). */
export interface FrameParams {
  min_score: number;
  max_detections: number;
}

/** One video frame's answer: boxes in the frame's pixels, and where the worker's time went (ms). */
export interface FrameDetected {
  detections: Detection[];
  width: number;
  height: number;
  /** Drawing the frame at the model's size and reading its pixels. */
  drawMs: number;
  /** The model pass and its decoding. */
  inferenceMs: number;
}

/** The worker's methods by name (the types come from worker.ts itself: `DetectionApi`). */
export const DETECTION_METHODS = ['probe', 'setThreads', 'load', 'layer', 'measure', 'detect', 'detectFrame'] as const;
