/**
 * Album work must not starve anyone else's: one user's 200-photo album is queued, then another
 * user's single photo (and a third user's one-photo album) — each finishes long before the big
 * album does. Real API and worker processes, the real model; the waits are printed.
 */
import { describe, expect, it } from 'vitest';
import { type BatchDetail, BatchDetailSchema, BatchUploadSchema, type Task } from '../../shared/contract.ts';
import { auth, submit, waitForTask } from '../helpers/api.ts';
import { jpegOf } from '../helpers/images.ts';
import { addUser, useSystem } from '../helpers/system.ts';

const ALBUM = 200;
const ctx = useSystem({ workers: 1, env: { MAX_BATCH_IMAGES_PER_REQUEST: String(ALBUM) } });

async function postAlbum(baseUrl: string, token: string, photo: Buffer, n: number) {
  const form = new FormData();
  for (let i = 0; i < n; i++) form.append('image', new Blob([new Uint8Array(photo)]), `p${i}.jpg`);
  const res = await fetch(`${baseUrl}/api/v1/batches`, { method: 'POST', headers: auth(token), body: form });
  expect(res.status, await res.clone().text()).toBe(202);
  return BatchUploadSchema.parse(await res.json());
}

async function readBatch(baseUrl: string, token: string, id: string): Promise<BatchDetail> {
  const res = await fetch(`${baseUrl}/api/v1/batches/${id}?limit=1`, { headers: auth(token) });
  return BatchDetailSchema.parse(await res.json());
}

describe('fairness', () => {
  it("a user's 200-photo album queued, then another user's photo and another's small album: both finish first", async () => {
    const { sys, token: albumUser } = ctx;
    const photo = await jpegOf('chelsea.png');
    const album = await postAlbum(sys.baseUrl, albumUser, photo, ALBUM);
    expect(album.tasks).toHaveLength(ALBUM);
    const id = album.batch.batch_id;

    const single = await addUser(sys, 'single-photo-user');
    const other = await addUser(sys, 'small-album-user');
    const sent = Date.now();
    const [task, small] = await Promise.all([
      submit(sys.baseUrl, single, photo).then((t) => waitForTask(sys.baseUrl, single, t.task_id)),
      postAlbum(sys.baseUrl, other, photo, 1).then((b) =>
        waitForTask(sys.baseUrl, other, b.tasks[0]?.task_id ?? '', undefined, 120_000),
      ),
    ]);
    const afterSingle = await readBatch(sys.baseUrl, albumUser, id);
    expect(task.status).toBe('succeeded');
    expect(small.status).toBe('succeeded');
    const waitOf = (t: Task) => Date.parse(t.finished_at ?? '') - sent;
    const left = afterSingle.counts.queued + afterSingle.counts.running;
    console.log(
      `fairness: after a ${ALBUM}-photo album was queued, another user's single photo finished ${waitOf(task)} ms after it was sent (queue_ms ${task.timings.queue_ms}), a third user's one-photo album ${waitOf(small)} ms (queue_ms ${small.timings.queue_ms}); inference ~${task.timings.inference_ms} ms; ${left} album photos still queued or running then`,
    );
    // Both long before the album: they waited for at most a few of its jobs, not for all of them.
    expect(left).toBeGreaterThan(ALBUM / 2);

    const cancel = await fetch(`${sys.baseUrl}/api/v1/batches/${id}/cancel`, {
      method: 'POST',
      headers: auth(albumUser),
    });
    expect(cancel.status).toBe(200);
  });
});
