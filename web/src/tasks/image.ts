/** What the history keeps of a photo: its ImageInfo (as the server computes it) and a thumbnail. */
import type { ImageInfo, Task, Tiling } from '../../../shared/contract.ts';
import { describeUnsupported, sniffImage } from '../../../shared/sniff.ts';
import { newTask as makeTask } from '../../../shared/task-lifecycle.ts';

export async function inspect(file: Blob): Promise<{ image: ImageInfo; thumbnail: Blob }> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const sniffed = sniffImage(bytes);
  if (!sniffed) throw new Error(`this is ${describeUnsupported(bytes)}; choose a JPEG, PNG or WebP photo`);
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  const sha256 = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  const { width, height } = bitmap;
  const scale = 160 / Math.max(width, height);
  const canvas = new OffscreenCanvas(Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale)));
  canvas.getContext('2d')?.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  const thumbnail = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.8 });
  return { image: { width, height, sha256, mime: sniffed.mime }, thumbnail };
}

/** A new task as the client sees it before any detection ran (made as the server makes its own). */
export function newTask(source: Task['source'], image: ImageInfo, tiling: Tiling = 'auto'): Task {
  // A low threshold: the result view's slider filters from here without running the model again.
  return makeTask({ id: crypto.randomUUID(), source, image, params: { min_score: 0.05, tiling } });
}
