/**
 * Pixels → model input, for any manifest. The caller decodes the image (sharp on the server, an
 * OffscreenCanvas in the browser) to RGB or RGBA bytes, already EXIF-oriented; this module does the
 * rest with TensorFlow.js so that both sides feed the model identically.
 *
 * What a manifest's `input` asks for is first made into plain numbers (`inputGeometry`: the size,
 * the letterbox's scale and padding; `pixelTransform`: one scale and offset per channel), which are
 * pure and unit-tested, and which the decoders use again to put boxes back into the photo.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ModelInput } from '../models/manifest.ts';

export interface Pixels {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  /** 3 (RGB) or 4 (RGBA; alpha is dropped). */
  channels: 3 | 4;
}

/** Largest side the caller should decode to before calling `toModelInput`: twice the model input
 * keeps bilinear resizing faithful while bounding memory for 40-megapixel photos. */
export function decodeSizeFor(inputSize: number, width: number, height: number): { width: number; height: number } {
  const limit = inputSize * 2;
  const scale = Math.min(1, limit / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/**
 * Where a picture of `width`×`height` lands in the model's input: the input size (of the manifest's
 * sizes, the one whose aspect ratio is nearest), and the rectangle the picture fills in it — all of
 * it when stretched, a centred, aspect-kept rectangle when letterboxed.
 */
export interface InputGeometry {
  inputWidth: number;
  inputHeight: number;
  /** The picture's rectangle inside the input, in input pixels. */
  contentX: number;
  contentY: number;
  contentWidth: number;
  contentHeight: number;
}

export function inputGeometry(
  input: Pick<ModelInput, 'size' | 'sizes' | 'resize'>,
  width: number,
  height: number,
): InputGeometry {
  const aspect = Math.log(width / height);
  let [inputWidth, inputHeight] = input.size;
  for (const [w, h] of input.sizes ?? []) {
    if (Math.abs(Math.log(w / h) - aspect) < Math.abs(Math.log(inputWidth / inputHeight) - aspect)) {
      inputWidth = w;
      inputHeight = h;
    }
  }
  if (input.resize === 'stretch') {
    return { inputWidth, inputHeight, contentX: 0, contentY: 0, contentWidth: inputWidth, contentHeight: inputHeight };
  }
  const scale = Math.min(inputWidth / width, inputHeight / height);
  const contentWidth = Math.max(1, Math.min(inputWidth, Math.round(width * scale)));
  const contentHeight = Math.max(1, Math.min(inputHeight, Math.round(height * scale)));
  return {
    inputWidth,
    inputHeight,
    contentX: Math.floor((inputWidth - contentWidth) / 2),
    contentY: Math.floor((inputHeight - contentHeight) / 2),
    contentWidth,
    contentHeight,
  };
}

/** A point in input pixels → the same point in a picture of `width`×`height` (the inverse of the resize). */
export function toPicture(g: InputGeometry, width: number, height: number, x: number, y: number): [number, number] {
  return [((x - g.contentX) * width) / g.contentWidth, ((y - g.contentY) * height) / g.contentHeight];
}

/**
 * value = pixel × scale + offset, per channel in the model's colour order: `range` maps 0–255
 * linearly, then `mean` is subtracted and `std` divided. One multiply-add per value.
 */
export function pixelTransform(input: Pick<ModelInput, 'range' | 'mean' | 'std'>): {
  scale: [number, number, number];
  offset: [number, number, number];
} {
  const [lo, hi] = input.range;
  const k = (hi - lo) / 255;
  const mean = input.mean ?? [0, 0, 0];
  const std = input.std ?? [1, 1, 1];
  const scale = [0, 1, 2].map((c) => k / (std[c] as number)) as [number, number, number];
  const offset = [0, 1, 2].map((c) => (lo - (mean[c] as number)) / (std[c] as number)) as [number, number, number];
  return { scale, offset };
}

/**
 * The model input for `pixels`: resized (bilinear, stretched or letterboxed on `pad`), in the colour
 * order, value range and dtype the manifest names, batched as NHWC or NCHW.
 */
export function toModelInput(pixels: Pixels, input: ModelInput, g = inputGeometry(input, pixels.width, pixels.height)) {
  const expected = pixels.width * pixels.height * pixels.channels;
  if (pixels.data.length !== expected) {
    throw new Error(`pixel buffer has ${pixels.data.length} bytes, expected ${expected}`);
  }
  return tf.tidy(() => {
    // A view, not a copy: canvases hand out Uint8ClampedArray, sharp a Uint8Array.
    const bytes = new Uint8Array(pixels.data.buffer, pixels.data.byteOffset, pixels.data.byteLength);
    let image: tf.Tensor3D = tf.tensor3d(bytes, [pixels.height, pixels.width, pixels.channels], 'int32');
    if (pixels.channels === 4) image = tf.slice(image, [0, 0, 0], [-1, -1, 3]);
    let x: tf.Tensor3D = tf.image.resizeBilinear(tf.cast(image, 'float32'), [g.contentHeight, g.contentWidth]);
    if (g.contentWidth !== g.inputWidth || g.contentHeight !== g.inputHeight) {
      x = tf.pad(
        x,
        [
          [g.contentY, g.inputHeight - g.contentHeight - g.contentY],
          [g.contentX, g.inputWidth - g.contentWidth - g.contentX],
          [0, 0],
        ],
        input.pad,
      );
    }
    if (input.color === 'BGR') x = tf.reverse(x, 2);
    const { scale, offset } = pixelTransform(input);
    const identity = scale.every((s) => s === 1) && offset.every((o) => o === 0);
    if (!identity) x = tf.add(tf.mul(x, tf.tensor1d(scale)), tf.tensor1d(offset));
    // int32 inputs (coco-ssd) take whole pixel values, as a canvas gives them.
    if (input.dtype === 'int32') x = tf.cast(tf.round(x), 'int32');
    const batched = tf.expandDims(x, 0) as tf.Tensor4D;
    return input.layout === 'NCHW' ? (tf.transpose(batched, [0, 3, 1, 2]) as tf.Tensor4D) : batched;
  });
}
