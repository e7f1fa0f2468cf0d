/**
 * Picks the TensorFlow.js backend in Node: the native `tensorflow` one from
 * @tensorflow/tfjs-node when it is installed (an optional dependency: it downloads
 * libtensorflow at install time and is skipped where that fails), else WebAssembly.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';

export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

export async function initBackend(choice: BackendChoice): Promise<string> {
  if (choice === 'auto' || choice === 'tensorflow') {
    try {
      // A variable specifier keeps bundlers and the type checker from requiring the package.
      const native = '@tensorflow/tfjs-node';
      await import(native);
      if (await tf.setBackend('tensorflow')) {
        await tf.ready();
        return tf.getBackend();
      }
    } catch (err) {
      if (choice === 'tensorflow')
        throw new Error(`MODEL_BACKEND=tensorflow but @tensorflow/tfjs-node cannot load: ${err}`);
    }
  }
  if (choice === 'cpu') {
    await import('@tensorflow/tfjs-backend-cpu');
    await tf.setBackend('cpu');
  } else {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // Where its .wasm files are, said outright: the model thread runs as one bundled file
    // (scripts/build-server.mjs), away from the package's own directory.
    const entry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(`${path.dirname(entry)}${path.sep}`);
    await tf.setBackend('wasm');
  }
  await tf.ready();
  return tf.getBackend();
}
