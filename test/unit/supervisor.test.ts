/**
 * npm start's supervisor (server/process/supervisor.ts) with real child processes, on a scaled-down
 * clock: quick crashes double the delay; a run that lasted past `healthyAfterMs` starts the count
 * again, so last week's crashes do not slow today's restart.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../server/log.ts';
import { nextRestart, Supervisor } from '../../server/process/supervisor.ts';

const log = createLogger({ service: 'test' }, 'error');

describe('restart delay', () => {
  const policy = { minDelayMs: 1000, maxDelayMs: 30_000, healthyAfterMs: 60_000 };
  it.each([
    // restarts before, ran for, → delay, restarts after
    [0, 100, 1000, 1],
    [1, 100, 2000, 2],
    [4, 100, 16_000, 5],
    [5, 100, 30_000, 6],
    [40, 100, 30_000, 41],
    // healthy for a minute: the first delay again, whatever came before
    [6, 60_000, 1000, 1],
    [40, 3_600_000, 1000, 1],
    [6, 59_999, 30_000, 7],
  ])('%i restarts, ran %i ms → %i ms', (restarts, ranMs, delayMs, after) => {
    expect(nextRestart(restarts, ranMs, policy)).toEqual({ delayMs, restarts: after });
  });
});

describe('Supervisor', () => {
  it('restarts a crashing process with growing delays, and from the shortest after a healthy run', async () => {
    const policy = { minDelayMs: 40, maxDelayMs: 1000, healthyAfterMs: 1000 };
    // Each run reads how long to live from a list: three quick crashes, one healthy run, one more crash.
    // (sh, not node: its start-up is far below the healthy mark even on a loaded machine.)
    const lifetimes = [0, 0, 0, 1.5, 0];
    const decisions: { delayMs: number; restarts: number; ranMs: number }[] = [];
    let runs = 0;
    const done = new Promise<void>((resolve) => {
      const sup = new Supervisor(
        'child',
        () => {
          const ms = lifetimes[runs++] ?? 60;
          return spawn('sh', ['-c', `sleep ${ms}; exit 3`], { stdio: 'ignore' });
        },
        log,
        policy,
        (d) => {
          decisions.push(d);
          if (decisions.length === lifetimes.length) {
            void sup.stop(100).then(resolve);
          }
        },
      );
      sup.start();
    });
    await done;
    expect(decisions.map((d) => d.delayMs)).toEqual([40, 80, 160, 40, 80]);
    expect(decisions[3]?.ranMs).toBeGreaterThanOrEqual(1000);
  }, 20_000);
});
