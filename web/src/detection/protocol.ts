/** Messages between the page and the detection worker. */
import type { Detection, DetectParams, ModelInfo } from '../../../shared/contract.ts';
import type { DeviceModel } from './models.ts';

/** What the device offers: a WebGPU adapter on real hardware, a software one, or none. */
export interface GpuProbe {
  webgpu: 'hardware' | 'software' | 'none';
  adapter: string | null;
}

export type DeviceBackend = 'webgpu' | 'webgl' | 'wasm';

export type ToWorker =
  | { type: 'probe'; id: number }
  /** Loads `model` (any manifest) on the first backend of the list that works here. */
  | { type: 'load'; id: number; backends: DeviceBackend[]; model: DeviceModel }
  /** Loads one backend and the model, warms up, and times model passes: a throwaway worker's job. */
  | { type: 'measure'; id: number; backend: DeviceBackend; model: DeviceModel }
  /** `keepBitmap`: the photo's bitmap comes back with the answer (the page shows it: no second decode). */
  | { type: 'detect'; id: number; bitmap: ImageBitmap; params: DetectParams; keepBitmap?: boolean };

export type FromWorker =
  | { type: 'probed'; id: number; probe: GpuProbe }
  | { type: 'loaded'; id: number; model: ModelInfo; loadMs: number; warmUpMs: number; msPerPass: number }
  /** The model's weights being fetched (first use of a model or version): the share done, 0–1. */
  | { type: 'progress'; id: number; fraction: number; model: string }
  | { type: 'measured'; id: number; backend: DeviceBackend; msPerPass: number; loadMs: number; warmUpMs: number }
  | {
      type: 'detected';
      id: number;
      detections: Detection[];
      inferenceMs: number;
      width: number;
      height: number;
      tiles: number;
      tileMs: number | null;
      bitmap?: ImageBitmap;
    }
  | { type: 'error'; id: number; message: string };
