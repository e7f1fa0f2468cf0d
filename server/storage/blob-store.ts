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

/**
 * Small records kept beside the blobs, by folder and name (`acks/<folder>/<name>.json`): the
 * acknowledgement journal (server/durability/ack-journal.ts) keeps there what Redis may lose in a
 * failover. Folders and names are checked (`checkRecordPath`), so they never reach elsewhere.
 */
export interface RecordStore {
  putRecord(folder: string, name: string, body: string): Promise<void>;
  /** The record, or null when there is none. */
  getRecord(folder: string, name: string): Promise<string | null>;
  deleteRecord(folder: string, name: string): Promise<void>;
  /** The names in a folder (none when it does not exist). */
  listRecords(folder: string): Promise<string[]>;
  listRecordFolders(): Promise<string[]>;
  deleteRecordFolder(folder: string): Promise<void>;
}

export const RECORD_AREA = 'acks';
const RECORD_FOLDER = /^[0-9]{1,12}$/;
const RECORD_NAME = /^[A-Za-z0-9-]{1,64}$/;

/** A record's path under the store's root (`acks/<folder>/<name>.json`), or an error for a bad folder or name. */
export function checkRecordPath(folder: string, name?: string): string {
  if (!RECORD_FOLDER.test(folder)) throw new Error(`invalid record folder ${JSON.stringify(folder)}`);
  if (name === undefined) return `${RECORD_AREA}/${folder}`;
  if (!RECORD_NAME.test(name)) throw new Error(`invalid record name ${JSON.stringify(name)}`);
  return `${RECORD_AREA}/${folder}/${name}.json`;
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
