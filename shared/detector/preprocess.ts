/**
 * Pixels → model input tensor. The caller decodes the image (sharp on the server, an
 * OffscreenCanvas in the browser) to RGB or RGBA bytes, already EXIF-oriented; this module
 * does the rest with TensorFlow.js so that both sides feed the model identically.
 */
import * as tf from '@tensorflow/tfjs-core';

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

/** [1, size, size, 3] float32 in 0–255, stretched to the square (CenterNet was trained that way). */
export function toModelInput(pixels: Pixels, inputSize: number): tf.Tensor4D {
  const expected = pixels.width * pixels.height * pixels.channels;
  if (pixels.data.length !== expected) {
    throw new Error(`pixel buffer has ${pixels.data.length} bytes, expected ${expected}`);
  }
  return tf.tidy(() => {
    // A view, not a copy: canvases hand out Uint8ClampedArray, sharp a Uint8Array.
    const bytes = new Uint8Array(pixels.data.buffer, pixels.data.byteOffset, pixels.data.byteLength);
    let image: tf.Tensor3D = tf.tensor3d(bytes, [pixels.height, pixels.width, pixels.channels], 'int32');
    if (pixels.channels === 4) image = tf.slice(image, [0, 0, 0], [-1, -1, 3]);
    const resized = tf.image.resizeBilinear(tf.cast(image, 'float32'), [inputSize, inputSize]);
    return tf.expandDims(resized, 0) as tf.Tensor4D;
  });
}
