/**
 * The server's task lifecycle, one owner: it creates, claims, completes, fails, cancels and deletes
 * tasks, for the routes and the worker's processor alike. The rules (which status a change is
 * allowed from, how a task is made) are shared/task-lifecycle.ts; each change is one Lua script,
 * one round trip, that checks and writes (compare-and-set), so a duplicate run or a late worker
 * after a cancel can never overwrite a final state: each task has exactly one outcome.
 */
import type { Detection, ErrorInfo, ModelInfo, Task } from '../../shared/contract.ts';
import {
  cancelTask,
  canTransition,
  claimTask,
  failTask,
  isFinalStatus,
  succeedTask,
  TRANSITIONS,
  type Transition,
} from '../../shared/task-lifecycle.ts';
import type { AckEntry, AckJournal } from '../durability/ack-journal.ts';
import type { ReplicationBarrier } from '../durability/replication-barrier.ts';
import { annotate } from '../images/annotate.ts';
import { LuaScript } from '../lua-script.ts';
import { type DetectQueue, type EnqueueOptions, modelOf } from '../queue/detect-queue.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import type { StoredTask, TaskEvent, TaskStore } from './task-store.ts';

const CREATE = new LuaScript(new URL('./lua/task-create.lua', import.meta.url));
const CLAIM = new LuaScript(new URL('./lua/task-claim.lua', import.meta.url));
const TRANSITION = new LuaScript(new URL('./lua/task-transition.lua', import.meta.url));

/** Push outbox entries kept at most (approximately): a backlog this long means no API process ran for a while. */
const OUTBOX_MAX = 10_000;
/** Recent inference times kept for /api/v1/stats. */
export const INFERENCE_SAMPLES = 100;

export type TransitionResult = 'ok' | 'missing' | 'conflict';

/** `exists`: a task has this id now; `used`: a deleted task had it (ids are not reused). */
export type CreateResult = 'created' | 'exists' | 'used';

export type ClaimResult =
  | { outcome: 'claimed'; task: Task; runs: number }
  /** Running already: a previous attempt died mid-job; its start time is kept. */
  | { outcome: 'reclaimed'; task: Task; runs: number }
  | { outcome: 'missing' }
  | { outcome: 'not-allowed'; status: string };

/** What `create` needs besides the task: its queue place, and what a lost task is rebuilt with. */
export interface CreateOptions extends EnqueueOptions {
  /** The task's own callback URL (kept in Redis already; journaled so that a lost task gets it back). */
  callbackUrl?: string | undefined;
}

/**
 * What makes a 202 an acknowledgement that survives a failover: the replicas have the task (WAIT)
 * and the journal in the storage names it (server/durability/). Without it (the CLI, workers),
 * creating a task is its record and its job.
 */
export interface Acknowledgement {
  barrier: ReplicationBarrier;
  journal: AckJournal;
}

export class TaskService {
  /** Called once per album task that became final (the batch counts down to its own webhook). Must not throw. */
  onBatchTaskFinal: ((task: Task & { batch_id: string }, ownerId: string) => Promise<void>) | undefined;

  /** Set by the API (server/compose.ts): each task is acknowledged only once replicated and journaled. */
  acknowledgement: Acknowledgement | undefined;

  constructor(
    readonly store: TaskStore,
    private readonly queue: DetectQueue,
    private readonly blobs: BlobStore,
    /** How long a task's webhook delivery state is kept (the task TTL). */
    private readonly webhookStateTtlSeconds = store.ttlSeconds,
  ) {}

  private get redis() {
    return this.store.redis;
  }
  private get keys() {
    return this.store.keys;
  }

