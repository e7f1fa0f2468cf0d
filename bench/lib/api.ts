/**
 * What the benchmarks do as an API user: the project's own typed client (shared/client), and the
 * licensed test photos as data. Nothing from test/: the benches use what users use.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../server/process/launcher.ts';
import { TwinlensClient } from '../../shared/client/twinlens-client.ts';
import type { Task } from '../../shared/contract.ts';

export const FIXTURES = path.join(ROOT, 'test', 'fixtures');

export function fixture(name: string): Buffer {
  return fs.readFileSync(path.join(FIXTURES, name));
}

export async function login(baseUrl: string, username: string, password: string): Promise<string> {
  return (await new TwinlensClient({ baseUrl }).login(username, password)).token;
}

export function submit(baseUrl: string, token: string, bytes: Uint8Array): Promise<Task> {
  return new TwinlensClient({ baseUrl, token }).upload(bytes, { filename: 'bench.png' });
}

/** Long polls until the task is final. */
export function waitForTask(baseUrl: string, token: string, id: string, timeoutMs = 600_000): Promise<Task> {
  return new TwinlensClient({ baseUrl, token }).waitForTask(id, { timeoutMs });
}
