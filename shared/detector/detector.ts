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

export interface DetectResult {
  detections: Detection[];
  inferenceMs: number;
}

export class Detector {
  private constructor(private readonly model: GraphModel) {}

  /** `source` is a URL (browser) or an IOHandler (Node reads the files from node_modules). */
  static async load(source: string | tf.io.IOHandler): Promise<Detector> {
    const model = await loadGraphModel(source);
    return new Detector(model);
  }

  info(): ModelInfo {
    return { name: CENTERNET.name, version: CENTERNET.version, backend: tf.getBackend() };
  }

  /** Runs the model once on a blank image so shaders/kernels are compiled before real work. */
  async warmUp(): Promise<void> {
    const size = CENTERNET.inputSize;
    const blank: Pixels = { data: new Uint8Array(size * size * 3), width: size, height: size, channels: 3 };
    await this.detect(blank, { width: size, height: size }, { min_score: 1, max_detections: 1 });
  }

  /**
   * `pixels` may be a downscaled decode of the image (see decodeSizeFor); `original` is the
   * size boxes are reported in.
   */
  async detect(
    pixels: Pixels,
    original: { width: number; height: number },
    params: DetectParams,
  ): Promise<DetectResult> {
    const started = performance.now();
    const input = toModelInput(pixels, CENTERNET.inputSize);
    let output: tf.Tensor | undefined;
    try {
      output = this.model.execute(input, CENTERNET.outputNode) as tf.Tensor;
      const raw = await output.data();
      const detections = decodeDetections(raw, {
        inputSize: CENTERNET.inputSize,
        imageWidth: original.width,
        imageHeight: original.height,
        minScore: params.min_score,
        maxDetections: params.max_detections,
        iouThreshold: 0.5,
      });
      return { detections, inferenceMs: performance.now() - started };
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
