/**
 * An image's size and EXIF orientation, read from its header bytes: PNG's IHDR (and an eXIf
 * chunk), JPEG's frame header (and the APP1 Exif segment), WebP's VP8/VP8L/VP8X headers (and an
 * EXIF chunk). A few microseconds, against half a millisecond for a decoder library to open the
 * file, on every upload. Returns null when the header is not one it reads (the caller then asks
 * the library).
 */
import type { Sniffed } from './sniff.ts';

export interface Header {
  /** As stored, before orientation. */
  width: number;
  height: number;
  /** EXIF orientation 1–8 (1 when there is none). */
  orientation: number;
}

export function readHeader(bytes: Uint8Array, kind: Sniffed['extension']): Header | null {
  const b = new Bytes(bytes);
  try {
    if (kind === 'png') return png(b);
    if (kind === 'jpg') return jpeg(b);
    return webp(b);
  } catch {
    return null; // a header that runs past the end: let the library say what it makes of it
  }
}

/** The size once EXIF orientation is applied (5–8 turn the image a quarter). */
export function upright(h: Header): { width: number; height: number } {
  return h.orientation >= 5 && h.orientation <= 8
    ? { width: h.height, height: h.width }
    : { width: h.width, height: h.height };
}

function png(b: Bytes): Header | null {
  if (b.toString('latin1', 12, 16) !== 'IHDR') return null;
  const width = b.readUInt32BE(16);
  const height = b.readUInt32BE(20);
  let orientation = 1;
  // An eXIf chunk, if any, comes before the image data.
  for (let offset = 33; offset + 8 <= b.length; ) {
    const length = b.readUInt32BE(offset);
    const type = b.toString('latin1', offset + 4, offset + 8);
    if (type === 'IDAT' || type === 'IEND') break;
    if (type === 'eXIf') orientation = tiffOrientation(b, offset + 8, offset + 8 + length);
    offset += 12 + length;
  }
  return { width, height, orientation };
}

function jpeg(b: Bytes): Header | null {
  let orientation = 1;
  for (let offset = 2; offset + 4 <= b.length; ) {
    if (b.at(offset) !== 0xff) return null;
    const marker = b.at(offset + 1);
    if (marker === 0xff) {
      offset++;
      continue;
    }
    const length = b.readUInt16BE(offset + 2);
    // APP1 "Exif\0\0" then a TIFF structure.
    if (marker === 0xe1 && b.toString('latin1', offset + 4, offset + 10) === 'Exif\0\0') {
      orientation = tiffOrientation(b, offset + 10, offset + 2 + length);
    }
    // Start of frame (any coding but the DHT/JPG/DAC markers that share the range).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: b.readUInt16BE(offset + 5), width: b.readUInt16BE(offset + 7), orientation };
    }
    if (marker === 0xda || marker === 0xd9) return null; // a scan before any frame header
    offset += 2 + length;
  }
  return null;
}

function webp(b: Bytes): Header | null {
  let size: { width: number; height: number } | null = null;
  let orientation = 1;
  const end = Math.min(b.length, 8 + b.readUInt32LE(4));
  for (let offset = 12; offset + 8 <= end; ) {
    const type = b.toString('latin1', offset, offset + 4);
    const length = b.readUInt32LE(offset + 4);
    const data = offset + 8;
    if (type === 'VP8X') {
      size = { width: 1 + b.readUIntLE(data + 4, 3), height: 1 + b.readUIntLE(data + 7, 3) };
    } else if (type === 'VP8 ' && !size) {
      size = { width: b.readUInt16LE(data + 6) & 0x3fff, height: b.readUInt16LE(data + 8) & 0x3fff };
    } else if (type === 'VP8L' && !size) {
      const bits = b.readUInt32LE(data + 1);
      size = { width: 1 + (bits & 0x3fff), height: 1 + ((bits >> 14) & 0x3fff) };
    } else if (type === 'EXIF') {
      // Some writers keep the JPEG-style "Exif\0\0" prefix.
      const tiff = b.toString('latin1', data, data + 6) === 'Exif\0\0' ? data + 6 : data;
      orientation = tiffOrientation(b, tiff, data + length);
    }
    offset = data + length + (length % 2);
  }
  return size ? { ...size, orientation } : null;
}

/** The Orientation tag (0x0112) of IFD0 in a TIFF structure at [start, end), 1 when absent. */
function tiffOrientation(b: Bytes, start: number, end: number): number {
  const order = b.toString('latin1', start, start + 2);
  if (order !== 'II' && order !== 'MM') return 1;
  const le = order === 'II';
  const u16 = (at: number) => (le ? b.readUInt16LE(at) : b.readUInt16BE(at));
  const u32 = (at: number) => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  const ifd = start + u32(start + 4);
  if (ifd + 2 > end) return 1;
  const count = u16(ifd);
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > end) return 1;
    if (u16(entry) === 0x0112) {
      const value = u16(entry + 8);
      return value >= 1 && value <= 8 ? value : 1;
    }
  }
  return 1;
}

/**
 * The few reads the headers need, over plain bytes (the browser has no Buffer). Reads past the
 * end throw, as Buffer's do, so a truncated header falls back to the library.
 */
class Bytes {
  private readonly v: DataView;
  constructor(private readonly u: Uint8Array) {
    this.v = new DataView(u.buffer, u.byteOffset, u.byteLength);
  }
  get length(): number {
    return this.u.length;
  }
  at(i: number): number {
    return this.v.getUint8(i);
  }
  toString(_encoding: 'latin1', start: number, end: number): string {
    if (end > this.u.length) throw new RangeError('past the end');
    return String.fromCharCode(...this.u.subarray(start, end));
  }
  readUInt16BE(i: number): number {
    return this.v.getUint16(i);
  }
  readUInt16LE(i: number): number {
    return this.v.getUint16(i, true);
  }
  readUInt32BE(i: number): number {
    return this.v.getUint32(i);
  }
  readUInt32LE(i: number): number {
    return this.v.getUint32(i, true);
  }
  readUIntLE(i: number, byteLength: 3): number {
    return this.v.getUint8(i) | (this.v.getUint8(i + 1) << 8) | (this.v.getUint8(i + byteLength - 1) << 16);
  }
}
