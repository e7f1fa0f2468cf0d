/**
 * The reconciliation: no task the API acknowledged is lost or left stuck, whatever Redis went
 * through. Run by the API processes, one at a time (a lock in Redis), every RECONCILE_INTERVAL_MS.
 *
 * 1. After the primary changed (a failover, a restart: its run_id is not the one seen before, or
 *    this process has just started), the acknowledgement journal of the last
 *    RECONCILE_WINDOW_SECONDS (in the storage, out of Redis's reach) is compared with the task
 *    records: a task acknowledged there whose record is gone and was not deleted (no tombstone) and
 *    has not expired was lost with the old primary's last writes. It is restored: queued again when
 *    its upload is still stored, else failed with `task_lost` (TaskService.restore).
 *
 * 2. The open tasks (queued or running, indexed by the create and transition scripts) older than
 *    RECONCILE_GRACE_MS are compared with their jobs: one whose job is gone, or finished without
 *    recording an outcome, is queued again; one whose job BullMQ gave up on (stalled too often: its
 *    workers kept dying) is failed with `worker_lost` and BullMQ's reason. So none is left queued or
 *    running forever.
 *
 * Both are idempotent (every write is a compare-and-set or keyed by the task id), so two processes
 * doing the same, or one doing it twice, change nothing more.
 */
import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import type { Logger } from '../log.ts';
import type { DetectQueue } from '../queue/detect-queue.ts';
import type { Keys, RedisClient } from '../redis.ts';
import type { TaskService } from '../tasks/task-service.ts';
import type { TaskStore } from '../tasks/task-store.ts';
import type { AckJournal } from './ack-journal.ts';

/** Ids looked at per pipelined read. */
const CHUNK = 500;
/** How long the lock is held at most (a process that died with it lets go after this). */
const LOCK_MS = 120_000;
/** The journal's old folders are dropped this often. */
const PRUNE_EVERY_MS = 60_000;

export interface ReconcilerDeps {
  redis: RedisClient;
  keys: Keys;
  tasks: TaskService;
  store: TaskStore;
  queue: DetectQueue;
  journal: AckJournal;
  log: Logger;
  intervalMs: number;
  graceMs: number;
}

export interface JournalReport {
  checked: number;
  requeued: number;
  failed: number;
}

export interface OpenReport {
  checked: number;
  requeued: number;
  failed: number;
}

