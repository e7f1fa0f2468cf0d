/**
 * The detector's model: its name, version, input and files. Plain constants (no TensorFlow.js),
 * so build tooling can read them too.
 */
export const CENTERNET = {
  name: 'centernet-mobilenetv3',
  /** The model files ship in this npm package; bump together with package.json. */
  version: 'human-3.3.6',
  inputSize: 512,
  outputNode: 'tower_0/detections',
  files: { json: 'centernet.json', weights: 'centernet.bin' },
} as const;

/**
 * Where the browser finds the model files (served by the API, emitted by the web build): the
 * version is in the path, so they can be cached for good and a new version is a new URL.
 */
export const MODEL_URL_PATH = `/models/${CENTERNET.version}/`;
