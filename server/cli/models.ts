/**
 * The operator's model commands: `twinlens models list`, `models add <folder | manifest URL>`,
 * `models remove <id>`. Adding runs the checks of server/models/install.ts in this process (the
 * conformance run loads the model here) and enables the model for every API and worker process
 * that reads the same MODELS_DIR, without a restart.
 */
import path from 'node:path';
import { composeServices, modelCatalog } from '../compose.ts';
import type { Config } from '../config.ts';
import { createLogger } from '../log.ts';
import { installModel, ModelRefused } from '../models/install.ts';
import { OutboundClient } from '../net/outbound.ts';
import { ROOT } from '../process/launcher.ts';

export const MODELS_USAGE = `usage:
  twinlens models list
  twinlens models add <folder | manifest URL>   (checked: schema, SHA-256 of every file, a conformance run)
  twinlens models remove <id>`;

export async function runModels(config: Config, argv: string[]): Promise<number> {
  const [cmd, arg] = argv;
  const out = (s: string) => process.stdout.write(`${s}\n`);
  if (cmd === 'list') {
    const catalog = modelCatalog(config);
    for (const m of await catalog.list(0)) {
      const state = m.ready ? 'ready' : `not ready: ${m.problem}`;
      const tags = [m.manifest.id === catalog.defaultModel ? 'default' : '', m.builtin ? 'built-in' : 'added']
        .filter(Boolean)
        .join(', ');
      out(`${m.manifest.id}\t${m.manifest.version}\t${tags}\t${m.manifest.title}\t${state}`);
    }
    return 0;
  }
  if (cmd === 'add' && arg) {
    const outbound = new OutboundClient({
      allowHttp: config.OUTBOUND_ALLOW_HTTP === 'true',
      allowAddresses: config.OUTBOUND_ALLOW_ADDRESSES,
      totalTimeoutMs: 300_000,
      maxResponseBytes: config.MODEL_MAX_BYTES,
    });
    try {
      const r = await installModel(arg, {
        modelsDir: config.MODELS_DIR,
        maxBytes: config.MODEL_MAX_BYTES,
        goldenDir: path.join(ROOT, 'dist', 'models', 'golden'),
        maxPixels: config.MAX_IMAGE_PIXELS,
        outbound,
        say: out,
      });
      const was = r.replaced ? ` (replacing version ${r.replaced})` : '';
      out(
        `added ${r.manifest.id} ${r.manifest.version}${was} in ${r.dir}: tasks may name it now (model=${r.manifest.id})`,
      );
      return 0;
    } catch (err) {
      if (!(err instanceof ModelRefused)) throw err;
      process.stderr.write(`refused: ${err.message}\nnothing was installed\n`);
      return 1;
    }
  }
  if (cmd === 'remove' && arg) {
    const catalog = modelCatalog(config);
    const m = await catalog.get(arg, 0);
    if (!m || m.builtin) {
      process.stderr.write(
        m ? `${arg} is built in; it cannot be removed\n` : `no model ${arg} in ${config.MODELS_DIR}\n`,
      );
      return 1;
    }
    // Its queued tasks would wait for good: they are the operator's to cancel (or let run) first.
    const services = await composeServices(config, 'cli', createLogger({ service: 'cli' }, 'warn'));
    try {
      const c = (await services.queue.countsByModel()).get(arg);
      const pending = (c?.waiting ?? 0) + (c?.active ?? 0) + (c?.delayed ?? 0);
      if (pending > 0) {
        process.stderr.write(`${pending} task(s) wait for ${arg}; cancel them or let them finish first\n`);
        return 1;
      }
    } finally {
      await services.close();
    }
    const { rm, rename } = await import('node:fs/promises');
    const aside = path.join(config.MODELS_DIR, `.removed-${arg}-${Date.now()}`);
    await rename(m.dir, aside);
    await rm(aside, { recursive: true, force: true });
    out(`removed ${arg}`);
    return 0;
  }
  process.stderr.write(`${MODELS_USAGE}\n`);
  return 2;
}