  /**
   * A new server task: its upload is stored first (content-addressed: the same bytes, the same
   * file), then the record is made with its claim on the file (one script), then its job queued,
   * then (in the API) it is acknowledged: on the replicas and in the journal. Nothing is left
   * behind when the id is taken, the queue refuses, or the acknowledgement fails (then this
   * throws `not_replicated`, and the same task sent again is made again).
   */
  async create(
    task: Task,
    ownerId: string,
    upload: { bytes: Uint8Array; extension: string },
    opts: CreateOptions = {},
  ): Promise<CreateResult> {
    const uploadKey = await this.blobs.put('uploads', upload.bytes, upload.extension, task.image.sha256);
    const result = await this.insert(task, ownerId, uploadKey);
    if (result !== 'created') {
      await this.store.dropUnclaimed(uploadKey);
      return result;
    }
    try {
      await this.queue.enqueue({ taskId: task.task_id, ownerId, uploadKey, params: task.params, task }, opts);
    } catch (err) {
      // Redis may be gone with the enqueue: then the record may stay, and the reconciler queues it.
      await this.forget(task.task_id, ownerId).catch(() => {});
      throw err;
    }
    await this.acknowledge({
      v: 1,
      task,
      owner_id: ownerId,
      upload_key: uploadKey,
      callback_url: opts.callbackUrl,
      album_backlog: opts.albumBacklog,
    });
    return 'created';
  }

  /**
   * The same task sent again (`create` answered `exists`, and it is the caller's): its record may not
   * be on the replicas or in the journal yet (the first answer was lost, or was a 503 while a worker
   * already held it), so it is acknowledged before a 202 too.
   */
  async confirmExisting(stored: Pick<StoredTask, 'task' | 'ownerId'>, callbackUrl?: string): Promise<void> {
    const ack = this.acknowledgement;
    if (!ack) return;
    const uploadKey = (await this.store.blobKeys(stored.task.task_id)).find((key) => key.startsWith('uploads/'));
    const entry: AckEntry | undefined = uploadKey
      ? { v: 1, task: stored.task, owner_id: stored.ownerId, upload_key: uploadKey, callback_url: callbackUrl }
      : undefined;
    await Promise.all([ack.barrier.confirm(), entry && ack.journal.record(entry)]);
  }

  /** The record (with its claim on the upload, and in the open tasks while not final), in one script. */
  private async insert(task: Task, ownerId: string, uploadKey: string | null): Promise<CreateResult> {
    const k = this.keys;
    const id = task.task_id;
    const result = (await CREATE.run(
      this.redis,
      [
        k.task(id),
        k.taskTombstone(id),
        k.userTasks(ownerId),
        k.expiries,
        k.taskBlobs(id),
        k.tasksOpen,
        ...(uploadKey ? [k.blobRefs(uploadKey)] : []),
      ],
      [
        id,
        task.status,
        ownerId,
        JSON.stringify(task),
        Date.parse(task.created_at),
        this.store.ttlSeconds,
        ...(uploadKey ? [uploadKey] : []),
      ],
    )) as number;
    return result === 1 ? 'created' : result === 0 ? 'exists' : 'used';
  }

  /**
   * Acknowledged means replicated and journaled, both at once. When either fails, what was made is
   * taken back (the journal entry first, so the reconciler never brings back a task answered 503)
   * unless a worker holds it already: then the task stays, and the same task_id sent again gets it.
   */
  private async acknowledge(entry: AckEntry): Promise<void> {
    const ack = this.acknowledgement;
    if (!ack) return;
    const [replicated, journaled] = await Promise.allSettled([ack.barrier.confirm(), ack.journal.record(entry)]);
    if (replicated.status === 'fulfilled' && journaled.status === 'fulfilled') return;
    const { task, owner_id: ownerId } = entry;
    await ack.journal.remove(task).catch(() => {});
    if (await this.queue.removeIfWaiting(task.task_id, modelOf(task))) {
      await this.forget(task.task_id, ownerId).catch(() => {});
    }
    throw replicated.status === 'rejected' ? replicated.reason : (journaled as PromiseRejectedResult).reason;
  }

