/**
 * Draws boxes and labels over the original image (the seed's "object-detection" result
 * folder). An SVG overlay composited by sharp: no canvas dependency, and the text scales with
 * the image so it stays readable on large photos.
 */
import sharp from 'sharp';
import type { Detection } from '../../shared/contract.ts';
import { ignorableIcc } from './colour-profile.ts';

const PALETTE = [
  '#e6194b',
  '#3cb44b',
  '#4363d8',
  '#f58231',
  '#911eb4',
  '#46f0f0',
  '#f032e6',
  '#bcf60c',
  '#fabebe',
  '#008080',
];

/** Returns a JPEG the size of the (EXIF-oriented) original. */
export async function annotate(bytes: Uint8Array, detections: Detection[], maxPixels: number): Promise<Buffer> {
  const meta = await sharp(bytes, { limitInputPixels: maxPixels }).metadata();
  const { width, height } = meta.autoOrient ?? meta;
  const stroke = Math.max(2, Math.round(Math.min(width, height) / 200));
  const font = Math.max(12, Math.round(Math.min(width, height) / 30));
  const shapes = detections.map((d) => {
    const color = PALETTE[d.class_id % PALETTE.length] as string;
    const { x, y, width: w, height: h } = d.box;
    const text = `${escapeXml(d.label)} ${(d.score * 100).toFixed(0)}%`;
    const labelW = Math.round(text.length * font * 0.6 + font * 0.6);
    const labelY = y - font - 4 >= 0 ? y - font - 4 : y;
    return [
      `<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="none" stroke="${color}" stroke-width="${stroke}"/>`,
      `<rect x="${x}" y="${labelY}" width="${labelW}" height="${font + 4}" fill="${color}"/>`,
      `<text x="${x + font * 0.3}" y="${labelY + font}" font-family="sans-serif" font-size="${font}" fill="#fff">${text}</text>`,
    ].join('');
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${shapes.join('')}</svg>`;
  // One decode and one encode: orientation is applied before compositing.
  // An sRGB profile converts to the same pixels: skipped, as in the worker's decode (colour-profile.ts).
  return sharp(bytes, { limitInputPixels: maxPixels, ignoreIcc: await ignorableIcc(meta) })
    .autoOrient()
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .jpeg({ quality: 85 })
    .toBuffer();
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
