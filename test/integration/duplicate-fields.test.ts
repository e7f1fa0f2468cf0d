/**
 * A multipart field or a query parameter sent twice is refused with 400 `duplicate_field` naming
 * it, on tasks and albums (and every API route for queries), and nothing is stored: no task, no
 * batch, no file. In-process: the rules need no worker.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { auth, fixture } from '../helpers/api.ts';
import { useInProcess } from '../helpers/in-process.ts';
import { storedFiles } from '../helpers/system.ts';

const photo = () => new Blob([new Uint8Array(fixture('chelsea.png'))]);

function form(fields: [string, string][], images = 1): FormData {
  const f = new FormData();
  for (let i = 0; i < images; i++) f.append('image', photo(), `p${i}.png`);
  for (const [k, v] of fields) f.append(k, v);
  return f;
}

async function expectDuplicate(res: Response, field: string): Promise<void> {
  expect(res.status, await res.clone().text()).toBe(400);
  const { error } = (await res.json()) as { error: { code: string; message: string } };
  expect(error.code).toBe('duplicate_field');
  expect(error.message).toContain(`"${field}"`);
}

describe('duplicate fields and query parameters', () => {
  const ctx = useInProcess();
  let token: string;
  const post = (path: string, body: FormData) => ctx.api.request(path, { method: 'POST', headers: auth(token), body });
  const get = (path: string) => ctx.api.request(path, { headers: auth(token) });

  const CASES: [string, [string, string][], number][] = [
    [
      'min_score',
      [
        ['min_score', '0.9'],
        ['min_score', '0.1'],
      ],
      1,
    ],
    [
      'task_id',
      [
        ['task_id', randomUUID()],
        ['task_id', randomUUID()],
      ],
      1,
    ],
    [
      'callback_url',
      [
        ['callback_url', 'https://a.example/h'],
        ['callback_url', 'https://b.example/h'],
      ],
      1,
    ],
    [
      'model',
      [
        ['model', 'centernet'],
        ['model', 'centernet'],
      ],
      1,
    ], // even the same value twice
    ['image', [], 2],
  ];

  it.each(CASES)(
    'POST /tasks with "%s" twice → 400 duplicate_field; no task, no file',
    async (field, fields, images) => {
      token ??= (await ctx.api.addUser('bob')).token;
      const id = randomUUID();
      const withId = field === 'task_id' ? fields : ([...fields, ['task_id', id]] as [string, string][]);
      await expectDuplicate(await post('/api/v1/tasks', form(withId, images)), field);
      expect(((await (await get('/api/v1/tasks')).json()) as { items: unknown[] }).items).toEqual([]);
      if (field !== 'task_id') expect((await get(`/api/v1/tasks/${id}`)).status).toBe(404);
      expect(storedFiles(ctx.api.config.DATA_DIR)).toEqual([]);
    },
  );

  it.each(CASES.filter(([f]) => f !== 'image' && f !== 'task_id'))(
    'POST /batches with "%s" twice → 400 duplicate_field; no batch, no file',
    async (field, fields) => {
      token ??= (await ctx.api.addUser('bob')).token;
      await expectDuplicate(await post('/api/v1/batches', form(fields, 2)), field);
      expect(((await (await get('/api/v1/batches')).json()) as { items: unknown[] }).items).toEqual([]);
      expect(storedFiles(ctx.api.config.DATA_DIR)).toEqual([]);
    },
  );

  it('POST /batches/{id}/images with a text field twice → 400; the batch keeps what it had', async () => {
    const created = await post('/api/v1/batches', form([], 1));
    expect(created.status).toBe(202);
    const { batch } = (await created.json()) as { batch: { batch_id: string } };
    await expectDuplicate(
      await post(
        `/api/v1/batches/${batch.batch_id}/images`,
        form(
          [
            ['note', 'a'],
            ['note', 'b'],
          ],
          2,
        ),
      ),
      'note',
    );
    const after = (await (await get(`/api/v1/batches/${batch.batch_id}`)).json()) as { total: number };
    expect(after.total).toBe(1);
  });

  it.each([
    ['/api/v1/tasks?limit=5&limit=100', 'limit'],
    ['/api/v1/batches?cursor=1&limit=2&cursor=3', 'cursor'],
    [`/api/v1/tasks/export?format=csv&ids=${randomUUID()}&format=json`, 'format'],
    [`/api/v1/tasks/export?ids=${randomUUID()}&ids=${randomUUID()}`, 'ids'],
    [`/api/v1/tasks/${randomUUID()}?wait=1&wait=60`, 'wait'],
    ['/api/v1/models?x=1&x=1', 'x'],
  ])('GET %s → 400 duplicate_field "%s"', async (path, field) => {
    await expectDuplicate(await get(path), field);
  });

  it('a single parameter of each still works', async () => {
    expect((await get('/api/v1/tasks?limit=5')).status).toBe(200);
    const res = await post('/api/v1/tasks', form([['min_score', '0.5']]));
    expect(res.status, await res.clone().text()).toBe(202);
  });
});
