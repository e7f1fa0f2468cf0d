/**
 * Task records in Redis, independent of BullMQ's job retention: reading them, and the files they
 * hold. Each task is a hash {status, owner, doc} that expires after TASK_TTL_SECONDS. Every change
 * of a record goes through the task service (task-service.ts), which owns the lifecycle.
 *
 * Files are content-addressed and shared: a Redis set per blob records which tasks use it, and a
 * set per task which blobs it holds (it outlives the record, so the janitor can release them).
 */
import type { Task, TaskStatus } from '../../shared/contract.ts';
import { LuaScript } from '../lua-script.ts';
import type { Keys, RedisClient } from '../redis.ts';
import type { BlobStore } from '../storage/blob-store.ts';

const RELEASE = new LuaScript(new URL('./lua/blob-release.lua', import.meta.url));

/** Published on every status change; the API uses it for long polls (and live events). */
export interface TaskEvent {
  task_id: string;
  status: TaskStatus;
}

export interface StoredTask {
  ownerId: string;
  /** The task document as stored (JSON): a route can answer with it as it is. */
  raw: string;
  /** The task, parsed when first read. */
  readonly task: Task;
}

/** A stored task from its record's fields; the document is parsed only if someone reads `task`. */
export function storedTask(ownerId: string, raw: string): StoredTask {
  let parsed: Task | undefined;
  return {
    ownerId,
    raw,
    get task() {
      parsed ??= JSON.parse(raw) as Task;
      return parsed;
    },
  };
}

export class TaskStore {
  constructor(
    readonly redis: RedisClient,
    readonly keys: Keys,
    readonly blobs: BlobStore,
    readonly ttlSeconds: number,
  ) {}

  async get(id: string): Promise<StoredTask | null> {
    const [owner, doc] = await this.redis.hmget(this.keys.task(id), 'owner', 'doc');
    if (!owner || !doc) return null;
    return storedTask(owner, doc);
  }

  async blobKeys(id: string): Promise<string[]> {
    return this.redis.smembers(this.keys.taskBlobs(id));
  }

  /** Whether the task still holds this blob (a canceled task has let its files go). */
  async holdsBlob(id: string, key: string): Promise<boolean> {
    return (await this.redis.sismember(this.keys.taskBlobs(id), key)) === 1;
  }

  /** Records that the task uses a blob (for instance its annotated image). */
  async addBlob(id: string, key: string): Promise<void> {
    await this.redis.multi().sadd(this.keys.blobRefs(key), id).sadd(this.keys.taskBlobs(id), key).exec();
  }

  /** Drops the task's claim on one blob, deleting the file when no task uses it any more. */
  async releaseBlob(id: string, key: string): Promise<void> {
    const last = await RELEASE.run(this.redis, [this.keys.blobRefs(key), this.keys.taskBlobs(id)], [id, key]);
    if (last === 1) await this.blobs.delete(key);
  }

  async releaseAllBlobs(id: string): Promise<void> {
    for (const key of await this.blobKeys(id)) await this.releaseBlob(id, key);
    await this.redis.del(this.keys.taskBlobs(id));
  }

  /** Deletes a blob nobody holds (written for a task that then was not created). */
  async dropUnclaimed(key: string): Promise<void> {
    if ((await this.redis.scard(this.keys.blobRefs(key))) === 0) await this.blobs.delete(key);
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

  /** How many times a worker began processing this task (exactly-once evidence). */
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
