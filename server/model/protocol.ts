/** What crosses between a worker process's main thread and its model thread (thread.ts serves it, runner.ts calls it). */
import type { Detection, ModelInfo } from '../../shared/contract.ts';
import type { ModelManifest } from '../../shared/models/manifest.ts';
import type { BackendChoice } from './backend.ts';

/** A model to run: its manifest and the folder its files are in (server/models/catalog.ts). */
export interface ModelRef {
  manifest: ModelManifest;
  dir: string;
}

/** How the thread starts (its `init`). */
export interface ThreadInit {
  backend: BackendChoice;
  /** Diagnostic busy-wait per inference (DEBUG_INFERENCE_BLOCK_MS). */
  blockMs: number;
  /** Loaded and warmed before the thread says it is ready (the default model); others load on demand. */
  warm: ModelRef | null;
  /** Loaded models kept within this many bytes of weights (MODEL_MEMORY_LIMIT). */
  memoryLimit: number;
}

/** The thread started: its TF.js backend, and the default model warmed (null: none, or it failed). */
export interface ThreadReady {
  backend: string;
  warm: ModelInfo | null;
  warmUpMs: number;
}

export interface ThreadResult {
  info: ModelInfo;
  detections: Detection[];
  inferenceMs: number;
  tiles: number;
  tileMs: number | null;
}

/**
 * Why a detection failed, as the error's `name` (shared/rpc.ts carries it): `model_unavailable`, the model
 * cannot be loaded (files, or it does not fit its manifest); `inference_failed`, the run failed.
 */
export type ThreadFailure = 'model_unavailable' | 'inference_failed';

/** What the thread tells the worker's log about its models (an rpc event). */
export interface ThreadNote {
  msg: string;
  fields: Record<string, unknown>;
}

/** The thread's methods by name (their types come from thread.ts itself: `ModelThreadApi`). */
export const MODEL_THREAD_METHODS = ['init', 'detect'] as const;
