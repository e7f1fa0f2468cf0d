/**
 * STORAGE=s3 against a real S3-compatible server (s3rver, see test/helpers/s3-server.ts): the
 * driver on its own, then the whole system (API, worker, real model) keeping every image byte in
 * the bucket and none in DATA_DIR, then a start with a bucket that does not exist.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.ts';
import { openBlobStore } from '../../server/storage/open-blob-store.ts';
import { S3BlobStore } from '../../server/storage/s3-store.ts';
import { auth, fixture, login, submit, waitForTask } from '../helpers/api.ts';
import { type OwnS3, startS3 } from '../helpers/s3-server.ts';
import { launch, REDIS_URL, type System, startSystem, storedFiles } from '../helpers/system.ts';

let s3: OwnS3;
let client: S3Client;

beforeAll(async () => {
  s3 = await startS3();
  client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
});
afterAll(async () => {
  client?.destroy();
  await s3?.stop();
});

/** Every object in the test's bucket under `prefix`, as the S3 server lists them. */
async function bucketKeys(prefix: string): Promise<string[]> {
  const res = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }));
  return (res.Contents ?? []).map((o) => o.Key ?? '').sort();
}

describe('S3BlobStore against s3rver', () => {
  let store: S3BlobStore;
  const prefix = 'driver/';

  beforeAll(async () => {
    store = new S3BlobStore({
      bucket: s3.bucket,
      endpoint: s3.endpoint,
      region: s3.region,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      forcePathStyle: true,
      prefix,
    });
    await store.init();
  });
  afterAll(() => store?.close());

  it('stores, reads, finds and deletes an object; the same bytes get the same key, stored once', async () => {
    const bytes = randomBytes(50_000);
    const key = await store.put('uploads', bytes, 'jpg');
    expect(key).toMatch(/^uploads\/[0-9a-f]{2}\/[0-9a-f]{64}\.jpg$/);
    expect(await store.put('uploads', Buffer.from(bytes), 'jpg')).toBe(key);
    expect(await bucketKeys(prefix)).toEqual([`${prefix}${key}`]);
    const head = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `${prefix}${key}` }));
    expect(head.ContentType).toBe('image/jpeg');
    expect(head.ContentLength).toBe(bytes.length);

    expect(await store.exists(key)).toBe(true);
    const back = await store.get(key);
    expect(back && Buffer.compare(back, bytes)).toBe(0);

    await store.delete(key);
    expect(await store.exists(key)).toBe(false);
    expect(await store.get(key)).toBeNull();
    await store.delete(key); // deleting twice is fine
    expect(await bucketKeys(prefix)).toEqual([]);
  });

  it('answers null / false for a key that was never stored', async () => {
    const key = `results/00/${'0'.repeat(64)}.jpg`;
    expect(await store.get(key)).toBeNull();
    expect(await store.exists(key)).toBe(false);
  });

  it('refuses keys it did not make, and bad extensions', async () => {
    for (const bad of ['../secret', 'uploads/ab/../../x.jpg', `uploads/ab/${'a'.repeat(64)}.JPG`, '', 'driver/x']) {
      await expect(store.get(bad), bad).rejects.toThrow(/invalid blob key/);
      await expect(store.exists(bad), bad).rejects.toThrow(/invalid blob key/);
      await expect(store.delete(bad), bad).rejects.toThrow(/invalid blob key/);
    }
    await expect(store.put('uploads', Buffer.from('x'), '../x')).rejects.toThrow(/bad extension/);
    expect(await bucketKeys(prefix)).toEqual([]);
  });

  it('init() names the bucket and endpoint when the bucket does not exist', async () => {
    const missing = await openBlobStore(loadConfig({ ...s3.env, S3_BUCKET: 'no-such-bucket' }));
    const err = await missing.init().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain('"no-such-bucket"');
    expect((err as Error).message).toContain(s3.endpoint);
  });
});

