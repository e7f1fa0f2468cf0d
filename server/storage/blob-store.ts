/**
 * Where image bytes live. Keys are content addresses (`uploads/ab/<sha256>.jpg`), so the same
 * bytes are stored once. The filesystem driver is the first; an S3-compatible one fits the
 * same interface.
 */
export type BlobArea = 'uploads' | 'results';

export interface BlobStore {
  /** Stores the bytes (idempotent: same bytes, same key) and returns the key. */
  put(area: BlobArea, bytes: Uint8Array, extension: string): Promise<string>;
  /** The bytes, or null when the key does not exist. */
  get(key: string): Promise<Buffer | null>;
  delete(key: string): Promise<void>;
  exists(key: string): Promise<boolean>;
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
