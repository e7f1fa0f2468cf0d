/**
 * The push payload for a finished task. Push services accept about 4 KB of encrypted payload
 * (RFC 8291: 4096 bytes minus header, padding and tag); staying under 3 KB of JSON leaves room.
 * A task with many detections keeps the best-scoring ones that fit and says how many it left out.
 */
import type { PushMessage, Task } from '../../shared/contract.ts';

export const MAX_PUSH_PAYLOAD_BYTES = 3 * 1024;

export function pushMessageFor(task: Task, maxBytes = MAX_PUSH_PAYLOAD_BYTES): string {
  const best = [...task.detections].sort((a, b) => b.score - a.score);
  const encode = (keep: number, t: Task = task): string => {
    const message: PushMessage = {
      type: 'task',
      task: { ...t, detections: best.slice(0, keep) },
      detections_omitted: best.length - keep,
    };
    return JSON.stringify(message);
  };
  const fits = (s: string) => Buffer.byteLength(s, 'utf8') <= maxBytes;

  if (fits(encode(best.length))) return encode(best.length);
  // The largest number of detections that fits (the size grows with the count).
  let lo = 0;
  let hi = best.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(encode(mid))) lo = mid;
    else hi = mid - 1;
  }
  if (fits(encode(lo))) return encode(lo);
  // Not even the bare task fits: only a very long error message (or a long file name in a script
  // of three bytes a character, with a long route reason) can do that; shorten them.
  const error = task.error ? { ...task.error, message: task.error.message.slice(0, 200) } : null;
  const short: Task = { ...task, error };
  if (task.file_name !== undefined) short.file_name = Array.from(task.file_name).slice(0, 60).join('');
  return encode(0, short);
}
