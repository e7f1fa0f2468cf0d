/**
 * The detector both paths run, for any model manifest (shared/models/manifest.ts): the manifest's
 * pre-processing, the graph model, the manifest's decoder, and tiling for large photos. Imports only
 * TensorFlow.js core and converter; the caller picks and initialises the backend (tensorflow or wasm
 * in Node; webgpu, webgl or wasm in a browser) and says where the model's files are.
 */

import { type GraphModel, loadGraphModel } from '@tensorflow/tfjs-converter';
import * as tf from '@tensorflow/tfjs-core';
import type { Detection, DetectParams, ModelInfo } from '../contract.ts';
import { inputSide, type ModelManifest } from '../models/manifest.ts';
import { decodeOutputs, ModelMismatchError, type RawOutput } from './decoders/index.ts';
import { inputGeometry, type Pixels, toModelInput } from './preprocess.ts';
import { crop, mergeDetections, planTiles, type Rect, scaleRect, shrinkFor } from './tiling.ts';

export { ModelMismatchError } from './decoders/index.ts';

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

/** The outputs the decoder reads, when the manifest names them (the others need not be computed). */
function namedOutputs(m: ModelManifest): string[] | undefined {
  const d = m.decoder;
  if (d.type === 'centernet' || d.type === 'yolo') return d.output ? [d.output] : undefined;
  if (d.type === 'ssd' && d.boxes_output && d.scores_output) return [d.scores_output, d.boxes_output];
  return undefined;
}

export class Detector {
  /** Graphs with control flow (coco-ssd's) must run with executeAsync; found out on the first pass. */
  private async = false;
  private readonly outputs: string[];

  private constructor(
    private readonly model: GraphModel,
    readonly manifest: ModelManifest,
  ) {
    this.outputs = namedOutputs(manifest) ?? model.outputNodes;
  }

  /**
   * `source`: a URL (the browser: the model's JSON file on our origin) or an IOHandler (Node reads
   * the files from the model's folder). `onProgress`: the share of the weights fetched so far, 0–1.
   */
  static async load(
    manifest: ModelManifest,
    source: string | tf.io.IOHandler,
    onProgress?: (fraction: number) => void,
  ): Promise<Detector> {
    const model = await loadGraphModel(source, onProgress ? { onProgress } : undefined);
    return new Detector(model, manifest);
  }

  /** The side tiles and decode sizes are planned from (the manifest's largest input side). */
  get inputSize(): number {
    return inputSide(this.manifest.input);
  }

  info(): ModelInfo {
    const m = this.manifest;
    return { id: m.id, name: m.name, version: m.version, backend: tf.getBackend() };
  }

  /**
   * Runs the model once on a blank image so shaders/kernels are compiled before real work; the
   * outputs are decoded too, so a model whose outputs do not fit its manifest (a decoder of another
   * kind, labels of another count) is refused here with the reason (ModelMismatchError).
   */
  async warmUp(): Promise<void> {
    const [w, h] = this.manifest.input.size;
    const blank: Pixels = { data: new Uint8Array(w * h * 3), width: w, height: h, channels: 3 };
    await this.detect(blank, { width: w, height: h }, { min_score: 1, max_detections: 1, tiling: 'off' });
  }

  /**
   * `pixels` may be a downscaled decode of the image (see decodeSizeFor, decodeSizeForTiling);
   * `original` is the size boxes are reported in. A large photo (see tiling.ts) is run whole and
   * in overlapping tiles cut from these same pixels, and the boxes merged.
   */
  async detect(
    pixels: Pixels,
    original: { width: number; height: number },
    params: Pick<DetectParams, 'min_score' | 'max_detections' | 'tiling'>,
  ): Promise<DetectResult> {
    const started = performance.now();
    const side = this.inputSize;
    const whole = await this.pass(shrinkFor(pixels, side), original, params);
    const plan = planTiles(original.width, original.height, params.tiling);
    // Tiles from a decode too small to show more than the whole pass would be wasted passes.
    if (!plan || Math.max(pixels.width, pixels.height) < 2 * side) {
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
        shrinkFor(crop(pixels, px), side),
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
    params: Pick<DetectParams, 'min_score' | 'max_detections'>,
  ): Promise<Detection[]> {
    const geometry = inputGeometry(this.manifest.input, size.width, size.height);
    const input = toModelInput(pixels, this.manifest.input, geometry);
    let tensors: tf.Tensor[] = [];
    try {
      tensors = await this.run(input);
      const outputs: RawOutput[] = await Promise.all(
        tensors.map(async (t, i) => ({ name: this.outputs[i] ?? String(i), shape: t.shape, data: await t.data() })),
      );
      return decodeOutputs(this.manifest, outputs, {
        geometry,
        width: size.width,
        height: size.height,
        minScore: params.min_score,
        maxDetections: params.max_detections,
      });
    } finally {
      input.dispose();
      for (const t of tensors) t.dispose();
    }
  }

  private async run(input: tf.Tensor): Promise<tf.Tensor[]> {
    const wrap = (r: tf.Tensor | tf.Tensor[]) => (Array.isArray(r) ? r : [r]);
    if (!this.async) {
      try {
        return wrap(this.model.execute(input, this.outputs));
      } catch (err) {
        // "…dynamic op… Please use model.executeAsync() instead": a graph with control flow.
        if (!/executeAsync/.test(String((err as Error).message))) throw err;
        this.async = true;
      }
    }
    return wrap(await this.model.executeAsync(input, this.outputs));
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** Whether an error is the model not fitting its manifest (refused for good, not a passing failure). */
export function isModelMismatch(err: unknown): err is ModelMismatchError {
  return err instanceof ModelMismatchError;
}
