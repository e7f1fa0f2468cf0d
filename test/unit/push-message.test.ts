import { describe, expect, it } from 'vitest';
import { MAX_PUSH_PAYLOAD_BYTES, pushMessageFor } from '../../server/push/push-message.ts';
import { type Detection, PushMessageSchema, type Task } from '../../shared/contract.ts';

function taskWith(detections: Detection[], error: Task['error'] = null): Task {
  return {
    task_id: '3f1c1d7e-9a55-4f7e-9a43-2b2b6a0c1e11',
    status: error ? 'failed' : 'succeeded',
    source: 'server',
    created_at: '2026-01-01T00:00:00.000Z',
    started_at: '2026-01-01T00:00:01.000Z',
    finished_at: '2026-01-01T00:00:02.000Z',
    params: { min_score: 0.01, max_detections: 100, tiling: 'auto', model: 'centernet' },
    model: { id: 'centernet', name: 'centernet-mobilenetv3', version: 'human-3.3.6', backend: 'wasm' },
    image: { width: 4000, height: 3000, sha256: 'a'.repeat(64), mime: 'image/jpeg' },
    detections,
    timings: { queue_ms: 12, inference_ms: 345, total_ms: 400 },
    error,
  };
}

/** Scores in a shuffled order, so "the best ones" is not simply "the first ones". */
const many = Array.from({ length: 100 }, (_, i): Detection => {
  const score = ((i * 37) % 100) / 100;
  return {
    label: 'potted plant',
    class_id: 58,
    score,
    box: { x: 1234.5678 + i, y: 2345.6789, width: 123.4567, height: 234.5678 },
  };
});

describe('pushMessageFor', () => {
  it('sends a small task whole', () => {
    const task = taskWith(many.slice(0, 3));
    const message = PushMessageSchema.parse(JSON.parse(pushMessageFor(task)));
    expect(message).toEqual({
      type: 'task',
      task: { ...task, detections: message.task.detections },
      detections_omitted: 0,
    });
    expect([...message.task.detections].sort((a, b) => a.score - b.score)).toEqual(
      [...task.detections].sort((a, b) => a.score - b.score),
    );
  });

  it('keeps the best-scoring detections that fit in 3 KB and counts the rest', () => {
    const json = pushMessageFor(taskWith(many));
    expect(Buffer.byteLength(json)).toBeLessThanOrEqual(MAX_PUSH_PAYLOAD_BYTES);
    const message = PushMessageSchema.parse(JSON.parse(json));
    const kept = message.task.detections;
    expect(kept.length).toBeGreaterThan(5);
    expect(kept.length + message.detections_omitted).toBe(100);
    const cutoff = Math.min(...kept.map((d) => d.score));
    expect(many.filter((d) => d.score > cutoff)).toHaveLength(kept.length - 1); // exactly the top ones
    // One more would not have fitted.
    const oneMore = JSON.stringify({ ...message, task: { ...message.task, detections: [...kept, kept[0]] } });
    expect(Buffer.byteLength(oneMore)).toBeGreaterThan(MAX_PUSH_PAYLOAD_BYTES);
  });

  it('shortens an error message that alone would not fit', () => {
    const json = pushMessageFor(taskWith([], { code: 'inference_failed', message: 'é'.repeat(5000) }));
    expect(Buffer.byteLength(json)).toBeLessThanOrEqual(MAX_PUSH_PAYLOAD_BYTES);
    expect(PushMessageSchema.parse(JSON.parse(json)).task.error?.code).toBe('inference_failed');
  });

  it('a task with the longest file name, a long route reason and a long error still fits', () => {
    const task: Task = {
      ...taskWith([], { code: 'inference_failed', message: 'x'.repeat(5000) }),
      file_name: '写'.repeat(255),
      route: { chosen: 'server', reason: '理'.repeat(300), device_estimate_ms: 1, server_estimate_ms: 2 },
    };
    expect(Buffer.byteLength(pushMessageFor(task), 'utf8')).toBeLessThanOrEqual(MAX_PUSH_PAYLOAD_BYTES);
    // Where even the error shortened is not enough, the file name is shortened too.
    const limit = 2200;
    const bare = JSON.stringify({
      type: 'task',
      task: { ...task, error: { ...task.error, message: 'x'.repeat(200) } },
    });
    expect(Buffer.byteLength(bare, 'utf8')).toBeGreaterThan(limit);
    const text = pushMessageFor(task, limit);
    expect(Buffer.byteLength(text, 'utf8')).toBeLessThanOrEqual(limit);
    expect(PushMessageSchema.parse(JSON.parse(text)).task.file_name).toBe('写'.repeat(60));
  });
});
