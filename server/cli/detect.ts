/**
 * `twinlens detect <files or folders…> --server URL`: a folder of photos through a Twinlens
 * server (or `--local`: the same detector in this process, no server), with a progress bar, the
 * results as COCO JSON or CSV, optionally the annotated images.
 *
 * Resumable: a state file beside the output (`<out>.state.json`) records each photo by the
 * SHA-256 of its bytes with the task id chosen for it *before* it is sent; a run that is
 * interrupted and started again sends nothing twice (a photo whose upload may have reached the
 * server is sent again with the same task id, which the server answers with the task it has) and
 * follows the tasks that were not finished.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { TwinlensApiError } from '../../shared/client/twinlens-client.ts';
import { type DetectParams, DetectParamsSchema, type Task } from '../../shared/contract.ts';
import { TwinlensError } from '../../shared/errors.ts';
import { toCoco } from '../../shared/export/coco.ts';
import { toCsv } from '../../shared/export/csv.ts';
import { cleanFileName } from '../../shared/file-name.ts';
import { inputSide } from '../../shared/models/manifest.ts';
import { isFinalStatus, newTask } from '../../shared/task-lifecycle.ts';
import { modelCatalog } from '../compose.ts';
import { loadConfig } from '../config.ts';
import { decodeForModel } from '../images/decode.ts';
import { inspectImage } from '../images/inspect.ts';
import { createLogger } from '../log.ts';
import { type ModelRunner, startModelRunner } from '../model/runner.ts';
import { type Credentials, connect, credentialsFrom } from './credentials.ts';
import { Progress } from './progress.ts';
import { DETECT_USAGE } from './usage.ts';

const IMAGE_EXT = /\.(jpe?g|png|webp)$/i;

interface Entry {
  file: string;
  task_id: string;
  task?: Task;
}
interface State {
  version: 1;
  entries: Record<string, Entry>;
}

export async function runDetect(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      server: { type: 'string' },
      token: { type: 'string' },
      'api-key': { type: 'string' },
      user: { type: 'string' },
      local: { type: 'boolean', default: false },
      out: { type: 'string', default: 'twinlens-results.json' },
      format: { type: 'string' },
      annotated: { type: 'string' },
      concurrency: { type: 'string', default: '4' },
      'min-score': { type: 'string' },
      model: { type: 'string' },
    },
  });
  if (positionals.length === 0 || (!values.server && !values.local)) {
    process.stderr.write(`${DETECT_USAGE}\n`);
    return 2;
  }
  const format = values.format ?? (values.out.toLowerCase().endsWith('.csv') ? 'csv' : 'coco');
  if (format !== 'coco' && format !== 'csv') throw new Error(`--format must be coco or csv, not ${format}`);
  const params = DetectParamsSchema.parse({
    ...(values['min-score'] ? { min_score: Number(values['min-score']) } : {}),
    ...(values.model ? { model: values.model } : {}),
  });
  const files = collect(positionals);
  if (files.length === 0) throw new Error('no JPEG, PNG or WebP files there');
  const concurrency = Math.max(1, Math.min(64, Number(values.concurrency) || 4));

  const statePath = `${values.out}.state.json`;
  const state = readState(statePath);
  const save = () => writeAtomically(statePath, JSON.stringify(state));

  const run = values.local
    ? await localRunner(params)
    : await remoteRunner(values.server as string, credentialsFrom(values), params);
  const progress = new Progress(files.length, process.stderr);
  // Each file's outcome in its own slot, joined to the file by identity: the task must be the one
  // whose id was recorded for this photo's SHA-256 before it was sent, and hold that SHA-256.
  const outcomes: Outcome[] = files.map((f) => ({ ...f }));
  let next = 0;
  let sent = 0;
  let failed = 0;
  try {
    await Promise.all(
      Array.from({ length: values.local ? 1 : concurrency }, async () => {
        for (let i = next++; i < files.length; i = next++) {
          const outcome = outcomes[i] as Outcome;
          const { file } = outcome;
          const bytes = fs.readFileSync(file);
          const sha = createHash('sha256').update(bytes).digest('hex');
          let entry = state.entries[sha];
          if (!entry) {
            entry = { file, task_id: randomUUID() };
            state.entries[sha] = entry;
            save(); // the id is kept before anything is sent
          }
          if (!entry.task || !isFinalStatus(entry.task.status)) {
            try {
              entry.task = await run.detect(bytes, entry, outcome.name, () => {
                sent++;
                save(); // sent: a rerun follows this task instead of sending the photo again
              });
            } catch (err) {
              failed++;
              outcome.error = errorOf(err);
              progress.note(`${outcome.name}: ${outcome.error.word} (${outcome.error.code}): ${outcome.error.message}`);
              progress.tick();
              continue;
            }
            save();
          }
          const mismatch = identityMismatch(entry.task, entry.task_id, sha);
          if (mismatch) {
            failed++;
            outcome.error = { word: 'failed', code: 'identity_mismatch', message: mismatch };
            progress.note(`${outcome.name}: ${mismatch}`);
            progress.tick();
            continue;
          }
          // The file's own name on its own task (a copy: two files with the same bytes share a task).
          outcome.task = { ...entry.task, file_name: outcome.name };
          if (values.annotated && entry.task.status === 'succeeded')
            await run.annotated(entry, bytes, path.join(values.annotated, `${path.parse(outcome.file).name}.jpg`));
          progress.tick();
        }
      }),
    );
  } finally {
    progress.done();
    await run.close();
  }

  const tasks = outcomes.flatMap((o) => (o.task ? [o.task] : []));
  const refused = outcomes.filter((o) => o.error);
  const out = format === 'csv' ? toCsv(tasks) : `${JSON.stringify(toCoco(tasks), null, 1)}\n`;
  writeAtomically(values.out, out);
  const detections = tasks.reduce((n, t) => n + t.detections.length, 0);
  // The refused files by name, with their codes, after the progress lines (they may have scrolled away).
  for (const o of refused)
    process.stderr.write(`${o.error?.word}: ${o.name} (${o.error?.code}): ${o.error?.message}\n`);
  process.stderr.write(
    `${tasks.length} photo(s), ${detections} detection(s) → ${values.out} (${format}); ${sent} sent this run, ${refused.length} failed${failed ? ` (${failed} this run)` : ''}\n`,
  );
  return refused.length === 0 ? 0 : 1;
}

/** One file of the run: its task when it has one, else why not. */
interface Outcome {
  file: string;
  /** As written in the results and sent to the server (cleaned as the server cleans it): see `collect`. */
  name: string;
  task?: Task;
  /** `refused`: the server said no to the photo (4xx); `failed`: anything else. */
  error?: { word: 'refused' | 'failed'; code: string; message: string };
}

