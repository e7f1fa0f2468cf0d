/**
 * Every way Twinlens starts a process gives node the same V8 flags: the launcher (npm start, the tests,
 * the benchmarks, the CLI), the Dockerfile's command and docker-compose.yaml's.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { entryCommand, ROOT, type Role, V8_FLAGS } from '../../server/process/launcher.ts';

/** Each exec-form `node … dist/server/<role>.js` command in a file, as its argument list. */
function nodeCommands(file: string): string[][] {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  return [...text.matchAll(/^\s*(?:CMD|command:)\s*(\[.*\])\s*$/gm)]
    .map((m) => JSON.parse(m[1] as string) as string[])
    .filter((argv) => argv[0] === 'node' && argv.some((a) => a.startsWith('dist/server/')));
}

it.each(['Dockerfile', 'docker-compose.yaml'])('%s: every node command carries the launcher’s V8 flags', (file) => {
  const commands = nodeCommands(file);
  expect(commands.length).toBeGreaterThan(0);
  for (const argv of commands) {
    const script = argv.findIndex((a) => a.startsWith('dist/server/'));
    expect(argv.slice(1, script)).toEqual(V8_FLAGS);
  }
});

it.each<Role>(['api', 'worker', 'cli'])('the launcher starts %s with them, before any flag of the caller', (role) => {
  const { args } = entryCommand(role, { TWINLENS_RUN: 'source', TWINLENS_NODE_ARGS: '--cpu-prof' });
  expect(args.slice(0, V8_FLAGS.length + 1)).toEqual([...V8_FLAGS, '--cpu-prof']);
});
