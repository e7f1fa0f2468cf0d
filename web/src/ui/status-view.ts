/**
 * The status line (#where) and the model's download bar, following the state: what runs where and
 * why ("Auto: … · WebAssembly, 118 ms per photo; WebGPU stopped after 3.0 s (slower)"), or a notice.
 * Its data-* attributes are what tests, benches and scripts wait for: data-route (the mode),
 * data-backend (once the device is prepared: the backend, or "none"), data-measured (stored | now),
 * data-ready-ms (the model's load + warm-up), data-loaded (the model running on the device, `id@version`),
 * data-candidate (the measured candidate running: `wasm` or `wasm-threads` where data-backend is `wasm`),
 * data-threads (WebAssembly's threads running), data-isolated (whether the page is cross-origin isolated).
 */
import { BACKEND_NAMES, describeMeasurement } from '../detection/backends.ts';
import { tfBackendOf } from '../detection/protocol.ts';
import { type AppState, type Store, statusContext } from '../state.ts';

export function statusView(where: HTMLElement, bar: HTMLProgressElement, store: Store): void {
  const render = (s: AppState) => {
    const d = s.device;
    attr(where, 'route', s.settings.route);
    // The TensorFlow.js backend (one thread or several, WebAssembly is `wasm`); the candidate says which.
    attr(where, 'backend', d.run ? tfBackendOf(d.run.backend) : d.failure ? 'none' : undefined);
    attr(where, 'candidate', d.run?.backend);
    attr(where, 'threads', d.run?.threads ? String(d.run.threads) : undefined);
    attr(where, 'isolated', String(globalThis.crossOriginIsolated === true));
    attr(where, 'measured', d.measured ?? undefined);
    attr(where, 'readyMs', d.readyMs === null ? undefined : String(d.readyMs));
    attr(where, 'loaded', d.loaded ?? undefined);
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
  let measured = d.measurement ? describeMeasurement(d.measurement) : BACKEND_NAMES[d.run.backend];
  // Why WebAssembly has no threads to try, where it has none: the page is served without isolation.
  if (tfBackendOf(d.run.backend) === 'wasm' && d.probe && !d.probe.isolated)
    measured += ' (one thread: the page is not cross-origin isolated)';
  const how =
    route === 'device'
      ? 'On this device'
      : s.user
        ? 'Auto: each photo goes where its result comes sooner'
        : 'Auto: on this device (log in to let the server share the work)';
  return s.settings.model ? `${how} · ${s.settings.model.manifest.title} · ${measured}.` : `${how} · ${measured}.`;
}

function attr(el: HTMLElement, key: string, value: string | undefined): void {
  if (el.dataset[key] === value) return;
  if (value === undefined) delete el.dataset[key];
  else el.dataset[key] = value;
}