  /**
   * Brings back a task a failover lost (its journal entry: the record is gone and was not deleted):
   * queued again when its upload is still stored, else failed with `task_lost`. Returns what was
   * done, or `exists` when the record came back meanwhile.
   */
  async restore(entry: AckEntry, now = new Date()): Promise<'requeued' | 'failed' | 'exists'> {
    const { task, owner_id: ownerId, upload_key: uploadKey } = entry;
    const stored = await this.blobs.exists(uploadKey);
    if (entry.callback_url) {
      await this.redis.set(
        this.keys.webhookTask(ownerId, task.task_id),
        entry.callback_url,
        'EX',
        this.store.ttlSeconds,
      );
    }
    const queued: Task = { ...task, status: 'queued', started_at: null, finished_at: null, model: null, error: null };
    if ((await this.insert(queued, ownerId, stored ? uploadKey : null)) !== 'created') return 'exists';
    if (stored) {
      try {
        await this.queue.enqueue(
          { taskId: task.task_id, ownerId, uploadKey, params: task.params, task: queued },
          { albumBacklog: entry.album_backlog },
        );
      } catch (err) {
        // Redis went away again: without its record the next round restores it whole (should this
        // delete fail too, the open-task sweep queues the record left behind).
        await this.forget(task.task_id, ownerId).catch(() => {});
        throw err;
      }
      return 'requeued';
    }
    await this.abandon(
      { task: queued, ownerId },
      { code: 'task_lost', message: 'the task was lost in a Redis failover and its upload is no longer stored' },
      now,
    );
    return 'failed';
  }

  /**
   * Ends a task that cannot run (queued or running): its job was given up without an outcome, or
   * it was lost with its upload. Failed with `error`, with its push and webhook owed as for any end.
   */
  async abandon(
    stored: Pick<StoredTask, 'task' | 'ownerId'>,
    error: ErrorInfo,
    now = new Date(),
  ): Promise<TransitionResult> {
    // Failed from where it stopped (a queued one as if claimed now); Redis checks the change as `abandon`.
    const failed = failTask(stored.task, error, now);
    return this.change(failed, stored.ownerId, 'abandon', null);
  }

  /** Queues a task's job again (the reconciler: its job is gone, or ended without recording an outcome). */
  async requeue(stored: Pick<StoredTask, 'task' | 'ownerId'>): Promise<boolean> {
    const id = stored.task.task_id;
    const uploadKey = (await this.store.blobKeys(id)).find((key) => key.startsWith('uploads/'));
    if (!uploadKey) return false;
    await this.queue.removeJob(id, modelOf(stored.task));
    await this.queue.enqueue({
      taskId: id,
      ownerId: stored.ownerId,
      uploadKey,
      params: stored.task.params,
      task: stored.task,
    });
    return true;
  }

  /**
   * A worker takes the task: queued → running with `model`, in one round trip. `queued` is the task
   * as created (from the job); without it (jobs queued before it was sent along) it is read first.
   */
  async claim(taskId: string, model: ModelInfo, queued?: Task): Promise<ClaimResult> {
    const created = queued ?? (await this.store.get(taskId))?.task;
    if (!created) return { outcome: 'missing' };
    // Read from the record (not the job): it may be final already, as Redis would also say.
    if (!canTransition(created.status, 'claim')) return { outcome: 'not-allowed', status: created.status };
    const running = claimTask(created, { model });
    const reply = (await CLAIM.run(
      this.redis,
      [this.keys.task(taskId), this.keys.taskRuns(taskId)],
      [JSON.stringify(running), this.store.ttlSeconds, this.keys.taskEvents, event(running), ...TRANSITIONS.claim.from],
    )) as [string, number?, string?];
    const [outcome, runs = 0, stored] = reply;
    if (outcome === 'claimed') return { outcome, task: running, runs };
    if (outcome === 'reclaimed' && stored) return { outcome, task: { ...(JSON.parse(stored) as Task), model }, runs };
    if (outcome === 'missing') return { outcome };
    return { outcome: 'not-allowed', status: outcome };
  }

