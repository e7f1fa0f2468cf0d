/**
 * Large photos through the real server and model: small prints placed on a 12 MP canvas (a wall
 * with pictures on it) are found with tiling (the default, `auto`), fewer without; every box lies
 * inside its print; an EXIF-rotated photo gets boxes in the upright photo; a small photo runs no
 * tiles.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { foundPrints as found, wall } from '../../bench/lib/wall.ts';
import type { Task } from '../../shared/contract.ts';
import { auth, fixture, upload, waitForTask } from '../helpers/api.ts';
import { useSystem } from '../helpers/system.ts';

const ctx = useSystem({ workers: 1 });

async function detect(bytes: Buffer, tiling?: string): Promise<Task> {
  const res = await upload(ctx.sys.baseUrl, ctx.token, bytes, {
    filename: 'wall.jpg',
    // Small prints score lower than the photos they come from: a threshold below the default 0.3.
    fields: { min_score: '0.2', ...(tiling ? { tiling } : {}) },
  });
  expect(res.status, await res.clone().text()).toBe(202);
  const id = ((await res.json()) as { task_id: string }).task_id;
  return waitForTask(ctx.sys.baseUrl, ctx.token, id, undefined, 120_000);
}

describe('tiled detection of large photos', () => {
  it('auto finds the small objects of a 12 MP photo that off misses; boxes inside their prints', async () => {
    const { jpeg, prints } = await wall();
    const tiled = await detect(jpeg); // auto: the default
    const whole = await detect(jpeg, 'off');
    expect(tiled.status, JSON.stringify(tiled.error)).toBe('succeeded');
    expect(tiled.params.tiling).toBe('auto');
    expect(tiled.timings.tiles).toBe(6);
    expect(tiled.timings.tile_ms).toBeGreaterThan(0);
    expect(whole.timings.tiles).toBe(0);
    const withTiles = found(tiled, prints);
    const without = found(whole, prints);
    console.log(
      `tiling: auto found ${withTiles.length}/${prints.length} prints (${tiled.detections.length} boxes, ${tiled.timings.inference_ms} ms), off ${without.length} (${whole.timings.inference_ms} ms)`,
    );
    const missing = prints.filter((p) => !withTiles.includes(p));
    expect(withTiles.length, `missing ${JSON.stringify(missing)}; boxes ${JSON.stringify(tiled.detections)}`).toBe(
      prints.length,
    );
    expect(without.length).toBeLessThan(withTiles.length);
    // One box per object: no two boxes of a class overlapping much (pieces across seams merged).
    for (const a of tiled.detections) {
      for (const b of tiled.detections) {
        if (a === b || a.label !== b.label) continue;
        const ix = Math.max(0, Math.min(a.box.x + a.box.width, b.box.x + b.box.width) - Math.max(a.box.x, b.box.x));
        const iy = Math.max(0, Math.min(a.box.y + a.box.height, b.box.y + b.box.height) - Math.max(a.box.y, b.box.y));
        expect(ix * iy, JSON.stringify([a, b])).toBeLessThan(
          0.5 * Math.min(a.box.width * a.box.height, b.box.width * b.box.height),
        );
      }
    }
  }, 180_000);

  it('an EXIF-rotated large photo: tiles taken upright, boxes in the upright photo', async () => {
    const { jpeg, prints } = await wall();
    // Stored rotated a quarter turn with orientation 6 ("rotate 90° clockwise to view"): the same wall upright.
    const rotated = await sharp(jpeg).rotate(-90).withMetadata({ orientation: 6 }).jpeg({ quality: 90 }).toBuffer();
    const task = await detect(rotated);
    expect(task.image).toMatchObject({ width: 4032, height: 3024 });
    expect(found(task, prints).length).toBe(prints.length);
  }, 180_000);

  it('a small photo with auto runs no tiles', async () => {
    const task = await detect(fixture('coffee.png'));
    expect(task.timings.tiles).toBe(0);
    expect(task.timings.tile_ms ?? null).toBeNull();
    expect(task.detections.map((d) => d.label)).toContain('cup');
  });

  it('refuses a tiling that is not auto, off or a grid (400), and lists it in the OpenAPI document', async () => {
    const res = await upload(ctx.sys.baseUrl, ctx.token, fixture('coffee.png'), { fields: { tiling: 'lots' } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
    const doc = (await (await fetch(`${ctx.sys.baseUrl}/api/openapi.json`, { headers: auth(ctx.token) })).json()) as {
      components: { schemas: Record<string, unknown> };
    };
    expect(Object.keys(doc.components.schemas)).toContain('Tiling');
  });
});
