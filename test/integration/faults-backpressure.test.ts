/**
 * Backpressure on task creation: a full queue answers 503 queue_full, too many tasks in a
 * minute answer 429 rate_limited, both with Retry-After and both before the body is read.
 * In-process (`createApp` on the real Redis): admission needs no worker.
 */
import { describe, expect, it } from 'vitest';
import { auth, fixture } from '../helpers/api.ts';
import { useInProcess } from '../helpers/in-process.ts';
import { storedFiles } from '../helpers/system.ts';

// No workers: jobs stay waiting, so the queue's depth is exactly what the test submitted.
const ctx = useInProcess({ MAX_QUEUE_DEPTH: '2', RATE_LIMIT_PER_MINUTE: '5' });

const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

async function token(): Promise<string> {
  const res = await ctx.api.login(ctx.api.admin.username, ctx.api.admin.password);
  return ((await res.json()) as { token: string }).token;
}

function upload(t: string, name: string): Promise<Response> {
  const form = new FormData();
  form.set('image', new Blob([new Uint8Array(fixture(name))]), 'photo');
  return ctx.api.request('/api/v1/tasks', { method: 'POST', headers: auth(t), body: form });
}

describe('backpressure', () => {
  it('a full queue refuses with 503 queue_full and Retry-After; then the rate limit refuses with 429', async () => {
    const t = await token();
    expect((await upload(t, 'chelsea.png')).status).toBe(202); // 1
    expect((await upload(t, 'coffee.png')).status).toBe(202); // 2: the queue is at its depth

    const full = await upload(t, 'astronaut.png'); // 3
    expect(full.status).toBe(503);
    expect(await errorOf(full)).toBe('queue_full');
    expect(Number(full.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Refused before the body was used: nothing stored beyond the two accepted uploads.
    expect(storedFiles(ctx.api.config.DATA_DIR)).toHaveLength(2);

    // Cheap refusal: no body at all still gets queue_full, not a complaint about the body.
    const empty = await ctx.api.request('/api/v1/tasks', { method: 'POST', headers: auth(t) }); // 4
    expect(empty.status).toBe(503);
    expect(await errorOf(empty)).toBe('queue_full');

    expect((await upload(t, 'astronaut.png')).status).toBe(503); // 5
    const limited = await upload(t, 'astronaut.png'); // 6: over 5 a minute
    expect(limited.status).toBe(429);
    expect(await errorOf(limited)).toBe('rate_limited');
    const retry = Number(limited.headers.get('retry-after'));
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);

    // Reading is not limited.
    expect((await ctx.api.request('/api/v1/tasks', { headers: auth(t) })).status).toBe(200);
  });

  it('the OpenAPI document lists 429 and 503 with Retry-After for POST /tasks', async () => {
    const doc = (await (await ctx.api.request('/api/openapi.json')).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, { headers?: Record<string, unknown> }> }>>;
    };
    const responses = doc.paths['/api/v1/tasks']?.post?.responses ?? {};
    expect(Object.keys(responses['429']?.headers ?? {})).toContain('Retry-After');
    expect(Object.keys(responses['503']?.headers ?? {})).toContain('Retry-After');
  });
});
