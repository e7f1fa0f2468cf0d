/**
 * A model of the catalog as a Detector in this process, for the benchmarks, the CLI's tools and the
 * tests (a worker loads its models in its model thread instead). The backend must be set first.
 */
import path from 'node:path';
import { Detector } from '../../shared/detector/detector.ts';
import { ModelCatalog } from '../models/catalog.ts';
import { ROOT } from '../process/launcher.ts';
import { fileModelHandler } from './files.ts';

export async function loadInstalledModel(id: string, modelsDir = path.join(ROOT, 'data', 'models')): Promise<Detector> {
  const catalog = new ModelCatalog({ builtinDir: path.join(ROOT, 'dist', 'models'), modelsDir });
  const m = await catalog.get(id);
  if (!m?.ready) throw new Error(m ? `${id}: ${m.problem} (npm run build:models)` : `no model ${id}`);
  const detector = await Detector.load(m.manifest, fileModelHandler(m.dir, m.manifest));
  await detector.warmUp();
  return detector;
}
