/** The web app's routing rules (web/src/routing/rules.ts): each case, one line. */
import { describe, expect, it } from 'vitest';
import { decideRoute, type RouteInput, splitAlbum } from '../../web/src/routing/rules.ts';

const base: RouteInput = {
  mode: 'auto',
  loggedIn: true,
  bytes: 500_000,
  device: { msPerPass: 120, backend: 'wasm', ahead: 0 },
  stats: { estimated_wait_ms: 0, mean_inference_ms: 120, workers: 2 },
  network: { uploadBytesPerSec: 5_000_000, rttMs: 20, saveData: false, effectiveType: '4g' },
  battery: null,
};
const slowDevice = { msPerPass: 9000, backend: 'webgpu', ahead: 0 };

describe('decideRoute', () => {
  const cases: [string, Partial<RouteInput>, 'device' | 'server', RegExp][] = [
    [
      'not logged in: the device, whatever the server offers',
      { loggedIn: false, device: slowDevice },
      'device',
      /not logged in/,
    ],
    [
      'not logged in and no backend: still the device (never a login wall)',
      { loggedIn: false, device: { msPerPass: null, backend: null, ahead: 0 } },
      'device',
      /needs a login/,
    ],
    [
      'logged in, no backend here: the server',
      { device: { msPerPass: null, backend: null, ahead: 0 } },
      'server',
      /cannot run/,
    ],
    ['fast device, idle server: the device (no upload)', {}, 'device', /faster here/],
    ['slow device, idle server: the server', { device: slowDevice }, 'server', /faster on the server/],
    [
      'slow device, long queue: the device',
      { device: slowDevice, stats: { estimated_wait_ms: 60_000, mean_inference_ms: 120, workers: 1 } },
      'device',
      /faster here/,
    ],
    [
      'many photos ahead on the device: the server',
      { device: { msPerPass: 120, backend: 'wasm', ahead: 20 } },
      'server',
      /server/,
    ],
    [
      'slow upload of a big photo: the device',
      {
        device: { msPerPass: 800, backend: 'wasm', ahead: 0 },
        bytes: 8_000_000,
        network: { ...base.network, uploadBytesPerSec: 100_000 },
      },
      'device',
      /faster here/,
    ],
    [
      'server without workers: the device',
      { device: slowDevice, stats: { estimated_wait_ms: null, mean_inference_ms: null, workers: 0 } },
      'device',
      /no worker/,
    ],
    ['server unreachable (no stats): the device', { device: slowDevice, stats: null }, 'device', /did not answer/],
    [
      'battery low, not charging: the server',
      { battery: { level: 0.1, charging: false } },
      'server',
      /battery at 10 %/,
    ],
    ['battery low but charging: the race', { battery: { level: 0.1, charging: true } }, 'device', /faster here/],
    [
      'Save-Data: the device even when slow',
      { device: slowDevice, network: { ...base.network, saveData: true } },
      'device',
      /Save-Data/,
    ],
    ['2g: the device', { device: slowDevice, network: { ...base.network, effectiveType: '2g' } }, 'device', /2g/],
    [
      'Save-Data beats low battery',
      { battery: { level: 0.05, charging: false }, network: { ...base.network, saveData: true } },
      'device',
      /Save-Data/,
    ],
    ['"Server" chosen', { mode: 'server' }, 'server', /chosen/],
    ['"On this device" chosen', { mode: 'device', device: slowDevice }, 'device', /chosen/],
    [
      'a tiled photo counts its passes',
      { passes: 7, device: { msPerPass: 200, backend: 'wasm', ahead: 0 } },
      'server',
      /server/,
    ],
  ];
  it.each(cases)('%s', (_name, over, chosen, reason) => {
    const d = decideRoute({ ...base, ...over });
    expect(d.chosen).toBe(chosen);
    expect(d.reason).toMatch(reason);
  });

  it('records both estimates (null where a path is unavailable)', () => {
    expect(decideRoute(base)).toMatchObject({ device_estimate_ms: 120, server_estimate_ms: 100 + 0 + 120 + 40 });
    expect(decideRoute({ ...base, loggedIn: false })).toMatchObject({ server_estimate_ms: null });
  });
});

describe('splitAlbum', () => {
  it('splits 8 photos between a device and an idle server so both work', () => {
    const split = splitAlbum(
      Array.from({ length: 8 }, () => ({ bytes: 500_000 })),
      {
        ...base,
        device: { msPerPass: 150, backend: 'wasm', ahead: 0 },
      },
    );
    expect(split.filter((s) => s === 'device').length).toBeGreaterThan(0);
    expect(split.filter((s) => s === 'server').length).toBeGreaterThan(0);
  });
  it('keeps everything on the device when logged out', () => {
    expect(splitAlbum([{ bytes: 1 }, { bytes: 2 }], { ...base, loggedIn: false })).toEqual(['device', 'device']);
  });
  it('sends everything to the server when the device cannot run the model', () => {
    expect(
      splitAlbum([{ bytes: 1 }, { bytes: 2 }], { ...base, device: { msPerPass: null, backend: null, ahead: 0 } }),
    ).toEqual(['server', 'server']);
  });
});
