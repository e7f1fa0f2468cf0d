/**
 * A model manifest: one JSON file per model version that says everything both paths need to run a
 * detector — its files (with their SHA-256), its labels, how pixels become its input, how its
 * outputs become boxes, and its defaults. The browser's detection worker and the server's model
 * thread read the same manifest with the same code (shared/detector/), so one photo gets the same
 * boxes on both paths. Plain zod (no TensorFlow.js): the contract re-exports it, so it is in the
 * OpenAPI document, and build tooling can read it.
 *
 * Ideas taken from the systems operators already run: Frigate's `model:` block (width/height, pixel
 * format, tensor layout, dtype, model type), Triton's repository (a folder per model, numbered
 * versions, a labels file), CVAT's label lists.
 */
import { z } from 'zod';

/** Model ids name folders, queues and URL paths: short, lower case, no dots. */
export const MODEL_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,39}$/;
export const MODEL_VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/;
/** A file inside the model's folder: no absolute paths, no `..`, nothing hidden. */
const FILE_PATH_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;

export const ModelIdSchema = z
  .string()
  .regex(MODEL_ID_PATTERN, 'lower-case letters, digits and -, at most 40')
  .meta({ id: 'ModelId', example: 'centernet' });

const pair = z.tuple([z.number().int().min(8).max(4096), z.number().int().min(8).max(4096)]);
const rgb = z.tuple([z.number(), z.number(), z.number()]);

export const ModelFileSchema = z
  .object({
    path: z.string().max(200).regex(FILE_PATH_PATTERN, 'a relative path inside the model folder, without ..'),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'lower-case hex, 64 digits')
      .optional()
      .meta({
        description:
          'Required for models an operator adds (`twinlens models add` refuses a file without one); a built-in manifest whose weights the operator places (coco-ssd) leaves it out',
      }),
    bytes: z.number().int().positive().optional(),
  })
  .meta({ id: 'ModelFile' });
export type ModelFile = z.infer<typeof ModelFileSchema>;

export const ModelInputSchema = z
  .object({
    size: pair.meta({ description: '[width, height] of the model input in pixels' }),
    sizes: z.array(pair).max(8).optional().meta({
      description:
        'Other input sizes the model accepts; each pass uses the one whose aspect ratio is nearest the photo’s',
    }),
    layout: z.enum(['NHWC', 'NCHW']).default('NHWC'),
    dtype: z.enum(['float32', 'int32']).default('float32'),
    range: z
      .tuple([z.number(), z.number()])
      .default([0, 255])
      .meta({ description: 'Pixel values 0–255 are mapped linearly onto this range (e.g. [0, 1])' }),
    mean: rgb.optional().meta({ description: 'Subtracted per channel after `range` (in the model’s colour order)' }),
    std: rgb.optional().meta({ description: 'Divided per channel after `mean`' }),
    color: z.enum(['RGB', 'BGR']).default('RGB'),
    resize: z
      .enum(['stretch', 'letterbox'])
      .default('stretch')
      .meta({ description: '`stretch` to the input size, or `letterbox`: scaled to fit, centred, padded' }),
    pad: z.number().min(0).max(255).default(114).meta({ description: 'Letterbox padding, a pixel value 0–255' }),
  })
  .meta({ id: 'ModelInput' });
export type ModelInput = z.infer<typeof ModelInputSchema>;

const outputName = z.string().min(1).max(200);

/** How a model's outputs become boxes. One pure function per type in shared/detector/decoders/. */
export const ModelDecoderSchema = z
  .discriminatedUnion('type', [
    z.object({
      type: z.literal('centernet'),
      output: outputName.optional().meta({ description: 'Rows of x1, y1, x2, y2, score, class (input pixels)' }),
    }),
    z.object({
      type: z.literal('nanodet'),
      strides: z.array(z.number().int().positive()).min(1).default([8, 16, 32]),
      center_offset: z
        .number()
        .min(0)
        .max(1)
        .default(0.5)
        .meta({ description: 'Where a cell’s centre is, in cells (0.5: the middle)' }),
    }),
    z.object({
      type: z.literal('ssd'),
      boxes_output: outputName.optional(),
      scores_output: outputName.optional(),
      background: z
        .boolean()
        .default(true)
        .meta({ description: 'Score column 0 is the background class (TF Object Detection API models)' }),
    }),
    z.object({
      type: z.literal('yolo'),
      output: outputName.optional(),
      objectness: z
        .boolean()
        .default(false)
        .meta({ description: 'YOLOv5 rows (cx, cy, w, h, objectness, classes…); YOLOv8 has none' }),
    }),
  ])
  .meta({ id: 'ModelDecoder' });
