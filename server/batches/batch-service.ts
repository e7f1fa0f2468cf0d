/**
 * Album jobs (batches): many photos as one job, one task per photo. A batch is a small record of
 * its own (owner, open or canceled, its parameters) plus the ids of its tasks in upload order and
 * the photos refused at upload. Its tasks are ordinary tasks, made, run, canceled and deleted by
 * the task service (server/tasks/task-service.ts) under the same lifecycle, each recording its
 * `batch_id`; the queue puts them behind single uploads (DetectQueue's BATCH_PRIORITY). Counts
 * are read from the tasks' own status fields, so a batch never keeps a second copy of them.
 */
import { randomUUID } from 'node:crypto';
import type {
  Batch,
  BatchCounts,
  BatchStatus,
  DetectParams,
  RejectedPhoto,
  Task,
  TaskStatus,
} from '../../shared/contract.ts';
import { TwinlensError } from '../../shared/errors.ts';
import { cleanFileName } from '../../shared/file-name.ts';
import { isFinalStatus } from '../../shared/task-lifecycle.ts';
import { interactiveDepth } from '../http/admission.ts';
import type { ImageLimits } from '../images/inspect.ts';
import { LuaScript } from '../lua-script.ts';
import type { DetectQueue } from '../queue/detect-queue.ts';
import { estimateMs, type QueueFigures } from '../queue/estimate.ts';
import type { Keys, RedisClient } from '../redis.ts';
import { UUID } from '../tasks/own-task.ts';
import type { TaskService } from '../tasks/task-service.ts';
import { storedTask } from '../tasks/task-store.ts';
import { type PreparedUpload, prepareUpload } from '../tasks/upload.ts';

const CREATE = new LuaScript(new URL('./lua/batch-create.lua', import.meta.url));
const ADD = new LuaScript(new URL('./lua/batch-add.lua', import.meta.url));
const CANCEL = new LuaScript(new URL('./lua/batch-cancel.lua', import.meta.url));
const TASK_ENDED = new LuaScript(new URL('./lua/batch-task-ended.lua', import.meta.url));
const REFUSED_ENDED = new LuaScript(new URL('./lua/batch-refused-ended.lua', import.meta.url));

/** Photos checked at once while a request is taken in (decoding headers is CPU work). */
const INSPECT_CONCURRENCY = 4;
/** Task records read per pipeline when a whole batch is read. */
const READ_CHUNK = 500;

export interface BatchLimits extends ImageLimits {
  /** Photos (tasks + refused) one batch may hold. */
  maxTasks: number;
  /** Album jobs waiting in the queue, all users together. */
  maxQueueDepth: number;
}

export interface Photo {
  filename: string | undefined;
  data: Uint8Array;
}

/** A batch record as stored. */
export interface StoredBatch {
  id: string;
  ownerId: string;
  open: boolean;
  createdAt: string;
  params: DetectParams;
}

export interface AddResult {
  tasks: Task[];
  rejected: RejectedPhoto[];
}

/**
 * How an album ended, for its final event: every album gets one whatever way it ends (its last
 * photo final, a cancel with photos left, every photo of an upload refused); photos added later
 * make it end again (`seq` counts the endings, so each has its own event id).
 */
export interface BatchEnding {
  type: 'batch.completed' | 'batch.canceled';
  seq: number;
  /** The batch's own callback URL; null: the owner's default, if any. */
  callbackUrl: string | null;
}

