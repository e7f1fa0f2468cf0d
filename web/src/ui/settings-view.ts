/**
 * The settings the user picks — where detection runs (#route), tiling (#tiling), the model (#model),
 * the score threshold (#min-score) — kept in the state and remembered in localStorage.
 */
import type { Tiling } from '../../../shared/contract.ts';
import { chosenModel, type DeviceModel, knownModels, modelKey, rememberModel } from '../detection/models.ts';
import type { RouteMode } from '../routing/rules.ts';
import type { Settings, Store } from '../state.ts';

const KEYS = { route: 'twinlens.route', tiling: 'twinlens.tiling' } as const;

/** The settings remembered from an earlier visit (the score threshold starts at the slider's default). */
export function savedSettings(minScore: number): Settings {
  const route = localStorage.getItem(KEYS.route);
  return {
    route: route === 'device' || route === 'server' ? route : 'auto',
    tiling: localStorage.getItem(KEYS.tiling) === 'off' ? 'off' : 'auto',
    model: chosenModel(knownModels()),
    minScore,
  };
}

export interface SettingsElements {
  route: HTMLSelectElement;
  tiling: HTMLSelectElement;
  model: HTMLSelectElement;
  minScore: HTMLInputElement;
  minScoreValue: HTMLOutputElement;
}

export function settingsView(el: SettingsElements, store: Store): void {
  const change = (c: Partial<Settings>) => store.update((s) => ({ ...s, settings: { ...s.settings, ...c } }));
  const { settings } = store.get();
  el.route.value = settings.route;
  el.tiling.value = settings.tiling;
  el.route.addEventListener('change', () => {
    localStorage.setItem(KEYS.route, el.route.value);
    change({ route: el.route.value as RouteMode });
  });
  el.tiling.addEventListener('change', () => {
    localStorage.setItem(KEYS.tiling, el.tiling.value);
    change({ tiling: el.tiling.value as Tiling });
  });
  let models = knownModels();
  const showModels = () => {
    el.model.replaceChildren(
      ...models.models.map((m) => {
        const o = document.createElement('option');
        o.value = m.manifest.id;
        o.textContent = m.manifest.title;
        o.title = `${m.manifest.id} ${m.manifest.version} · ${m.manifest.license}`;
        return o;
      }),
    );
    const chosen = store.get().settings.model;
    if (chosen) el.model.value = chosen.manifest.id;
  };
  showModels();
  el.model.addEventListener('change', () => {
    rememberModel(el.model.value);
    change({ model: chosenModel(models) });
  });
  // The server's list (the operator's models too): the options, and the choice if it is gone or changed.
  modelsFrom = (known) => {
    models = known;
    const next: DeviceModel = chosenModel(models);
    const now = store.get().settings.model;
    if (!now || modelKey(now) !== modelKey(next)) change({ model: next });
    showModels();
  };
  el.minScore.addEventListener('input', () => {
    el.minScoreValue.value = Number(el.minScore.value).toFixed(2);
    change({ minScore: Number(el.minScore.value) });
  });
}

/** Gives the settings view the server's model list (set once the view exists). */
let modelsFrom: (known: ReturnType<typeof knownModels>) => void = () => undefined;
export function showServerModels(known: ReturnType<typeof knownModels>): void {
  modelsFrom(known);
}
