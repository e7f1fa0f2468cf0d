/** Every kind of bad upload gets its documented 4xx code; the server keeps serving; no file is left. */
import { describe, expect, it } from 'vitest';
import { auth, fixture, postOnOwnConnection, submit, upload, waitForTask } from '../helpers/api.ts';
import { bombPng, gif, jpegOf, SVG, tinyPng, truncatedJpeg } from '../helpers/images.ts';
import { storedFiles, useSystem } from '../helpers/system.ts';

const LIMIT = 1024 * 1024;
const ctx = useSystem({ workers: 1, env: { MAX_UPLOAD_BYTES: String(LIMIT) } });

function expectErrorBody(res: { status: number; json: unknown }, status: number, code: string) {
  const body = res.json as { error: { code: string; message: string } };
  expect({ status: res.status, code: body.error.code }, body.error.message).toEqual({ status, code });
}

function formOf(bytes: Uint8Array): FormData {
  const form = new FormData();
  form.set('image', new Blob([new Uint8Array(bytes)]), 'big.jpg');
  return form;
}

async function expectError(res: Response, status: number, code: string) {
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect({ status: res.status, code: body.error.code }, body.error.message).toEqual({ status, code });
  expect(body.error.message.length).toBeGreaterThan(10);
}

describe('bad uploads', () => {
  it('an empty body → 400 empty_body', async () => {
    const res = await fetch(`${ctx.sys.baseUrl}/api/v1/tasks`, { method: 'POST', headers: auth(ctx.token) });
    await expectError(res, 400, 'empty_body');
  });

  it('a form without the image field → 400 missing_image', async () => {
    const form = new FormData();
    form.set('photo', new Blob([new Uint8Array(fixture('astronaut.png'))]), 'a.png');
    const res = await fetch(`${ctx.sys.baseUrl}/api/v1/tasks`, {
      method: 'POST',
      headers: auth(ctx.token),
      body: form,
    });
    await expectError(res, 400, 'missing_image');
  });

  it('a text file named .jpg and declared image/jpeg → 415 unsupported_media_type', async () => {
    const res = await upload(ctx.sys.baseUrl, ctx.token, Buffer.from('just some text, not a photo\n'), {
      filename: 'holiday.jpg',
      type: 'image/jpeg',
    });
    await expectError(res, 415, 'unsupported_media_type');
  });

  it('a truncated JPEG → 422 image_undecodable', async () => {
    await expectError(await upload(ctx.sys.baseUrl, ctx.token, await truncatedJpeg()), 422, 'image_undecodable');
  });

  it('an SVG → 415', async () => {
    const res = await upload(ctx.sys.baseUrl, ctx.token, SVG, { filename: 'x.png', type: 'image/png' });
    await expectError(res, 415, 'unsupported_media_type');
  });

  it('a GIF → 415', async () => {
    await expectError(
      await upload(ctx.sys.baseUrl, ctx.token, await gif(), { type: 'image/gif' }),
      415,
      'unsupported_media_type',
    );
  });

  it('a 1×1 image → 422 image_too_small', async () => {
    await expectError(await upload(ctx.sys.baseUrl, ctx.token, await tinyPng()), 422, 'image_too_small');
  });

  it('a PNG whose header declares 50000×50000 → 422 image_too_large, without decoding it', async () => {
    await expectError(await upload(ctx.sys.baseUrl, ctx.token, await bombPng()), 422, 'image_too_large');
  });

  it('a body over the limit → 413 (refused by its Content-Length, before reading it)', async () => {
    const big = Buffer.concat([await jpegOf('astronaut.png'), Buffer.alloc(LIMIT)]);
    const form = new Response(formOf(big));
    const res = await postOnOwnConnection(
      `${ctx.sys.baseUrl}/api/v1/tasks`,
      { ...auth(ctx.token), 'content-type': form.headers.get('content-type') ?? '' },
      Buffer.from(await form.arrayBuffer()),
    );
    expectErrorBody(res, 413, 'payload_too_large');
  });

  it('a chunked body (no Content-Length) over the limit → 413 while it streams', async () => {
    const chunk = Buffer.alloc(64 * 1024, 1);
    const send = () =>
      postOnOwnConnection(
        `${ctx.sys.baseUrl}/api/v1/tasks`,
        { ...auth(ctx.token), 'content-type': 'multipart/form-data; boundary=x', 'transfer-encoding': 'chunked' },
        async function* () {
          for (let i = 0; i < 1000; i++) yield chunk; // up to 64 MB, as fast as it goes, unless stopped
        },
      );
    // Under heavy load (CI) the client's write can fail with EPIPE before it has read the 413
    // already sent (a transport race seen about once in ten full runs; see the closing note of
    // issue 2). The server's answer is what is under test: a few fresh connections may try.
    let res: Awaited<ReturnType<typeof send>> | undefined;
    for (let attempt = 0; attempt < 3 && !res; attempt++) res = await send().catch(() => undefined);
    if (!res) throw new Error('three connections failed before reading an answer');
    expectErrorBody(res, 413, 'payload_too_large');
    expect(res.bytesSent).toBeLessThan(16 * LIMIT); // the server answered long before the end
  });

  it('bad parameters → 400 invalid_request', async () => {
    const res = await upload(ctx.sys.baseUrl, ctx.token, fixture('astronaut.png'), { fields: { min_score: 'lots' } });
    await expectError(res, 400, 'invalid_request');
    const res2 = await upload(ctx.sys.baseUrl, ctx.token, fixture('astronaut.png'), {
      fields: { max_detections: '1000' },
    });
    await expectError(res2, 400, 'invalid_request');
  });

  it('wrong JSON on login → 400 invalid_request', async () => {
    const res = await fetch(`${ctx.sys.baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"username": 5}',
    });
    await expectError(res, 400, 'invalid_request');
  });

  it('after all that: nothing was stored, the server still serves, and a file named ../ is stored by hash', async () => {
    expect(storedFiles(ctx.sys.dataDir)).toEqual([]);
    expect((await fetch(`${ctx.sys.baseUrl}/healthz`)).status).toBe(200);

    const res = await upload(ctx.sys.baseUrl, ctx.token, fixture('astronaut.png'), {
      filename: '../../../etc/passwd.png',
    });
    expect(res.status).toBe(202);
    const task = (await res.json()) as { task_id: string; image: { sha256: string } };
    const done = await waitForTask(ctx.sys.baseUrl, ctx.token, task.task_id);
    expect(done.status).toBe('succeeded');
    const files = storedFiles(ctx.sys.dataDir);
    expect(files.filter((f) => f.startsWith('uploads/'))).toEqual([
      `uploads/${task.image.sha256.slice(0, 2)}/${task.image.sha256}.png`,
    ]);
    expect(files.some((f) => f.includes('passwd') || f.includes('..'))).toBe(false);
    expect(files.filter((f) => f.startsWith('tmp/'))).toEqual([]);
  });

  it('a refused upload among good ones does not disturb them', async () => {
    const [good, bad] = await Promise.all([
      submit(ctx.sys.baseUrl, ctx.token, fixture('coffee.png')),
      upload(ctx.sys.baseUrl, ctx.token, await truncatedJpeg()),
    ]);
    expect(bad.status).toBe(422);
    expect((await waitForTask(ctx.sys.baseUrl, ctx.token, good.task_id)).status).toBe('succeeded');
  });
});
