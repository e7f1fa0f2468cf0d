/**
 * The models this page can run on the device, and the one the user chose (remembered). The list is
 * the server's (`GET /api/v1/models`, no login needed: it names the operator's models too), kept for
 * offline visits; before any answer, the built-ins the web build carries. Every model's files are on
 * this origin (`/models/<id>/<version>/`), never on a third-party host.
 */
import { type ModelList, ModelListSchema, type ModelManifest } from '../../../shared/contract.ts';
import { BUILTIN_MODELS, DEFAULT_MODEL_ID, modelUrlPath } from '../../../shared/models/builtin.ts';

export interface DeviceModel {
  manifest: ModelManifest;
  /** Where its files are: the graph model's JSON is `url + manifest.model`. */
  url: string;
}

const CHOSEN = 'twinlens.model';
const KNOWN = 'twinlens.models';

/** The built-ins the web build emits (coco-ssd's weights are the operator's: only the server lists it). */
export const WEB_BUILTINS = ['centernet', 'nanodet'];

export function modelKey(m: Pick<DeviceModel, 'manifest'>): string {
  return `${m.manifest.id}@${m.manifest.version}`;
}

function fromList(list: ModelList): { models: DeviceModel[]; defaultId: string } {
  return { models: list.items.map((m) => ({ manifest: m.manifest, url: m.url })), defaultId: list.default };
}

function builtins(): { models: DeviceModel[]; defaultId: string } {
  const models = BUILTIN_MODELS.filter((m) => WEB_BUILTINS.includes(m.id)).map((manifest) => ({
    manifest,
    url: modelUrlPath(manifest),
  }));
  return { models, defaultId: DEFAULT_MODEL_ID };
}

/** What was known last (this browser's copy of the server's list), else the built-ins. */
export function knownModels(): { models: DeviceModel[]; defaultId: string } {
  try {
    const raw = localStorage.getItem(KNOWN);
    if (raw) return fromList(ModelListSchema.parse(JSON.parse(raw)));
  } catch {
    // An old or damaged copy: the built-ins until the server answers.
  }
  return builtins();
}

/** The server's list, kept for the next visit; null when it cannot be reached (offline). */
export async function fetchModels(): Promise<{ models: DeviceModel[]; defaultId: string } | null> {
  try {
    const res = await fetch('/api/v1/models', { headers: { accept: 'application/json' } });
    if (!res.ok) return null;
    const list = ModelListSchema.parse(await res.json());
    localStorage.setItem(KNOWN, JSON.stringify(list));
    return fromList(list);
  } catch {
    return null;
  }
}

/** The default built-in, when nothing else is known. */
export function defaultDeviceModel(): DeviceModel {
  return builtins().models[0] as DeviceModel;
}

/** The model the user chose last if it is still there, else the default. */
export function chosenModel(known: { models: DeviceModel[]; defaultId: string }): DeviceModel {
  const want = localStorage.getItem(CHOSEN) ?? known.defaultId;
  const found =
    known.models.find((m) => m.manifest.id === want) ?? known.models.find((m) => m.manifest.id === known.defaultId);
  return found ?? (builtins().models[0] as DeviceModel);
}

export function rememberModel(id: string): void {
  localStorage.setItem(CHOSEN, id);
}
