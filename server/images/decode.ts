/**
 * Decodes a stored image to sRGB pixels for the model, once: EXIF-oriented, at most 2× the model
 * input — or, for a photo that will be tiled (shared/detector/tiling.ts), at a bounded size the
 * tiles are cut from.
 */
import sharp from 'sharp';
import type { Tiling } from '../../shared/contract.ts';
import { decodeSizeFor, type Pixels } from '../../shared/detector/preprocess.ts';
import { decodeSizeForTiling } from '../../shared/detector/tiling.ts';
import { ignorableIcc } from './colour-profile.ts';

export interface Decoded {
  pixels: Pixels & { data: Uint8Array };
  original: { width: number; height: number };
}

export async function decodeForModel(
  bytes: Uint8Array,
  inputSize: number,
  maxPixels: number,
  tiling: Tiling = 'off',
): Promise<Decoded> {
  const meta = await sharp(bytes, { limitInputPixels: maxPixels }).metadata();
  // An sRGB profile converts to the same pixels: skipping it halves the decode (colour-profile.ts).
  const ignoreIcc = await ignorableIcc(meta);
  const image = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'truncated', ignoreIcc }).autoOrient();
  const original = meta.autoOrient ?? { width: meta.width, height: meta.height };
  const target = decodeSizeForTiling(
    original.width,
    original.height,
    tiling,
    decodeSizeFor(inputSize, original.width, original.height),
  );
  const { data, info } = await image
    .resize(target.width, target.height, { fit: 'fill' })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return {
    pixels: {
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      width: info.width,
      height: info.height,
      channels: 3,
    },
    original,
  };
}
