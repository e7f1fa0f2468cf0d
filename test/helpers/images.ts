/** Inputs made from the real fixtures for the bad-input and orientation tests. */
import sharp from 'sharp';
import { fixture } from './api.ts';

export async function jpegOf(name: string, orientation?: number): Promise<Buffer> {
  let img = sharp(fixture(name)).jpeg({ quality: 90 });
  if (orientation) img = img.withMetadata({ orientation });
  return img.toBuffer();
}

export async function truncatedJpeg(): Promise<Buffer> {
  const jpg = await jpegOf('coffee.png');
  return jpg.subarray(0, Math.floor(jpg.length / 2));
}

export async function gif(): Promise<Buffer> {
  return sharp(fixture('chelsea.png')).gif().toBuffer();
}

export async function tinyPng(): Promise<Buffer> {
  return sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } })
    .png()
    .toBuffer();
}

/** A valid 1×1 PNG whose header claims 50000×50000: a decompression bomb by its header. */
export async function bombPng(): Promise<Buffer> {
  const png = Buffer.from(await tinyPng());
  png.writeUInt32BE(50000, 16);
  png.writeUInt32BE(50000, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29); // keep the IHDR checksum valid
  return png;
}

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

export const SVG = Buffer.from(
  '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><rect width="100" height="100"/></svg>',
);

/** Rotates an image the way an upright photo stored sideways with EXIF orientation 6 is. */
export async function sidewaysWithExif(name: string): Promise<Buffer> {
  // Pixels rotated 90° counter-clockwise, tagged "rotate 90° clockwise to display".
  const rotated = await sharp(fixture(name)).rotate(-90).jpeg({ quality: 92 }).toBuffer();
  return sharp(rotated).withMetadata({ orientation: 6 }).jpeg({ quality: 92 }).toBuffer();
}
