/**
 * Where each photo goes, and where it goes next. The one place that decides: a photo is routed by
 * routing/rules.ts (Auto: expected time to result), run by the device runner or the server runner,
 * and whatever either gives back is applied here — a result is kept and shown, a refusal hands the
 * same task (same id, its route saying why) to the other side, or leaves it waiting for the network
 * or a login. The runners never call each other.
 *
 *   device fails on every backend ──▶ server (logged in)        else failed
 *   server offline / unreachable / 503 / 429 / not logged in ──▶ device (unless "Server" was chosen)
 *                                                              else waiting (network, login) or failed
 *
 * Every status change goes through shared/task-lifecycle.ts and reaches the state and IndexedDB
 * together (history/history.ts).
 */
import type { Detection, ModelInfo, RouteDecision, Task, TaskSource } from '../../../shared/contract.ts';
import { modelPasses } from '../../../shared/detector/tiling.ts';
import { claimTask, failTask, handOverTask, laterTask, succeedTask } from '../../../shared/task-lifecycle.ts';
import type { DeviceEngine } from '../detection/device.ts';
import type { History } from '../history/history.ts';
import { decideRoute, type RouteInput, splitAlbum } from '../routing/rules.ts';
import { type Row, type Store, withNotice } from '../state.ts';
import { runOnDevice } from './device-run.ts';
import type { RunOutcome } from './outcome.ts';
import type { OpenedPhoto } from './photo.ts';
import { newTask } from './photo.ts';
import { type ServerApi, sendToServer } from './server-run.ts';

export interface DispatchDeps {
  store: Store;
  history: History;
  device: DeviceEngine;
  server: ServerApi;
  /** Reads and decodes a photo once (tasks/photo.ts). */
  openPhoto(file: Blob): Promise<OpenedPhoto>;
  /** What the router needs now (routing/inputs.ts): `passes` model passes of `bytes` bytes. */
  routeInput(bytes: number, passes: number): Promise<RouteInput>;
  /** Asks to be woken when the network returns (Background Sync, where the browser has it). */
  scheduleSync(): Promise<void>;
  /** Learns the upload throughput from an upload that reached the server. */
  uploaded?(bytes: number, ms: number): void;
}

export class Dispatcher {
  /** Server tasks being followed now (one stream each, however many ways they are asked for). */
  private readonly following = new Set<string>();

  constructor(private readonly deps: DispatchDeps) {}

  /** Photos chosen, dropped or pasted. An album is split so that the device and the server share it. */
  async submit(files: readonly File[]): Promise<void> {
    const { store } = this.deps;
    let split: TaskSource[] | null = null;
    const s = store.get();
    if (files.length > 1 && s.settings.route === 'auto' && s.user && s.device.run) {
      const { mode: _mode, bytes: _bytes, ...base } = await this.deps.routeInput(0, 1);
      split = splitAlbum(
        files.map((f) => ({ bytes: f.size })),
        base,
      );
    }
    for (const [i, file] of files.entries()) {
      try {
        await this.submitOne(file, i === 0, split?.[i]);
      } catch (err) {
        store.update((st) => withNotice(st, `${file.name || 'That file'}: ${(err as Error).message}`));
      }
    }
  }

