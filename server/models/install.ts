/**
 * `twinlens models add <folder | manifest URL>`: an operator's model, checked before it is enabled —
 * its manifest against the schema, every file against its SHA-256, then a conformance run (it loads,
 * its outputs fit its manifest, it runs on the golden photos with sane boxes inside each photo, and
 * gives the same answer twice). Everything happens in a staging folder inside MODELS_DIR; only a
 * model that passed is moved into place (one rename), so a refusal leaves nothing half-installed.
 * A URL and the files beside it are fetched through the guarded outbound client (server/net/):
 * https only, nothing inside the server's network, capped sizes.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Detection } from '../../shared/contract.ts';
import { Detector } from '../../shared/detector/detector.ts';
import { BUILTIN_MODELS } from '../../shared/models/builtin.ts';
import { inputSide, type ModelManifest } from '../../shared/models/manifest.ts';
import { decodeForModel } from '../images/decode.ts';
import { type BackendChoice, initBackend } from '../model/backend.ts';
import { fileIn, fileModelHandler, readModelJson, sha256, weightPaths } from '../model/files.ts';
import type { OutboundClient } from '../net/outbound.ts';
import { parseManifest } from './catalog.ts';

export class ModelRefused extends Error {
  override name = 'ModelRefused';
}

export interface InstallOptions {
  modelsDir: string;
  /** The most the model's files may weigh together. */
  maxBytes: number;
  /** The photos of the conformance run. */
  goldenDir: string;
  maxPixels: number;
  backend?: BackendChoice;
  /** For a manifest URL: the guarded client, with caps fit for model files. */
  outbound?: OutboundClient;
  /** Progress lines for the operator. */
  say?: (line: string) => void;
}

export interface PhotoReport {
  photo: string;
  detections: number;
  /** The best few, "label score". */
  top: string[];
}

export interface Installed {
  manifest: ModelManifest;
  dir: string;
  replaced: string | null;
  photos: PhotoReport[];
}

export async function installModel(source: string, opts: InstallOptions): Promise<Installed> {
  const say = opts.say ?? (() => {});
  await fs.mkdir(opts.modelsDir, { recursive: true });
  const staging = await fs.mkdtemp(path.join(opts.modelsDir, '.staging-'));
  try {
    const manifest = /^https?:\/\//i.test(source)
      ? await fetchInto(staging, source, opts, say)
      : await copyInto(staging, source, opts);
    await checkFiles(staging, manifest);
    say(`files: ${manifest.files.length}, each matching its SHA-256`);
    const photos = await conformance(staging, manifest, opts, say);
    const target = path.join(opts.modelsDir, manifest.id);
    const replaced = await readVersion(target);
    // The version it replaces is moved aside (a work folder the catalog skips), then removed.
    const old = path.join(opts.modelsDir, `.old-${manifest.id}-${randomBytes(4).toString('hex')}`);
    if (replaced !== undefined) await fs.rename(target, old);
    await fs.rename(staging, target);
    if (replaced !== undefined) await fs.rm(old, { recursive: true, force: true });
    return { manifest, dir: target, replaced: replaced ?? null, photos };
  } catch (err) {
    await fs.rm(staging, { recursive: true, force: true });
    throw err instanceof ModelRefused ? err : new ModelRefused((err as Error).message);
  }
}

async function readVersion(dir: string): Promise<string | undefined> {
  const raw = await fs.readFile(path.join(dir, 'manifest.json'), 'utf8').catch(() => undefined);
  if (raw === undefined) return undefined;
  const m = parseManifest(raw);
  return typeof m === 'string' ? 'unreadable' : m.version;
}

/** The manifest's own checks, before any file is read: the schema, every file pinned, an id of its own, the size cap. */
function accept(raw: string, opts: InstallOptions): ModelManifest {
  const m = parseManifest(raw);
  if (typeof m === 'string') throw new ModelRefused(`the manifest is refused: ${m}`);
  if (BUILTIN_MODELS.some((b) => b.id === m.id))
    throw new ModelRefused(`${m.id} is a built-in model's id; choose another`);
  const unpinned = m.files.find((f) => !f.sha256);
  if (unpinned)
    throw new ModelRefused(`files: ${unpinned.path} has no sha256; every file of an added model must be pinned`);
  const total = m.files.reduce((a, f) => a + (f.bytes ?? 0), 0);
  if (total > opts.maxBytes)
    throw new ModelRefused(`the files weigh ${total} bytes; MODEL_MAX_BYTES is ${opts.maxBytes}`);
  return m;
}

async function copyInto(staging: string, source: string, opts: InstallOptions): Promise<ModelManifest> {
  const stat = await fs.stat(source).catch(() => null);
  if (!stat) throw new ModelRefused(`${source}: no such folder or file`);
  const folder = stat.isDirectory() ? source : path.dirname(source);
  const manifestFile = stat.isDirectory() ? path.join(source, 'manifest.json') : source;
  const raw = await fs.readFile(manifestFile, 'utf8').catch(() => {
    throw new ModelRefused(`${manifestFile}: cannot be read (a model folder has a manifest.json)`);
  });
  const m = accept(raw, opts);
  await fs.writeFile(path.join(staging, 'manifest.json'), raw);
  let total = 0;
  for (const f of m.files) {
    const from = fileIn(folder, f.path);
    const s = await fs.lstat(from).catch(() => null);
    if (!s?.isFile()) throw new ModelRefused(`files: ${f.path} is missing from ${folder}`);
    total += s.size;
    if (total > opts.maxBytes) throw new ModelRefused(`the files weigh more than MODEL_MAX_BYTES (${opts.maxBytes})`);
    await fs.mkdir(path.dirname(fileIn(staging, f.path)), { recursive: true });
    await fs.copyFile(from, fileIn(staging, f.path));
  }
  return m;
}

