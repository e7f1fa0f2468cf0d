/**
 * The web app's dispatcher (web/src/tasks/dispatch.ts) with a fake device and a fake server, no DOM:
 * where each photo goes, and where it goes next when a side fails or refuses — the same task, its
 * route saying why — with the state and the history database changed together.
 */
import { describe, expect, it } from 'vitest';
import type { Stats, Task } from '../../shared/contract.ts';
import type { DeviceEngine } from '../../web/src/detection/device.ts';
import type { DeviceBackend } from '../../web/src/detection/protocol.ts';
import type { HistoryEntry } from '../../web/src/history/db.ts';
import { History, type HistoryDb } from '../../web/src/history/history.ts';
import type { RouteInput, RouteMode } from '../../web/src/routing/rules.ts';
import { createStore, initialState, type Store } from '../../web/src/state.ts';
import { Dispatcher } from '../../web/src/tasks/dispatch.ts';
import type { OpenedPhoto } from '../../web/src/tasks/photo.ts';
import type { ServerApi, ServerFailure } from '../../web/src/tasks/server-run.ts';

const SHA = 'a'.repeat(64);
const ADMIN = {
  id: '00000000-0000-4000-8000-000000000001',
  username: 'ada',
  role: 'admin' as const,
  created_at: '2026-01-01T00:00:00.000Z',
};

/** A closable stand-in for an ImageBitmap (what the dispatcher does with one: hand it on, or close it). */
class FakeBitmap {
  closed = false;
  close() {
    this.closed = true;
  }
}

function memoryDb(): HistoryDb & { entries: Map<string, HistoryEntry> } {
  const entries = new Map<string, HistoryEntry>();
  return {
    entries,
    listEntries: async () => [...entries.values()],
    putEntry: async (e) => void entries.set(e.task.task_id, e),
    changeEntry: async (id, change) => {
      const e = entries.get(id);
      const next = e && change(e);
      if (next) entries.set(id, next);
    },
    deleteEntry: async (id) => void entries.delete(id),
    clearHistory: async () => entries.clear(),
  };
}

type BackendBehaviour = 'ok' | 'throws' | 'hangs';

function fakeDevice(
  store: Store,
  backends: Partial<Record<DeviceBackend, BackendBehaviour>>,
): DeviceEngine & {
  runs: DeviceBackend[];
} {
  const order = Object.keys(backends) as DeviceBackend[];
  let current: DeviceBackend | null = order[0] ?? null;
  let queue: Promise<unknown> = Promise.resolve();
  const runs: DeviceBackend[] = [];
  const engine: DeviceEngine & { runs: DeviceBackend[] } = {
    runs,
    current: () => (current ? { backend: current, msPerPass: 100 } : null),
    hasAlternative: () => order.some((b) => b !== current),
    async detect(_image, _params, opts) {
      const b = current as DeviceBackend;
      runs.push(b);
      if (backends[b] === 'throws') throw new Error(`${b} lost`);
      if (backends[b] === 'hangs') {
        await new Promise((_, reject) => opts.signal?.addEventListener('abort', () => reject(new Error('aborted'))));
      }
      return {
        detections: [{ label: 'person', class_id: 0, score: 0.9, box: { x: 1, y: 2, width: 3, height: 4 } }],
        inferenceMs: 12.34,
        width: 100,
        height: 80,
        tiles: 0,
        tileMs: null,
        bitmap: opts.keepBitmap ? (new FakeBitmap() as unknown as ImageBitmap) : undefined,
        model: { id: 'centernet', name: 'centernet', version: '1', backend: b },
      };
    },
    async fallBack(tried) {
      const next = order.find((b) => !tried.includes(b)) ?? null;
      if (next) current = next;
      return next;
    },
    enqueue<T>(job: () => Promise<T>) {
      store.update((s) => ({ ...s, device: { ...s.device, ahead: s.device.ahead + 1 } }));
      const run = queue
        .then(job)
        .finally(() => store.update((s) => ({ ...s, device: { ...s.device, ahead: s.device.ahead - 1 } })));
      queue = run.catch(() => undefined);
      return run;
    },
  };
  store.update((s) => ({ ...s, device: { ...s.device, run: engine.current() } }));
  return engine;
}

type UploadBehaviour = 'ok' | ServerFailure;

