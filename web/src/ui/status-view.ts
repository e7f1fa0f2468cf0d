/**
 * The status line (#where) and the model's download bar, following the state: what runs where and
 * why ("Auto: … · WebAssembly, 118 ms per photo; WebGPU stopped after 3.0 s (slower)"), or a notice.
 * Its data-* attributes are what tests, benches and scripts wait for: data-route (the mode),
 * data-backend (once the device is prepared: the backend, or "none"), data-measured (stored | now),
 * data-ready-ms (the model's load + warm-up).
 */
import { BACKEND_NAMES, describeMeasurement } from '../detection/backends.ts';
import { type AppState, type Store, statusContext } from '../state.ts';

export function statusView(where: HTMLElement, bar: HTMLProgressElement, store: Store): void {
  const render = (s: AppState) => {
    const d = s.device;
    attr(where, 'route', s.settings.route);
    attr(where, 'backend', d.run?.backend ?? (d.failure ? 'none' : undefined));
    attr(where, 'measured', d.measured ?? undefined);
    attr(where, 'readyMs', d.readyMs === null ? undefined : String(d.readyMs));
    // The model's weights (~4 MB) on a first visit or after an update: a bar; the page stays usable.
    const downloading = d.download !== null;
    if (bar.hidden === downloading) bar.hidden = !downloading;
    if (downloading && bar.value !== d.download) bar.value = d.download ?? 0;
    const last = String(downloading ? d.download : d.readyMs !== null ? 1 : (bar.dataset.last ?? ''));
    if (last && bar.dataset.last !== last) bar.dataset.last = last;
    const text = describe(s);
    if (where.textContent !== text) where.textContent = text;
  };
  render(store.get());
  store.subscribe(render);
}

function describe(s: AppState): string {
  if (s.notice && s.notice.context === statusContext(s)) return s.notice.text;
  const d = s.device;
  if (d.download !== null) return `Downloading the model: ${Math.round(d.download * 100)} %`;
  const route = s.settings.route;
  if (route === 'server') return `Photos go to the server (as chosen).${s.user ? '' : ' Log in to use it.'}`;
  if (!d.run && !d.failure) return d.probe ? 'Loading the model on this device…' : 'Checking this device…';
  if (!d.run) {
    return s.user
      ? 'This device cannot run the model: photos go to the server.'
      : 'This device cannot run the model: log in to send photos to the server.';
  }
  const measured = d.measurement ? describeMeasurement(d.measurement) : BACKEND_NAMES[d.run.backend];
  const how =
    route === 'device'
      ? 'On this device'
      : s.user
        ? 'Auto: each photo goes where its result comes sooner'
        : 'Auto: on this device (log in to let the server share the work)';
  return `${how} · ${measured}.`;
}

function attr(el: HTMLElement, key: string, value: string | undefined): void {
  if (el.dataset[key] === value) return;
  if (value === undefined) delete el.dataset[key];
  else el.dataset[key] = value;
}