  /** running → succeeded, with the detections and timings; records the inference time for /stats. */
  async succeed(
    running: Task,
    ownerId: string,
    detections: Detection[],
    inferenceMs: number,
    tiled: { tiles: number; tileMs: number | null } = { tiles: 0, tileMs: null },
    now = new Date(),
  ): Promise<{ outcome: TransitionResult; task: Task }> {
    const done = succeedTask(running, { detections, inferenceMs, tiles: tiled.tiles, tileMs: tiled.tileMs }, now);
    const outcome = await this.change(done, ownerId, 'succeed', done.timings.inference_ms);
    if (outcome === 'ok' && done.model && done.timings.inference_ms !== null) {
      await this.recordModelInference(done.model.id, done.model.backend, done.timings.inference_ms);
    }
    return { outcome, task: done };
  }

  /** A model's recent inference times, each with its backend: GET /models and /stats per model read them. */
  private async recordModelInference(model: string, backend: string, ms: number): Promise<void> {
    const key = this.modelSamplesKey(model);
    await this.redis
      .multi()
      .lpush(key, `${backend} ${ms}`)
      .ltrim(key, 0, INFERENCE_SAMPLES - 1)
      .exec();
  }

  private modelSamplesKey(model: string): string {
    return `${this.keys.inferenceSamples}:${model}`;
  }

  /** Per model: the mean of its recent inference times, and the same per backend. */
  async modelInference(
    models: string[],
  ): Promise<Map<string, { meanMs: number | null; backends: { backend: string; meanMs: number; samples: number }[] }>> {
    const lists = await Promise.all(
      models.map((m) => this.redis.lrange(this.modelSamplesKey(m), 0, INFERENCE_SAMPLES - 1)),
    );
    const out = new Map<
      string,
      { meanMs: number | null; backends: { backend: string; meanMs: number; samples: number }[] }
    >();
    models.forEach((m, i) => {
      const byBackend = new Map<string, number[]>();
      let all = 0;
      let n = 0;
      for (const entry of lists[i] ?? []) {
        const [backend = '?', raw] = entry.split(' ');
        const ms = Number(raw);
        if (!Number.isFinite(ms)) continue;
        byBackend.set(backend, [...(byBackend.get(backend) ?? []), ms]);
        all += ms;
        n++;
      }
      const round = (v: number) => Math.round(v * 10) / 10;
      out.set(m, {
        meanMs: n ? round(all / n) : null,
        backends: [...byBackend].map(([backend, v]) => ({
          backend,
          meanMs: round(v.reduce((a, b) => a + b, 0) / v.length),
          samples: v.length,
        })),
      });
    });
    return out;
  }

  /** running → failed, with the error. */
  async fail(
    running: Task,
    ownerId: string,
    error: ErrorInfo,
    now = new Date(),
  ): Promise<{ outcome: TransitionResult; task: Task }> {
    const failed = failTask(running, error, now);
    return { outcome: await this.change(failed, ownerId, 'fail', null), task: failed };
  }

  /**
   * The user's DELETE: a queued or running task is canceled (its job removed if no worker holds
   * it, its files let go); a finished one is deleted. Returns the canceled task, or null when it
   * was (or just became) final and is now deleted.
   */
  async cancelOrDelete(stored: StoredTask): Promise<Task | null> {
    const { task, ownerId } = stored;
    const canceled = await this.cancel(stored);
    if (canceled) return canceled;
    // Final already, or it finished between the read and the cancel: deleted like any finished task.
    await this.queue.removeIfWaiting(task.task_id, modelOf(task));
    await this.forget(task.task_id, ownerId, { tombstone: true });
    // Its acknowledgement goes too (the tombstone keeps it from being restored meanwhile).
    await this.acknowledgement?.journal.remove(task).catch(() => {});
    return null;
  }

