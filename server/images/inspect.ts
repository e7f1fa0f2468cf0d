/**
 * Validates an upload before anything is stored, by the cheapest means that catch each problem:
 * type by magic bytes, size from the header (so a decompression bomb is refused without decoding
 * it), and the file's structure (a truncated or damaged file fails here, in the API, without a
 * decode: structure.ts). Pixels are decoded once, by the worker, for the model.
 */
import sharp from 'sharp';
import type { ImageInfo } from '../../shared/contract.ts';
import { TwinlensError } from '../../shared/errors.ts';
import { readHeader, upright } from '../../shared/image-header.ts';
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
  const { width, height } = await uprightSize(bytes, sniffed.extension);
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

/**
 * The size once EXIF orientation is applied, from the header alone (no pixel limit here, so that
 * the refusal can say how large the image claims to be). Our own reader first; libvips for what it
 * does not read.
 */
async function uprightSize(
  bytes: Uint8Array,
  kind: Sniffed['extension'],
): Promise<{ width?: number; height?: number }> {
  const header = readHeader(bytes, kind);
  if (header) return upright(header);
  try {
    const meta = await sharp(bytes, { limitInputPixels: false }).metadata();
    return meta.autoOrient ?? meta;
  } catch (err) {
    throw new TwinlensError('image_undecodable', `the ${kind.toUpperCase()} file cannot be read`, { cause: err });
  }
}
