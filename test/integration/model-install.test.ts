/**
 * What `twinlens models add` accepts and refuses (server/models/install.ts, in this process: the
 * schema, the files and their SHA-256, the conformance run on the golden photos), each refusal with
 * its reason and nothing left behind in MODELS_DIR.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { installModel } from '../../server/models/install.ts';
import type { ModelManifestInput } from '../../shared/models/manifest.ts';
import { DECODER_CASES } from '../helpers/decoder-models.ts';
import { writeModelFolder } from '../helpers/graph-models.ts';
import { ROOT } from '../helpers/system.ts';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-install-'));
const modelsDir = path.join(scratch, 'models');
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

const opts = {
  modelsDir,
  maxBytes: 10 * 1024 * 1024,
  goldenDir: path.join(ROOT, 'dist', 'models', 'golden'),
  maxPixels: 40_000_000,
};
const nanodet = DECODER_CASES.find((c) => c.name === 'nanodet')!;

/** A model folder of the nanodet test model, then `edit` applied to its manifest or files. */
function folder(
  name: string,
  edit: (dir: string, m: ModelManifestInput) => ModelManifestInput | undefined = () => undefined,
) {
  const dir = path.join(scratch, name);
  const m = writeModelFolder(dir, nanodet.graph, { ...nanodet.manifest, id: name });
  const edited = edit(dir, m);
  if (edited) fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(edited));
  return dir;
}

const REFUSED: [string, (dir: string, m: ModelManifestInput) => ModelManifestInput | undefined, RegExp][] = [
  ['missing-file', (dir) => void fs.rmSync(path.join(dir, 'weights.bin')), /files: weights\.bin is missing/],
  [
    'wrong-sha',
    (_dir, m) => ({
      ...m,
      files: m.files.map((f) => (f.path === 'weights.bin' ? { ...f, sha256: '0'.repeat(64) } : f)),
    }),
    /files: weights\.bin has SHA-256 [0-9a-f]{64}; the manifest pins 0{64}/,
  ],
  [
    'unknown-decoder',
    (_dir, m) => ({ ...m, decoder: { type: 'rfdetr' } as never }),
    /decoder\.type: unknown decoder; expected one of centernet, nanodet, ssd, yolo/,
  ],
  [
    'three-labels',
    (_dir, m) => ({ ...m, labels: ['apple', 'pear', 'plum'] }),
    /the model does not run: no nanodet outputs for stride 8: expected \[1, 16, 3\] scores/,
  ],
  ['unpinned', (_dir, m) => ({ ...m, files: m.files.map((f) => ({ path: f.path })) }), /model\.json has no sha256/],
  ['centernet', () => undefined, /centernet is a built-in model's id/],
  [
    'bad-path',
    (_dir, m) => ({ ...m, files: [...m.files, { path: '../escape.bin', sha256: 'a'.repeat(64) }] }),
    /files\.2\.path: a relative path inside the model folder/,
  ],
];

describe('models add', () => {
  for (const [name, edit, reason] of REFUSED) {
    it(`refuses ${name} with its reason, leaving nothing`, async () => {
      const err = await installModel(folder(name, edit), opts).catch((e: unknown) => e);
      expect(String(err)).toMatch(reason);
      expect(fs.existsSync(modelsDir) ? fs.readdirSync(modelsDir) : []).toEqual([]);
    });
  }

  it('accepts a good model, then a new version of it in its place', async () => {
    const say: string[] = [];
    const first = await installModel(folder('fruit'), { ...opts, say: (l) => say.push(l) });
    expect(first).toMatchObject({ replaced: null, dir: path.join(modelsDir, 'fruit') });
    expect(first.photos.map((p) => p.photo)).toEqual(['astronaut.png', 'chelsea.png', 'coffee.png']);
    expect(say.join('\n')).toMatch(
      /conformance: coffee\.png: 2 detection\(s\) \(pear 0\.80, apple 0\.70\), the same twice/,
    );
    const v2 = folder('fruit-2', (_dir, m) => ({ ...m, id: 'fruit', version: '2' }));
    const second = await installModel(v2, opts);
    expect(second.replaced).toBe('1');
    expect(fs.readdirSync(modelsDir)).toEqual(['fruit']);
    expect(JSON.parse(fs.readFileSync(path.join(modelsDir, 'fruit', 'manifest.json'), 'utf8')).version).toBe('2');
  });
});
