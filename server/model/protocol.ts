/** Messages between a worker process's main thread and its model thread. */
import type { Detection, DetectParams, ModelInfo } from '../../shared/contract.ts';
import type { Pixels } from '../../shared/detector/preprocess.ts';
import type { BackendChoice } from './backend.ts';

export interface InitMessage {
  type: 'init';
  backend: BackendChoice;
  /** Diagnostic busy-wait per inference (DEBUG_INFERENCE_BLOCK_MS). */
  blockMs: number;
}

export interface DetectMessage {
  type: 'detect';
  id: number;
  pixels: Pixels;
  original: { width: number; height: number };
  params: DetectParams;
}

export type ToThread = InitMessage | DetectMessage;

export type FromThread =
  | { type: 'ready'; info: ModelInfo; warmUpMs: number }
  | { type: 'init-failed'; message: string }
  | { type: 'result'; id: number; detections: Detection[]; inferenceMs: number; tiles: number; tileMs: number | null }
  | { type: 'failed'; id: number; message: string };
