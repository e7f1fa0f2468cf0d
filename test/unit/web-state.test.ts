/**
 * The web app's state (web/src/state.ts) and history (web/src/history/history.ts), no DOM: a change
 * replaces only what it changes (the views compare identities: a progress tick is one row), and every
 * change reaches the state and the database together, in order per entry.
 */
import { describe, expect, it } from 'vitest';
import type { Task } from '../../shared/contract.ts';
import { claimTask, newTask, succeedTask } from '../../shared/task-lifecycle.ts';
import type { HistoryEntry } from '../../web/src/history/db.ts';
import { History } from '../../web/src/history/history.ts';
import { createStore, initialState, statusContext, withNotice, withRow } from '../../web/src/state.ts';

const task = (n: number, created = `2026-12-01T00:00:0${n}.000Z`): Task =>
  newTask({
    id: `00000000-0000-4000-8000-00000000000${n}`,
    source: 'device',
    image: { width: 10, height: 10, sha256: 'a'.repeat(64), mime: 'image/png' },
    now: new Date(created),
  });

function setup() {
  const store = createStore(initialState({ route: 'auto', tiling: 'auto', minScore: 0.3 }));
  const written: string[] = [];
  const entries = new Map<string, HistoryEntry>();
  const history = new History(store, {
    listEntries: async () => [...entries.values()],
    putEntry: async (e) => {
      written.push(`put ${e.task.status}`);
      entries.set(e.task.task_id, e);
    },
    changeEntry: async (id, change) => {
      const e = entries.get(id);
      const next = e && change(e);
      written.push(`change ${next ? next.task.status : 'missing'}`);
      if (next) entries.set(id, next);
    },
    deleteEntry: async (id) => {
      written.push('delete');
      entries.delete(id);
    },
    clearHistory: async () => entries.clear(),
  });
  return { store, history, entries, written };
}

describe('the store', () => {
  it('a change to one row keeps every other row the same object, and tells each listener once', () => {
    const { store } = setup();
    for (const n of [1, 2, 3])
      store.update((s) => withRow(s, task(n).task_id, { task: task(n), image: new Blob(), updated_at: 0 }));
    const before = store.get();
    const seen: number[] = [];
    store.subscribe(() => seen.push(1));
    store.update((s) =>
      withRow(s, task(2).task_id, { ...(s.rows.get(task(2).task_id) as HistoryEntry), progress: 0.5 }),
    );
    const after = store.get();
    expect(seen).toEqual([1]);
    expect(after.rows.get(task(1).task_id)).toBe(before.rows.get(task(1).task_id));
    expect(after.rows.get(task(3).task_id)).toBe(before.rows.get(task(3).task_id));
    expect(after.rows.get(task(2).task_id)).not.toBe(before.rows.get(task(2).task_id));
    expect(after.device).toBe(before.device);
  });

  it('removing the open or awaited row closes it', () => {
    const { store } = setup();
    const id = task(1).task_id;
    store.update((s) => ({
      ...withRow(s, id, { task: task(1), image: new Blob(), updated_at: 0 }),
      open: { taskId: id },
      featured: id,
    }));
    store.update((s) => withRow(s, id, undefined));
    expect(store.get()).toMatchObject({ open: null, featured: null });
  });

  it('a notice shows until what the status line describes changes', () => {
    const { store } = setup();
    store.update((s) => withNotice(s, 'Notifications are blocked for this site.'));
    const s1 = store.get();
    expect(s1.notice?.context).toBe(statusContext(s1));
    store.update((s) => ({ ...s, settings: { ...s.settings, route: 'server' } }));
    expect(store.get().notice?.context).not.toBe(statusContext(store.get()));
  });
});

describe('the history', () => {
  it('shows a row at once, writes it when its thumbnail is ready, and a result that came first after it', async () => {
    const { store, history, entries, written } = setup();
    let thumb: (b: Blob) => void = () => undefined;
    const t = task(1);
    void history.add({ task: t, image: new Blob(['photo']), thumbnail: new Promise<Blob>((r) => (thumb = r)) });
    expect(store.get().rows.get(t.task_id)?.task.status).toBe('queued');
    const running = claimTask(t);
    void history.apply(running);
    void history.apply(succeedTask(running, { detections: [], inferenceMs: 5 }));
    expect(store.get().rows.get(t.task_id)?.task.status).toBe('succeeded');
    expect(written).toEqual([]);
    thumb(new Blob(['thumb']));
    await history.settled();
    expect(written).toEqual(['put succeeded', 'change succeeded', 'change succeeded']);
    expect(entries.get(t.task_id)?.task.status).toBe('succeeded');
    expect(store.get().rows.get(t.task_id)?.thumbnail).toBeInstanceOf(Blob);
  });

  it('an older version of a task never replaces a newer one, in the state or the database', async () => {
    const { store, history, entries } = setup();
    const t = task(1);
    await history.add({ task: t, image: new Blob(), thumbnail: new Blob() });
    const done = succeedTask(claimTask(t), { detections: [], inferenceMs: 5 });
    await history.apply(done);
    await history.apply(claimTask(t)); // a late event
    expect(store.get().rows.get(t.task_id)?.task.status).toBe('succeeded');
    expect(entries.get(t.task_id)?.task.status).toBe('succeeded');
  });

  it('upload progress is the state’s alone (never written), and a deleted row is never written back', async () => {
    const { store, history, written } = setup();
    const t = task(1);
    await history.add({ task: t, image: new Blob(), thumbnail: new Blob() });
    history.progress(t.task_id, 0.5);
    expect(store.get().rows.get(t.task_id)?.progress).toBe(0.5);
    await history.remove(t.task_id);
    await history.apply(claimTask(t));
    await history.settled();
    expect(written).toEqual(['put queued', 'delete']);
    expect(store.get().rows.size).toBe(0);
  });

  it('reads the database once, at start', async () => {
    const { store, history, entries } = setup();
    const t = task(1);
    entries.set(t.task_id, { task: t, image: new Blob(), thumbnail: new Blob(), updated_at: 0 });
    await history.load();
    expect([...store.get().rows.keys()]).toEqual([t.task_id]);
  });
});
