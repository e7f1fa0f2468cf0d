/**
 * The settings the user picks — where detection runs (#route), tiling (#tiling), the score
 * threshold (#min-score) — kept in the state and remembered in localStorage.
 */
import type { Tiling } from '../../../shared/contract.ts';
import type { RouteMode } from '../routing/rules.ts';
import type { Settings, Store } from '../state.ts';

const KEYS = { route: 'twinlens.route', tiling: 'twinlens.tiling' } as const;

/** The settings remembered from an earlier visit (the score threshold starts at the slider's default). */
export function savedSettings(minScore: number): Settings {
  const route = localStorage.getItem(KEYS.route);
  return {
    route: route === 'device' || route === 'server' ? route : 'auto',
    tiling: localStorage.getItem(KEYS.tiling) === 'off' ? 'off' : 'auto',
    minScore,
  };
}

export interface SettingsElements {
  route: HTMLSelectElement;
  tiling: HTMLSelectElement;
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
  el.minScore.addEventListener('input', () => {
    el.minScoreValue.value = Number(el.minScore.value).toFixed(2);
    change({ minScore: Number(el.minScore.value) });
  });
}
