import { TwinlensError } from '../../shared/errors.ts';

/**
 * Where image bytes live. Keys are content addresses (`uploads/ab/<sha256>.jpg`), so the same
 * bytes are stored once. The filesystem driver is the first; an S3-compatible one fits the
 * same interface.
 */
export type BlobArea = 'uploads' | 'results';

export interface BlobStore {
  /**
   * Stores the bytes (idempotent: same bytes, same key) and returns the key. `sha256` (hex) when
   * the caller has hashed them already, so that they are not hashed twice.
   */
  put(area: BlobArea, bytes: Uint8Array, extension: string, sha256?: string): Promise<string>;
  /** The bytes, or null when the key does not exist. */
  get(key: string): Promise<Buffer | null>;
  delete(key: string): Promise<void>;
  exists(key: string): Promise<boolean>;
}

/** Whether storage can take writes now (readiness), and if not, why. */
export type StorageHealth = { ok: true } | { ok: false; code: 'storage_full' | 'storage_failed'; message: string };

/** Seconds a client is asked to wait after a storage refusal: space takes an operator; a fault may pass. */
const RETRY_AFTER = { storage_full: 60, storage_failed: 10 } as const;

/**
 * A driver's failure as the error users see: `storage_full` (507: no space, quota, S3's 507) or
 * `storage_failed` (503: anything else), both with Retry-After. Drivers throw only these, so
 * the API and the workers name the cause instead of answering `internal` or `inference_failed`.
 */
export function storageError(err: unknown, doing: string): TwinlensError {
  if (err instanceof TwinlensError) return err;
  const e = err as { code?: string; name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const full = e.code === 'ENOSPC' || e.code === 'EDQUOT' || e.$metadata?.httpStatusCode === 507;
  const code = full ? 'storage_full' : 'storage_failed';
  const why = full ? 'storage is full' : `storage failed (${e.code ?? e.name ?? 'error'}: ${e.message ?? String(err)})`;
  return new TwinlensError(code, `${doing}: ${why}`, {
    cause: err,
    headers: { 'Retry-After': String(RETRY_AFTER[code]) },
  });
}

/** The content address of some bytes: `<area>/<first two hex>/<sha256>.<ext>`. */
export function blobKey(area: BlobArea, sha256: string, extension: string): string {
  return `${area}/${sha256.slice(0, 2)}/${sha256}.${extension}`;
}

const KEY_PATTERN = /^(uploads|results)\/[0-9a-f]{2}\/[0-9a-f]{64}\.[a-z0-9]{1,5}$/;

/** Refuses anything but a key `blobKey` makes, so a key can never reach outside the store's root. */
export function checkBlobKey(key: string): string {
  if (!KEY_PATTERN.test(key)) throw new Error(`invalid blob key ${JSON.stringify(key)}`);
  return key;
}
