/**
 * The API's Hono app in the test's own process, on the real Redis (under a key prefix of its own)
 * and a temporary data directory: the same composition as `server/api.ts`, without a socket or
 * workers. For HTTP behaviour that needs no worker: `app.request()` is fast and shows every header.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { createApp } from '../../server/app.ts';
import { ensureFirstUser } from '../../server/auth/bootstrap.ts';
import { UserStore } from '../../server/auth/user-store.ts';
import { composeServices, type Services } from '../../server/compose.ts';
import { type Config, loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/log.ts';
import { loadVapidKeys } from '../../server/push/vapid-keys.ts';
import { waitUntilReady } from '../../server/redis.ts';
import { REDIS_URL, ROOT } from './system.ts';

export interface InProcess {
  app: ReturnType<typeof createApp>;
  services: Services;
  config: Config;
  prefix: string;
  admin: { username: string; password: string };
  /** `app.request` with a path, against http://twinlens.test. */
  request(pathname: string, init?: RequestInit): Promise<Response>;
  /** Logs in and returns the token. */
  login(username: string, password: string, headers?: Record<string, string>): Promise<Response>;
  addUser(username: string, role?: 'admin' | 'user'): Promise<{ password: string; token: string }>;
  close(): Promise<void>;
}

export const ORIGIN = 'http://twinlens.test';

export async function startInProcess(env: Record<string, string> = {}): Promise<InProcess> {
  const prefix = `{tltest-${randomBytes(4).toString('hex')}}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-inproc-'));
  const admin = { username: 'alice', password: randomBytes(12).toString('base64url') };
  const config = loadConfig({
    REDIS_URL,
    REDIS_PREFIX: prefix,
    DATA_DIR: dataDir,
    WEB_DIR: path.join(ROOT, 'dist', 'web'),
    ADMIN_USERNAME: admin.username,
    ADMIN_PASSWORD: admin.password,
    LOG_LEVEL: 'error',
    ...env,
  });
  const log = createLogger({ service: 'api-test' }, 'error');
  const services = await composeServices(config, 'api', log);
  await waitUntilReady(services.redis, 10_000);
  await ensureFirstUser(services.users, { username: admin.username, password: admin.password, dataDir }, log);
  const vapid = await loadVapidKeys(dataDir, log);
  const app = createApp(services, { log, vapidPublicKey: vapid.publicKey });
  const request = (pathname: string, init?: RequestInit) => Promise.resolve(app.request(`${ORIGIN}${pathname}`, init));
  const login = (username: string, password: string, headers: Record<string, string> = {}) =>
    request('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ username, password }),
    });
  return {
    app,
    services,
    config,
    prefix,
    admin,
    request,
    login,
    async addUser(username, role = 'user') {
      const password = randomBytes(12).toString('base64url');
      await new UserStore(services.redis, services.keys).add(username, password, role);
      const res = await login(username, password);
      if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${await res.text()}`);
      return { password, token: ((await res.json()) as { token: string }).token };
    },
    async close() {
      const redis = services.redis;
      let cursor = '0';
      do {
        const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        cursor = next;
        if (found.length) await redis.del(...found);
      } while (cursor !== '0');
      await services.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** For a test file: an in-process app for its tests. Read `ctx.api` inside tests. */
export function useInProcess(env: Record<string, string> = {}): { api: InProcess } {
  const ctx = {} as { api: InProcess };
  beforeAll(async () => {
    ctx.api = await startInProcess(env);
  });
  afterAll(async () => {
    await ctx.api?.close();
  });
  return ctx;
}
