/**
 * API keys end to end (issue 23), on the real system (API and worker processes, the real model):
 * `twinlens detect` with a key and no password or token; a revoked key stops the CLI at once; and
 * no key ever appears in any process's logs, at debug level, on success, refusal or error paths.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwinlensClient } from '../../shared/client/twinlens-client.ts';
import type { CocoDataset } from '../../shared/export/coco.ts';
import { FIXTURES } from '../helpers/api.ts';
import { addUser, launch, useSystem } from '../helpers/system.ts';

// Debug: every request is logged, the successful ones too.
const ctx = useSystem({ workers: 1, env: { LOG_LEVEL: 'debug' } });
let dir: string;
let photos: string;
/** Every secret made here: none may appear in a log. */
const secrets: string[] = [];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-keys-cli-'));
  photos = path.join(dir, 'photos');
  fs.mkdirSync(photos);
  for (const name of ['chelsea.png', 'coffee.png']) fs.copyFileSync(path.join(FIXTURES, name), path.join(photos, name));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function cli(args: string[], env: Record<string, string | undefined>) {
  // No token and no terminal: a password could not even be asked for.
  const p = launch('cli', { args: ['detect', ...args], env: { TWINLENS_TOKEN: undefined, ...env } });
  p.child.stdin?.end('');
  const code = await p.exited;
  return { code, output: p.logs.join('\n') };
}

const session = () => new TwinlensClient({ baseUrl: ctx.sys.baseUrl, token: ctx.token });

