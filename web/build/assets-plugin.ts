/**
 * Serves and emits the files the browser needs, so none are copied into the repository: the
 * built-in models (/models/<id>/<version>/, from dist/models where `npm run build:models` placed
 * them) and TensorFlow.js's WebAssembly binaries (/tfjs/<version>/, from node_modules). Versioned
 * paths: they never change under one URL, so they are cached for good. In development they are
 * served from there; in a build they are emitted into dist/web (the service worker precaches the
 * default model and the wasm, and keeps the other models per version when first used).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Plugin } from 'vite';
import { BUILTIN_MODELS, modelUrlPath } from '../../shared/models/builtin.ts';
import { APP_ISOLATION_HEADERS } from '../../shared/web-headers.ts';
import { WEB_BUILTINS } from '../src/detection/models.ts';
import { threadScripts } from './wasm-threads-plugin.ts';

const require = createRequire(import.meta.url);
const modelsDir = path.resolve(import.meta.dirname, '..', '..', 'dist', 'models');

function wasmDir(): string {
  return path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '..', 'dist');
}

/** The installed TensorFlow.js wasm backend's version: the worker asks for /tfjs/<version_wasm>/. */
function wasmVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(wasmDir(), '..', 'package.json'), 'utf8')) as { version: string })
    .version;
}

/** URL path → file on disk. */
export function browserAssets(): Map<string, string> {
  const files = new Map<string, string>();
  for (const m of BUILTIN_MODELS.filter((b) => WEB_BUILTINS.includes(b.id))) {
    const dir = path.join(modelsDir, m.id);
    if (!fs.existsSync(path.join(dir, m.model)))
      throw new Error(`${dir} has no ${m.model}: run npm run build:models first`);
    for (const f of m.files) files.set(`${modelUrlPath(m).replace(/^\//, '')}${f.path}`, path.join(dir, f.path));
  }
  for (const name of fs.readdirSync(wasmDir()).filter((f) => f.endsWith('.wasm'))) {
    files.set(`tfjs/${wasmVersion()}/${name}`, path.join(wasmDir(), name));
  }
  return files;
}

/** URL path → contents: the scripts the wasm backend's threads run (see wasm-threads-plugin.ts). */
export function generatedAssets(): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, text] of threadScripts()) out.set(`tfjs/${wasmVersion()}/${name}`, text);
  return out;
}

export function assetsPlugin(): Plugin {
  const files = browserAssets();
  const generated = generatedAssets();
  return {
    name: 'twinlens-browser-assets',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const name = (req.url ?? '').split('?')[0]?.replace(/^\//, '') ?? '';
        // The same isolation headers as every file of the app (vite.config.ts sets them on its own).
        const text = generated.get(name);
        if (text !== undefined) {
          for (const [h, v] of Object.entries(APP_ISOLATION_HEADERS)) res.setHeader(h, v);
          res.setHeader('Content-Type', 'text/javascript');
          res.end(text);
          return;
        }
        const file = files.get(name);
        if (!file) return next();
        for (const [h, v] of Object.entries(APP_ISOLATION_HEADERS)) res.setHeader(h, v);
        res.setHeader(
          'Content-Type',
          file.endsWith('.wasm')
            ? 'application/wasm'
            : file.endsWith('.json')
              ? 'application/json'
              : 'application/octet-stream',
        );
        fs.createReadStream(file).pipe(res);
      });
    },
    generateBundle() {
      for (const [fileName, file] of files) {
        this.emitFile({ type: 'asset', fileName, source: fs.readFileSync(file) });
      }
      for (const [fileName, source] of generated) this.emitFile({ type: 'asset', fileName, source });
    },
  };
}