function errorOf(err: unknown): NonNullable<Outcome['error']> {
  if (err instanceof TwinlensApiError || err instanceof TwinlensError) {
    const word = err.status >= 400 && err.status < 500 ? 'refused' : 'failed';
    return { word, code: err.code, message: err.message };
  }
  return { word: 'failed', code: 'error', message: (err as Error).message };
}

/** Why a task is not this photo's (never expected; checked so that a result is never put under another name). */
function identityMismatch(task: Task, taskId: string, sha256: string): string | null {
  if (task.task_id !== taskId) return `the server answered with task ${task.task_id}, not ${taskId}`;
  if (task.image.sha256 !== sha256) return `task ${taskId} holds another photo (SHA-256 ${task.image.sha256})`;
  return null;
}

interface Runner {
  /** `name`: the file's name as the results give it (sent to the server with the photo). */
  detect(bytes: Buffer, entry: Entry, name: string, onSent: () => void): Promise<Task>;
  /** Writes the photo with its boxes drawn to `file` (named after the photo's own file). */
  annotated(entry: Entry, bytes: Buffer, file: string): Promise<void>;
  close(): Promise<void>;
}

async function remoteRunner(server: string, creds: Credentials, params: DetectParams): Promise<Runner> {
  const client = await connect(server, creds, async (c, user) => {
    if (!user || !process.stdin.isTTY)
      throw new Error(
        'a token is needed: an API key (TWINLENS_API_KEY or --api-key), --token, TWINLENS_TOKEN, or --user on a terminal',
      );
    await c.login(user, await promptPassword(`password for ${user}: `));
  });
  return {
    async detect(bytes, entry, filename, onSent) {
      for (;;) {
        try {
          if (!entry.task) {
            entry.task = await client.upload(bytes, { taskId: entry.task_id, params, filename });
            onSent();
          }
          return await client.waitForTask(entry.task_id, { timeoutMs: 30 * 60_000 });
        } catch (err) {
          // The server busy or away for a moment: as it asks, then again.
          if (err instanceof TwinlensApiError && (err.status === 429 || err.status === 503 || err.status === 0)) {
            await new Promise((r) => setTimeout(r, 1000 * (err.retryAfter ?? 2)));
            continue;
          }
          if (err instanceof TwinlensApiError && err.status === 404 && entry.task) {
            entry.task = undefined; // gone from the server (expired or deleted): send it again
            entry.task_id = randomUUID();
            continue;
          }
          throw err;
        }
      }
    },
    async annotated(entry, _bytes, file) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const jpeg = await client.annotated(entry.task_id);
      fs.writeFileSync(file, jpeg);
    },
    async close() {},
  };
}

