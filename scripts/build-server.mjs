// `npm run build:server`: compiles server/ and shared/ to dist/ (tsconfig.build.json), then copies
// the files the compiled code reads beside it: the Lua scripts.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
fs.rmSync(path.join(root, 'dist', 'server'), { recursive: true, force: true });
fs.rmSync(path.join(root, 'dist', 'shared'), { recursive: true, force: true });
execFileSync(
  process.execPath,
  [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
let copied = 0;
for (const entry of fs.readdirSync(path.join(root, 'server'), { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.lua')) continue;
  const from = path.join(entry.parentPath, entry.name);
  const to = path.join(root, 'dist', 'server', path.relative(path.join(root, 'server'), from));
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
  copied++;
}
console.log(`build:server: dist/server and dist/shared compiled, ${copied} Lua scripts copied`);
