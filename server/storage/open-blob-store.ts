import { type Config, ConfigError } from '../config.ts';
import type { BlobStore, RecordStore, StorageHealth } from './blob-store.ts';
import { FsBlobStore } from './fs-store.ts';

/** A blob store as a process holds it: checked once at start, then used through `BlobStore` (and `RecordStore`). */
export interface OpenedBlobStore extends BlobStore, RecordStore {
  /** Prepares or checks the storage; throws (naming what is wrong) when it cannot be used. */
  init(): Promise<void>;
  /** Cleans what a crash may have left. Only drivers that can leave something have it (fs: tmp/). */
  sweepTmp?(): Promise<void>;
  /** Whether writes can succeed now (for /readyz): free space, or the bucket answering. */
  health(): Promise<StorageHealth>;
}

export type StorageConfig = Pick<
  Config,
  | 'STORAGE'
  | 'DATA_DIR'
  | 'S3_BUCKET'
  | 'S3_ENDPOINT'
  | 'S3_REGION'
  | 'S3_ACCESS_KEY_ID'
  | 'S3_SECRET_ACCESS_KEY'
  | 'S3_FORCE_PATH_STYLE'
  | 'S3_PREFIX'
  | 'STORAGE_MIN_FREE_BYTES'
>;

/** The driver STORAGE names. Call `init()` before use. */
export async function openBlobStore(config: StorageConfig): Promise<OpenedBlobStore> {
  if (config.STORAGE === 'fs') return new FsBlobStore(config.DATA_DIR, config.STORAGE_MIN_FREE_BYTES);
  // Loaded only when used: the AWS SDK is large, and it warns on stderr about old Node versions.
  const { S3BlobStore } = await import('./s3-store.ts');
  // loadConfig checks this already; a config made by hand gets a clear error too.
  if (!config.S3_BUCKET) throw new ConfigError('STORAGE=s3 needs S3_BUCKET');
  return new S3BlobStore({
    bucket: config.S3_BUCKET,
    endpoint: config.S3_ENDPOINT,
    region: config.S3_REGION,
    credentials:
      config.S3_ACCESS_KEY_ID && config.S3_SECRET_ACCESS_KEY
        ? { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY }
        : undefined,
    forcePathStyle: config.S3_FORCE_PATH_STYLE === 'true',
    prefix: config.S3_PREFIX,
  });
}
