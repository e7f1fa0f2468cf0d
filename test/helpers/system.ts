/**
 * The real system for a test (server/process/local-system.ts: API and worker processes on the real
 * Redis under a key prefix of their own, a temporary data directory), and what tests check with it.
 */
import { afterAll, beforeAll } from 'vitest';
import { addUserTo, type System, startSystem } from '../../server/process/local-system.ts';
import { login as loginAs } from './api.ts';

export { launch, type Proc, ROOT } from '../../server/process/launcher.ts';
export {
  REDIS_URL,
  type System,
  startSystem,
  storedFiles,
  successesLogged,
} from '../../server/process/local-system.ts';

/**
 * For a test file: starts the system before its tests, logs in as the admin, stops it after.
 * Read `ctx.sys` and `ctx.token` inside tests (they are set by then).
 */
export function useSystem(opts: Parameters<typeof startSystem>[0] = {}): { sys: System; token: string } {
  const ctx = {} as { sys: System; token: string };
  beforeAll(async () => {
    ctx.sys = await startSystem(opts);
    ctx.token = await loginAs(ctx.sys.baseUrl, ctx.sys.admin.username, ctx.sys.admin.password);
  });
  afterAll(async () => {
    await ctx.sys?.stop();
  });
  return ctx;
}

/** Adds a user the way the CLI does (the same store), and logs in: returns the token. */
export async function addUser(sys: System, username: string, role: 'admin' | 'user' = 'user'): Promise<string> {
  return loginAs(sys.baseUrl, username, await addUserTo(sys, username, role));
}
