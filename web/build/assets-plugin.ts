/**
 * Serves and emits the files the browser needs from node_modules, so none are copied into the
 * repository: the CenterNet model (/models/<version>/) and TensorFlow.js's WebAssembly binaries
 * (/tfjs/<version>/). Versioned paths: they never change under one URL, so they are cached for
 * good. In development they are served from node_modules; in a build they are emitted into
 * dist/web where the service worker precaches them.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Plugin } from 'vite';
import { CENTERNET, MODEL_URL_PATH } from '../../shared/detector/model-files.ts';

const require = createRequire(import.meta.url);

function modelDir(): string {
  return path.join(path.dirname(require.resolve('@vladmandic/human')), '..', 'models');
}

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
  const models = MODEL_URL_PATH.replace(/^\//, '');
  for (const name of [CENTERNET.files.json, CENTERNET.files.weights]) {
    files.set(`${models}${name}`, path.join(modelDir(), name));
  }
  for (const name of fs.readdirSync(wasmDir()).filter((f) => f.endsWith('.wasm'))) {
    files.set(`tfjs/${wasmVersion()}/${name}`, path.join(wasmDir(), name));
  }
  return files;
}

export function assetsPlugin(): Plugin {
  const files = browserAssets();
  return {
    name: 'twinlens-browser-assets',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const file = files.get((req.url ?? '').split('?')[0]?.replace(/^\//, '') ?? '');
        if (!file) return next();
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
    },
  };
}