function fakeServer(store: Store, behaviour: UploadBehaviour[] = ['ok'], online = true) {
  const uploads: string[] = [];
  const api: ServerApi & { uploads: string[]; online: () => boolean; goOnline(): void } = {
    uploads,
    online: () => online,
    goOnline: () => {
      online = true;
    },
    loggedIn: () => store.get().user !== null,
    async upload(row, onProgress) {
      uploads.push(row.task.task_id);
      const b = behaviour.shift() ?? 'ok';
      if (b !== 'ok') throw Object.assign(new Error(b.message), b);
      onProgress(0.5);
      onProgress(1);
      return { ...row.task, source: 'server', status: 'queued' };
    },
    async follow(id, onTask) {
      const t = store.get().rows.get(id)?.task as Task;
      const running = { ...t, status: 'running' as const, started_at: new Date().toISOString() };
      onTask(running);
      return {
        ...running,
        status: 'succeeded',
        finished_at: new Date().toISOString(),
        detections: [{ label: 'cup', class_id: 41, score: 0.8, box: { x: 0, y: 0, width: 5, height: 5 } }],
        model: { id: 'centernet', name: 'centernet', version: '1', backend: 'wasm' },
      };
    },
    loggedOut: () => store.update((s) => ({ ...s, user: null })),
  };
  return api;
}

interface Setup {
  mode?: RouteMode;
  loggedIn?: boolean;
  device?: Partial<Record<DeviceBackend, BackendBehaviour>>;
  server?: UploadBehaviour[];
  online?: boolean;
  /** What /stats says: a fast idle server by default. */
  stats?: Partial<Stats> | null;
}

function setup(opts: Setup = {}) {
  const store = createStore(initialState({ route: opts.mode ?? 'auto', tiling: 'off', minScore: 0.3 }));
  if (opts.loggedIn) store.update((s) => ({ ...s, user: ADMIN }));
  const db = memoryDb();
  const history = new History(store, db);
  const device = fakeDevice(store, opts.device ?? { wasm: 'ok' });
  const server = fakeServer(store, opts.server, opts.online ?? true);
  const bitmaps: FakeBitmap[] = [];
  let syncs = 0;
  const stats = opts.stats === undefined ? { estimated_wait_ms: 0, mean_inference_ms: 50, workers: 1 } : opts.stats;
  const dispatcher = new Dispatcher({
    store,
    history,
    device,
    server,
    openPhoto: async (file): Promise<OpenedPhoto> => {
      const bitmap = new FakeBitmap();
      bitmaps.push(bitmap);
      return {
        image: { width: 100, height: 80, sha256: SHA, mime: 'image/png' },
        bitmap: bitmap as unknown as ImageBitmap,
        thumbnail: Promise.resolve(new Blob([`thumb of ${(file as File).name}`])),
      };
    },
    routeInput: async (bytes, passes): Promise<RouteInput> => {
      const s = store.get();
      return {
        mode: s.settings.route,
        loggedIn: s.user !== null,
        bytes,
        passes,
        device: {
          msPerPass: s.device.run?.msPerPass ?? null,
          backend: s.device.run?.backend ?? null,
          ahead: s.device.ahead,
        },
        stats: s.user && stats ? { estimated_wait_ms: 0, mean_inference_ms: 50, workers: 1, ...stats } : null,
        network: { uploadBytesPerSec: 1e9, rttMs: 1, saveData: false, effectiveType: null },
        battery: null,
      };
    },
    scheduleSync: async () => {
      syncs++;
    },
  });
  const photo = (name = 'a.png', bytes = 1000) => new File([new Uint8Array(bytes)], name, { type: 'image/png' });
  const only = async () => {
    await history.settled();
    const [row] = store.get().rows.values();
    if (!row) throw new Error('no task');
    // The database holds what the state shows.
    expect(db.entries.get(row.task.task_id)?.task).toEqual(row.task);
    return row;
  };
  return { store, db, history, device, server, dispatcher, bitmaps, photo, only, syncs: () => syncs };
}

/** Waits until the submitted work (queued device runs, uploads, follows) has settled. */
const settle = () => new Promise((r) => setTimeout(r, 50));

async function until(done: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
  await settle();
}

