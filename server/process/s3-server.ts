/**
 * An S3-compatible server of the test's own: s3rver, a Node implementation of the S3 HTTP API
 * (signed requests, buckets, objects, listings). There is no MinIO or Docker here, and Ceph's
 * radosgw needs a whole Ceph cluster, so this is the real S3 server the S3 driver is tested
 * against. It runs in the test process, keeps its objects in a temporary directory, and listens
 * on a port the OS picks (no race between finding a free port and taking it).
 */

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

// s3rver is CommonJS without type declarations: the little used here, typed by hand.
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverClass = new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  configureBuckets: { name: string }[];
}) => S3rverInstance;
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;

export interface OwnS3 {
  /** e.g. http://127.0.0.1:41234 (path-style: the bucket is the first path segment). */
  endpoint: string;
  bucket: string;
  region: string;
  /** s3rver's fixed credentials; it checks request signatures against them. */
  accessKeyId: string;
  secretAccessKey: string;
  /** The STORAGE=s3 environment for the system's processes. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** `address`: where it listens (0.0.0.0 for workers in network namespaces); the endpoint is always loopback. */
export async function startS3(opts: { address?: string } = {}): Promise<OwnS3> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-s3-'));
  const bucket = `twinlens-${randomBytes(4).toString('hex')}`;
  const server = new S3rver({
    address: opts.address ?? '127.0.0.1',
    port: 0,
    directory,
    silent: true,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const creds = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  return {
    endpoint,
    bucket,
    region: 'us-east-1',
    ...creds,
    env: {
      STORAGE: 's3',
      S3_ENDPOINT: endpoint,
      S3_BUCKET: bucket,
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY_ID: creds.accessKeyId,
      S3_SECRET_ACCESS_KEY: creds.secretAccessKey,
      S3_FORCE_PATH_STYLE: 'true',
    },
    async stop() {
      await server.close();
      fs.rmSync(directory, { recursive: true, force: true });
    },
  };
}
