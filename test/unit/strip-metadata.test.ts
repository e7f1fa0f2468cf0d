/**
 * What leaves the device: shared/strip-metadata.ts drops location and other personal metadata,
 * keeps the orientation, and leaves the pixels as they were (so detections cannot change).
 */
import zlib from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { readHeader } from '../../shared/image-header.ts';
import { stripMetadata } from '../../shared/strip-metadata.ts';
import { fixture } from '../helpers/api.ts';

const GPS = { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 29/1', GPSLongitudeRef: 'E', GPSLongitude: '2/1 17/1 40/1' };
const XMP =
  '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="Jane Private"/></rdf:RDF></x:xmpmeta>';

async function photoWithMetadata(format: 'jpeg' | 'png' | 'webp', orientation: number): Promise<Uint8Array> {
  const img = sharp(fixture('coffee.png'))
    .resize(320)
    .withExif({ IFD0: { Make: 'PhoneCo', Model: 'Private 9' }, IFD3: GPS })
    .withMetadata({ orientation })
    .withXmp(XMP);
  const out = await img.toFormat(format).toBuffer();
  // libvips writes no XMP into PNG: add it as Adobe does, in an iTXt chunk after IHDR.
  return new Uint8Array(format === 'png' && !out.includes('xmpmeta') ? withPngXmp(out) : out);
}

function withPngXmp(png: Buffer): Buffer {
  const data = Buffer.concat([Buffer.from('XML:com.adobe.xmp\0\0\0\0\0', 'latin1'), Buffer.from(XMP)]);
  const chunk = Buffer.alloc(12 + data.length);
  chunk.writeUInt32BE(data.length, 0);
  chunk.write('iTXt', 4, 'latin1');
  data.copy(chunk, 8);
  chunk.writeUInt32BE(zlib.crc32(chunk.subarray(4, 8 + data.length)), 8 + data.length);
  const ihdrEnd = 8 + 12 + png.readUInt32BE(8);
  return Buffer.concat([png.subarray(0, ihdrEnd), chunk, png.subarray(ihdrEnd)]);
}

const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');

describe('stripMetadata', () => {
  for (const format of ['jpeg', 'png', 'webp'] as const) {
    for (const orientation of [1, 6]) {
      it(`${format}, orientation ${orientation}: no GPS, maker or XMP left; orientation and pixels kept`, async () => {
        const original = await photoWithMetadata(format, orientation);
        // The test photo does carry what must go.
        expect(text(original)).toContain('PhoneCo');
        expect(text(original)).toContain('Jane Private');
        const before = await sharp(original).metadata();
        expect(before.exif).toBeDefined();

        const stripped = stripMetadata(original);
        expect(text(stripped)).not.toContain('PhoneCo');
        expect(text(stripped)).not.toContain('Private 9');
        expect(text(stripped)).not.toContain('Jane Private');
        expect(text(stripped)).not.toContain('xmpmeta');
        const after = await sharp(stripped).metadata();
        expect(after.xmp).toBeUndefined();
        // No GPS IFD pointer (tag 0x8825) in what EXIF remains, in either byte order.
        if (after.exif) {
          expect(after.exif.includes(Buffer.from([0x88, 0x25]))).toBe(false);
          expect(after.exif.includes(Buffer.from([0x25, 0x88]))).toBe(false);
        }
        expect(after.orientation ?? 1).toBe(orientation);
        const kind = format === 'jpeg' ? 'jpg' : format;
        expect(readHeader(stripped, kind)?.orientation).toBe(orientation);
        // The same upright pixels: the model sees the same photo.
        const px = async (b: Uint8Array) => sharp(b).rotate().raw().toBuffer({ resolveWithObject: true });
        const [a, c] = await Promise.all([px(original), px(stripped)]);
        expect(c.info).toEqual(a.info);
        expect(Buffer.compare(a.data, c.data)).toBe(0);
        expect(stripped.length).toBeLessThan(original.length);
      });
    }
  }

  it('returns what it does not read unchanged', () => {
    const junk = new Uint8Array([1, 2, 3, 4]);
    expect(stripMetadata(junk)).toBe(junk);
  });
});