describe('a photo on the device', () => {
  it('not logged in, Auto: detected on the device with the fastest backend; nothing uploaded', async () => {
    const t = setup();
    await t.dispatcher.submit([t.photo()]);
    await settle();
    const row = await t.only();
    expect(row.task).toMatchObject({ status: 'succeeded', source: 'device', model: { backend: 'wasm' } });
    expect(row.task.route?.reason).toMatch(/not logged in/);
    expect(row.task.timings.inference_ms).toBe(12.3);
    expect(row.task.finished_at).not.toBeNull();
    expect(t.server.uploads).toEqual([]);
    // The result the user waits for takes the view, with the photo decoded by the model in hand.
    expect(t.store.get().open?.taskId).toBe(row.task.task_id);
    expect(t.store.get().open?.bitmap).toBeInstanceOf(FakeBitmap);
  });

  const fallbacks: [string, Setup, Partial<Task>, RegExp][] = [
    [
      'the backend throws: the next fastest backend runs it',
      { device: { wasm: 'throws', webgl: 'ok' } },
      { status: 'succeeded', source: 'device' },
      /WebAssembly failed \(wasm lost\); WebGL next/,
    ],
    [
      'the backend does not answer in time: it is stopped and the next one runs it',
      { device: { webgpu: 'hangs', wasm: 'ok' } },
      { status: 'succeeded', source: 'device' },
      /WebGPU failed \(no answer from the model in 2000 ms\); WebAssembly next/,
    ],
    [
      'every backend fails, logged in: the same task goes to the server',
      { loggedIn: true, mode: 'device', device: { wasm: 'throws' } },
      { status: 'succeeded', source: 'server' },
      /WebAssembly failed \(wasm lost\); sent to the server/,
    ],
    [
      'every backend fails, not logged in: failed, saying why',
      { device: { wasm: 'throws', webgl: 'throws' } },
      { status: 'failed', source: 'device', error: { code: 'inference_failed', message: 'WebGL failed (webgl lost)' } },
      /WebAssembly failed \(wasm lost\); WebGL next/,
    ],
  ];
  it.each(fallbacks)(
    '%s',
    async (_name, opts, expected, reason) => {
      const t = setup(opts);
      await t.dispatcher.submit([t.photo()]);
      // A hung backend is given up after 2 s (MIN_TIMEOUT_MS).
      await until(() => ['succeeded', 'failed'].includes([...t.store.get().rows.values()][0]?.task.status ?? ''));
      const row = await t.only();
      expect(row.task).toMatchObject(expected);
      expect(row.task.route?.reason).toMatch(reason);
      expect(row.pending).toBeUndefined();
    },
    10_000,
  );

  it('photos wait their turn on the device; one chosen while another runs waits as a file, not a bitmap', async () => {
    const t = setup();
    await t.dispatcher.submit([t.photo('1.png'), t.photo('2.png'), t.photo('3.png')]);
    await settle();
    expect([...t.store.get().rows.values()].map((r) => r.task.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(t.device.runs).toEqual(['wasm', 'wasm', 'wasm']);
    expect(t.bitmaps.slice(1).every((b) => b.closed)).toBe(true);
    expect(t.store.get().device.ahead).toBe(0);
  });
});

describe('a photo for the server', () => {
  const refusals: [string, Setup, Partial<Task>, RegExp | null, { pending: boolean; syncs: number; login: boolean }][] =
    [
      [
        'Server chosen: uploaded, followed to the end',
        { mode: 'server', loggedIn: true },
        { status: 'succeeded', source: 'server' },
        /Server chosen/,
        { pending: false, syncs: 0, login: false },
      ],
      [
        'the queue is full (503), Auto: detected on the device instead, same task',
        {
          loggedIn: true,
          device: { wasm: 'ok' },
          stats: { mean_inference_ms: 1 },
          server: [{ status: 503, code: 'queue_full', message: 'full' }],
        },
        { status: 'succeeded', source: 'device' },
        /the server answered 503 queue_full: detected on this device/,
        { pending: false, syncs: 0, login: false },
      ],
      [
        'the server cannot be reached, Auto: detected on the device',
        { loggedIn: true, stats: { mean_inference_ms: 1 }, server: [{ status: 0, code: 'network', message: 'down' }] },
        { status: 'succeeded', source: 'device' },
        /the server cannot be reached: detected on this device/,
        { pending: false, syncs: 0, login: false },
      ],
      [
        'the queue is full, Server chosen: failed with the server’s code',
        { mode: 'server', loggedIn: true, server: [{ status: 503, code: 'queue_full', message: 'full' }] },
        {
          status: 'failed',
          source: 'server',
          error: { code: 'queue_full', message: 'the server answered 503 queue_full' },
        },
        null,
        { pending: false, syncs: 0, login: false },
      ],
      [
        'the server cannot be reached, Server chosen: it waits for the network',
        { mode: 'server', loggedIn: true, server: [{ status: 0, code: 'network', message: 'down' }] },
        { status: 'queued', source: 'server' },
        null,
        { pending: true, syncs: 1, login: false },
      ],
      [
        'offline, Server chosen: it waits for the network, nothing sent',
        { mode: 'server', loggedIn: true, online: false },
        { status: 'queued', source: 'server' },
        null,
        { pending: true, syncs: 1, login: false },
      ],
      [
        'not logged in, Server chosen: it waits, and the login dialog is wanted',
        { mode: 'server' },
        { status: 'queued', source: 'server' },
        null,
        { pending: true, syncs: 0, login: true },
      ],
      [
        'the photo refused (415): failed with the server’s code, not sent again',
        {
          mode: 'server',
          loggedIn: true,
          server: [{ status: 415, code: 'unsupported_media_type', message: 'not a photo' }],
        },
        { status: 'failed', error: { code: 'unsupported_media_type', message: 'not a photo' } },
        null,
        { pending: false, syncs: 0, login: false },
      ],
    ];
  it.each(refusals)('%s', async (_name, opts, expected, reason, after) => {
    const t = setup({ stats: { mean_inference_ms: 1 }, ...opts });
    await t.dispatcher.submit([t.photo()]);
    await settle();
    const row = await t.only();
    expect(row.task).toMatchObject(expected);
    if (reason) expect(row.task.route?.reason).toMatch(reason);
    expect(row.pending !== undefined).toBe(after.pending);
    expect(row.progress).toBeUndefined();
    expect(t.syncs()).toBe(after.syncs);
    expect(t.store.get().loginWanted).toBe(after.login);
  });

  it('a task waiting for the network is sent when it returns, as the same task', async () => {
    const t = setup({ mode: 'server', loggedIn: true, online: false });
    await t.dispatcher.submit([t.photo()]);
    await settle();
    const id = (await t.only()).task.task_id;
    t.server.goOnline();
    await t.dispatcher.sendPending();
    await settle();
    const row = await t.only();
    expect(row.task).toMatchObject({ task_id: id, status: 'succeeded', source: 'server' });
    expect(row.pending).toBeUndefined();
    expect(t.server.uploads).toEqual([id]);
  });
});

describe('an album', () => {
  it('is split between the device and the server so that both work (Auto, logged in)', async () => {
    // A slow device (100 ms per photo, fake) and a server that takes 20 ms: the split sends some to each.
    const t = setup({ loggedIn: true, stats: { mean_inference_ms: 150 } });
    await t.dispatcher.submit([1, 2, 3, 4].map((i) => t.photo(`${i}.png`, 100_000)));
    await settle();
    const rows = [...t.store.get().rows.values()];
    expect(rows.every((r) => r.task.status === 'succeeded')).toBe(true);
    const sides = rows.map((r) => r.task.source);
    expect(sides).toContain('device');
    expect(sides).toContain('server');
    expect(rows.filter((r) => r.task.route?.reason.startsWith('album split')).length).toBeGreaterThan(0);
  });
});

describe('a Live view snapshot', () => {
  const found = {
    detections: [{ label: 'person', class_id: 0, score: 0.9, box: { x: 10, y: 5, width: 40, height: 60 } }],
    inferenceMs: 180,
    model: { id: 'centernet', name: 'CenterNet', version: '1', backend: 'wasm' },
  };

  it('is kept as a finished device task with the boxes it had, its thumbnail, nothing run or uploaded', async () => {
    const t = setup({ loggedIn: true });
    const id = await t.dispatcher.keepSnapshot(new File([new Uint8Array(10)], 'live.jpg'), found);
    const row = await t.only();
    expect(row.task).toMatchObject({
      task_id: id,
      source: 'device',
      status: 'succeeded',
      detections: found.detections,
      model: found.model,
      route: { chosen: 'device', reason: expect.stringMatching(/Live view snapshot/) },
    });
    expect(row.task.timings.inference_ms).toBe(180);
    expect(t.db.entries.get(id)?.thumbnail).toBeInstanceOf(Blob);
    expect(t.device.runs).toEqual([]);
    expect(t.server.uploads).toEqual([]);
    // The result view opens on it, with the frame in hand.
    expect(t.store.get().open?.taskId).toBe(id);
  });

  it('"Send to server": the frame is uploaded like any photo and followed to its end', async () => {
    const t = setup({ loggedIn: true });
    const id = await t.dispatcher.keepSnapshot(new File([new Uint8Array(10)], 'live.jpg'), found, 'server');
    await until(() => t.store.get().rows.get(id)?.task.status === 'succeeded');
    const row = await t.only();
    expect(row.task).toMatchObject({ source: 'server', route: { chosen: 'server' } });
    expect(t.server.uploads).toEqual([id]);
    expect(t.bitmaps.every((b) => b.closed)).toBe(true);
  });
});
