/**
 * Which models this deployment serves, read from disk: the built-ins (shared/models/builtin.ts; their
 * files placed in dist/models/<id>/ by `npm run build:models`) and the operator's, one folder per
 * model in MODELS_DIR (`<id>/manifest.json` + its files, put there by `twinlens models add`). A
 * built-in whose weights the build cannot fetch (coco-ssd) finds them in MODELS_DIR/<id>/ too.
 *
 * The API, the workers and the CLI each read it (a folder scan, at most once a second), so a model
 * added by the CLI is served without a restart. Every host must see the same MODELS_DIR (a shared
 * volume, like DATA_DIR).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { TwinlensError } from '../../shared/errors.ts';
import { BUILTIN_MODELS, DEFAULT_MODEL_ID } from '../../shared/models/builtin.ts';
import { type ModelManifest, ModelManifestSchema, manifestProblem } from '../../shared/models/manifest.ts';
import { fileIn, weightPaths } from '../model/files.ts';

export interface CatalogModel {
  manifest: ModelManifest;
  /** The folder its files are in. */
  dir: string;
  builtin: boolean;
  /** Its files are in place (the model file and the weight shards it names); else `problem` says what is missing. */
  ready: boolean;
  problem?: string;
  /** Files a browser may fetch: the manifest's and the shards model.json names. */
  files: string[];
}

export interface CatalogOptions {
  /** The build's models (dist/models). */
  builtinDir: string;
  /** The operator's models (MODELS_DIR). */
  modelsDir: string;
  defaultModel?: string;
  /** How long a scan is reused. */
  ttlMs?: number;
}

/** A folder name `models add` stages in, or an old version is moved to, before it is swapped: never a model. */
export const isWorkFolder = (name: string) => name.startsWith('.');

export class ModelCatalog {
  readonly defaultModel: string;
  private scanned: { at: number; models: Promise<CatalogModel[]> } | undefined;

  constructor(private readonly opts: CatalogOptions) {
    this.defaultModel = opts.defaultModel ?? DEFAULT_MODEL_ID;
  }

  get modelsDir(): string {
    return this.opts.modelsDir;
  }

  /** Every model known, ready or not, the default first. */
  list(maxAgeMs = this.opts.ttlMs ?? 1000): Promise<CatalogModel[]> {
    const now = Date.now();
    if (!this.scanned || now - this.scanned.at > maxAgeMs) {
      const models = this.scan();
      this.scanned = { at: now, models };
      models.catch(() => {
        if (this.scanned?.models === models) this.scanned = undefined;
      });
    }
    return this.scanned.models;
  }

  async get(id: string, maxAgeMs?: number): Promise<CatalogModel | undefined> {
    return (await this.list(maxAgeMs)).find((m) => m.manifest.id === id);
  }

  /**
   * The model a new task runs: the one it names (or the default), which must be served here —
   * else 400 `unknown_model`, naming the models there are.
   */
  async forTask(requested: string | undefined): Promise<CatalogModel> {
    const id = requested || this.defaultModel;
    const all = await this.list();
    const found = all.find((m) => m.manifest.id === id);
    if (found?.ready) return found;
    const served = all.filter((m) => m.ready).map((m) => m.manifest.id);
    throw new TwinlensError(
      'unknown_model',
      found
        ? `model ${id} is not installed on this server (its files are not in place); models: ${served.join(', ')}`
        : `no model ${JSON.stringify(id.slice(0, 60))} here; models: ${served.join(', ')} (GET /api/v1/models)`,
    );
  }

  /** The models a task may name: those whose files are in place. */
  async ready(maxAgeMs?: number): Promise<CatalogModel[]> {
    return (await this.list(maxAgeMs)).filter((m) => m.ready);
  }

  private async scan(): Promise<CatalogModel[]> {
    const out: CatalogModel[] = [];
    for (const manifest of BUILTIN_MODELS) {
      const dirs = [path.join(this.opts.builtinDir, manifest.id), path.join(this.opts.modelsDir, manifest.id)];
      let best: CatalogModel | undefined;
      for (const dir of dirs) {
        const found = await inspect(manifest, dir, true);
        if (found.ready) {
          best = found;
          break;
        }
        best ??= found;
      }
      if (best) out.push(best);
    }
    const builtin = new Set(BUILTIN_MODELS.map((m) => m.id));
    const names = await fs.readdir(this.opts.modelsDir).catch(() => [] as string[]);
    for (const name of names.sort()) {
      if (isWorkFolder(name) || builtin.has(name)) continue;
      const dir = path.join(this.opts.modelsDir, name);
      const raw = await fs.readFile(path.join(dir, 'manifest.json'), 'utf8').catch(() => undefined);
      if (raw === undefined) continue;
      const parsed = parseManifest(raw);
      // A folder named otherwise than its model's id is not served (`models add` always names it by id).
      if (typeof parsed === 'string' || parsed.id !== name) continue;
      out.push(await inspect(parsed, dir, false));
    }
    out.sort((a, b) => Number(b.manifest.id === this.defaultModel) - Number(a.manifest.id === this.defaultModel));
    return out;
  }
}

/** A manifest's text → the manifest, or the reason it is refused. */
export function parseManifest(raw: string): ModelManifest | string {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    return `manifest.json is not JSON: ${(err as Error).message}`;
  }
  const parsed = ModelManifestSchema.safeParse(json);
  return parsed.success ? parsed.data : manifestProblem(parsed.error);
}

async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** Whether the model's files are in `dir` (the pinned ones are hashed when the model loads, not here). */
async function inspect(manifest: ModelManifest, dir: string, builtin: boolean): Promise<CatalogModel> {
  const base = { manifest, dir, builtin };
  const files = manifest.files.map((f) => f.path);
  try {
    for (const f of files) {
      if (!(await exists(fileIn(dir, f)))) return { ...base, ready: false, problem: `${f} is not in ${dir}`, files };
    }
    const json = JSON.parse(await fs.readFile(fileIn(dir, manifest.model), 'utf8')) as {
      weightsManifest?: { paths: string[] }[];
    };
    const shards = weightPaths({ weightsManifest: json.weightsManifest ?? [] });
    for (const s of shards) {
      if (!(await exists(fileIn(dir, s)))) return { ...base, ready: false, problem: `${s} is not in ${dir}`, files };
    }
    return { ...base, ready: true, files: [...new Set([...files, ...shards])] };
  } catch (err) {
    return { ...base, ready: false, problem: (err as Error).message, files };
  }
}
