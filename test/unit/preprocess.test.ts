/** Pre-processing for any manifest: the geometry and the pixel transform by arithmetic, the tensor on a tiny image. */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../server/model/backend.ts';
import { inputGeometry, pixelTransform, toModelInput, toPicture } from '../../shared/detector/preprocess.ts';
import { BUILTIN_MODELS } from '../../shared/models/builtin.ts';
import { ModelInputSchema } from '../../shared/models/manifest.ts';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('inputGeometry', () => {
  it('stretch fills the input; letterbox keeps the aspect, centred', () => {
    expect(inputGeometry({ size: [64, 64], resize: 'stretch' }, 128, 64)).toEqual({
      inputWidth: 64,
      inputHeight: 64,
      contentX: 0,
      contentY: 0,
      contentWidth: 64,
      contentHeight: 64,
    });
    const g = inputGeometry({ size: [64, 64], resize: 'letterbox' }, 128, 64);
    expect(g).toMatchObject({ contentX: 0, contentY: 16, contentWidth: 64, contentHeight: 32 });
    // And back: the content's corners are the picture's.
    expect(toPicture(g, 128, 64, 0, 16)).toEqual([0, 0]);
    expect(toPicture(g, 128, 64, 64, 48)).toEqual([128, 64]);
  });

  it('of several sizes, takes the one whose aspect ratio is nearest the picture’s', () => {
    const input = {
      size: [640, 640] as [number, number],
      sizes: [[640, 384] as [number, number], [384, 640] as [number, number]],
      resize: 'letterbox' as const,
    };
    expect(inputGeometry(input, 4000, 3000)).toMatchObject({ inputWidth: 640, inputHeight: 384 });
    expect(inputGeometry(input, 3000, 4000)).toMatchObject({ inputWidth: 384, inputHeight: 640 });
    expect(inputGeometry(input, 1000, 1000)).toMatchObject({ inputWidth: 640, inputHeight: 640 });
  });
});

describe('pixelTransform', () => {
  it('maps 0–255 onto the range, then subtracts the mean and divides by std', () => {
    const t = pixelTransform({ range: [0, 1], mean: [0.5, 0.5, 0.5], std: [0.25, 0.5, 1] });
    const at = (c: number, p: number) => p * (t.scale[c] as number) + (t.offset[c] as number);
    expect(at(0, 255)).toBeCloseTo(2);
    expect(at(1, 0)).toBeCloseTo(-1);
    expect(at(2, 255)).toBeCloseTo(0.5);
    expect(pixelTransform({ range: [0, 255] })).toEqual({ scale: [1, 1, 1], offset: [0, 0, 0] });
  });
});

describe('toModelInput', () => {
  const red = { data: new Uint8Array([255, 0, 0, 255, 0, 0]), width: 2, height: 1, channels: 3 as const };

  it('as the built-in models want it: NHWC 0–255 (centernet), NCHW 0–1 (nanodet), int32 (coco-ssd)', async () => {
    const [centernet, nanodet, coco] = BUILTIN_MODELS;
    const a = toModelInput(red, { ...centernet!.input, size: [2, 1] });
    expect(a.shape).toEqual([1, 1, 2, 3]);
    expect(Array.from(await a.data())).toEqual([255, 0, 0, 255, 0, 0]);
    const b = toModelInput(red, { ...nanodet!.input, size: [2, 1] });
    expect(b.shape).toEqual([1, 3, 1, 2]);
    expect(Array.from(await b.data())).toEqual([1, 1, 0, 0, 0, 0]);
    const c = toModelInput(red, { ...coco!.input, size: [2, 1] });
    expect(c.dtype).toBe('int32');
    tf.dispose([a, b, c]);
  });

  it('BGR with mean/std, and letterbox padding in pixel values', async () => {
    const input = ModelInputSchema.parse({
      size: [8, 8],
      color: 'BGR',
      range: [0, 255],
      mean: [10, 20, 30],
      std: [2, 2, 2],
      resize: 'letterbox',
      pad: 0,
    });
    const t = toModelInput(red, { ...input, size: [2, 2] });
    expect(t.shape).toEqual([1, 2, 2, 3]);
    const v = Array.from(await t.data());
    // Row 0 is the picture (centred: floor of half the one spare row), blue first; row 1 is padding.
    expect(v.slice(0, 3)).toEqual([(0 - 10) / 2, (0 - 20) / 2, (255 - 30) / 2]);
    expect(v.slice(6, 9)).toEqual([-5, -10, -15]);
    t.dispose();
  });
});
