/**
 * The page's history: IndexedDB is read once at start (`load`); after that every change is applied
 * to the state and written to the database together, so the views never re-read the database.
 *
 * Each entry's writes go one after another (a row is shown at once, its entry written when its
 * thumbnail is encoded; a result that comes first is written after it). Changes are functions of
 * the entry, applied to the state's copy and to the stored one each (`changeEntry`, one
 * transaction), so a write by the service worker in between is never overwritten with a stale copy.
 */
import type { Task } from '../../../shared/contract.ts';
import { laterTask } from '../../../shared/task-lifecycle.ts';
import { changeRow, type Row, type Store, withRow } from '../state.ts';
import type { HistoryEntry } from './db.ts';

/** What the history needs of the database (history/db.ts; an in-memory map in unit tests). */
export interface HistoryDb {
  listEntries(): Promise<HistoryEntry[]>;
  putEntry(entry: HistoryEntry): Promise<void>;
  changeEntry(id: string, change: (e: HistoryEntry) => HistoryEntry | undefined): Promise<unknown>;
  deleteEntry(id: string): Promise<void>;
  clearHistory(): Promise<void>;
}

/** A new entry: its thumbnail may still be encoding (the row shows without it until then). */
export type NewEntry = Omit<HistoryEntry, 'thumbnail' | 'updated_at'> & { thumbnail: Blob | Promise<Blob> };

export type EntryChange = (row: Row) => Row;

export class History {
  /** Per entry, the last database write: the next one waits for it. */
  private readonly writes = new Map<string, Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly db: HistoryDb,
    /** A write that failed (full storage, private mode): the page says so, the state keeps the row. */
    private readonly onWriteError: (err: Error) => void = () => undefined,
  ) {}

  /** Reads the database into the state: once, at start. */
  async load(): Promise<void> {
    const entries = await this.db.listEntries();
    this.store.update((s) => ({ ...s, rows: new Map(entries.map((e): [string, Row] => [e.task.task_id, e])) }));
  }

  /** Shows the row at once; writes the entry once its thumbnail is ready. Resolves when written. */
  add(entry: NewEntry): Promise<void> {
    const id = entry.task.task_id;
    const { thumbnail, ...rest } = entry;
    this.store.update((s) => withRow(s, id, { ...rest, updated_at: Date.now() }));
    return this.write(id, async () => {
      const thumb = await thumbnail;
      const row = this.store.get().rows.get(id);
      if (!row) return; // deleted meanwhile
      this.store.update((s) => changeRow(s, id, (r) => ({ ...r, thumbnail: thumb })));
      const { progress: _progress, ...stored } = { ...row, thumbnail: thumb };
      await this.db.putEntry(stored);
    });
  }

  /** Changes an entry in the state and in the database (each its own copy, one function). */
  change(id: string, change: EntryChange): Promise<void> {
    if (!this.store.get().rows.has(id)) return Promise.resolve();
    this.store.update((s) => changeRow(s, id, change));
    return this.write(id, () =>
      this.db.changeEntry(id, (e) => {
        const { progress: _progress, ...next } = change(e as Row);
        return next as HistoryEntry;
      }),
    );
  }

  /** A version of a task (from the server, the device, a handover's end): kept if not older. */
  apply(task: Task): Promise<void> {
    return this.change(task.task_id, (row) => ({ ...row, task: laterTask(row.task, task) }));
  }

  /** A change the database has already (the service worker wrote it): the state only. */
  mirror(id: string, change: EntryChange): void {
    this.store.update((s) => changeRow(s, id, change));
  }

  /** A version of a task the service worker kept already (a push, a Background Sync). */
  heard(task: Task): void {
    this.mirror(task.task_id, (row) => ({ ...row, task: laterTask(row.task, task) }));
  }

  /** An upload's progress (0–1; undefined when it ended): the state only. */
  progress(id: string, fraction: number | undefined): void {
    this.store.update((s) => changeRow(s, id, (row) => ({ ...row, progress: fraction })));
  }

  remove(id: string): Promise<void> {
    this.store.update((s) => withRow(s, id, undefined));
    return this.write(id, () => this.db.deleteEntry(id));
  }

  async clear(): Promise<void> {
    this.store.update((s) => ({ ...s, rows: new Map(), open: null, featured: null }));
    await Promise.all(this.writes.values());
    await this.db.clearHistory();
  }

  /** Resolves when every write asked for so far is done. */
  async settled(): Promise<void> {
    await Promise.all(this.writes.values());
  }

  private write(id: string, op: () => Promise<unknown>): Promise<void> {
    const before = this.writes.get(id) ?? Promise.resolve();
    const next = before.then(op).then(
      () => undefined,
      (err: Error) => this.onWriteError(err),
    );
    this.writes.set(id, next);
    void next.then(() => {
      if (this.writes.get(id) === next) this.writes.delete(id);
    });
    return next;
  }
}
