/**
 * How the other device backends are measured in the background (web/src/detection/backends.ts
 * `measureRest`): the budget each gets, what a stop is recorded as, that none starts while the
 * device has photos to run, and that one preempted by a photo is measured again later. The measuring itself (real workers, the real model) is exercised in
 * Chromium by test/e2e/device.test.ts and routing.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  type BackendResult,
  describeMeasurement,
  MAX_PREEMPTIONS,
  MIN_BUDGET_MS,
  measureRest,
  STOP_FACTOR,
} from '../../web/src/detection/backends.ts';
import type { DeviceBackend } from '../../web/src/detection/protocol.ts';

const wasm: BackendResult = { backend: 'wasm', msPerPass: 200, elapsedMs: 0 };

describe('measureRest', () => {
  const cases: [string, BackendResult[], number][] = [
    ['a fast best: the floor', [wasm], MIN_BUDGET_MS],
    ['a slow best: STOP_FACTOR times it', [{ ...wasm, msPerPass: 900 }], STOP_FACTOR * 900],
    ['nothing measured yet: a long budget', [], 120_000],
  ];
  it.each(cases)('%s', async (_name, known, budget) => {
    const budgets: number[] = [];
    await measureRest(
      ['webgl'],
      known,
      async (_b, ms) => {
        budgets.push(ms);
        return { msPerPass: 50 };
      },
      () => undefined,
    );
    expect(budgets).toEqual([budget]);
  });

  it('measures a candidate preempted by a photo again after the next quiet spell, recording it once', async () => {
    const calls: string[] = [];
    let quiets = 0;
    const results = await measureRest(
      ['webgl'],
      [wasm],
      async (b) => {
        calls.push(b);
        return calls.length === 1 ? 'preempted' : { msPerPass: 900 };
      },
      () => undefined,
      async () => {
        quiets++;
      },
    );
    expect(calls).toEqual(['webgl', 'webgl']);
    expect(quiets).toBe(2);
    expect(results).toEqual([wasm, { backend: 'webgl', msPerPass: 900, elapsedMs: expect.any(Number) }]);
  });

  it('records a candidate preempted every time as stopped (a device this busy keeps its backend)', async () => {
    let calls = 0;
    const results = await measureRest(
      ['webgl'],
      [wasm],
      async () => {
        calls++;
        return 'preempted';
      },
      () => undefined,
    );
    expect(calls).toBe(MAX_PREEMPTIONS + 1);
    expect(results.at(-1)).toMatchObject({ backend: 'webgl', msPerPass: null, note: 'stopped' });
  });

  it('records a candidate that ran out of its budget as stopped, one that failed at once as failed', async () => {
    const results = await measureRest(
      ['webgpu', 'webgl'],
      [wasm],
      async (b, budget) => {
        if (b === 'webgl') return 'failed';
        await new Promise((r) => setTimeout(r, budget));
        return 'stopped';
      },
      () => undefined,
    );
    expect(results.map((r) => [r.backend, r.note ?? null])).toEqual([
      ['wasm', null],
      ['webgpu', 'stopped'],
      ['webgl', 'failed'],
    ]);
    expect(describeMeasurement({ results })).toMatch(
      /^WebAssembly, 200 ms per photo; WebGPU stopped after 3\.\d s \(slower\); WebGL does not run here$/,
    );
  }, 10_000);

  it('starts no candidate until the device is quiet, and asks again before each', async () => {
    const events: string[] = [];
    let release: () => void = () => undefined;
    const quiet = () => {
      events.push('quiet?');
      return new Promise<void>((r) => {
        release = () => {
          events.push('quiet');
          r();
        };
      });
    };
    const done = measureRest(
      ['webgpu', 'webgl'],
      [wasm],
      async (b: DeviceBackend) => {
        events.push(`measure ${b}`);
        return { msPerPass: 5000 };
      },
      () => undefined,
      quiet,
    );
    await new Promise((r) => setTimeout(r, 20));
    expect(events).toEqual(['quiet?']);
    release();
    await new Promise((r) => setTimeout(r, 20));
    expect(events).toEqual(['quiet?', 'quiet', 'measure webgpu', 'quiet?']);
    release();
    const results = await done;
    expect(events.at(-1)).toBe('measure webgl');
    expect(results.map((r) => r.backend)).toEqual(['wasm', 'webgpu', 'webgl']);
  });
});
