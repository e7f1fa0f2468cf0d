/**
 * Where a photo is detected, decided by expected time to a result: pure rules, no DOM, so that
 * every case is a line in a table test (test/unit/routing.test.ts).
 *
 *   device: measured ms per model pass × passes, times the photos ahead of it on the device (+1)
 *   server: upload (bytes ÷ measured throughput) + the queue's estimated wait + mean inference
 *           + the answer (one round trip)
 *
 * Not logged in, the device always: the server is offered, never required, for work the device
 * can do. Power and data rules come before the race: on battery below 20 % the server (when
 * logged in), with Save-Data or a 2G connection the device.
 */
import type { RouteDecision, Stats } from '../../../shared/contract.ts';

export type RouteMode = 'auto' | 'device' | 'server';

export interface DeviceState {
  /** The fastest measured backend's time per model pass (ms); null when nothing runs the model here. */
  msPerPass: number | null;
  /** Its name, for the reason ("WebAssembly"). */
  backend: string | null;
  /** Photos queued on or running on the device before this one. */
  ahead: number;
}

export interface NetworkState {
  /** Upload throughput measured on earlier uploads (bytes/s), else the Network Information API's guess. */
  uploadBytesPerSec: number | null;
  /** A round trip to the server (ms), measured or guessed. */
  rttMs: number;
  saveData: boolean;
  /** navigator.connection.effectiveType: 'slow-2g' | '2g' | '3g' | '4g' */
  effectiveType: string | null;
}

export interface BatteryState {
  level: number;
  charging: boolean;
}

export interface RouteInput {
  mode: RouteMode;
  loggedIn: boolean;
  /** The photo's size in bytes (what an upload would send). */
  bytes: number;
  /** Model passes this photo needs (1; more when it is tiled). */
  passes?: number;
  device: DeviceState;
  /** The server's /api/v1/stats, fresh within seconds; null when unknown or unreachable. */
  stats: Pick<Stats, 'estimated_wait_ms' | 'mean_inference_ms' | 'workers'> | null;
  network: NetworkState;
  battery: BatteryState | null;
}

/** Below this battery level (not charging), work goes to the server when it can. */
export const LOW_BATTERY = 0.2;
/** Upload throughput assumed when nothing was measured and the browser does not say (1 Mbit/s). */
export const DEFAULT_UPLOAD_BYTES_PER_SEC = 125_000;

const round = (n: number | null) => (n === null ? null : Math.round(n));

export function deviceEstimateMs(input: Pick<RouteInput, 'device' | 'passes'>): number | null {
  const { msPerPass, ahead } = input.device;
  if (msPerPass === null) return null;
  return msPerPass * (input.passes ?? 1) * (ahead + 1);
}

export function serverEstimateMs(input: Pick<RouteInput, 'stats' | 'network' | 'bytes' | 'passes'>): number | null {
  const { stats, network } = input;
  if (!stats || stats.workers === 0) return null;
  const throughput = network.uploadBytesPerSec ?? DEFAULT_UPLOAD_BYTES_PER_SEC;
  const upload = (input.bytes / throughput) * 1000;
  const inference = (stats.mean_inference_ms ?? 0) * (input.passes ?? 1);
  return upload + (stats.estimated_wait_ms ?? 0) + inference + 2 * network.rttMs;
}

export function decideRoute(input: RouteInput): RouteDecision {
  const device = deviceEstimateMs(input);
  const server = input.loggedIn ? serverEstimateMs(input) : null;
  const decision = (chosen: 'device' | 'server', reason: string): RouteDecision => ({
    chosen,
    reason,
    device_estimate_ms: round(device),
    server_estimate_ms: round(server),
  });
  const fmt = (ms: number | null) =>
    ms === null ? '?' : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;

  if (input.mode === 'server') return decision('server', 'Server chosen in the settings');
  if (input.mode === 'device') return decision('device', 'On this device chosen in the settings');
  if (device === null) {
    return input.loggedIn
      ? decision('server', 'this device cannot run the model')
      : decision('device', 'this device cannot run the model, and the server needs a login');
  }
  if (!input.loggedIn) return decision('device', `not logged in: on this device (${fmt(device)})`);
  const { network, battery } = input;
  if (network.saveData) return decision('device', 'Save-Data is on: nothing is uploaded');
  if (network.effectiveType === 'slow-2g' || network.effectiveType === '2g') {
    return decision('device', `a ${network.effectiveType} connection: nothing is uploaded`);
  }
  if (battery && !battery.charging && battery.level < LOW_BATTERY && server !== null) {
    return decision('server', `battery at ${Math.round(battery.level * 100)} %: the server saves it`);
  }
  if (server === null) return decision('device', `the server has no worker or did not answer (${fmt(device)} here)`);
  return device <= server
    ? decision('device', `faster here: ${fmt(device)} on this device against ${fmt(server)} by the server`)
    : decision('server', `faster on the server: ${fmt(server)} against ${fmt(device)} on this device`);
}

/**
 * An album: which photos go to the server so that the whole batch ends soonest, the device and
 * the server working side by side. Greedy: each photo (largest first) goes where it would finish
 * earlier, given what each side holds already. Returns one route per photo, in input order.
 */
export function splitAlbum(
  photos: { bytes: number; passes?: number }[],
  base: Omit<RouteInput, 'bytes' | 'passes' | 'mode'>,
): ('device' | 'server')[] {
  const out: ('device' | 'server')[] = new Array(photos.length).fill('device');
  const order = photos.map((p, i) => ({ ...p, i })).sort((a, b) => b.bytes - a.bytes);
  let deviceEnd = (base.device.msPerPass ?? 0) * base.device.ahead;
  let serverEnd = 0;
  const throughput = base.network.uploadBytesPerSec ?? DEFAULT_UPLOAD_BYTES_PER_SEC;
  const serverUsable = base.loggedIn && base.stats !== null && base.stats.workers > 0;
  const serverWait = (base.stats?.estimated_wait_ms ?? 0) + 2 * base.network.rttMs;
  for (const p of order) {
    const passes = p.passes ?? 1;
    const onDevice =
      base.device.msPerPass === null ? Number.POSITIVE_INFINITY : deviceEnd + base.device.msPerPass * passes;
    // Uploads go one after another (one link); the server's workers run them as they arrive.
    const onServer = serverUsable
      ? Math.max(serverEnd, serverWait) + (p.bytes / throughput) * 1000 + (base.stats?.mean_inference_ms ?? 0) * passes
      : Number.POSITIVE_INFINITY;
    if (onServer < onDevice) {
      out[p.i] = 'server';
      serverEnd = Math.max(serverEnd, serverWait) + (p.bytes / throughput) * 1000;
    } else {
      deviceEnd = onDevice;
    }
  }
  return out;
}
