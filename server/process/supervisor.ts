/**
 * Keeps processes running: `npm start`'s supervisor. A process that exits (crashed, or a worker
 * whose watchdog found it stuck) is started again after a delay that doubles with each quick crash
 * (1 s, 2 s, 4 s … 30 s at most), so a process that cannot start does not spin; one that ran
 * healthy for a while (a minute) before it exited starts again from the shortest delay, so old
 * crashes do not slow the next recovery.
 */
import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../log.ts';

export interface RestartPolicy {
  /** The delay after the first quick crash. */
  minDelayMs: number;
  maxDelayMs: number;
  /** A process that ran at least this long counts as healthy: its next restart is the first again. */
  healthyAfterMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = { minDelayMs: 1000, maxDelayMs: 30_000, healthyAfterMs: 60_000 };

/**
 * The delay before restarting a process that ran `ranMs` and exited, after `restarts` earlier
 * quick restarts; and the count to keep for the next time.
 */
export function nextRestart(
  restarts: number,
  ranMs: number,
  policy: RestartPolicy = DEFAULT_RESTART_POLICY,
): { delayMs: number; restarts: number } {
  const count = ranMs >= policy.healthyAfterMs ? 1 : restarts + 1;
  const delayMs = Math.min(policy.maxDelayMs, policy.minDelayMs * 2 ** Math.min(count - 1, 30));
  return { delayMs, restarts: count };
}

export interface Supervised {
  readonly name: string;
  /** The running child, if any. */
  readonly child: ChildProcess | undefined;
  /** Restarts so far that counted toward the delay (reset by a healthy run). */
  readonly restarts: number;
}

/** Starts `spawn()` now and again whenever it exits, until `stop()`. */
export class Supervisor implements Supervised {
  child: ChildProcess | undefined;
  restarts = 0;
  private stopping = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly name: string,
    private readonly spawn: () => ChildProcess,
    private readonly log: Logger,
    private readonly policy: RestartPolicy = DEFAULT_RESTART_POLICY,
    /** Told of each restart decision (tests, logs). */
    private readonly onRestart?: (decision: { delayMs: number; restarts: number; ranMs: number }) => void,
  ) {}

  start(): void {
    if (this.stopping) return;
    const startedAt = Date.now();
    const child = this.spawn();
    this.child = child;
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      const ranMs = Date.now() - startedAt;
      const next = nextRestart(this.restarts, ranMs, this.policy);
      this.restarts = next.restarts;
      this.log.warn(`${this.name} exited; restarting`, { code, signal, ran_ms: ranMs, in_ms: next.delayMs });
      this.onRestart?.({ ...next, ranMs });
      this.timer = setTimeout(() => this.start(), next.delayMs);
    });
  }

  /** Stops restarting; SIGTERM to the child, SIGKILL after `graceMs`. Resolves when it has exited. */
  stop(graceMs = 15_000): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), graceMs).unref();
    });
  }
}
