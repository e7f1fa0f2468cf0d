/**
 * What the page needs of a photo, read once: its ImageInfo (as the server computes it), the decoded
 * bitmap (EXIF-oriented) the model and the result view use, and a thumbnail for the history.
 */
import type { ImageInfo, Task, Tiling } from '../../../shared/contract.ts';
import { describeUnsupported, sniffImage } from '../../../shared/sniff.ts';
import { newTask as makeTask } from '../../../shared/task-lifecycle.ts';

export interface OpenedPhoto {
  image: ImageInfo;
  /** The decoded photo; whoever takes it closes it (or transfers it to the detection worker). */
  bitmap: ImageBitmap;
  /** A 160 px JPEG, encoded while the model runs (it is off the path to the result). */
  thumbnail: Promise<Blob>;
}

const THUMBNAIL_PX = 160;

/**
 * One read and one decode per photo: the SHA-256 and the decode run side by side, and the thumbnail is
 * drawn from the same bitmap (encoded later), so a device photo reaches the model in one decode.
 */
export async function openPhoto(file: Blob): Promise<OpenedPhoto> {
  // The decode starts at once; the format check reads the first bytes beside it.
  const decoding = createImageBitmap(file, { imageOrientation: 'from-image' });
  const head = new Uint8Array(await file.slice(0, 512).arrayBuffer());
  const sniffed = sniffImage(head);
  if (!sniffed) {
    void decoding.then(
      (b) => b.close(),
      () => undefined,
    );
    throw new Error(`this is ${describeUnsupported(head)}; choose a JPEG, PNG or WebP photo`);
  }
  const [sha256, bitmap] = await Promise.all([
    file
      .arrayBuffer()
      .then((bytes) => crypto.subtle.digest('SHA-256', bytes))
      .then(hex),
    decoding,
  ]);
  const { width, height } = bitmap;
  const scale = THUMBNAIL_PX / Math.max(width, height);
  const canvas = new OffscreenCanvas(Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale)));
  canvas.getContext('2d')?.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  return {
    image: { width, height, sha256, mime: sniffed.mime },
    bitmap,
    thumbnail: canvas.convertToBlob({ type: 'image/jpeg', quality: 0.8 }),
  };
}

function hex(digest: ArrayBuffer): string {
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** A new task as the client sees it before any detection ran (made as the server makes its own). */
export function newTask(
  source: Task['source'],
  image: ImageInfo,
  tiling: Tiling = 'auto',
  model?: string,
  /** The photo's file name (a File's `name`): kept in the task, sent with the upload, in the exports. */
  fileName?: string,
): Task {
  // A low threshold: the result view's slider filters from here without running the model again.
  return makeTask({
    id: crypto.randomUUID(),
    source,
    image,
    params: { min_score: 0.05, tiling, ...(model ? { model } : {}) },
    fileName,
  });
}