  /**
   * A Live view snapshot: the frame (a JPEG) and the boxes the device found on it as it played, kept as
   * a finished device task — the same contract as any photo's (hash, thumbnail, model, route, timings).
   * `to: 'server'` sends the frame to the server path instead, like any photo chosen there.
   */
  async keepSnapshot(
    file: File,
    found: { detections: Detection[]; inferenceMs: number; model: ModelInfo | undefined },
    to: TaskSource = 'device',
  ): Promise<string> {
    const { store, history } = this.deps;
    const photo = await this.deps.openPhoto(file);
    const route: RouteDecision = {
      chosen: to,
      reason:
        to === 'device'
          ? 'a Live view snapshot: detected on this device while the video played'
          : 'a Live view snapshot, sent to the server as chosen',
      device_estimate_ms: null,
      server_estimate_ms: null,
    };
    const task: Task = { ...newTask(to, photo.image, 'off', store.get().settings.model?.manifest.id), route };
    if (to === 'server') {
      photo.bitmap.close();
      store.update((s) => ({ ...s, featured: task.task_id }));
      await history.add({
        task,
        image: file,
        thumbnail: photo.thumbnail,
        pending: { params: task.params, attempts: 0 },
      });
      await this.toServer(task.task_id);
      return task.task_id;
    }
    const claimed = claimTask(task, found.model ? { model: found.model } : {});
    const done = succeedTask(claimed, {
      detections: found.detections,
      inferenceMs: found.inferenceMs,
      ...(found.model ? { model: found.model } : {}),
    });
    await history.add({ task: done, image: file, thumbnail: photo.thumbnail });
    store.update((s) => ({ ...s, featured: null, open: { taskId: done.task_id, bitmap: photo.bitmap } }));
    return done.task_id;
  }

  /** `feature`: the view shows this photo's result when it is ready (the photo chosen, or an album's first). */
  private async submitOne(file: File, feature: boolean, albumSide?: TaskSource): Promise<void> {
    const { store, history } = this.deps;
    performance.mark('tl:submit');
    const photo = await this.deps.openPhoto(file);
    performance.mark('tl:opened');
    const { image } = photo;
    const { tiling } = store.get().settings;
    let route: RouteDecision = decideRoute(
      await this.deps.routeInput(file.size, modelPasses(image.width, image.height, tiling)),
    );
    if (albumSide && albumSide !== route.chosen) {
      route = {
        ...route,
        chosen: albumSide,
        reason: `album split between this device and the server (${route.reason})`,
      };
    }
    const model = store.get().settings.model?.manifest.id;
    const task: Task = { ...newTask(route.chosen, image, tiling, model, file.name), route };
    if (feature) store.update((s) => ({ ...s, featured: task.task_id }));
    const toServer = route.chosen === 'server';
    // On a free device the model starts at once on the bitmap decoded above. Otherwise the photo waits its
    // turn as a file: an album's bitmaps are not all held in memory.
    let bitmap: ImageBitmap | undefined = photo.bitmap;
    if (toServer || store.get().device.ahead > 0) {
      bitmap.close();
      bitmap = undefined;
    }
    const kept = history.add({
      task,
      image: file,
      thumbnail: photo.thumbnail,
      ...(toServer ? { pending: { params: task.params, attempts: 0 } } : {}),
    });
    if (toServer) {
      await kept; // the service worker's Background Sync may send it: the entry must be there first
      await this.toServer(task.task_id);
    } else void this.toDevice(task, { file, bitmap });
  }

  /** Runs the task on the device after the photos before it; applies what comes back. */
  private toDevice(task: Task, photo: { file: Blob; bitmap?: ImageBitmap | undefined }): Promise<void> {
    const { device, history, store } = this.deps;
    return device.enqueue(async () => {
      if (!store.get().rows.has(task.task_id)) {
        photo.bitmap?.close(); // deleted while it waited
        return;
      }
      performance.mark('tl:device-start');
      const running = claimTask(task);
      void history.apply(running);
      const outcome = await runOnDevice(running, photo, {
        engine: device,
        serverAvailable: store.get().user !== null,
        keepBitmap: this.wanted(task.task_id),
      });
      performance.mark('tl:device-done');
      await this.settle(outcome, 'device');
    });
  }

  /** Uploads a waiting server task (its row's `pending`), then follows it to the end. */
  private async toServer(id: string): Promise<void> {
    const { history, store } = this.deps;
    const row = store.get().rows.get(id);
    if (!row?.pending) return;
    const sent = await sendToServer(row, this.deps.server, {
      progress: (p) => history.progress(id, p),
      uploaded: (_task, bytes, ms) => this.deps.uploaded?.(bytes, ms),
    });
    if (sent.kind === 'sent') {
      await history.change(id, (r) => ({ ...r, task: laterTask(r.task, sent.task), pending: undefined }));
      await this.follow(id);
    } else await this.settle(sent, 'server');
  }