/** The worker's own path, in this process: inspect, decode once, the model thread. */
async function localRunner(params: DetectParams): Promise<Runner> {
  const config = loadConfig();
  const log = createLogger({ service: 'cli' }, 'warn');
  const installed = await modelCatalog(config).get(params.model);
  if (!installed?.ready) {
    throw new Error(
      installed
        ? `model ${params.model} is not installed here: ${installed.problem}`
        : `no model ${params.model} here (twinlens models list)`,
    );
  }
  const ref = { manifest: installed.manifest, dir: installed.dir };
  const model: ModelRunner = await startModelRunner({ ...config, MODEL: params.model }, log, Promise.resolve(ref));
  const limits = { maxPixels: config.MAX_IMAGE_PIXELS, minSide: config.MIN_IMAGE_SIDE };
  return {
    async detect(bytes, entry, name) {
      const started = new Date();
      const info = await inspectImage(bytes, limits);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const task = newTask({
        id: entry.task_id,
        source: 'device',
        image: { width: info.width, height: info.height, sha256, mime: info.mime },
        params,
        now: started,
        fileName: name,
      });
      const side = inputSide(ref.manifest.input);
      const decoded = await decodeForModel(bytes, side, config.MAX_IMAGE_PIXELS, task.params.tiling);
      const r = await model.detect(ref, decoded.pixels, decoded.original, task.params);
      const finished = new Date();
      return {
        ...task,
        status: 'succeeded',
        started_at: started.toISOString(),
        finished_at: finished.toISOString(),
        model: r.info,
        detections: r.detections,
        timings: {
          queue_ms: 0,
          inference_ms: Math.round(r.inferenceMs * 10) / 10,
          total_ms: finished.getTime() - started.getTime(),
          tiles: r.tiles,
          tile_ms: r.tileMs === null ? null : Math.round(r.tileMs * 10) / 10,
        },
      };
    },
    async annotated(entry, bytes, file) {
      const { annotate } = await import('../images/annotate.ts');
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const jpeg = await annotate(bytes, entry.task?.detections ?? [], config.MAX_IMAGE_PIXELS);
      fs.writeFileSync(file, jpeg);
    },
    close: () => model.close(),
  };
}

/**
 * The photos named, folders walked (sorted, so runs list them in the same order), each with its
 * name in the results: its path from the folder given, that folder's name first
 * (`photos/trip/IMG_1.jpg` for `~/photos`), or a file's own name; the same wherever it is run from.
 */
function collect(paths: string[]): { file: string; name: string }[] {
  const out: { file: string; name: string }[] = [];
  const walk = (p: string, root: string) => {
    const st = fs.statSync(p);
    if (st.isDirectory()) {
      for (const name of fs.readdirSync(p).sort()) if (!name.startsWith('.')) walk(path.join(p, name), root);
    } else if (IMAGE_EXT.test(p)) {
      const name = path.relative(root, p).split(path.sep).join('/');
      out.push({ file: p, name: cleanFileName(name) ?? path.basename(p) });
    }
  };
  for (const p of paths) walk(p, path.dirname(path.resolve(p)));
  return out;
}

function readState(file: string): State {
  try {
    const s = JSON.parse(fs.readFileSync(file, 'utf8')) as State;
    if (s.version === 1 && s.entries) return s;
  } catch {
    // none yet, or unreadable: start afresh
  }
  return { version: 1, entries: {} };
}

function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

async function promptPassword(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  // Echo nothing of what is typed.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
    if (s.includes(question)) process.stderr.write(question);
  };
  try {
    return await rl.question(question);
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}
