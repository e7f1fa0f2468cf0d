/**
 * Starts Twinlens processes — the API, a worker, the CLI — for `npm start`, the tests and the
 * benchmarks alike. A process runs its build output (`node dist/server/<role>.js`: what production
 * runs, no loader at run time) when the launcher itself runs from the build or `TWINLENS_RUN=build`
 * asks for it; else its TypeScript source through tsx (development, tests).
 *
 * With `stdio: 'pipe'` its stdout and stderr lines are collected and its JSON log lines can be
 * awaited (`waitFor`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type Role = 'api' | 'worker' | 'cli';

const here = path.dirname(fileURLToPath(import.meta.url));
const fromBuild = import.meta.url.endsWith('.js');
/** The project's root, from dist/server/process or server/process. */
export const ROOT = path.resolve(here, fromBuild ? '../../..' : '../..');

export interface Proc {
  child: ChildProcess;
  /** Its output lines (with `stdio: 'pipe'`). */
  logs: string[];
  /** Resolves with the first parsed log line for which `match` is true. */
  waitFor(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

/** Whether processes run the build output (see the module comment). */
export function runsBuild(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.TWINLENS_RUN === 'build') return true;
  if (env.TWINLENS_RUN === 'source') return false;
  return fromBuild;
}

/** The command and arguments that run a role's entry point. */
export function entryCommand(role: Role, env: NodeJS.ProcessEnv = process.env): { cmd: string; args: string[] } {
  // Node flags that NODE_OPTIONS refuses (`--cpu-prof --cpu-prof-dir=…` to profile a system).
  const nodeArgs = env.TWINLENS_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [];
  if (runsBuild(env)) {
    const built = path.join(ROOT, 'dist', 'server', `${role}.js`);
    if (!fs.existsSync(built)) throw new Error(`${built} is missing: run \`npm run build\` first`);
    return { cmd: process.execPath, args: [...nodeArgs, built] };
  }
  return { cmd: process.execPath, args: [...nodeArgs, '--import', 'tsx', path.join(ROOT, 'server', `${role}.ts`)] };
}

export function launch(
  role: Role,
  opts: { env?: Record<string, string | undefined>; args?: string[]; stdio?: 'pipe' | 'inherit' } = {},
): Proc {
  const env = { ...process.env, ...opts.env };
  const { cmd, args } = entryCommand(role, env);
  return spawnCommand(cmd, [...args, ...(opts.args ?? [])], env, role, opts.stdio ?? 'pipe');
}

/** Any command (e.g. `ip netns exec … node …`), its output lines collected, JSON lines awaitable. */
export function spawnCommand(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  label: string,
  stdio: 'pipe' | 'inherit' = 'pipe',
): Proc {
  const child = spawn(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: stdio === 'pipe' ? ['pipe', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'],
  });
  const logs: string[] = [];
  const waiters: { match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] =
    [];
  const onLine = (line: string) => {
    logs.push(line);
    let parsed: Record<string, unknown> | null = null;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    for (const w of [...waiters]) {
      if (w.match(parsed)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(parsed);
      }
    }
  };
  let buf = '';
  const feed = (chunk: Buffer) => {
    buf += chunk.toString('utf8');
    let i = buf.indexOf('\n');
    while (i >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
      i = buf.indexOf('\n');
    }
  };
  child.stdout?.on('data', feed);
  child.stderr?.on('data', feed);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    logs,
    exited,
    waitFor(match, timeoutMs = 30_000) {
      for (const line of logs) {
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          if (match(parsed)) return Promise.resolve(parsed);
        } catch {}
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting; logs:\n${logs.join('\n')}`)), timeoutMs);
        waiters.push({
          match,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`${label} exited (${code}) before the expected line; logs:\n${logs.join('\n')}`));
        });
      });
    },
  };
}