  /** Applies how a run ended: kept and shown, handed to the other side, or left waiting. */
  private async settle(outcome: RunOutcome, side: TaskSource): Promise<void> {
    const { history, store } = this.deps;
    const id = outcome.task.task_id;
    if (!store.get().rows.has(id)) {
      outcome.kind === 'done' && outcome.display?.close();
      return; // deleted while it ran
    }
    if (outcome.kind === 'done') {
      await this.finish(outcome.task, outcome.display, side === 'server' ? { pending: undefined } : {});
      return;
    }
    const s = store.get();
    const other: TaskSource = side === 'device' ? 'server' : 'device';
    const otherTakes = other === 'server' ? s.user !== null : s.settings.route !== 'server' && s.device.run !== null;
    if (otherTakes) {
      // The same task, now the other side's: it keeps its id and says why it moved.
      const moved = handOverTask(
        outcome.task,
        other,
        other === 'server' ? `${outcome.reason}; sent to the server` : `${outcome.reason}: detected on this device`,
      );
      if (other === 'server') {
        await history.change(id, (r) => ({ ...r, task: moved, pending: { params: moved.params, attempts: 0 } }));
        await this.toServer(id);
      } else {
        await history.change(id, (r) => ({ ...r, task: moved, pending: undefined }));
        const row = store.get().rows.get(id);
        if (row) await this.toDevice(moved, { file: row.image });
      }
      return;
    }
    if (side === 'server' && outcome.retry === 'network') {
      await this.deps.scheduleSync();
      return;
    }
    if (side === 'server' && outcome.retry === 'login') {
      store.update((st) => ({ ...st, loginWanted: true }));
      return;
    }
    const failed =
      outcome.task.status === 'queued' || outcome.task.status === 'running'
        ? failTask(outcome.task, { code: outcome.code, message: outcome.reason })
        : outcome.task;
    await this.finish(failed, undefined, { pending: undefined });
  }

  /** A task reached its end: kept, and its result takes the view when it is the one the user waits for. */
  private async finish(task: Task, display: ImageBitmap | undefined, extra: Partial<Row>): Promise<void> {
    const { history, store } = this.deps;
    const written = history.change(task.task_id, (r) => ({ ...r, ...extra, task: laterTask(r.task, task) }));
    if (this.wanted(task.task_id)) {
      store.update((s) => ({ ...s, featured: null, open: { taskId: task.task_id, bitmap: display } }));
    } else display?.close();
    await written;
  }

  /** Whether the user waits for this task's result (the photo just chosen, or the result open). */
  private wanted(id: string): boolean {
    const s = this.deps.store.get();
    return s.featured === id || s.open?.taskId === id;
  }

  /** Follows a server task to its end (once, however many ways it is asked for). */
  async follow(id: string): Promise<void> {
    if (this.following.has(id)) return;
    this.following.add(id);
    const { history } = this.deps;
    try {
      const final = await this.deps.server.follow(id, (t) => void history.apply(t));
      await this.finish(final, undefined, {});
    } catch {
      // Followed again on the next start, or when the service worker hears of it.
    } finally {
      this.following.delete(id);
    }
  }

  /** Sends every waiting server task (back online, just logged in). */
  async sendPending(): Promise<void> {
    const s = this.deps.store.get();
    if (!s.user) return;
    const waiting = [...s.rows.values()].filter((r) => r.pending).map((r) => r.task.task_id);
    await Promise.all(waiting.map((id) => this.toServer(id)));
  }

  /** Server tasks that were not final when the page opened are followed again. */
  resume(): void {
    const s = this.deps.store.get();
    if (!s.user) return;
    for (const r of s.rows.values()) {
      const t = r.task;
      if (t.source === 'server' && !r.pending && (t.status === 'queued' || t.status === 'running'))
        void this.follow(t.task_id);
    }
  }
}
