/**
 * Validates an upload before anything is stored, by the cheapest means that catch each problem:
 * type by magic bytes, size from the header (so a decompression bomb is refused without decoding
 * it), and the file's structure (a truncated or damaged file fails here, in the API, without a
 * decode: structure.ts). Pixels are decoded once, by the worker, for the model.
 */
import sharp, { type Metadata } from 'sharp';
import type { ImageInfo } from '../../shared/contract.ts';
import { TwinlensError } from '../../shared/errors.ts';
import { describeUnsupported, type Sniffed, sniffImage } from '../../shared/sniff.ts';
import { structuralProblem } from './structure.ts';

export interface ImageLimits {
  maxPixels: number;
  minSide: number;
}

export interface Inspected extends Omit<ImageInfo, 'sha256'> {
  extension: Sniffed['extension'];
}

export async function inspectImage(bytes: Uint8Array, limits: ImageLimits): Promise<Inspected> {
  const sniffed = sniffImage(bytes);
  if (!sniffed) {
    throw new TwinlensError(
      'unsupported_media_type',
      `the file is ${describeUnsupported(bytes)}; send a JPEG, PNG or WebP image`,
    );
  }
  let meta: Metadata;
  try {
    // Header only: no pixel limit here so that we can say how large the image claims to be.
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new TwinlensError('image_undecodable', `the ${sniffed.extension.toUpperCase()} file cannot be read`, {
      cause: err,
    });
  }
  const { width, height } = meta.autoOrient ?? meta;
  if (!width || !height) throw new TwinlensError('image_undecodable', 'the image has no dimensions');
  if (width * height > limits.maxPixels) {
    throw new TwinlensError(
      'image_too_large',
      `the image is ${width}×${height} (${((width * height) / 1e6).toFixed(1)} MP); the limit is ${(limits.maxPixels / 1e6).toFixed(1)} MP`,
    );
  }
  if (Math.min(width, height) < limits.minSide) {
    throw new TwinlensError(
      'image_too_small',
      `the image is ${width}×${height}; both sides must be at least ${limits.minSide} pixels`,
    );
  }
  const problem = structuralProblem(bytes, sniffed.extension);
  if (problem) throw new TwinlensError('image_undecodable', `the image data is damaged or incomplete: ${problem}`);
  return { width, height, mime: sniffed.mime, extension: sniffed.extension };
}