  /**
   * Cancels a queued or running task (its job removed if no worker holds it, its files let go).
   * Returns the canceled task, or null when it was (or just became) final: then nothing changes.
   */
  async cancel(stored: StoredTask): Promise<Task | null> {
    const { task, ownerId } = stored;
    if (isFinalStatus(task.status)) return null;
    await this.queue.removeIfWaiting(task.task_id, modelOf(task));
    const canceled = cancelTask(task);
    if ((await this.change(canceled, ownerId, 'cancel', null)) !== 'ok') return null;
    await this.store.releaseAllBlobs(task.task_id);
    return canceled;
  }

  /**
   * The annotated JPEG of a succeeded task: drawn the first time it is asked for, then kept
   * (content-addressed, held by the task like its upload) — not drawn for every task.
   */
  async annotatedImage(stored: StoredTask, upload: { key: string }, maxPixels: number): Promise<Buffer | null> {
    const id = stored.task.task_id;
    const kept = (await this.store.blobKeys(id)).find((k) => k.startsWith('results/'));
    if (kept) {
      const bytes = await this.blobs.get(kept);
      if (bytes) return bytes;
    }
    if (!(await this.store.holdsBlob(id, upload.key))) return null;
    const original = await this.blobs.get(upload.key);
    if (!original) return null;
    const drawn = await annotate(original, stored.task.detections, maxPixels);
    const key = await this.blobs.put('results', drawn, 'jpg');
    await this.store.addBlob(id, key);
    return drawn;
  }

  /** Mean of the recent inference times (ms), or null before any. */
  async meanInferenceMs(): Promise<number | null> {
    const values = (await this.redis.lrange(this.keys.inferenceSamples, 0, INFERENCE_SAMPLES - 1))
      .map(Number)
      .filter(Number.isFinite);
    return values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
  }

  /** Deletes the record and its files; `tombstone` (a user's delete) keeps the id from being used again. */
  private async forget(id: string, ownerId: string, opts: { tombstone: boolean } = { tombstone: false }) {
    await this.store.releaseAllBlobs(id);
    const k = this.keys;
    const m = this.redis.multi();
    if (opts.tombstone) m.set(k.taskTombstone(id), '1', 'EX', this.store.ttlSeconds);
    await m
      .del(k.task(id))
      .zrem(k.userTasks(ownerId), id)
      .zrem(k.expiries, id)
      .zrem(k.tasksOpen, id)
      .del(k.taskRuns(id))
      .exec();
  }

  private async change(
    next: Task,
    ownerId: string,
    transition: Transition,
    inferenceMs: number | null,
  ): Promise<TransitionResult> {
    const k = this.keys;
    const final = isFinalStatus(next.status);
    const owesPush = final && next.source === 'server';
    const [outcome] = (await TRANSITION.run(
      this.redis,
      [
        k.task(next.task_id),
        k.pushOutbox,
        k.inferenceSamples,
        k.pushSubscriptions(ownerId),
        k.webhookUser(ownerId),
        k.webhookTask(ownerId, next.task_id),
        k.tasksOpen,
        k.webhookOutbox,
        k.webhookState(next.task_id),
      ],
      [
        next.status,
        JSON.stringify(next),
        k.taskEvents,
        event(next),
        owesPush ? '1' : '0',
        OUTBOX_MAX,
        inferenceMs === null ? '' : String(inferenceMs),
        INFERENCE_SAMPLES,
        final ? '1' : '0',
        this.webhookStateTtlSeconds,
        ...TRANSITIONS[transition].from,
      ],
    )) as [number];
    if (outcome === 1 && owesPush && next.batch_id) {
      await this.onBatchTaskFinal?.(next as Task & { batch_id: string }, ownerId);
    }
    return outcome === 1 ? 'ok' : outcome === -1 ? 'missing' : 'conflict';
  }
}

function event(task: Task): string {
  return JSON.stringify({ task_id: task.task_id, status: task.status } satisfies TaskEvent);
}
