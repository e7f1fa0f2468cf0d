/**
 * The acknowledgement journal: every task the API answers 202 for is also written to the storage
 * (beside its upload: `acks/<minute>/<task id>.json`), where a Redis failover cannot reach it.
 * Redis replication is asynchronous and AOF writes to disk once a second, so a primary that dies
 * can take the last acknowledged tasks with it even after WAIT (both nodes killed within a second;
 * a replica promoted that never had them). After such a loss the reconciler
 * (server/durability/reconciler.ts) reads the journal of the last RECONCILE_WINDOW_SECONDS and
 * brings back every task whose record is gone: re-queued when its upload is still stored, failed
 * with `task_lost` when not. Folders are per minute of creation, so old ones are dropped whole.
 */
import type { Task } from '../../shared/contract.ts';
import type { RecordStore } from '../storage/blob-store.ts';

/** What a lost task is rebuilt from. */
export interface AckEntry {
  v: 1;
  /** The task as created (queued). */
  task: Task;
  owner_id: string;
  /** Its upload's blob key. */
  upload_key: string;
  /** Its own callback URL, when it was given one (the owner's default is not lost with Redis). */
  callback_url?: string | undefined;
  /** For an album task: its place in its owner's album backlog (its queue priority). */
  album_backlog?: number | undefined;
}

const MINUTE_MS = 60_000;

export class AckJournal {
  constructor(
    private readonly store: RecordStore,
    /** How long entries are kept: how far back a loss is looked for. */
    readonly windowSeconds: number,
  ) {}

  /** The folder of a task created at `createdAt` (ISO time). */
  static folderOf(createdAt: string): string {
    return String(Math.floor(Date.parse(createdAt) / MINUTE_MS));
  }

  async record(entry: AckEntry): Promise<void> {
    await this.store.putRecord(AckJournal.folderOf(entry.task.created_at), entry.task.task_id, JSON.stringify(entry));
  }

  /** An acknowledgement taken back (the task was answered 503 after all). */
  async remove(task: Pick<Task, 'task_id' | 'created_at'>): Promise<void> {
    await this.store.deleteRecord(AckJournal.folderOf(task.created_at), task.task_id);
  }

  async read(folder: string, taskId: string): Promise<AckEntry | null> {
    const body = await this.store.getRecord(folder, taskId);
    if (!body) return null;
    const entry = JSON.parse(body) as AckEntry;
    return entry.v === 1 && entry.task?.task_id === taskId ? entry : null;
  }

  /** The folders within the window, oldest first (the current minute's included). */
  async recentFolders(now = Date.now()): Promise<string[]> {
    const oldest = Math.floor((now - this.windowSeconds * 1000) / MINUTE_MS);
    return (await this.store.listRecordFolders())
      .filter((f) => Number(f) >= oldest)
      .sort((a, b) => Number(a) - Number(b));
  }

  /** The task ids recorded in a folder. */
  async idsIn(folder: string): Promise<string[]> {
    return this.store.listRecords(folder);
  }

  /** Drops the folders older than the window. Returns how many. */
  async prune(now = Date.now()): Promise<number> {
    const oldest = Math.floor((now - this.windowSeconds * 1000) / MINUTE_MS);
    const old = (await this.store.listRecordFolders()).filter((f) => Number(f) < oldest);
    for (const folder of old) await this.store.deleteRecordFolder(folder);
    return old.length;
  }
}
