/**
 * Reads a model's files from its folder (no network at run time) as TF.js's IOHandler, checking
 * each file the manifest pins against its SHA-256 first: a corrupt or swapped file is refused
 * with its name, never run.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import type { ModelManifest } from '../../shared/models/manifest.ts';

interface ModelJson {
  modelTopology: object;
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
  signature?: object;
  userDefinedMetadata?: Record<string, object>;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

export class ModelFilesError extends Error {
  override name = 'ModelFilesError';
}

/** A file of the model's folder: `rel` must stay inside it. */
export function fileIn(dir: string, rel: string): string {
  const full = path.resolve(dir, rel);
  if (!full.startsWith(path.resolve(dir) + path.sep))
    throw new ModelFilesError(`"${rel}" is outside the model's folder`);
  return full;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The weight shards model.json names (the files the graph model needs besides itself). */
export function weightPaths(json: { weightsManifest?: { paths: string[] }[] }): string[] {
  return (json.weightsManifest ?? []).flatMap((g) => g.paths);
}

/** Reads one file of the model, checked against the manifest's SHA-256 when it pins one. */
async function readChecked(dir: string, manifest: ModelManifest, rel: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(fileIn(dir, rel));
  } catch (err) {
    throw new ModelFilesError(`${manifest.id}: cannot read ${rel}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  const pinned = manifest.files.find((f) => f.path === rel)?.sha256;
  if (pinned && sha256(bytes) !== pinned) {
    throw new ModelFilesError(
      `${manifest.id}: ${rel} does not match its SHA-256 in the manifest (corrupt or replaced)`,
    );
  }
  return bytes;
}

export async function readModelJson(dir: string, manifest: ModelManifest): Promise<ModelJson> {
  const raw = await readChecked(dir, manifest, manifest.model);
  try {
    const json = JSON.parse(raw.toString('utf8')) as ModelJson;
    if (!json.modelTopology || !Array.isArray(json.weightsManifest))
      throw new Error('no modelTopology or weightsManifest');
    return json;
  } catch (err) {
    throw new ModelFilesError(
      `${manifest.id}: ${manifest.model} is not a TF.js graph model: ${(err as Error).message}`,
    );
  }
}

export function fileModelHandler(dir: string, manifest: ModelManifest): tf.io.IOHandler {
  return {
    load: async () => {
      const json = await readModelJson(dir, manifest);
      const weightSpecs: tf.io.WeightsManifestEntry[] = [];
      const buffers: Buffer[] = [];
      for (const group of json.weightsManifest) {
        weightSpecs.push(...group.weights);
        for (const p of group.paths) buffers.push(await readChecked(dir, manifest, p));
      }
      const all = Buffer.concat(buffers);
      return {
        modelTopology: json.modelTopology,
        weightSpecs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        signature: json.signature,
        userDefinedMetadata: json.userDefinedMetadata,
      };
    },
  };
}
