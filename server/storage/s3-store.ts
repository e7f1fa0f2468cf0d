import { createHash } from 'node:crypto';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { ConfigError } from '../config.ts';
import {
  type BlobArea,
  type BlobStore,
  blobKey,
  checkBlobKey,
  checkRecordPath,
  RECORD_AREA,
  type RecordStore,
  type StorageHealth,
  storageError,
} from './blob-store.ts';

const CONTENT_TYPES: Record<string, string> = { jpg: 'image/jpeg', png: 'image/png', webp: 'image/webp' };

export interface S3BlobStoreOptions {
  bucket: string;
  /** Unset: AWS's own endpoint for `region`. */
  endpoint?: string | undefined;
  region: string;
  /** Unset: the SDK's default chain (environment, shared config, instance or task role…). */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
  forcePathStyle: boolean;
  /** Prepended to every key (`''` or ending in `/`), so deployments can share a bucket. */
  prefix: string;
}

/**
 * Content-addressed objects in any S3-compatible store (AWS S3, MinIO, Ceph RGW, R2…), so
 * API and workers on different hosts share image bytes without a shared volume. The tests run
 * it against s3rver (a Node implementation of the S3 HTTP API), the S3-compatible server
 * available without Docker or a Ceph cluster.
 */
export class S3BlobStore implements BlobStore, RecordStore {
  private readonly client: S3Client;
  private lastHealth: { at: number; result: StorageHealth } = { at: 0, result: { ok: true } };

  constructor(private readonly opts: S3BlobStoreOptions) {
    this.client = new S3Client({
      region: opts.region,
      endpoint: opts.endpoint,
      forcePathStyle: opts.forcePathStyle,
      credentials: opts.credentials,
      // Bounded waits: a store that stops answering fails the request (and the job retries)
      // instead of holding an upload or a worker forever. The SDK retries transient errors.
      requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
    });
  }

  /** Where the bucket is, for messages. */
  get location(): string {
    return `bucket "${this.opts.bucket}" at ${this.opts.endpoint ?? `AWS S3 (${this.opts.region})`}`;
  }