describe('API keys: the CLI and the logs', () => {
  it('twinlens detect with TWINLENS_API_KEY and no password: every photo through the server', async () => {
    const key = await session().createApiKey({ name: 'cli', scopes: ['tasks:read', 'tasks:write'] });
    secrets.push(key.secret);
    const out = path.join(dir, 'env-key.json');
    const r = await cli([photos, '--server', ctx.sys.baseUrl, '--out', out], { TWINLENS_API_KEY: key.secret });
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/2 sent this run/);
    const coco = JSON.parse(fs.readFileSync(out, 'utf8')) as CocoDataset;
    expect(coco.images).toHaveLength(2);
    expect(coco.annotations.length).toBeGreaterThan(0);
    // The tasks are the key's user's, and the key shows it was used.
    expect((await session().list({ limit: 100 })).items).toHaveLength(2);
    const listed = (await session().apiKeys()).find((k) => k.id === key.id);
    expect(listed?.last_used_at).not.toBeNull();
    expect(r.output).not.toContain(key.secret);
  });

  it('--api-key works the same; a revoked key stops the run before any photo is sent', async () => {
    const key = await session().createApiKey({ name: 'flag', scopes: ['tasks:read', 'tasks:write'] });
    secrets.push(key.secret);
    // A fresh output (its own state file): the photos are sent again, under this key.
    const out = path.join(dir, 'flag-key.csv');
    const ok = await cli([photos, '--server', ctx.sys.baseUrl, '--out', out, '--api-key', key.secret], {});
    expect(ok.code, ok.output).toBe(0);
    expect(fs.readFileSync(out, 'utf8')).toContain('coffee.png');

    await session().revokeApiKey(key.id);
    const before = (await session().list({ limit: 100 })).items.length;
    const refused = await cli([photos, '--server', ctx.sys.baseUrl, '--out', path.join(dir, 'revoked.json')], {
      TWINLENS_API_KEY: key.secret,
    });
    expect(refused.code).not.toBe(0);
    expect(refused.output).toMatch(/refused the API key/);
    expect(refused.output).not.toContain(key.secret);
    expect((await session().list({ limit: 100 })).items.length).toBe(before);
  });

  it('a key with only tasks:read cannot upload: each photo refused with the missing scope, exit 1', async () => {
    const key = await session().createApiKey({ name: 'reader', scopes: ['tasks:read'] });
    secrets.push(key.secret);
    const before = (await session().list({ limit: 100 })).items.length;
    const r = await cli([photos, '--server', ctx.sys.baseUrl, '--out', path.join(dir, 'reader.json')], {
      TWINLENS_API_KEY: key.secret,
    });
    expect(r.code).toBe(1);
    // The summary names each refused photo once, with its code (each is also reported as it happens).
    const summary = r.output.match(/^refused: photos\/\S+ \(insufficient_scope\): .*lacks the scope tasks:write$/gm);
    expect(summary?.sort()).toEqual([
      'refused: photos/chelsea.png (insufficient_scope): this API key lacks the scope tasks:write',
      'refused: photos/coffee.png (insufficient_scope): this API key lacks the scope tasks:write',
    ]);
    expect((await session().list({ limit: 100 })).items.length).toBe(before);
  });

  it('a mistyped key fails at once without being echoed', async () => {
    const typo = 'tlk_not-a-real-key';
    const r = await cli([photos, '--server', ctx.sys.baseUrl, '--out', path.join(dir, 'typo.json')], {
      TWINLENS_API_KEY: typo,
    });
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/API key/);
    expect(r.output).not.toContain(typo);
  });

  it('`users remove` takes the user’s keys off the admins’ list; they stop working', async () => {
    const hank = new TwinlensClient({ baseUrl: ctx.sys.baseUrl, token: await addUser(ctx.sys, 'hank') });
    const key = await hank.createApiKey({ name: 'hank’s', scopes: ['tasks:read'] });
    secrets.push(key.secret);
    expect((await session().apiKeys({ all: true })).map((k) => k.id)).toContain(key.id);
    const p = launch('cli', { env: ctx.sys.env, args: ['users', 'remove', 'hank'] });
    p.child.stdin?.end('');
    expect(await p.exited, p.logs.join('\n')).toBe(0);
    expect((await session().apiKeys({ all: true })).map((k) => k.id)).not.toContain(key.id);
    const res = await fetch(`${ctx.sys.baseUrl}/api/v1/tasks`, { headers: { 'x-api-key': key.secret } });
    expect(res.status).toBe(401);
  });

  it('no key appears in the API’s or the worker’s logs (successes, 401, 403, 404, 400)', async () => {
    const narrow = await session().createApiKey({ name: 'narrow', scopes: ['tasks:read'] });
    secrets.push(narrow.secret);
    const unknown = `tlk_${'Z'.repeat(43)}`;
    secrets.push(unknown);
    const base = ctx.sys.baseUrl;
    const requests: [string, RequestInit][] = [
      ['/api/v1/tasks', { headers: { authorization: `Bearer ${narrow.secret}` } }],
      ['/api/v1/tasks', { method: 'POST', headers: { 'x-api-key': narrow.secret }, body: new FormData() }],
      ['/api/v1/tasks/00000000-0000-4000-8000-000000000000', { headers: { 'x-api-key': narrow.secret } }],
      ['/api/v1/tasks?limit=nope', { headers: { 'x-api-key': narrow.secret } }],
      ['/api/v1/api-keys', { headers: { 'x-api-key': narrow.secret } }],
      ['/api/v1/tasks', { headers: { authorization: `Bearer ${unknown}` } }],
      ['/api/v1/stats', { headers: { 'x-api-key': unknown } }],
    ];
    const statuses: number[] = [];
    for (const [p, init] of requests) {
      const res = await fetch(`${base}${p}`, init);
      statuses.push(res.status);
      expect(await res.text()).not.toContain(narrow.secret);
    }
    expect(statuses).toEqual([200, 403, 404, 400, 403, 401, 401]);
    // The request log has these requests, with the key's id where a key was recognised…
    await new Promise((r) => setTimeout(r, 200));
    const logs = ctx.sys.dump();
    expect(logs).toContain(`"api_key_id":"${narrow.id}"`);
    expect(logs).toContain('"error_code":"insufficient_scope"');
    // …and never a secret.
    for (const s of secrets) expect(logs).not.toContain(s);
    expect(logs).not.toMatch(/tlk_[A-Za-z0-9_-]{20,}/);
  });
});
