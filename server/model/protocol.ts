/** Messages between a worker process's main thread and its model thread. */
import type { Detection, DetectParams, ModelInfo } from '../../shared/contract.ts';
import type { Pixels } from '../../shared/detector/preprocess.ts';
import type { ModelManifest } from '../../shared/models/manifest.ts';
import type { BackendChoice } from './backend.ts';

/** A model to run: its manifest and the folder its files are in (server/models/catalog.ts). */
export interface ModelRef {
  manifest: ModelManifest;
  dir: string;
}

export interface InitMessage {
  type: 'init';
  backend: BackendChoice;
  /** Diagnostic busy-wait per inference (DEBUG_INFERENCE_BLOCK_MS). */
  blockMs: number;
  /** Loaded and warmed before the thread says it is ready (the default model); others load on demand. */
  warm: ModelRef | null;
  /** Loaded models kept within this many bytes of weights (MODEL_MEMORY_LIMIT). */
  memoryLimit: number;
}

export interface DetectMessage {
  type: 'detect';
  id: number;
  model: ModelRef;
  pixels: Pixels;
  original: { width: number; height: number };
  params: Pick<DetectParams, 'min_score' | 'max_detections' | 'tiling'>;
}

export type ToThread = InitMessage | DetectMessage;

/** `model_unavailable`: the model cannot be loaded (files, or it does not fit its manifest); the rest: the run failed. */
export type ThreadFailure = 'model_unavailable' | 'inference_failed';

export type FromThread =
  | { type: 'ready'; backend: string; warm: ModelInfo | null; warmUpMs: number }
  | { type: 'init-failed'; message: string }
  | {
      type: 'result';
      id: number;
      info: ModelInfo;
      detections: Detection[];
      inferenceMs: number;
      tiles: number;
      tileMs: number | null;
    }
  | { type: 'failed'; id: number; code: ThreadFailure; message: string }
  /** What the thread did with its models, for the worker's log. */
  | { type: 'note'; msg: string; fields: Record<string, unknown> };
