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
  it("a user's 200-photo album queued, then another user's photo: the photo finishes first", async () => {
    const { sys, token: albumUser } = ctx;
    const photo = await jpegOf('chelsea.png');
    const album = await postAlbum(sys.baseUrl, albumUser, photo, ALBUM);
    expect(album.tasks).toHaveLength(ALBUM);
    const id = album.batch.batch_id;

    const single = await addUser(sys, 'single-photo-user');
    const sent = Date.now();
    const task: Task = await waitForTask(sys.baseUrl, single, (await submit(sys.baseUrl, single, photo)).task_id);
    const waited = Date.now() - sent;
    expect(task.status).toBe('succeeded');
    const atThatTime = await readBatch(sys.baseUrl, albumUser, id);
    const left = atThatTime.counts.queued + atThatTime.counts.running;
    console.log(
      `fairness: single photo done in ${waited} ms (queue_ms ${task.timings.queue_ms}, inference_ms ${task.timings.inference_ms}) with ${left} of the ${ALBUM} album photos still queued or running; ${atThatTime.counts.succeeded} done before it`,
    );
    // Far from done: the photo did not wait for the album (at most the jobs a worker held when it came).
    expect(left).toBeGreaterThan(ALBUM / 2);

    const cancel = await fetch(`${sys.baseUrl}/api/v1/batches/${id}/cancel`, { method: 'POST', headers: auth(albumUser) });
    expect(cancel.status).toBe(200);
  });
});
