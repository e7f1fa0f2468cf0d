/**
 * Task records in Redis, independent of BullMQ's job retention.
 *
 * Each task is a hash {status, owner, doc} that expires after TASK_TTL_SECONDS. Status changes
 * go through a compare-and-set script, so a duplicate run (a stalled job retried) or a late
 * worker after a cancel can never overwrite a final state: each task has exactly one outcome.
 */
import { isFinalStatus, type Task, type TaskStatus } from '../../shared/contract.ts';
import type { Keys, RedisClient } from '../redis.ts';
import type { BlobStore } from '../storage/blob-store.ts';

/** Outbox entries kept at most (approximately): a backlog this long means no API process ran for a while. */
const OUTBOX_MAX = 10_000;

// KEYS[1] task hash, KEYS[2] push outbox stream; ARGV: new status, new doc, event channel, event
// message, '1' to append to the outbox, allowed statuses... The outbox entry is written with the
// status, so no final status can be recorded without its push being owed (push-notifier.ts).
const TRANSITION = `
local current = redis.call('HGET', KEYS[1], 'status')
if not current then return -1 end
for i = 6, #ARGV do
  if ARGV[i] == current then
    redis.call('HSET', KEYS[1], 'status', ARGV[1], 'doc', ARGV[2])
    redis.call('PUBLISH', ARGV[3], ARGV[4])
    if ARGV[5] == '1' then
      redis.call('XADD', KEYS[2], 'MAXLEN', '~', ${OUTBOX_MAX}, '*', 'task_id', cjson.decode(ARGV[4])['task_id'])
    end
    return 1
  end
end
return 0
`;

