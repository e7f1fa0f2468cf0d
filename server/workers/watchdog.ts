/**
 * A worker's watchdog: verifies, rather than assumes, that the worker still takes jobs. BullMQ's
 * history has workers that stay "running" after an outage or a failover while their blocking
 * connection never comes back (fixed in 5.81.3 / 6.3.3 for the known cases; this catches the
 * unknown ones). Every few seconds it asks Redis, on a fresh connection of its own (a wedged
 * connection cannot answer for itself):
 *
 * - are jobs waiting (the wait list or the prioritized set) while this worker has room for one and
 *   has taken none for `stuckAfterMs`? Then it is not taking jobs;
 * - has its heartbeat failed for `stuckAfterMs` while Redis answers? Then its connection is wedged.
 *
 * Either way the worker is stuck: its readiness fails and `onStuck` runs (the worker exits 75, and
 * its supervisor, npm start's or Kubernetes', starts a fresh one). While Redis itself does not
 * answer nothing is judged: an outage is not the worker's fault, and it resumes by itself after.
 */
import { Cluster, Redis } from 'ioredis';
import type { Logger } from '../log.ts';
import { clusterNodes, type RedisClient, type RedisTarget, sentinelOptions } from '../redis.ts';

export interface WatchdogOptions {
  stuckAfterMs: number;
  /** Jobs this worker holds at once. */
  concurrency: number;
  /** The keys jobs wait in, for the models this worker serves now (DetectQueue.waitingKeys). */
  waitingKeys: () => { wait: string; prioritized: string }[];
  target: RedisTarget;
  log: Logger;
  onStuck: (reason: string) => void;
}

export type WatchdogState = { ok: true } | { ok: false; reason: string };

export class WorkerWatchdog {
  private inFlight = 0;
  /** Since when jobs have waited while this worker had room and took none. */
  private idleSince: number | undefined;
  private lastBeat = Date.now();
  private stuck: string | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: WatchdogOptions) {}

  start(): void {
    const every = Math.max(200, Math.min(5000, Math.floor(this.opts.stuckAfterMs / 4)));
    this.timer = setInterval(() => void this.check(), every);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  jobStarted(): void {
    this.inFlight++;
    this.idleSince = undefined;
  }

  jobEnded(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
  }

  /** A heartbeat was written. */
  beat(): void {
    this.lastBeat = Date.now();
  }

  state(): WatchdogState {
    return this.stuck ? { ok: false, reason: this.stuck } : { ok: true };
  }

  /** One look (exported for tests through `start`). */
  async check(now = Date.now()): Promise<void> {
    if (this.stuck) return;
    const waiting = await this.waitingJobs();
    if (waiting === null) {
      // Redis does not answer: an outage, not this worker. Judge again from when it is back.
      this.idleSince = undefined;
      this.lastBeat = now;
      return;
    }
    if (now - this.lastBeat > this.opts.stuckAfterMs) {
      return this.declare(`its heartbeat has failed for ${now - this.lastBeat} ms while Redis answers`);
    }
    if (waiting > 0 && this.inFlight < this.opts.concurrency) {
      this.idleSince ??= now;
      if (now - this.idleSince > this.opts.stuckAfterMs) {
        return this.declare(`${waiting} job(s) waiting and none taken for ${now - this.idleSince} ms`);
      }
    } else {
      this.idleSince = undefined;
    }
  }

  private declare(reason: string): void {
    this.stuck = reason;
    this.opts.log.error('worker stuck: not ready, restarting', { reason });
    this.opts.onStuck(reason);
  }

  /** Jobs waiting for a worker, asked on a fresh connection; null when Redis does not answer. */
  private async waitingJobs(): Promise<number | null> {
    const { target, waitingKeys } = this.opts;
    const quick = {
      lazyConnect: true,
      connectTimeout: 2000,
      commandTimeout: 2000,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: true,
    };
    const probe: RedisClient = target.clusterNodes
      ? new Cluster(clusterNodes(target.clusterNodes), {
          lazyConnect: true,
          clusterRetryStrategy: () => null,
          redisOptions: quick,
        })
      : target.sentinels
        ? new Redis({
            ...sentinelOptions(target),
            failoverDetector: false,
            sentinelRetryStrategy: () => null,
            ...quick,
          })
        : new Redis(target.url, quick);
    probe.on('error', () => {});
    try {
      await probe.connect();
      const counts = await Promise.all(waitingKeys().flatMap((k) => [probe.llen(k.wait), probe.zcard(k.prioritized)]));
      return counts.reduce((a, b) => a + b, 0);
    } catch {
      return null;
    } finally {
      probe.disconnect();
    }
  }
}
