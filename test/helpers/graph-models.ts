/**
 * Small TF.js graph models the tests write themselves: a model.json (a GraphDef as TF.js stores
 * it) and a weights shard, whose outputs are constants the test chose — plus 0 × the mean of the
 * input, so the graph really takes the input (its shape and dtype are checked by TF.js) and the
 * outputs are exactly the constants. Loaded through the real loading code, decoded by the real
 * decoders: the expected boxes follow from the constants by arithmetic.
 */
import fs from 'node:fs';
import path from 'node:path';
import { sha256 } from '../../server/model/files.ts';
import type { ModelManifestInput } from '../../shared/models/manifest.ts';

export interface ConstOutput {
  name: string;
  shape: number[];
  values: number[];
}

const DT = { float32: 'DT_FLOAT', int32: 'DT_INT32' } as const;
const dims = (shape: number[]) => ({ dim: shape.map((s) => ({ size: String(s) })) });

/** The model.json and weights of a graph whose `outputs` are constants. */
export function constantGraph(opts: {
  inputShape: number[];
  inputDtype?: 'float32' | 'int32';
  outputs: ConstOutput[];
  /** Where the weights file is named in model.json. */
  weightsFile?: string;
}): { json: object; weights: Buffer } {
  const dtype = opts.inputDtype ?? 'float32';
  const nodes: object[] = [
    { name: 'input', op: 'Placeholder', attr: { dtype: { type: DT[dtype] }, shape: { shape: dims(opts.inputShape) } } },
    {
      name: 'axes',
      op: 'Const',
      attr: {
        dtype: { type: 'DT_INT32' },
        value: { tensor: { dtype: 'DT_INT32', tensorShape: dims([opts.inputShape.length]) } },
      },
    },
    {
      name: 'zero',
      op: 'Const',
      attr: { dtype: { type: 'DT_FLOAT' }, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: {} } } },
    },
    ...(dtype === 'int32'
      ? [
          {
            name: 'as_float',
            op: 'Cast',
            input: ['input'],
            attr: { SrcT: { type: 'DT_INT32' }, DstT: { type: 'DT_FLOAT' } },
          },
        ]
      : []),
    {
      name: 'mean',
      op: 'Mean',
      input: [dtype === 'int32' ? 'as_float' : 'input', 'axes'],
      attr: { keep_dims: { b: false }, T: { type: 'DT_FLOAT' }, Tidx: { type: 'DT_INT32' } },
    },
    { name: 'nothing', op: 'Mul', input: ['mean', 'zero'], attr: { T: { type: 'DT_FLOAT' } } },
  ];
  const weights: { name: string; shape: number[]; dtype: string }[] = [
    { name: 'axes', shape: [opts.inputShape.length], dtype: 'int32' },
    { name: 'zero', shape: [], dtype: 'float32' },
  ];
  const data: Buffer[] = [
    Buffer.from(new Int32Array(opts.inputShape.map((_, i) => i)).buffer),
    Buffer.from(new Float32Array([0]).buffer),
  ];
  const outputs: Record<string, object> = {};
  opts.outputs.forEach((o, i) => {
    const c = `const_${i}`;
    nodes.push({
      name: c,
      op: 'Const',
      attr: { dtype: { type: 'DT_FLOAT' }, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dims(o.shape) } } },
    });
    nodes.push({ name: o.name, op: 'AddV2', input: [c, 'nothing'], attr: { T: { type: 'DT_FLOAT' } } });
    weights.push({ name: c, shape: o.shape, dtype: 'float32' });
    data.push(Buffer.from(new Float32Array(o.values).buffer));
    outputs[`${o.name}:0`] = { name: `${o.name}:0`, dtype: 'DT_FLOAT', tensorShape: dims(o.shape) };
  });
  const json = {
    format: 'graph-model',
    generatedBy: 'twinlens tests',
    convertedBy: 'twinlens tests',
    modelTopology: { node: nodes, library: {}, versions: {} },
    signature: {
      inputs: { 'input:0': { name: 'input:0', dtype: DT[dtype], tensorShape: dims(opts.inputShape) } },
      outputs,
    },
    weightsManifest: [{ paths: [opts.weightsFile ?? 'weights.bin'], weights }],
  };
  return { json, weights: Buffer.concat(data) };
}

/** Writes the graph into `dir` (model.json + weights.bin) and a manifest pinning both; returns the manifest. */
export function writeModelFolder(
  dir: string,
  graph: { json: object; weights: Buffer },
  manifest: Omit<ModelManifestInput, 'files' | 'model' | 'format'> & Partial<Pick<ModelManifestInput, 'format'>>,
): ModelManifestInput {
  fs.mkdirSync(dir, { recursive: true });
  const modelJson = Buffer.from(JSON.stringify(graph.json));
  fs.writeFileSync(path.join(dir, 'model.json'), modelJson);
  fs.writeFileSync(path.join(dir, 'weights.bin'), graph.weights);
  const full: ModelManifestInput = {
    format: 'tfjs-graph',
    model: 'model.json',
    files: [
      { path: 'model.json', sha256: sha256(modelJson), bytes: modelJson.length },
      { path: 'weights.bin', sha256: sha256(graph.weights), bytes: graph.weights.length },
    ],
    ...manifest,
  };
  fs.writeFileSync(path.join(dir, 'manifest.json'), `${JSON.stringify(full, null, 2)}\n`);
  return full;
}