// KEYS[1] task hash, KEYS[2] the id's tombstone; ARGV: status, owner, doc, ttl seconds.
// Creates the task only if the id is free (clients may choose their task ids): 1 created, 0 a task
// with this id exists, -1 the id belonged to a deleted task (its finished job may still sit in the
// queue under that id: a new job would be silently dropped as a duplicate).
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'owner', ARGV[2], 'doc', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
`;

const RELEASE_REF = `
redis.call('SREM', KEYS[1], ARGV[1])
if redis.call('SCARD', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`;

/** Published on every status change; the API uses it for long polls (and live events). */
export interface TaskEvent {
  task_id: string;
  status: TaskStatus;
}

export interface StoredTask {
  task: Task;
  ownerId: string;
}

export type TransitionResult = 'ok' | 'missing' | 'conflict';

/** `exists`: a task has this id now; `used`: a deleted task had it (ids are not reused). */
export type CreateResult = 'created' | 'exists' | 'used';

export class TaskStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly blobs: BlobStore,
    private readonly ttlSeconds: number,
  ) {}

  /** Creates the record; nothing is written unless the id is free. */
  async create(task: Task, ownerId: string, blobKeys: string[]): Promise<CreateResult> {
    const createdMs = Date.parse(task.created_at);
    const created = (await this.redis.eval(
      CREATE,
      2,
      this.keys.task(task.task_id),
      this.keys.taskTombstone(task.task_id),
      task.status,
      ownerId,
      JSON.stringify(task),
      this.ttlSeconds,
    )) as number;
    if (created !== 1) return created === 0 ? 'exists' : 'used';
    const m = this.redis.multi();
    m.zadd(this.keys.userTasks(ownerId), createdMs, task.task_id);
    m.zadd(this.keys.expiries, createdMs + this.ttlSeconds * 1000, task.task_id);
    for (const key of blobKeys) {
      m.sadd(this.keys.blobRefs(key), task.task_id);
      m.sadd(this.keys.taskBlobs(task.task_id), key);
    }
    await m.exec();
    return 'created';
  }

  async get(id: string): Promise<StoredTask | null> {
    const [owner, doc] = await this.redis.hmget(this.keys.task(id), 'owner', 'doc');
    if (!owner || !doc) return null;
    return { ownerId: owner, task: JSON.parse(doc) as Task };
  }

  /** Replaces the task document if its current status is one of `from`. */
  async transition(next: Task, from: readonly TaskStatus[]): Promise<TransitionResult> {
    const owesPush = isFinalStatus(next.status) && next.source === 'server';
    const r = (await this.redis.eval(
      TRANSITION,
      2,
      this.keys.task(next.task_id),
      this.keys.pushOutbox,
      next.status,
      JSON.stringify(next),
      this.keys.taskEvents,
      JSON.stringify({ task_id: next.task_id, status: next.status } satisfies TaskEvent),
      owesPush ? '1' : '0',
      ...from,
    )) as number;
    return r === 1 ? 'ok' : r === -1 ? 'missing' : 'conflict';
  }

  async blobKeys(id: string): Promise<string[]> {
    return this.redis.smembers(this.keys.taskBlobs(id));
  }

  /** Whether the task still holds this blob (a canceled task has let its files go). */
  async holdsBlob(id: string, key: string): Promise<boolean> {
    return (await this.redis.sismember(this.keys.taskBlobs(id), key)) === 1;
  }

  /** Records that the task uses a blob (for instance its annotated result). */
  async addBlob(id: string, key: string): Promise<void> {
    await this.redis.multi().sadd(this.keys.blobRefs(key), id).sadd(this.keys.taskBlobs(id), key).exec();
  }

  /** Drops the task's claim on one blob, deleting the file when no task uses it any more. */
  async releaseBlob(id: string, key: string): Promise<void> {
    await this.redis.srem(this.keys.taskBlobs(id), key);
    const last = (await this.redis.eval(RELEASE_REF, 1, this.keys.blobRefs(key), id)) as number;
    if (last === 1) await this.blobs.delete(key);
  }

  async releaseAllBlobs(id: string): Promise<void> {
    const blobKeys = await this.redis.smembers(this.keys.taskBlobs(id));
    for (const key of blobKeys) await this.releaseBlob(id, key);
    await this.redis.del(this.keys.taskBlobs(id));
  }

  /**
   * Deletes the record and its files. `tombstone` (a user's delete) keeps the id from being used
   * again while the queue may still hold a job under it; an undone creation leaves none.
   */
  async delete(id: string, ownerId: string, opts: { tombstone: boolean } = { tombstone: true }): Promise<void> {
    await this.releaseAllBlobs(id);
    const m = this.redis.multi();
    if (opts.tombstone) m.set(this.keys.taskTombstone(id), '1', 'EX', this.ttlSeconds);
    await m
      .del(this.keys.task(id))
      .zrem(this.keys.userTasks(ownerId), id)
      .zrem(this.keys.expiries, id)
      .del(this.keys.taskRuns(id))
      .exec();
  }

  /** The owner's tasks, newest first. `cursor` is an opaque offset from a previous page. */
  async list(
    ownerId: string,
    limit: number,
    cursor: string | undefined,
  ): Promise<{ items: Task[]; next: string | null }> {
    let offset = cursor ? Number.parseInt(cursor, 10) : 0;
    if (!Number.isFinite(offset) || offset < 0) offset = 0;
    const items: Task[] = [];
    const indexKey = this.keys.userTasks(ownerId);
    // Expired records are dropped from the index as they are met, so a page stays full.
    while (items.length < limit) {
      const ids = await this.redis.zrevrange(indexKey, offset, offset + (limit - items.length) - 1);
      if (ids.length === 0) return { items, next: null };
      const docs = await Promise.all(ids.map((id) => this.redis.hget(this.keys.task(id), 'doc')));
      const gone: string[] = [];
      ids.forEach((id, i) => {
        const doc = docs[i];
        if (doc) items.push(JSON.parse(doc) as Task);
        else gone.push(id);
      });
      offset += ids.length - gone.length;
      if (gone.length) await this.redis.zrem(indexKey, ...gone);
    }
    const more = (await this.redis.zcard(indexKey)) > offset;
    return { items, next: more ? String(offset) : null };
  }

  /** Counts how many times a worker began processing this task (exactly-once evidence). */
  async countRun(id: string): Promise<number> {
    const key = this.keys.taskRuns(id);
    const n = await this.redis.incr(key);
    await this.redis.expire(key, this.ttlSeconds);
    return n;
  }

  async runs(id: string): Promise<number> {
    return Number((await this.redis.get(this.keys.taskRuns(id))) ?? 0);
  }

  /** Releases the files of tasks whose records have expired. Returns how many were swept. */
  async sweepExpired(now = Date.now(), batch = 100): Promise<number> {
    const ids = await this.redis.zrangebyscore(this.keys.expiries, '-inf', now, 'LIMIT', 0, batch);
    let swept = 0;
    for (const id of ids) {
      if (await this.redis.exists(this.keys.task(id))) continue;
      await this.releaseAllBlobs(id);
      await this.redis.multi().zrem(this.keys.expiries, id).del(this.keys.taskRuns(id)).exec();
      swept++;
    }
    return swept;
  }
}
