/** The web app's history never lets an older version of a task replace a newer one. */
import { describe, expect, it } from 'vitest';
import type { Task } from '../../shared/contract.ts';
import { later } from '../../web/src/store.ts';

const base = { task_id: 't1', status: 'queued' } as Task;
const at = (status: Task['status']): Task => ({ ...base, status });

describe('later(current, next)', () => {
  it('moves forward: queued → running → succeeded', () => {
    expect(later(at('queued'), at('running')).status).toBe('running');
    expect(later(at('running'), at('succeeded')).status).toBe('succeeded');
    expect(later(at('queued'), at('failed')).status).toBe('failed');
  });

  it('keeps a final status when a late answer says queued or running', () => {
    expect(later(at('succeeded'), at('queued')).status).toBe('succeeded');
    expect(later(at('failed'), at('running')).status).toBe('failed');
    expect(later(at('running'), at('queued')).status).toBe('running');
  });

  it('takes the newer copy of the same stage (the server knows more than the local placeholder)', () => {
    const placeholder = at('queued');
    const fromServer = { ...at('queued'), created_at: '2026-11-26T00:00:00Z' };
    expect(later(placeholder, fromServer)).toBe(fromServer);
  });
});