export class BatchService {
  /** Queues an album's final event (server/compose.ts: its summary, as a webhook). Must not throw. */
  onEnded: ((batch: StoredBatch, ending: BatchEnding) => Promise<void>) | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly tasks: TaskService,
    private readonly queue: DetectQueue,
    private readonly ttlSeconds: number,
    private readonly limits: BatchLimits,
  ) {}

  /** A new, open batch of the user's, with the parameters every photo of it will be run with. */
  async create(ownerId: string, params: DetectParams): Promise<StoredBatch> {
    const batch: StoredBatch = { id: randomUUID(), ownerId, open: true, createdAt: new Date().toISOString(), params };
    const doc = JSON.stringify({ batch_id: batch.id, created_at: batch.createdAt, params });
    await CREATE.run(
      this.redis,
      [this.keys.batch(batch.id), this.keys.userBatches(ownerId)],
      [batch.id, ownerId, doc, Date.parse(batch.createdAt), this.ttlSeconds],
    );
    return batch;
  }

  /** The batch if it exists and is the user's; `batch_not_found` otherwise (others' ids are not revealed). */
  async own(id: string, userId: string): Promise<StoredBatch> {
    const found = UUID.test(id) ? await this.read(id) : null;
    if (!found || found.ownerId !== userId) throw new TwinlensError('batch_not_found', `no batch ${id}`);
    return found;
  }

  /**
   * Adds photos: each is checked on its own (a bad one is refused with its code, the rest go on),
   * places are reserved in the batch for the good ones (atomically, against the cap and a
   * cancel), then each becomes a task through the task service.
   */
  async add(batch: StoredBatch, photos: Photo[]): Promise<AddResult> {
    const checked = await mapLimit(photos, INSPECT_CONCURRENCY, async (photo, index) => {
      try {
        const prepared = await prepareUpload(photo.data, this.limits, {
          params: batch.params,
          batchId: batch.id,
          fileName: photo.filename,
        });
        return { ...prepared, index };
      } catch (err) {
        if (!(err instanceof TwinlensError)) throw err;
        return rejection(index, photo.filename, err);
      }
    });
    const accepted = checked.filter((c): c is PreparedUpload & { index: number } => 'task' in c);
    const rejected = checked.filter((c): c is RejectedPhoto => !('task' in c));

    // The album lane's depth: refused as a whole (nothing written), with when to try again.
    const counts = await this.queue.counts(250);
    if (accepted.length > 0 && counts.batchWaiting + accepted.length > this.limits.maxQueueDepth) {
      throw new TwinlensError(
        'queue_full',
        `the album queue is full (${counts.batchWaiting} photos waiting, at most ${this.limits.maxQueueDepth}); try again later`,
        { headers: { 'Retry-After': '60' } },
      );
    }
    const k = this.keys;
    const reserved = (await ADD.run(
      this.redis,
      [k.batch(batch.id), k.batchTasks(batch.id), k.batchRejected(batch.id), k.userActiveBatches(batch.ownerId)],
      [
        batch.ownerId,
        this.limits.maxTasks,
        this.ttlSeconds,
        batch.id,
        rejected.length,
        ...rejected.map((r) => JSON.stringify(r)),
        ...accepted.map((a) => a.task.task_id),
      ],
    )) as number;
    if (reserved === -1) throw new TwinlensError('batch_not_found', `no batch ${batch.id}`);
    if (reserved === -2) throw new TwinlensError('batch_closed', 'the batch was canceled; it takes no more photos');
    if (reserved === -3) {
      throw new TwinlensError('batch_full', `a batch holds at most ${this.limits.maxTasks} photos; start another`);
    }

    // Photos of this batch not final yet: counted down as its tasks end (taskEnded), so the batch's
    // webhook is sent when the last one ends. Counted before any task exists, so none ends first.
    if (accepted.length) await this.redis.hincrby(k.batch(batch.id), 'left', accepted.length);
    // The owner's album jobs already waiting, these included (reserved above, not yet made): each
    // new job is queued behind its owner's own backlog, not behind other users' albums.
    const backlog = (await this.backlog(batch.ownerId)) - accepted.length;
    const tasks: Task[] = [];
    for (const [i, a] of accepted.entries()) {
      try {
        // In upload order: a user's album jobs run first-in, first-out among themselves.
        await this.tasks.create(a.task, batch.ownerId, a.upload, { albumBacklog: backlog + i });
        tasks.push(a.task);
      } catch (err) {
        // Storage refusing one photo fails that photo alone, like a bad one.
        await this.redis.zrem(k.batchTasks(batch.id), a.task.task_id);
        await this.redis.hincrby(k.batch(batch.id), 'left', -1);
        if (!(err instanceof TwinlensError)) throw err;
        // The replicas did not confirm it (server/durability/): nor will they the next ones now. Those
        // made so far are acknowledged; the rest are refused with this one (send them again), or,
        // when none was made, the whole request is answered 503.
        const unconfirmed = err.code === 'not_replicated' ? accepted.slice(i) : [a];
        if (unconfirmed.length > 1) {
          const later = unconfirmed.slice(1).map((u) => u.task.task_id);
          await this.redis.zrem(k.batchTasks(batch.id), ...later);
          await this.redis.hincrby(k.batch(batch.id), 'left', -later.length);
        }
        if (err.code === 'not_replicated' && tasks.length === 0) throw err;
        for (const u of unconfirmed) {
          const r = rejection(u.index, photos[u.index]?.filename, err);
          await this.redis.rpush(k.batchRejected(batch.id), JSON.stringify(r));
          rejected.push(r);
        }
        if (err.code === 'not_replicated') break;
      }
    }
    // A cancel that ran while these were being made may have missed them: cancel them too.
    if (tasks.length && (await this.redis.hget(k.batch(batch.id), 'status')) !== 'open') {
      await this.cancelTasks(batch, tasks);
    }
    rejected.sort((a, b) => a.index - b.index);
    // Every photo of this upload refused and nothing of the batch left running: it is done now.
    if (accepted.length === 0 && rejected.length > 0) {
      const seq = (await REFUSED_ENDED.run(this.redis, this.endingKeys(batch.id, batch.ownerId), [
        batch.id,
        this.ttlSeconds,
      ])) as number;
      if (seq > 0) await this.ended(batch, 'batch.completed', seq);
    }
    return { tasks, rejected };
  }

  /** Where the batch's webhook goes (checked already); without one, the owner's default, if any. */
  async setCallbackUrl(batchId: string, url: string): Promise<void> {
    await this.redis.hset(this.keys.batch(batchId), 'callback', url);
  }

  /**
   * One of the batch's tasks ended (TaskService calls this once per task). When it was the last
   * one not final while the batch is open, the batch has completed: its final event is queued.
   * Photos added later count again: the batch is then done again when they are.
   */
  async taskEnded(task: Task & { batch_id: string }, ownerId: string): Promise<void> {
    const seq = (await TASK_ENDED.run(this.redis, this.endingKeys(task.batch_id, ownerId), [
      task.batch_id,
      this.ttlSeconds,
    ])) as number;
    if (seq === 0) return;
    const batch = await this.read(task.batch_id);
    if (batch) await this.ended(batch, 'batch.completed', seq);
  }

  /** The keys of the scripts that may end a batch: it owes its final event through the webhook outbox. */
  private endingKeys(batchId: string, ownerId: string): string[] {
    const k = this.keys;
    return [k.batch(batchId), k.webhookUser(ownerId), k.webhookOutbox, k.webhookState(batchId)];
  }

  /**
   * The ending's event, queued now with the summary as it is (the outbox entry the script wrote is
   * relayed too, for the case that this process dies first: the same event id, so it is queued once).
   */
  private async ended(batch: StoredBatch, type: BatchEnding['type'], seq: number): Promise<void> {
    const callbackUrl = await this.redis.hget(this.keys.batch(batch.id), 'callback');
    await this.onEnded?.(batch, { type, seq, callbackUrl });
  }

  /** The batch as a client sees it: counts by status, progress, estimated time left. */
  async summary(batch: StoredBatch, figures: QueueFigures): Promise<Batch> {
    const k = this.keys;
    const ids = await this.redis.zrange(k.batchTasks(batch.id), 0, -1);
    const statuses = await this.readFields(ids, 'status');
    const rejected = (await this.redis.lrange(k.batchRejected(batch.id), 0, -1)).map(
      (r) => JSON.parse(r) as RejectedPhoto,
    );
    const counts: BatchCounts = { queued: 0, running: 0, succeeded: 0, failed: 0, canceled: 0, rejected: 0 };
    // An expired task (its record outlived by the batch's) is no longer counted.
    for (const s of statuses) if (s && s in counts) counts[s as TaskStatus]++;
    counts.rejected = rejected.length;
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const left = counts.queued + counts.running;
    const status: BatchStatus = !batch.open ? 'canceled' : left > 0 || total === 0 ? 'active' : 'done';
    return {
      batch_id: batch.id,
      status,
      created_at: batch.createdAt,
      params: batch.params,
      total,
      counts,
      progress: total === 0 ? 0 : Math.round(((total - left) / total) * 1000) / 1000,
      // Single uploads waiting go first, then this batch's own (other albums queued earlier are not counted).
      estimated_remaining_ms: left === 0 ? null : estimateMs(interactiveDepth(figures.counts) + left, figures),
      rejected: rejected.sort((a, b) => a.index - b.index),
    };
  }

  /** A page of the batch's tasks in upload order; `cursor` is an opaque offset from a previous page. */
  async tasksPage(batchId: string, limit: number, cursor?: string): Promise<{ items: Task[]; next: string | null }> {
    const offset = cursor ? Number.parseInt(cursor, 10) : 0;
    const key = this.keys.batchTasks(batchId);
    const ids = await this.redis.zrange(key, offset, offset + limit - 1);
    const docs = await this.readFields(ids, 'doc');
    const items = docs.filter((d): d is string => d !== null).map((d) => JSON.parse(d) as Task);
    const end = offset + ids.length;
    return { items, next: ids.length === limit && (await this.redis.zcard(key)) > end ? String(end) : null };
  }

  /** Every task of the batch still kept, in upload order (for exports). */
  async allTasks(batchId: string): Promise<Task[]> {
    const ids = await this.redis.zrange(this.keys.batchTasks(batchId), 0, -1);
    const docs = await this.readFields(ids, 'doc');
    return docs.filter((d): d is string => d !== null).map((d) => JSON.parse(d) as Task);
  }

  /** The user's batches, newest first. */
  async list(ownerId: string, limit: number, cursor?: string): Promise<{ items: StoredBatch[]; next: string | null }> {
    let offset = cursor ? Number.parseInt(cursor, 10) : 0;
    const index = this.keys.userBatches(ownerId);
    const items: StoredBatch[] = [];
    // Expired batches are dropped from the index as they are met, so a page stays full.
    while (items.length < limit) {
      const ids = await this.redis.zrevrange(index, offset, offset + (limit - items.length) - 1);
      if (ids.length === 0) return { items, next: null };
      const found = await Promise.all(ids.map((id) => this.read(id)));
      const gone = ids.filter((_, i) => !found[i]);
      for (const b of found) if (b) items.push(b);
      offset += ids.length - gone.length;
      if (gone.length) await this.redis.zrem(index, ...gone);
    }
    return { items, next: (await this.redis.zcard(index)) > offset ? String(offset) : null };
  }

  /** Closes the batch to new photos and cancels its queued and running tasks; finished ones stay. */
  async cancel(batch: StoredBatch): Promise<StoredBatch> {
    const [r, seq] = (await CANCEL.run(this.redis, this.endingKeys(batch.id, batch.ownerId), [
      batch.ownerId,
      batch.id,
      this.ttlSeconds,
    ])) as [number, number];
    if (r === -1) throw new TwinlensError('batch_not_found', `no batch ${batch.id}`);
    const closed = { ...batch, open: false };
    await this.cancelTasks(closed, await this.allTasks(batch.id));
    // Canceled with photos left: its final event, the summary counting what was canceled.
    if (seq > 0) await this.ended(closed, 'batch.canceled', seq);
    return closed;
  }

  /** Cancels the batch, then deletes every task of it (files too, ids not reused) and the batch. */
  async delete(batch: StoredBatch): Promise<void> {
    await this.cancel(batch);
    for (const task of await this.allTasks(batch.id)) {
      // Final by now (canceled above, or finished): the task service deletes it.
      await this.tasks.cancelOrDelete(storedTask(batch.ownerId, JSON.stringify(task)));
    }
    const k = this.keys;
    await this.redis
      .multi()
      .del(k.batch(batch.id), k.batchTasks(batch.id), k.batchRejected(batch.id))
      .zrem(k.userBatches(batch.ownerId), batch.id)
      .srem(k.userActiveBatches(batch.ownerId), batch.id)
      .exec();
  }

  /**
   * How many of the user's album tasks are waiting (queued, or reserved and about to be made).
   * Reads the batches marked as having work waiting, and unmarks those that have none left.
   */
  async backlog(ownerId: string): Promise<number> {
    const k = this.keys;
    const active = await this.redis.smembers(k.userActiveBatches(ownerId));
    let waiting = 0;
    for (const id of active) {
      const ids = await this.redis.zrange(k.batchTasks(id), 0, -1);
      // A reserved task not made yet has no record (null): it waits too.
      const n = (await this.readFields(ids, 'status')).filter((s) => s === null || s === 'queued').length;
      if (n === 0) await this.redis.srem(k.userActiveBatches(ownerId), id);
      waiting += n;
    }
    return waiting;
  }

  private async cancelTasks(batch: StoredBatch, tasks: Task[]): Promise<void> {
    for (const task of tasks) {
      if (!isFinalStatus(task.status)) await this.tasks.cancel(storedTask(batch.ownerId, JSON.stringify(task)));
    }
  }

  /** The batch record, whoever owns it (for relaying its event from the outbox); null when gone. */
  async find(id: string): Promise<StoredBatch | null> {
    return this.read(id);
  }

  private async read(id: string): Promise<StoredBatch | null> {
    const [owner, status, doc] = await this.redis.hmget(this.keys.batch(id), 'owner', 'status', 'doc');
    if (!owner || !status || !doc) return null;
    const d = JSON.parse(doc) as { created_at: string; params: DetectParams };
    return { id, ownerId: owner, open: status === 'open', createdAt: d.created_at, params: d.params };
  }

  /** One field of many task records, pipelined in chunks (null where a record is gone). */
  private async readFields(ids: string[], field: 'status' | 'doc'): Promise<(string | null)[]> {
    const out: (string | null)[] = [];
    for (let i = 0; i < ids.length; i += READ_CHUNK) {
      const p = this.redis.pipeline();
      for (const id of ids.slice(i, i + READ_CHUNK)) p.hget(this.keys.task(id), field);
      const res = (await p.exec()) ?? [];
      for (const [err, value] of res) {
        if (err) throw err;
        out.push((value as string | null) ?? null);
      }
    }
    return out;
  }
}

function rejection(index: number, filename: string | undefined, err: TwinlensError): RejectedPhoto {
  return { index, filename: cleanFileName(filename) ?? null, error: { code: err.code, message: err.message } };
}

/** `fn` over `items`, at most `limit` at a time, results in order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return out;
}