export type ModelDecoder = z.infer<typeof ModelDecoderSchema>;
export const DECODER_TYPES = ['centernet', 'nanodet', 'ssd', 'yolo'] as const;

export const ModelLabelsSchema = z
  .union([z.enum(['coco80', 'coco91']), z.array(z.string().min(1).max(100)).min(1).max(10_000)])
  .meta({
    id: 'ModelLabels',
    description:
      '`coco80`: the 80 COCO classes, class i is the i-th (exports use COCO’s category ids); `coco91`: the model’s class index is COCO’s category id (1–90 with gaps; TF Object Detection API models such as coco-ssd), reported as the same 80 classes; or a list of names, class i is the i-th',
  });
export type ModelLabels = z.infer<typeof ModelLabelsSchema>;

export const ModelManifestSchema = z
  .object({
    id: ModelIdSchema,
    version: z.string().regex(MODEL_VERSION_PATTERN, 'letters, digits, . _ -; at most 40').meta({ example: '1.0.0' }),
    name: z
      .string()
      .min(1)
      .max(100)
      .meta({ description: 'The architecture’s name, reported in a Task’s `model.name`', example: 'nanodet' }),
    title: z.string().min(1).max(200).meta({ description: 'For people (the model picker)' }),
    format: z.literal('tfjs-graph').meta({ description: 'A TensorFlow.js graph model (model.json and weight shards)' }),
    model: z
      .string()
      .max(200)
      .regex(FILE_PATH_PATTERN)
      .default('model.json')
      .meta({ description: 'The graph model’s JSON file, one of `files`' }),
    files: z.array(ModelFileSchema).min(1).max(200),
    labels: ModelLabelsSchema,
    input: ModelInputSchema,
    decoder: ModelDecoderSchema,
    thresholds: z
      .object({
        score: z.number().min(0).max(1).default(0.3),
        iou: z.number().min(0).max(1).default(0.5),
      })
      .default({ score: 0.3, iou: 0.5 })
      .meta({ description: 'Defaults: `score` for a task that gives no min_score; `iou` for suppressing overlaps' }),
    license: z.string().min(1).max(200).meta({ example: 'MIT' }),
    source: z.string().min(1).max(500).meta({ description: 'Where the model comes from (a URL or a package)' }),
    description: z.string().max(2000).optional(),
  })
  .superRefine((m, ctx) => {
    if (!m.files.some((f) => f.path === m.model)) {
      ctx.addIssue({ code: 'custom', path: ['model'], message: `"${m.model}" is not one of the files` });
    }
    const seen = new Set<string>();
    for (const f of m.files) {
      if (seen.has(f.path)) ctx.addIssue({ code: 'custom', path: ['files'], message: `"${f.path}" is listed twice` });
      seen.add(f.path);
    }
    if ((m.input.mean === undefined) !== (m.input.std === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['input'], message: 'give mean and std together' });
    }
    if (m.input.std?.some((s) => s === 0)) {
      ctx.addIssue({ code: 'custom', path: ['input', 'std'], message: 'std must not be 0' });
    }
    if (m.decoder.type === 'centernet' && Array.isArray(m.labels) && m.labels.length > 256) {
      ctx.addIssue({ code: 'custom', path: ['labels'], message: 'a centernet head has at most 256 classes' });
    }
  })
  .meta({ id: 'ModelManifest' });
export type ModelManifest = z.infer<typeof ModelManifestSchema>;
/** What a manifest file may leave out (defaults filled in by the schema). */
export type ModelManifestInput = z.input<typeof ModelManifestSchema>;

/** A refusal's reason in one line: the first problem, with where it is ("decoder.type: …"). */
export function manifestProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'the manifest is not valid';
  const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
  if (issue.path.join('.') === 'decoder.type' || (issue.code === 'invalid_union' && issue.path[0] === 'decoder')) {
    return `decoder.type: unknown decoder; expected one of ${DECODER_TYPES.join(', ')}`;
  }
  return `${where}${issue.message}`;
}

/** The largest side of the model's input: tiling and decode sizes are planned from it. */
export function inputSide(input: Pick<ModelInput, 'size' | 'sizes'>): number {
  return Math.max(...[input.size, ...(input.sizes ?? [])].flat());
}
