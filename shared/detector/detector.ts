/**
 * The COCO detector both paths run: MobileNetV3-CenterNet (TF.js graph model from
 * @vladmandic/human). Imports only TensorFlow.js core and converter; the caller picks and
 * initialises the backend (tensorflow or wasm in Node; webgpu, webgl or wasm in a browser).
 */

import { type GraphModel, loadGraphModel } from '@tensorflow/tfjs-converter';
import * as tf from '@tensorflow/tfjs-core';
import type { Detection, DetectParams, ModelInfo } from '../contract.ts';
import { CENTERNET } from './model-files.ts';
import { decodeDetections } from './postprocess.ts';
import { type Pixels, toModelInput } from './preprocess.ts';
import { crop, mergeDetections, planTiles, type Rect, scaleRect, shrinkFor } from './tiling.ts';

function clampRect(r: Rect, p: { width: number; height: number }): Rect {
  const x = Math.min(Math.max(0, r.x), p.width - 1);
  const y = Math.min(Math.max(0, r.y), p.height - 1);
  return {
    x,
    y,
    width: Math.max(1, Math.min(r.width, p.width - x)),
    height: Math.max(1, Math.min(r.height, p.height - y)),
  };
}

export interface DetectResult {
  detections: Detection[];
  /** All passes together (the whole photo and its tiles). */
  inferenceMs: number;
  /** Tiles run besides the whole photo (0: not tiled). */
  tiles: number;
  /** Mean inference ms per tile; null when not tiled. */
  tileMs: number | null;
}

export class Detector {
  private constructor(private readonly model: GraphModel) {}

  /** `source` is a URL (browser) or an IOHandler (Node reads the files from node_modules). */
  /** `onProgress`: the share of the weights fetched so far, 0–1 (a URL source: the browser's first visit). */
  static async load(source: string | tf.io.IOHandler, onProgress?: (fraction: number) => void): Promise<Detector> {
    const model = await loadGraphModel(source, onProgress ? { onProgress } : undefined);
    return new Detector(model);
  }

  info(): ModelInfo {
    return { name: CENTERNET.name, version: CENTERNET.version, backend: tf.getBackend() };
  }

  /** Runs the model once on a blank image so shaders/kernels are compiled before real work. */
  async warmUp(): Promise<void> {
    const size = CENTERNET.inputSize;
    const blank: Pixels = { data: new Uint8Array(size * size * 3), width: size, height: size, channels: 3 };
    await this.detect(blank, { width: size, height: size }, { min_score: 1, max_detections: 1, tiling: 'off' });
  }

  /**
   * `pixels` may be a downscaled decode of the image (see decodeSizeFor, decodeSizeForTiling);
   * `original` is the size boxes are reported in. A large photo (see tiling.ts) is run whole and
   * in overlapping tiles cut from these same pixels, and the boxes merged.
   */
  async detect(
    pixels: Pixels,
    original: { width: number; height: number },
    params: DetectParams,
  ): Promise<DetectResult> {
    const started = performance.now();
    const whole = await this.pass(shrinkFor(pixels, CENTERNET.inputSize), original, params);
    const plan = planTiles(original.width, original.height, params.tiling);
    // Tiles from a decode too small to show more than the whole pass would be wasted passes.
    if (!plan || Math.max(pixels.width, pixels.height) < 2 * CENTERNET.inputSize) {
      return { detections: whole, inferenceMs: performance.now() - started, tiles: 0, tileMs: null };
    }
    const s = pixels.width / original.width;
    const tilesStarted = performance.now();
    const perTile: { rect: Rect; detections: Detection[] }[] = [];
    for (const rect of plan.tiles) {
      const px = clampRect(
        {
          x: Math.round(rect.x * s),
          y: Math.round(rect.y * s),
          width: Math.round(rect.width * s),
          height: Math.round(rect.height * s),
        },
        pixels,
      );
      const inPhoto = scaleRect(px, 1 / s);
      const found = await this.pass(
        shrinkFor(crop(pixels, px), CENTERNET.inputSize),
        { width: inPhoto.width, height: inPhoto.height },
        params,
      );
      perTile.push({
        rect: inPhoto,
        detections: found.map((d) => ({ ...d, box: { ...d.box, x: d.box.x + inPhoto.x, y: d.box.y + inPhoto.y } })),
      });
    }
    const tileMs = (performance.now() - tilesStarted) / plan.tiles.length;
    const detections = mergeDetections(whole, perTile, original, params.max_detections);
    return { detections, inferenceMs: performance.now() - started, tiles: plan.tiles.length, tileMs };
  }

  /** One model pass over `pixels`, boxes in `size`'s units. */
  private async pass(
    pixels: Pixels,
    size: { width: number; height: number },
    params: DetectParams,
  ): Promise<Detection[]> {
    const input = toModelInput(pixels, CENTERNET.inputSize);
    let output: tf.Tensor | undefined;
    try {
      output = this.model.execute(input, CENTERNET.outputNode) as tf.Tensor;
      const raw = await output.data();
      return decodeDetections(raw, {
        inputSize: CENTERNET.inputSize,
        imageWidth: size.width,
        imageHeight: size.height,
        minScore: params.min_score,
        maxDetections: params.max_detections,
        iouThreshold: 0.5,
      });
    } finally {
      input.dispose();
      output?.dispose();
    }
  }

  dispose(): void {
    this.model.dispose();
  }
}

export { CENTERNET, MODEL_URL_PATH } from './model-files.ts';
