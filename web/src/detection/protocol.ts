/** What crosses between the page and the detection worker (worker.ts serves it, bridge.ts calls it). */
import type { Detection, ModelInfo } from '../../../shared/contract.ts';

/** What the device offers: a WebGPU adapter on real hardware, a software one, or none. */
export interface GpuProbe {
  webgpu: 'hardware' | 'software' | 'none';
  adapter: string | null;
}

export type DeviceBackend = 'webgpu' | 'webgl' | 'wasm';

/** The model loaded and warmed on a backend, and one photo's time through it (ms per model pass). */
export interface Loaded {
  backend: DeviceBackend;
  model: ModelInfo;
  loadMs: number;
  warmUpMs: number;
  msPerPass: number;
}

/** A throwaway worker's measurement of one backend. */
export interface Measured {
  backend: DeviceBackend;
  msPerPass: number;
  loadMs: number;
  warmUpMs: number;
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

/** The worker's methods by name (the types come from worker.ts itself: `DetectionApi`). */
export const DETECTION_METHODS = ['probe', 'load', 'measure', 'detect'] as const;