async function fetchInto(
  staging: string,
  url: string,
  opts: InstallOptions,
  say: (line: string) => void,
): Promise<ModelManifest> {
  const outbound = opts.outbound;
  if (!outbound) throw new ModelRefused('fetching a manifest URL needs the outbound client');
  const get = async (u: string, what: string) => {
    const res = await outbound.request(u).catch((err: Error) => {
      throw new ModelRefused(`${what}: ${u}: ${err.message}`);
    });
    if (res.status !== 200) throw new ModelRefused(`${what}: ${u} answered ${res.status}`);
    if (res.truncated) throw new ModelRefused(`${what}: ${u} is larger than MODEL_MAX_BYTES (${opts.maxBytes})`);
    return res.body;
  };
  const raw = (await get(url, 'the manifest')).toString('utf8');
  const m = accept(raw, opts);
  await fs.writeFile(path.join(staging, 'manifest.json'), raw);
  let total = 0;
  for (const f of m.files) {
    // Beside the manifest: relative to its URL, and never above the manifest's folder.
    const fileUrl = new URL(f.path, url).href;
    const bytes = await get(fileUrl, `files: ${f.path}`);
    total += bytes.length;
    if (total > opts.maxBytes) throw new ModelRefused(`the files weigh more than MODEL_MAX_BYTES (${opts.maxBytes})`);
    await fs.mkdir(path.dirname(fileIn(staging, f.path)), { recursive: true });
    await fs.writeFile(fileIn(staging, f.path), bytes);
    say(`fetched ${f.path} (${bytes.length} bytes)`);
  }
  return m;
}

async function checkFiles(dir: string, m: ModelManifest): Promise<void> {
  for (const f of m.files) {
    const bytes = await fs.readFile(fileIn(dir, f.path));
    const got = sha256(bytes);
    if (got !== f.sha256) {
      throw new ModelRefused(
        `files: ${f.path} has SHA-256 ${got}; the manifest pins ${f.sha256} (corrupt or replaced)`,
      );
    }
    if (f.bytes !== undefined && f.bytes !== bytes.length) {
      throw new ModelRefused(`files: ${f.path} has ${bytes.length} bytes; the manifest says ${f.bytes}`);
    }
  }
  const json = await readModelJson(dir, m).catch((err: Error) => {
    throw new ModelRefused(err.message);
  });
  const listed = new Set(m.files.map((f) => f.path));
  const missing = weightPaths(json).find((p) => !listed.has(p));
  if (missing) throw new ModelRefused(`files: ${m.model} needs ${missing}, which the manifest does not list (and pin)`);
}

/** Loads the model and runs it on the golden photos: sane boxes, inside each photo, the same twice. */
async function conformance(
  dir: string,
  m: ModelManifest,
  opts: InstallOptions,
  say: (line: string) => void,
): Promise<PhotoReport[]> {
  await initBackend(opts.backend ?? 'wasm');
  let detector: Detector;
  try {
    detector = await Detector.load(m, fileModelHandler(dir, m));
    await detector.warmUp();
  } catch (err) {
    throw new ModelRefused(`the model does not run: ${(err as Error).message}`);
  }
  try {
    const photos = (await fs.readdir(opts.goldenDir)).filter((f) => /\.(png|jpe?g|webp)$/i.test(f)).sort();
    if (photos.length === 0) throw new ModelRefused(`no golden photos in ${opts.goldenDir} (npm run build:models)`);
    const reports: PhotoReport[] = [];
    const names = new Set(labelNames(m));
    for (const photo of photos) {
      const bytes = await fs.readFile(path.join(opts.goldenDir, photo));
      const params = { min_score: m.thresholds.score, max_detections: 100, tiling: 'off' as const };
      const run = async () => {
        const d = await decodeForModel(bytes, inputSide(m.input), opts.maxPixels, 'off');
        return (await detector.detect(d.pixels, d.original, params)).detections.map((x) => ({
          ...x,
          size: d.original,
        }));
      };
      const first = await run();
      const second = await run();
      const bad = first.find((d) => !sane(d, d.size, names));
      if (bad) throw new ModelRefused(`conformance: ${photo}: an impossible detection ${JSON.stringify(strip(bad))}`);
      if (JSON.stringify(first.map(strip)) !== JSON.stringify(second.map(strip))) {
        throw new ModelRefused(`conformance: ${photo}: two runs gave different answers`);
      }
      const top = first.slice(0, 3).map((d) => `${d.label} ${d.score.toFixed(2)}`);
      say(
        `conformance: ${photo}: ${first.length} detection(s)${top.length ? ` (${top.join(', ')})` : ''}, the same twice`,
      );
      reports.push({ photo, detections: first.length, top });
    }
    return reports;
  } finally {
    detector.dispose();
  }
}

function labelNames(m: ModelManifest): string[] {
  return Array.isArray(m.labels) ? m.labels : [];
}

const strip = ({ size: _size, ...d }: Detection & { size: unknown }) => d;

function sane(d: Detection, size: { width: number; height: number }, names: Set<string>): boolean {
  const b = d.box;
  const finite = [d.score, b.x, b.y, b.width, b.height].every(Number.isFinite);
  return (
    finite &&
    d.score >= 0 &&
    d.score <= 1 &&
    b.width > 0 &&
    b.height > 0 &&
    b.x >= 0 &&
    b.y >= 0 &&
    b.x + b.width <= size.width + 0.5 &&
    b.y + b.height <= size.height + 0.5 &&
    (names.size === 0 || names.has(d.label))
  );
}
