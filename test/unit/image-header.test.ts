/** The upload path's own header reader agrees with libvips (sharp) on size and orientation. */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { structuralProblem } from '../../server/images/structure.ts';
import { readHeader, upright } from '../../shared/image-header.ts';
import { sniffImage } from '../../shared/sniff.ts';
import { fixture } from '../helpers/api.ts';

async function variants(): Promise<[string, Buffer][]> {
  const base = sharp(fixture('chelsea.png')).resize(301, 200);
  const out: [string, Buffer][] = [['png fixture', fixture('coffee.png')]];
  out.push(['png', await base.clone().png().toBuffer()]);
  out.push(['jpeg baseline', await base.clone().jpeg().toBuffer()]);
  out.push(['jpeg progressive', await base.clone().jpeg({ progressive: true }).toBuffer()]);
  out.push(['webp lossy', await base.clone().webp().toBuffer()]);
  out.push(['webp lossless', await base.clone().webp({ lossless: true }).toBuffer()]);
  out.push(['webp alpha', await base.clone().ensureAlpha().webp().toBuffer()]);
  for (const orientation of [1, 2, 3, 4, 5, 6, 7, 8]) {
    out.push([`jpeg orientation ${orientation}`, await base.clone().jpeg().withMetadata({ orientation }).toBuffer()]);
    out.push([`webp orientation ${orientation}`, await base.clone().webp().withMetadata({ orientation }).toBuffer()]);
    out.push([`png orientation ${orientation}`, await base.clone().png().withMetadata({ orientation }).toBuffer()]);
  }
  return out;
}

describe('readHeader', () => {
  it('reads the same size and orientation as libvips, for every format and orientation', async () => {
    for (const [name, bytes] of await variants()) {
      const kind = sniffImage(bytes)?.extension;
      expect(kind, name).toBeDefined();
      const header = readHeader(bytes, kind ?? 'png');
      const meta = await sharp(bytes).metadata();
      expect(header, name).not.toBeNull();
      expect({ width: header?.width, height: header?.height, orientation: header?.orientation }, name).toEqual({
        width: meta.width,
        height: meta.height,
        orientation: meta.orientation ?? 1,
      });
      expect(upright(header ?? { width: 0, height: 0, orientation: 1 }), name).toEqual({
        width: meta.autoOrient?.width ?? meta.width,
        height: meta.autoOrient?.height ?? meta.height,
      });
      expect(structuralProblem(bytes, kind ?? 'png'), name).toBeNull();
    }
  });

  it('says null for headers it cannot read, rather than guessing', () => {
    expect(readHeader(Buffer.from([0xff, 0xd8, 0xff, 0xd9]), 'jpg')).toBeNull();
    expect(readHeader(Buffer.from('RIFF\x04\0\0\0WEBP', 'latin1'), 'webp')).toBeNull();
  });
});

describe('structuralProblem', () => {
  it('finds files cut short and damaged chunks', async () => {
    const png = fixture('coffee.png');
    expect(structuralProblem(png.subarray(0, png.length - 20), 'png')).toMatch(/cut short|past the end/);
    const flipped = Buffer.from(png);
    flipped[png.length >> 1] = ((flipped[png.length >> 1] ?? 0) ^ 0xff) & 0xff;
    expect(structuralProblem(flipped, 'png')).toMatch(/checksum/);
    const jpg = await sharp(png).jpeg().toBuffer();
    expect(structuralProblem(jpg.subarray(0, jpg.length >> 1), 'jpg')).toMatch(/cut short/);
    const webp = await sharp(png).webp().toBuffer();
    expect(structuralProblem(webp.subarray(0, webp.length - 100), 'webp')).toMatch(/cut short/);
  });
});