export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  /** The primary's identity when the journal was last compared (undefined: not yet, since start). */
  private primarySeen: string | undefined;
  private lastOpenSweep = 0;
  private lastPrune = 0;
  private running: Promise<void> | undefined;
  private readonly onReady = () => void this.tick();

  constructor(private readonly deps: ReconcilerDeps) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.deps.intervalMs);
    this.timer.unref();
    // A reconnect may be a failover: look at once rather than at the next interval.
    this.deps.redis.on('ready', this.onReady);
    void this.tick();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.deps.redis.off('ready', this.onReady);
    await this.running;
  }

  /** One round (skipped while one runs): the primary, the open tasks when due, the journal's old folders. */
  tick(): Promise<void> {
    this.running ??= this.round()
      .catch((err) => this.deps.log.warn('reconciliation failed; trying again', { err: (err as Error).message }))
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  private async round(): Promise<void> {
    const now = Date.now();
    const identity = await primaryIdentity(this.deps.redis);
    if (identity !== this.primarySeen) {
      const report = await this.withLock(() => this.compareJournal());
      if (report) {
        if (this.primarySeen !== undefined || report.requeued + report.failed > 0) {
          this.deps.log.warn('reconciled after the primary changed', { primary: identity, ...report });
        }
        this.primarySeen = identity;
      }
    }
    if (now - this.lastOpenSweep >= Math.min(this.deps.graceMs / 2, 30_000)) {
      const report = await this.withLock(() => this.sweepOpen());
      if (report) {
        this.lastOpenSweep = now;
        if (report.requeued + report.failed > 0) this.deps.log.warn('reconciled stuck tasks', { ...report });
      }
    }
    if (now - this.lastPrune >= PRUNE_EVERY_MS) {
      this.lastPrune = now;
      await this.deps.journal.prune(now);
    }
  }

  /** Journal entries whose task record is gone (not deleted, not expired): restored. */
  async compareJournal(now = Date.now()): Promise<JournalReport> {
    const { redis, keys, journal, tasks, log } = this.deps;
    const report: JournalReport = { checked: 0, requeued: 0, failed: 0 };
    for (const folder of await journal.recentFolders(now)) {
      const ids = await journal.idsIn(folder);
      for (let i = 0; i < ids.length; i += CHUNK) {
        const chunk = ids.slice(i, i + CHUNK);
        const pipeline = redis.pipeline();
        for (const id of chunk) pipeline.exists(keys.task(id), keys.taskTombstone(id));
        const replies = (await pipeline.exec()) ?? [];
        report.checked += chunk.length;
        for (const [j, [err, found]] of replies.entries()) {
          if (err) throw err;
          if (Number(found) > 0) continue;
          const id = chunk[j] as string;
          const entry = await journal.read(folder, id);
          // Gone from the journal meanwhile (its acknowledgement was taken back), or expired anyway.
          if (!entry || Date.parse(entry.task.created_at) + this.deps.store.ttlSeconds * 1000 <= now) continue;
          const outcome = await tasks.restore(entry);
          if (outcome === 'exists') continue;
          report[outcome]++;
          log.warn('task lost by Redis restored from the acknowledgement journal', {
            task_id: id,
            outcome: outcome === 'requeued' ? 'queued again' : 'failed: task_lost (its upload is gone too)',
          });
        }
      }
    }
    return report;
  }

  /** Open tasks older than the grace whose job is gone, finished without them, or given up: mended. */
  async sweepOpen(now = Date.now()): Promise<OpenReport> {
    const { redis, keys, queue, store, tasks, log } = this.deps;
    const report: OpenReport = { checked: 0, requeued: 0, failed: 0 };
    const cutoff = now - this.deps.graceMs;
    let offset = 0;
    for (;;) {
      const ids = await redis.zrangebyscore(keys.tasksOpen, '-inf', cutoff, 'LIMIT', offset, CHUNK);
      if (ids.length === 0) break;
      offset += ids.length;
      report.checked += ids.length;
      const states = await queue.jobStates(ids);
      for (const [i, job] of states.entries()) {
        if (job.state === 'alive') continue;
        const id = ids[i] as string;
        const stored = await store.get(id);
        if (!stored || (stored.task.status !== 'queued' && stored.task.status !== 'running')) {
          // Deleted, expired or final: not open any more (an index entry left behind).
          await redis.zrem(keys.tasksOpen, id);
          offset--;
          continue;
        }
        if (job.state === 'failed') {
          const outcome = await tasks.abandon(stored, {
            code: 'worker_lost',
            message: `the queue gave the task up without an outcome (${job.reason})`,
          });
          if (outcome === 'ok') {
            report.failed++;
            offset--;
            log.warn('stuck task failed: its job was given up', { task_id: id, reason: job.reason });
          }
          continue;
        }
        // Gone (lost, or never queued: its enqueue failed with Redis), or finished without an outcome.
        if (await tasks.requeue(stored)) {
          report.requeued++;
          log.warn('stuck task queued again', { task_id: id, job: job.state, status: stored.task.status });
        } else if (
          (await tasks.abandon(stored, { code: 'task_lost', message: 'the task’s upload is no longer stored' })) ===
          'ok'
        ) {
          report.failed++;
          offset--;
        }
      }
    }
    return report;
  }

  /** Runs `fn` holding the lock; undefined (not run) when another process holds it. */
  private async withLock<T>(fn: () => Promise<T>): Promise<T | undefined> {
    const { redis, keys } = this.deps;
    const token = randomUUID();
    if ((await redis.set(keys.reconcileLock, token, 'PX', LOCK_MS, 'NX')) !== 'OK') return undefined;
    try {
      return await fn();
    } finally {
      // Released only if still ours (it may have expired and been taken by another).
      await redis
        .eval(
          "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
          1,
          keys.reconcileLock,
          token,
        )
        .catch(() => {});
    }
  }
}

/**
 * Which Redis process serves as primary: its run_id (a new one at every start, and another
 * process's after a failover). For a cluster, every master's.
 */
export async function primaryIdentity(redis: RedisClient): Promise<string> {
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  const ids = await Promise.all(nodes.map(async (n) => /run_id:([0-9a-f]+)/.exec(await n.info('server'))?.[1] ?? '?'));
  return ids.sort().join(',');
}