  /** Fails at start, with a message naming the bucket and endpoint, rather than on the first upload. */
  async init(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.opts.bucket }));
    } catch (err) {
      // The bucket is not created here: its region, policy and lifecycle are the operator's choice.
      const status = statusOf(err);
      if (status === 404) {
        throw new ConfigError(`STORAGE=s3: ${this.location} does not exist (create it, or fix S3_BUCKET/S3_ENDPOINT)`);
      }
      if (status === 403 || status === 401) {
        throw new ConfigError(
          `STORAGE=s3: access to ${this.location} denied (check S3_ACCESS_KEY_ID/S3_SECRET_ACCESS_KEY)`,
        );
      }
      if (status === 301) {
        throw new ConfigError(`STORAGE=s3: ${this.location} is in another region (check S3_REGION)`);
      }
      throw new Error(`STORAGE=s3: cannot reach ${this.location}: ${(err as Error).message}`, { cause: err });
    }
  }

  async put(area: BlobArea, bytes: Uint8Array, extension: string, sha256?: string): Promise<string> {
    if (!/^[a-z0-9]{1,5}$/.test(extension)) throw new Error(`bad extension ${extension}`);
    const sha = sha256 ? Buffer.from(sha256, 'hex') : createHash('sha256').update(bytes).digest();
    const key = blobKey(area, sha.toString('hex'), extension);
    // One PUT is atomic in S3 (readers see the old object or the whole new one), so unlike the
    // filesystem driver there is no temporary name. The SHA-256 hashed for the key anyway goes
    // along as the object's checksum: S3 (and MinIO, Ceph RGW, R2) refuse bytes damaged on the
    // way, keep it, and the SDK checks it again on every GET. (s3rver accepts and ignores it.)
    const objectKey = this.objectKey(key);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.opts.bucket,
          Key: objectKey,
          Body: bytes,
          ContentType: CONTENT_TYPES[extension] ?? 'application/octet-stream',
          ChecksumSHA256: sha.toString('base64'),
        }),
      );
    } catch (err) {
      throw storageError(err, `storing ${area}`);
    }
    return key;
  }

  async get(key: string): Promise<Buffer | null> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.opts.bucket, Key: this.objectKey(key) }));
      if (!res.Body) return null;
      const body = await res.Body.transformToByteArray();
      return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw storageError(err, 'reading a stored image');
    }
  }

  /** The bucket answers (HeadBucket, at most every 10 s). */
  async health(): Promise<StorageHealth> {
    if (Date.now() - this.lastHealth.at < 10_000) return this.lastHealth.result;
    let result: StorageHealth = { ok: true };
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.opts.bucket }));
    } catch (err) {
      result = {
        ok: false,
        code: 'storage_failed',
        message: `${this.location} does not answer: ${(err as Error).message}`,
      };
    }
    this.lastHealth = { at: Date.now(), result };
    return result;
  }

  async delete(key: string): Promise<void> {
    // S3 answers 204 for a key that is not there: deleting twice is fine, as with the fs driver.
    await this.client.send(new DeleteObjectCommand({ Bucket: this.opts.bucket, Key: this.objectKey(key) }));
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.opts.bucket, Key: this.objectKey(key) }));
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw err;
    }
  }

  async putRecord(folder: string, name: string, body: string): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.opts.bucket,
          Key: `${this.opts.prefix}${checkRecordPath(folder, name)}`,
          Body: body,
          ContentType: 'application/json',
        }),
      );
    } catch (err) {
      throw storageError(err, 'recording the acknowledgement');
    }
  }

  async getRecord(folder: string, name: string): Promise<string | null> {
    try {
      const key = `${this.opts.prefix}${checkRecordPath(folder, name)}`;
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.opts.bucket, Key: key }));
      return res.Body ? await res.Body.transformToString('utf8') : null;
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw storageError(err, 'reading the acknowledgement journal');
    }
  }

  async deleteRecord(folder: string, name: string): Promise<void> {
    const key = `${this.opts.prefix}${checkRecordPath(folder, name)}`;
    await this.client.send(new DeleteObjectCommand({ Bucket: this.opts.bucket, Key: key }));
  }

  async listRecords(folder: string): Promise<string[]> {
    const prefix = `${this.opts.prefix}${checkRecordPath(folder)}/`;
    return (await this.listKeys(prefix))
      .filter((k) => k.endsWith('.json'))
      .map((k) => k.slice(prefix.length, -'.json'.length));
  }

  async listRecordFolders(): Promise<string[]> {
    const prefix = `${this.opts.prefix}${RECORD_AREA}/`;
    const folders: string[] = [];
    let token: string | undefined;
    do {
      const res = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.opts.bucket,
          Prefix: prefix,
          Delimiter: '/',
          ContinuationToken: token,
        }),
      );
      for (const p of res.CommonPrefixes ?? []) {
        const folder = p.Prefix?.slice(prefix.length, -1);
        if (folder && /^[0-9]{1,12}$/.test(folder)) folders.push(folder);
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    return folders;
  }

  async deleteRecordFolder(folder: string): Promise<void> {
    const keys = await this.listKeys(`${this.opts.prefix}${checkRecordPath(folder)}/`);
    for (let i = 0; i < keys.length; i += 1000) {
      await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.opts.bucket,
          Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true },
        }),
      );
    }
  }

  private async listKeys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const res = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.opts.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of res.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  /** Closes the client's kept-alive connections. */
  close(): void {
    this.client.destroy();
  }

  private objectKey(key: string): string {
    checkBlobKey(key);
    return `${this.opts.prefix}${key}`;
  }
}

/** The HTTP status of an S3 error (HEAD answers have no body, so no error code to read). */
function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}
