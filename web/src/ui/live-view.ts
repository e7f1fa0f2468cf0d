/**
 * The Live view's controls and status, following `state.live`: open/close, the camera picker
 * (remembered in this browser), Start/Stop, a video file, Snapshot (and "send to server" when logged
 * in). The run itself is live/session.ts. Leaving the view — Close, or the page going away — stops it
 * and releases the camera.
 *
 * Its data-* attributes are what tests and `npm run bench:live` wait for: on #live, data-phase
 * (off | starting | running | error), data-reason (moving | static | battery | hidden), data-rate
 * (detections per second), data-error (the error's code).
 */
import type { TaskSource } from '../../../shared/contract.ts';
import { type CameraChoice, listCameras, rememberCamera, rememberedCamera } from '../live/camera.ts';
import type { LiveSession } from '../live/session.ts';
import type { AppState, Store } from '../state.ts';

export interface LiveElements {
  open: HTMLButtonElement;
  section: HTMLElement;
  close: HTMLButtonElement;
  camera: HTMLSelectElement;
  start: HTMLButtonElement;
  stop: HTMLButtonElement;
  file: HTMLInputElement;
  snapshot: HTMLButtonElement;
  /** Shown when logged in: the frame goes to the server path instead. */
  send: HTMLButtonElement;
  status: HTMLElement;
  error: HTMLElement;
}

const choiceValue = (c: CameraChoice) => (c.deviceId ? `id:${c.deviceId}` : `facing:${c.facing ?? 'environment'}`);
function parseChoice(v: string): CameraChoice {
  if (v.startsWith('id:')) return { deviceId: v.slice(3) };
  return { facing: v === 'facing:user' ? 'user' : 'environment' };
}

export function liveView(
  el: LiveElements,
  store: Store,
  session: LiveSession,
  /** Keeps the frame shown now (and its boxes) as a task: on the device, or sent to the server. */
  snapshot: (to: TaskSource) => Promise<void>,
): void {
  /** The picker: the two facings (what a phone offers), then every camera by name once they are known. */
  const fillCameras = async () => {
    const cameras = await listCameras();
    const wanted = choiceValue(rememberedCamera());
    const options: [string, string][] = [
      ['facing:environment', 'Back camera'],
      ['facing:user', 'Front camera'],
      ...cameras.map((c, i): [string, string] => [`id:${c.deviceId}`, c.label || `Camera ${i + 1}`]),
    ];
    el.camera.replaceChildren(
      ...options
        .filter(([v]) => v !== 'id:') // ids are hidden until the camera was allowed once
        .map(([value, label]) => new Option(label, value, false, value === wanted)),
    );
  };

  el.open.addEventListener('click', () => {
    el.section.hidden = false;
    void fillCameras();
    el.section.scrollIntoView({ block: 'start' });
  });
  el.close.addEventListener('click', () => {
    session.stop();
    el.section.hidden = true;
  });
  el.start.addEventListener('click', () => {
    void session.startCamera(parseChoice(el.camera.value)).then(fillCameras);
  });
  el.stop.addEventListener('click', () => session.stop());
  el.camera.addEventListener('change', () => {
    const choice = parseChoice(el.camera.value);
    rememberCamera(choice);
    if (store.get().live.source === 'camera') void session.startCamera(choice);
  });
  el.file.addEventListener('change', () => {
    const file = el.file.files?.[0];
    el.file.value = '';
    if (file) void session.startFile(file);
  });
  el.snapshot.addEventListener('click', () => void snapshot('device'));
  el.send.addEventListener('click', () => void snapshot('server'));
  // Leaving the page (or the app going to the background on a phone for good): nothing left running.
  window.addEventListener('pagehide', () => session.stop());

  const render = (s: AppState, prev?: AppState) => {
    const live = s.live;
    el.send.hidden = s.user === null;
    el.send.disabled = s.live.phase !== 'running';
    if (prev && live === prev.live) return;
    const { section } = el;
    section.dataset.phase = live.phase;
    setData(section, 'reason', live.rate?.reason);
    setData(section, 'rate', live.rate ? live.rate.perSecond.toFixed(1) : undefined);
    setData(section, 'error', live.error?.code);
    const on = live.phase === 'running' || live.phase === 'starting';
    el.start.disabled = live.phase === 'starting';
    el.stop.disabled = !on;
    el.snapshot.disabled = live.phase !== 'running';
    const text =
      live.phase === 'starting'
        ? 'Starting…'
        : live.phase === 'running'
          ? `${live.source === 'file' ? 'Video file' : 'Camera'} · ${live.rate?.text ?? 'waiting for the first frame'}`
          : live.phase === 'error'
            ? 'Stopped.'
            : 'Stopped. The camera is off.';
    if (el.status.textContent !== text) el.status.textContent = text;
    el.error.hidden = !live.error;
    el.error.textContent = live.error?.message ?? '';
    if (live.error) section.hidden = false;
  };
  render(store.get());
  store.subscribe(render);
}

function setData(el: HTMLElement, key: string, value: string | undefined): void {
  if (el.dataset[key] === value) return;
  if (value === undefined) delete el.dataset[key];
  else el.dataset[key] = value;
}
