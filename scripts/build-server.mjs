// `npm run build:server`: compiles server/ and shared/ to dist/ (tsconfig.build.json), then copies
// the files the compiled code reads beside it: the Lua scripts.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';

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

// The model thread, bundled with TF.js into one file in place of its compiled module. Loaded as
// separate modules, Node's ESM loader read ~3 MB of TF.js CommonJS three times over (format
// detection, the named-exports lexer, the compile): ~0.3 s of each worker's start-up. The banner
// gives the CommonJS parts of the bundle the `require` and `__dirname` they expect.
const banner = [
  "import { createRequire as __twinlensRequire } from 'node:module';",
  "import { fileURLToPath as __twinlensPath } from 'node:url';",
  'const require = __twinlensRequire(import.meta.url);',
  'const __filename = __twinlensPath(import.meta.url);',
  "const __dirname = __twinlensPath(new URL('.', import.meta.url));",
].join('\n');
await esbuild.build({
  entryPoints: [path.join(root, 'server', 'model', 'thread.ts')],
  outfile: path.join(root, 'dist', 'server', 'model', 'thread.js'),
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  banner: { js: banner },
  logLevel: 'warning',
});
console.log(
  `build:server: dist/server and dist/shared compiled, ${copied} Lua scripts copied, the model thread bundled`,
);