describe('STORAGE=s3 configuration', () => {
  it('is refused without a bucket, or with only one of the two keys', () => {
    expect(() => loadConfig({ STORAGE: 's3' })).toThrow(/S3_BUCKET/);
    expect(() => loadConfig({ STORAGE: 's3', S3_BUCKET: 'b', S3_ACCESS_KEY_ID: 'k' })).toThrow(
      /S3_SECRET_ACCESS_KEY.*both/,
    );
    expect(() => loadConfig({ STORAGE: 's3', S3_BUCKET: 'b', S3_SECRET_ACCESS_KEY: 's' })).toThrow(
      /S3_ACCESS_KEY_ID.*both/,
    );
    expect(() => loadConfig({ STORAGE: 's3', S3_BUCKET: 'b' })).not.toThrow(); // the SDK's default credentials
    expect(() => loadConfig({ STORAGE: 'fs' })).not.toThrow();
  });
});

describe('the system with STORAGE=s3', () => {
  const prefix = 'twinlens/';
  let sys: System;
  let token: string;

  beforeAll(async () => {
    sys = await startSystem({ workers: 1, env: { ...s3.env, S3_PREFIX: prefix } });
    token = await login(sys.baseUrl, sys.admin.username, sys.admin.password);
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('keeps the upload and the annotated image in the bucket, nothing in DATA_DIR, and deletes them with the task', async () => {
    const astronaut = fixture('astronaut.png');
    const task = await submit(sys.baseUrl, token, astronaut);
    const done = await waitForTask(sys.baseUrl, token, task.task_id);
    expect(done.status, sys.dump()).toBe('succeeded');
    expect(done.detections.find((d) => d.label === 'person')?.score).toBeGreaterThanOrEqual(0.5);

    const image = await fetch(`${sys.baseUrl}/api/v1/tasks/${task.task_id}/image`, { headers: auth(token) });
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await image.arrayBuffer()).equals(astronaut)).toBe(true);
    const annotated = await fetch(`${sys.baseUrl}/api/v1/tasks/${task.task_id}/annotated`, { headers: auth(token) });
    expect(annotated.status).toBe(200);
    expect(annotated.headers.get('content-type')).toBe('image/jpeg');
    const jpeg = Buffer.from(await annotated.arrayBuffer());
    expect(jpeg.subarray(0, 2).toString('hex')).toBe('ffd8');

    // In the S3 server, under S3_PREFIX: the upload (content-addressed), the drawn result, and the
    // task's acknowledgement (the journal a Redis failover cannot reach: server/durability/).
    const sha = done.image.sha256;
    const stored = await bucketKeys(prefix);
    expect(stored).toHaveLength(3);
    expect(stored.find((k) => k.startsWith(`${prefix}acks/`))).toMatch(new RegExp(`/${task.task_id}\\.json$`));
    expect(stored).toContain(`${prefix}uploads/${sha.slice(0, 2)}/${sha}.png`);
    expect(stored.find((k) => k.startsWith(`${prefix}results/`))).toMatch(/\.jpg$/);
    // …and not on the local disk.
    expect(storedFiles(sys.dataDir)).toEqual([]);

    const del = await fetch(`${sys.baseUrl}/api/v1/tasks/${task.task_id}`, { method: 'DELETE', headers: auth(token) });
    expect(del.status).toBe(204);
    expect(await bucketKeys(prefix)).toEqual([]);
    expect(storedFiles(sys.dataDir)).toEqual([]);
  });
});

describe('STORAGE=s3 with a bucket that does not exist', () => {
  it('the API refuses to start (exit 2) and says which bucket at which endpoint', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-test-'));
    const api = launch('api', {
      env: {
        ...s3.env,
        S3_BUCKET: 'twinlens-missing',
        REDIS_URL,
        REDIS_PREFIX: `{tltest-${randomBytes(4).toString('hex')}}`,
        DATA_DIR: dataDir,
        PORT: '0',
      },
    });
    // Should it start after all, stop it rather than wait for the test's timeout.
    const started = setTimeout(() => api.child.kill('SIGKILL'), 30_000);
    const code = await api.exited;
    clearTimeout(started);
    fs.rmSync(dataDir, { recursive: true, force: true });
    expect(code, api.logs.join('\n')).toBe(2);
    const out = api.logs.join('\n');
    expect(out).toContain('bucket "twinlens-missing"');
    expect(out).toContain(s3.endpoint);
    expect(out).not.toContain('listening on');
  });
});
