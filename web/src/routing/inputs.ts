/**
 * What the router (rules.ts) needs to know, gathered from the state and the browser: the mode, the
 * login, the device's measured time and its queue, the server's queue (`/stats`, at most 3 s old),
 * the network (upload throughput measured on earlier uploads, else the Network Information API's
 * guess; Save-Data; 2G) and the battery. Keeps what it learns in the state.
 */
import type { Stats } from '../../../shared/contract.ts';
import { type Store, withRouting } from '../state.ts';
import type { BatteryState, RouteInput } from './rules.ts';

/** `/stats` older than this is read again before a decision. */
export const STATS_MAX_AGE_MS = 3000;
const UPLOAD_BPS_KEY = 'twinlens.uploadBps';

interface NetworkInformationLike {
  downlink?: number;
  rtt?: number;
  saveData?: boolean;
  effectiveType?: string;
}

export class RouteInputs {
  constructor(
    private readonly store: Store,
    private readonly getStats: () => Promise<Stats | null>,
  ) {
    const saved = Number(localStorage.getItem(UPLOAD_BPS_KEY)) || null;
    store.update((s) => withRouting(s, { uploadBps: saved }));
  }

  /** Follows the Battery Status API where the browser has it. */
  watchBattery(): void {
    void (navigator as Navigator & { getBattery?: () => Promise<BatteryState & EventTarget> })
      .getBattery?.()
      .then((b) => {
        const read = () =>
          this.store.update((s) => withRouting(s, { battery: { level: b.level, charging: b.charging } }));
        read();
        b.addEventListener('levelchange', read);
        b.addEventListener('chargingchange', read);
      })
      .catch(() => undefined);
  }

  /** An upload that reached the server: the throughput, smoothed, kept for later visits. */
  recordUpload(bytes: number, ms: number): void {
    if (ms <= 0 || bytes < 10_000) return;
    const bps = (bytes / ms) * 1000;
    const before = this.store.get().routing.uploadBps;
    const uploadBps = before ? 0.7 * before + 0.3 * bps : bps;
    this.store.update((s) => withRouting(s, { uploadBps }));
    localStorage.setItem(UPLOAD_BPS_KEY, String(Math.round(uploadBps)));
  }

  private async freshStats(): Promise<Stats | null> {
    const { stats } = this.store.get().routing;
    if (Date.now() - stats.at <= STATS_MAX_AGE_MS) return stats.value;
    const value = await this.getStats().catch(() => null);
    this.store.update((s) => withRouting(s, { stats: { value, at: Date.now() } }));
    return value;
  }

  /** `passes`: model passes the photo needs (1, or 1 + its tiles): the device and the server both pay them. */
  async input(bytes: number, passes = 1): Promise<RouteInput> {
    const s = this.store.get();
    const mode = s.settings.route;
    const conn = (navigator as Navigator & { connection?: NetworkInformationLike }).connection;
    // The browser's downlink estimate (Mbit/s) as the first guess for the uplink, until an upload is
    // measured (then the measurement, which learns a fast link at the first upload).
    const guess = conn?.downlink ? (conn.downlink * 1e6) / 8 : null;
    return {
      mode,
      loggedIn: s.user !== null,
      bytes,
      passes,
      device: {
        msPerPass: s.device.run?.msPerPass ?? null,
        backend: s.device.run?.backend ?? null,
        ahead: s.device.ahead,
      },
      stats: s.user && mode === 'auto' ? await this.freshStats() : null,
      network: {
        uploadBytesPerSec: s.routing.uploadBps ?? guess,
        rttMs: conn?.rtt ?? 50,
        saveData: conn?.saveData ?? false,
        effectiveType: conn?.effectiveType ?? null,
      },
      battery: s.routing.battery,
    };
  }
}
