/**
 * A photo as it leaves the device for the server: without its location and other personal
 * metadata (EXIF — GPS, maker notes, serial numbers, times —, XMP, IPTC, comments), keeping only
 * the EXIF orientation, rewritten alone, so the server sees the photo upright as before and the
 * detections do not change. The pixels are not touched (no re-encode: same quality, same bytes of
 * image data). Colour profiles stay (JPEG APP2, PNG iCCP, WebP ICCP): they change how colours
 * decode.
 *
 * JPEG: APP1 (Exif, XMP), APP13 (IPTC) and COM segments dropped. PNG: eXIf and text chunks (tEXt,
 * zTXt, iTXt: XMP lives there) dropped. WebP: EXIF and XMP chunks dropped, VP8X flags mended.
 * Anything it does not recognise is returned unchanged.
 */
import { readHeader } from './image-header.ts';
import { sniffImage } from './sniff.ts';

export function stripMetadata(bytes: Uint8Array): Uint8Array {
  const kind = sniffImage(bytes)?.extension;
  if (!kind) return bytes;
  const orientation = readHeader(bytes, kind)?.orientation ?? 1;
  try {
    if (kind === 'jpg') return stripJpeg(bytes, orientation);
    if (kind === 'png') return stripPng(bytes, orientation);
    if (kind === 'webp') return stripWebp(bytes, orientation);
  } catch {
    // A file this reader does not follow: sent as it is (the server checks it anyway).
  }
  return bytes;
}

/** A TIFF block (big-endian) holding one IFD with one entry: Orientation. */
function orientationTiff(orientation: number): Uint8Array {
  return new Uint8Array([
    0x4d,
    0x4d,
    0x00,
    0x2a,
    0x00,
    0x00,
    0x00,
    0x08, // "MM", 42, IFD at 8
    0x00,
    0x01, // one entry
    0x01,
    0x12,
    0x00,
    0x03,
    0x00,
    0x00,
    0x00,
    0x01,
    orientation >> 8,
    orientation & 0xff,
    0x00,
    0x00, // 0x0112 SHORT ×1
    0x00,
    0x00,
    0x00,
    0x00, // no next IFD
  ]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function stripJpeg(b: Uint8Array, orientation: number): Uint8Array {
  const parts: Uint8Array[] = [b.subarray(0, 2)];
  // The orientation alone, in an APP1 of its own: after JFIF's APP0 when there is one.
  let exifSegment: Uint8Array | null = null;
  if (orientation !== 1) {
    const exif = concat([new TextEncoder().encode('Exif\0\0'), orientationTiff(orientation)]);
    const len = exif.length + 2;
    exifSegment = concat([new Uint8Array([0xff, 0xe1, len >> 8, len & 0xff]), exif]);
  }
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) throw new Error('not a marker');
    const marker = b[i + 1] as number;
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    if (marker === 0xda) {
      if (exifSegment) parts.push(exifSegment);
      parts.push(b.subarray(i)); // start of scan: the image data, to the end
      return concat(parts);
    }
    const len = ((b[i + 2] as number) << 8) | (b[i + 3] as number);
    const end = i + 2 + len;
    if (len < 2 || end > b.length) throw new Error('bad segment');
    const drop = marker === 0xe1 || marker === 0xed || marker === 0xfe;
    if (exifSegment && marker !== 0xe0) {
      parts.push(exifSegment);
      exifSegment = null;
    }
    if (!drop) parts.push(b.subarray(i, end));
    i = end;
  }
  throw new Error('no scan');
}

const crcTable = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) c = (crcTable[(c ^ byte) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One PNG chunk: length, type, data, CRC. */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  v.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function stripPng(b: Uint8Array, orientation: number): Uint8Array {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const parts: Uint8Array[] = [b.subarray(0, 8)];
  let i = 8;
  while (i + 12 <= b.length) {
    const len = v.getUint32(i);
    const type = String.fromCharCode(...b.subarray(i + 4, i + 8));
    const end = i + 12 + len;
    if (end > b.length) throw new Error('bad chunk');
    const drop = type === 'eXIf' || type === 'tEXt' || type === 'zTXt' || type === 'iTXt' || type === 'tIME';
    if (!drop) parts.push(b.subarray(i, end));
    // eXIf must come before the image data.
    if (type === 'IHDR' && orientation !== 1) parts.push(pngChunk('eXIf', orientationTiff(orientation)));
    i = end;
    if (type === 'IEND') break;
  }
  return concat(parts);
}

function stripWebp(b: Uint8Array, orientation: number): Uint8Array {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const chunks: { type: string; data: Uint8Array }[] = [];
  let i = 12;
  while (i + 8 <= b.length) {
    const type = String.fromCharCode(...b.subarray(i, i + 4));
    const len = v.getUint32(i + 4, true);
    const end = i + 8 + len + (len & 1);
    if (i + 8 + len > b.length) throw new Error('bad chunk');
    chunks.push({ type, data: b.subarray(i + 8, i + 8 + len) });
    i = end;
  }
  const vp8x = chunks.find((c) => c.type === 'VP8X');
  const kept = chunks.filter((c) => c.type !== 'EXIF' && c.type !== 'XMP ');
  if (vp8x) {
    const data = new Uint8Array(vp8x.data);
    // Flags: bit 3 EXIF, bit 2 XMP.
    data[0] = ((data[0] as number) & ~0x0c) | (orientation !== 1 ? 0x08 : 0);
    kept[kept.indexOf(vp8x)] = { type: 'VP8X', data };
    if (orientation !== 1) kept.push({ type: 'EXIF', data: orientationTiff(orientation) });
  }
  const body = concat(
    kept.flatMap((c) => {
      const head = new Uint8Array(8);
      head.set(new TextEncoder().encode(c.type), 0);
      new DataView(head.buffer).setUint32(4, c.data.length, true);
      return c.data.length & 1 ? [head, c.data, new Uint8Array(1)] : [head, c.data];
    }),
  );
  const riff = new Uint8Array(12);
  riff.set(b.subarray(0, 12));
  new DataView(riff.buffer).setUint32(4, body.length + 4, true);
  return concat([riff, body]);
}
