/**
 * The task lifecycle's pure transitions (shared/task-lifecycle.ts), which the server's task service and
 * the web app both use: each change from the statuses it is allowed from, refused from the others,
 * and what each sets.
 */
import { describe, expect, it } from 'vitest';
import type { Task, TaskStatus } from '../../shared/contract.ts';
import {
  cancelTask,
  claimTask,
  failTask,
  handOverTask,
  laterTask,
  newTask,
  succeedTask,
  TransitionError,
} from '../../shared/task-lifecycle.ts';

const created = newTask({
  id: '00000000-0000-4000-8000-000000000001',
  source: 'device',
  image: { width: 10, height: 10, sha256: 'a'.repeat(64), mime: 'image/png' },
  now: new Date('2026-12-01T00:00:00.000Z'),
});
const at = (status: TaskStatus): Task => ({ ...created, status });
const t = (s: string) => new Date(`2026-12-01T00:00:0${s}.000Z`);
const result = { detections: [], inferenceMs: 123.456, tiles: 2, tileMs: 40.04 };

describe('which status each change is allowed from', () => {
  const changes: [string, (task: Task) => Task, TaskStatus[]][] = [
    ['claim', (x) => claimTask(x), ['queued', 'running']],
    ['succeed', (x) => succeedTask(x, result), ['running']],
    ['fail', (x) => failTask(x, { code: 'inference_failed', message: 'x' }), ['queued', 'running']],
    ['cancel', (x) => cancelTask(x), ['queued', 'running']],
    ['hand over', (x) => handOverTask(x, 'server', 'why'), ['queued', 'running']],
  ];
  const all: TaskStatus[] = ['queued', 'running', 'succeeded', 'failed', 'canceled'];
  for (const [name, change, allowed] of changes) {
    for (const status of all) {
      it(`${name} from ${status}: ${allowed.includes(status) ? 'allowed' : 'refused'}`, () => {
        if (allowed.includes(status)) expect(() => change(at(status))).not.toThrow();
        else expect(() => change(at(status))).toThrow(TransitionError);
      });
    }
  }
});

describe('what each change sets', () => {
  it('claim: running, its start, the model when known', () => {
    const model = { name: 'm', version: '1', backend: 'wasm' };
    expect(claimTask(created, { model, now: t('1') })).toMatchObject({
      status: 'running',
      started_at: '2026-12-01T00:00:01.000Z',
      model,
    });
    expect(claimTask(created).model).toBeNull();
  });

  it('succeed: the detections, the end, timings from creation (inference to a tenth of a ms)', () => {
    const done = succeedTask(claimTask(created, { now: t('1') }), result, t('3'));
    expect(done).toMatchObject({ status: 'succeeded', finished_at: '2026-12-01T00:00:03.000Z', error: null });
    expect(done.timings).toEqual({ queue_ms: 1000, inference_ms: 123.5, total_ms: 3000, tiles: 2, tile_ms: 40 });
  });

  it('fail: the error and the end; a task that never started is claimed on the way (never a running task without a start)', () => {
    const failed = failTask(created, { code: 'inference_failed', message: 'no backend' }, t('2'));
    expect(failed).toMatchObject({
      status: 'failed',
      started_at: '2026-12-01T00:00:02.000Z',
      finished_at: '2026-12-01T00:00:02.000Z',
      error: { code: 'inference_failed', message: 'no backend' },
    });
    expect(failed.timings.total_ms).toBe(2000);
  });

  it('hand over: queued again on the other side, its start cleared, its route saying where and why', () => {
    const running = claimTask({
      ...created,
      route: { chosen: 'device', reason: 'faster here', device_estimate_ms: 5, server_estimate_ms: 9 },
    });
    expect(handOverTask(running, 'server', 'WebGL failed; sent to the server')).toMatchObject({
      status: 'queued',
      source: 'server',
      started_at: null,
      route: {
        chosen: 'server',
        reason: 'WebGL failed; sent to the server',
        device_estimate_ms: 5,
        server_estimate_ms: 9,
      },
    });
  });

  it('cancel: canceled, with its end and no error', () => {
    expect(cancelTask(created, t('4'))).toMatchObject({
      status: 'canceled',
      finished_at: '2026-12-01T00:00:04.000Z',
      error: null,
    });
  });
});

describe('laterTask(current, next): the history never lets an older version of a task replace a newer one', () => {
  it('moves forward: queued → running → succeeded', () => {
    expect(laterTask(at('queued'), at('running')).status).toBe('running');
    expect(laterTask(at('running'), at('succeeded')).status).toBe('succeeded');
    expect(laterTask(at('queued'), at('failed')).status).toBe('failed');
  });

  it('keeps a final status when a late answer says queued or running', () => {
    expect(laterTask(at('succeeded'), at('queued')).status).toBe('succeeded');
    expect(laterTask(at('failed'), at('running')).status).toBe('failed');
    expect(laterTask(at('running'), at('queued')).status).toBe('running');
  });

  it('takes the newer copy of the same stage (the server knows more than the local placeholder)', () => {
    const placeholder = at('queued');
    const fromServer = { ...at('queued'), created_at: '2026-11-26T00:00:00Z' };
    expect(laterTask(placeholder, fromServer)).toBe(fromServer);
  });
});
