/**
 * Every decoder through the real loading code (server/model/files.ts → Detector) on a model the
 * test writes (test/helpers/decoder-models.ts): constant outputs, so exactly these boxes must come
 * out. The ssd one has coco-ssd's signature and is also run by @tensorflow-models/coco-ssd itself:
 * our decoder must answer what the package answers.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as cocoSsd from '@tensorflow-models/coco-ssd';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../server/model/backend.ts';
import { fileModelHandler } from '../../server/model/files.ts';
import { Detector, isModelMismatch } from '../../shared/detector/detector.ts';
import { ModelManifestSchema } from '../../shared/models/manifest.ts';
import { DECODER_CASES, ssd } from '../helpers/decoder-models.ts';
import { writeModelFolder } from '../helpers/graph-models.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-decoders-'));
beforeAll(async () => {
  await initBackend('wasm');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const blank = (w: number, h: number) => ({
  data: new Uint8Array(w * h * 3),
  width: w,
  height: h,
  channels: 3 as const,
});

async function load(
  name: string,
  graph: { json: object; weights: Buffer },
  manifest: Parameters<typeof writeModelFolder>[2],
) {
  const folder = path.join(dir, name);
  const m = ModelManifestSchema.parse(writeModelFolder(folder, graph, manifest));
  return { detector: await Detector.load(m, fileModelHandler(folder, m)), folder, manifest: m };
}

describe('decoders on models the test makes', () => {
  for (const c of DECODER_CASES) {
    it(`${c.name}: exactly the boxes its outputs say, in the picture's pixels`, async () => {
      const { detector, manifest } = await load(c.name, c.graph, c.manifest);
      await detector.warmUp();
      const { width, height } = c.picture;
      const r = await detector.detect(blank(width, height), c.picture, {
        min_score: manifest.thresholds.score,
        max_detections: 20,
        tiling: 'off',
      });
      expect(r.detections).toEqual(c.expected);
      expect(detector.info()).toMatchObject({ id: manifest.id, version: '1', backend: 'wasm' });
      detector.dispose();
    });
  }

  it('ssd: the same answer as @tensorflow-models/coco-ssd running the same model', async () => {
    const c = ssd();
    const { detector, folder, manifest } = await load('ssd-parity', c.graph, c.manifest);
    const ours = await detector.detect(blank(600, 400), c.picture, {
      min_score: 0.5,
      max_detections: 20,
      tiling: 'off',
    });
    // coco-ssd loads from a URL: a load router hands it the same files.
    const scheme = 'twinlens-test://';
    tf.io.registerLoadRouter((url) =>
      typeof url === 'string' && url.startsWith(scheme) ? fileModelHandler(folder, manifest) : (null as never),
    );
    const theirs = await cocoSsd.load({ modelUrl: `${scheme}ssd` });
    const found = await theirs.detect(tf.zeros([400, 600, 3], 'int32') as tf.Tensor3D, 20, 0.5);
    expect(found.map((d) => [d.class, Math.round(d.score * 1e4) / 1e4]).sort()).toEqual(
      ours.detections.map((d) => [d.label, d.score]).sort(),
    );
    for (const d of ours.detections) {
      const t = found.find((f) => f.class === d.label)!;
      expect(t.bbox.map((v) => Math.round(v * 10) / 10)).toEqual([d.box.x, d.box.y, d.box.width, d.box.height]);
    }
    theirs.dispose();
    detector.dispose();
  });

  it('refuses a model whose outputs do not fit the manifest’s labels or decoder, with the reason', async () => {
    const c = DECODER_CASES.find((x) => x.name === 'nanodet')!;
    const three = await load('nanodet-3', c.graph, { ...c.manifest, labels: ['apple', 'pear', 'plum'] });
    const err = await three.detector.warmUp().catch((e: unknown) => e);
    expect(isModelMismatch(err)).toBe(true);
    expect(String(err)).toMatch(/expected \[1, 16, 3\] scores \(one column per label\)/);

    const y = DECODER_CASES.find((x) => x.name === 'yolo')!;
    const wrong = await load('yolo-as-ssd', y.graph, { ...y.manifest, decoder: { type: 'ssd' }, labels: 'coco91' });
    expect(String(await wrong.detector.warmUp().catch((e: unknown) => e))).toMatch(/the model has no scores output/);
  });
});
