/**
 * A large test photo: a 12 MP "wall" with small prints of the fixtures on it (~520 px wide: an
 * object of ~60 px to the model in the whole photo), at known spots, made when a test needs it.
 */
import sharp from 'sharp';
import type { Task } from '../../shared/contract.ts';
import { fixture } from './api.ts';

const W = 4032;
const H = 3024;
/** Prints of the fixtures, ~520 px wide (an object of ~60 px to the model in the whole photo). */
export interface PrintSpec {
  file: string;
  label: string;
  left: number;
  top: number;
  width: number;
}

export const PRINTS: PrintSpec[] = [
  { file: 'astronaut.png', label: 'person', left: 400, top: 500, width: 520 },
  { file: 'coffee.png', label: 'cup', left: 2600, top: 600, width: 520 },
  { file: 'astronaut.png', label: 'person', left: 1700, top: 2100, width: 520 },
  { file: 'coffee.png', label: 'cup', left: 3300, top: 2300, width: 520 },
];

export async function wall(specs: PrintSpec[] = PRINTS): Promise<{
  jpeg: Buffer;
  prints: { label: string; box: { x: number; y: number; w: number; h: number } }[];
}> {
  const prints = [];
  const layers = [];
  for (const p of specs) {
    const img = sharp(fixture(p.file)).resize({ width: p.width });
    const buf = await img.png().toBuffer();
    const meta = await sharp(buf).metadata();
    layers.push({ input: buf, left: p.left, top: p.top });
    prints.push({ label: p.label, box: { x: p.left, y: p.top, w: meta.width ?? p.width, h: meta.height ?? p.width } });
  }
  const jpeg = await sharp({ create: { width: W, height: H, channels: 3, background: { r: 214, g: 208, b: 196 } } })
    .composite(layers)
    .jpeg({ quality: 90 })
    .toBuffer();
  return { jpeg, prints };
}

export type Print = Awaited<ReturnType<typeof wall>>['prints'][number];

/** The prints whose object was found by a box lying inside the print. */
export function foundPrints(task: Pick<Task, 'detections'>, prints: Print[]): Print[] {
  return prints.filter((p) =>
    task.detections.some(
      (d) =>
        d.label === p.label &&
        d.box.x >= p.box.x - 8 &&
        d.box.y >= p.box.y - 8 &&
        d.box.x + d.box.width <= p.box.x + p.box.w + 8 &&
        d.box.y + d.box.height <= p.box.y + p.box.h + 8,
    ),
  );
}
