/**
 * Whether an image file is whole, read from its structure instead of decoding its pixels (a PNG
 * decode costs ~8 ms of CPU per upload; this, a fraction of one). Catches what the upload checks
 * must refuse without a worker ever seeing it: files cut short, chunks or segments that run past
 * the end, PNG chunks whose checksum is wrong. Damage inside compressed data that keeps the
 * structure intact is found by the worker's decode, which fails the task once
 * (`image_undecodable`).
 *
 * Returns null when whole, or what is wrong.
 */
import { crc32 } from 'node:zlib';
import type { Sniffed } from '../../shared/sniff.ts';

export function structuralProblem(bytes: Uint8Array, kind: Sniffed['extension']): string | null {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (kind === 'png') return pngProblem(b);
  if (kind === 'jpg') return jpegProblem(b);
  return webpProblem(b);
}

/** PNG: chunks (length, type, data, CRC) from the signature to IEND, each inside the file, CRCs right. */
function pngProblem(b: Buffer): string | null {
  let offset = 8;
  let first = true;
  while (offset + 12 <= b.length) {
    const length = b.readUInt32BE(offset);
    const type = b.toString('latin1', offset + 4, offset + 8);
    if (first && type !== 'IHDR') return 'the PNG does not start with its header chunk';
    first = false;
    const end = offset + 12 + length;
    if (length > 0x7fffffff || end > b.length) return `the PNG's ${type} chunk runs past the end of the file`;
    if (crc32(b.subarray(offset + 4, offset + 8 + length)) !== b.readUInt32BE(offset + 8 + length)) {
      return `the PNG's ${type} chunk is damaged (its checksum does not match)`;
    }
    if (type === 'IEND') return null;
    offset = end;
  }
  return 'the PNG is cut short (no end chunk)';
}

/**
 * JPEG: marker segments from SOI to the first scan, each inside the file, then an end-of-image
 * marker after the scan data. (0xFFD9 cannot occur inside scan data: a 0xFF there is followed
 * by 0x00 or a restart marker; a thumbnail's own EOI lies in an APP segment, before the scan.)
 */
function jpegProblem(b: Buffer): string | null {
  let offset = 2;
  for (;;) {
    if (offset + 4 > b.length) return 'the JPEG is cut short';
    if (b[offset] !== 0xff) return 'the JPEG is damaged (a segment does not start with a marker)';
    const marker = b[offset + 1] as number;
    if (marker === 0xff) {
      offset++; // fill byte
      continue;
    }
    if (marker === 0xd9) return 'the JPEG ends before any image data';
    // Markers without a length: TEM and restarts.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      offset += 2;
      continue;
    }
    const length = b.readUInt16BE(offset + 2);
    if (length < 2 || offset + 2 + length > b.length) return 'the JPEG is cut short (a segment runs past the end)';
    offset += 2 + length;
    if (marker === 0xda) break; // start of scan: entropy-coded data follows
  }
  for (let i = b.length - 2; i >= offset; i--) {
    if (b[i] === 0xff && b[i + 1] === 0xd9) return null;
  }
  return 'the JPEG is cut short (no end-of-image marker after its data)';
}

/** WebP: a RIFF container whose declared size fits the file, and chunks that stay inside it. */
function webpProblem(b: Buffer): string | null {
  if (b.length < 20) return 'the WebP is cut short';
  const riffEnd = 8 + b.readUInt32LE(4);
  if (riffEnd > b.length) return 'the WebP is cut short (shorter than its RIFF header says)';
  let offset = 12;
  let chunks = 0;
  while (offset + 8 <= riffEnd) {
    const size = b.readUInt32LE(offset + 4);
    const end = offset + 8 + size + (size % 2);
    if (offset + 8 + size > riffEnd) return 'the WebP is cut short (a chunk runs past the end)';
    chunks++;
    offset = end;
  }
  return chunks > 0 ? null : 'the WebP has no image data';
}
