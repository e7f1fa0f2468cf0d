/**
 * deploy/kubernetes/ checked with what runs here (no cluster, no KEDA): every object against the
 * Kubernetes and KEDA JSON schemas (kubernetes-models, @kubernetes-models/keda), and against the
 * code it drives — the ConfigMap is a configuration the server accepts, the ScaledObject reads the
 * route and the field that count the prioritized backlog, the probes use the ports and paths the
 * processes serve, and the API is not made unready by workers scaled to zero.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../server/config.ts';
import { backlogOf } from '../../server/queue/detect-queue.ts';

const DIR = path.resolve(import.meta.dirname, '../../deploy/kubernetes');

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  [key: string]: unknown;
}

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication,
};

const kustomization = parseAllDocuments(fs.readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8'))[0]?.toJS() as {
  resources: string[];
};
const objects: K8sObject[] = kustomization.resources.flatMap((file) =>
  parseAllDocuments(fs.readFileSync(path.join(DIR, file), 'utf8')).map((d) => {
    if (d.errors.length) throw new Error(`${file}: ${d.errors[0]?.message}`);
    return d.toJS() as K8sObject;
  }),
);
const find = <T = K8sObject>(kind: string, name: string) => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o as unknown as T;
};

type Container = {
  command: string[];
  ports?: { name: string; containerPort: number }[];
  readinessProbe?: { httpGet: { path: string; port: string } };
  livenessProbe?: { httpGet: { path: string; port: string } };
};
const containerOf = (name: string) =>
  find<{ spec: { template: { spec: { containers: Container[] } } } }>('Deployment', name).spec.template.spec
    .containers[0] as Container;

describe('deploy/kubernetes', () => {
  it('every file of the kustomization is there and every object passes its schema', () => {
    expect(
      fs
        .readdirSync(DIR)
        .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
        .sort(),
    ).toEqual([...kustomization.resources].sort());
    expect(objects.length).toBeGreaterThanOrEqual(8);
    for (const o of objects) {
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      expect(Model, `${o.apiVersion} ${o.kind}`).toBeDefined();
      expect(
        () => new (Model as new (d: unknown) => { validate(): void })(o).validate(),
        `${o.kind} ${o.metadata.name}`,
      ).not.toThrow();
    }
  });

  it('a broken object is caught (the schema check can fail)', () => {
    const bad = structuredClone(find('Deployment', 'twinlens-worker')) as { spec: { replicas?: unknown } };
    bad.spec.replicas = 'two';
    expect(() => new Deployment(bad as never).validate()).toThrow();
  });

  it('the ConfigMap, with the secret’s keys, is a configuration the server accepts', () => {
    const data = find<{ data: Record<string, string> }>('ConfigMap', 'twinlens-config').data;
    const config = loadConfig({
      ...data,
      ADMIN_PASSWORD: 'x'.repeat(16),
      METRICS_TOKEN: 'y'.repeat(32),
      S3_ACCESS_KEY_ID: 'key',
      S3_SECRET_ACCESS_KEY: 'secret',
    });
    expect(config.REDIS_SENTINELS).toBeDefined();
    expect(config.STORAGE).toBe('s3');
    expect(config.WORKER_METRICS_PORT).toBeGreaterThan(0);
    // The probes' port is the one the worker serves them on.
    const worker = containerOf('twinlens-worker');
    const probes = worker.ports?.find((p) => p.name === worker.readinessProbe?.httpGet.port);
    expect(probes?.containerPort).toBe(config.WORKER_METRICS_PORT);
  });

  it('processes run the built entry points; the API stays ready with no worker; workers probe /readyz and /healthz', () => {
    const api = containerOf('twinlens-api');
    const worker = containerOf('twinlens-worker');
    expect(api.command).toEqual(['node', 'dist/server/api.js']);
    expect(worker.command).toEqual(['node', 'dist/server/worker.js']);
    expect(fs.existsSync(path.resolve(DIR, '../../server/api.ts'))).toBe(true);
    expect(fs.existsSync(path.resolve(DIR, '../../server/worker.ts'))).toBe(true);
    // /readyz wants a worker: an API probed on it would go unready at zero workers, and then take
    // no upload that could start one.
    expect(api.readinessProbe?.httpGet.path).toBe('/healthz');
    expect(worker.readinessProbe?.httpGet.path).toBe('/readyz');
    expect(worker.livenessProbe?.httpGet.path).toBe('/healthz');
  });

  it('KEDA scales the worker Deployment to zero and up on the backlog that counts prioritized jobs', () => {
    const so = find<{
      spec: {
        scaleTargetRef: { name: string };
        minReplicaCount: number;
        triggers: { type: string; metadata: Record<string, string>; authenticationRef: { name: string } }[];
      };
    }>('ScaledObject', 'twinlens-worker');
    expect(so.spec.minReplicaCount).toBe(0);
    expect(find('Deployment', so.spec.scaleTargetRef.name)).toBeDefined();
    const [trigger] = so.spec.triggers;
    expect(trigger?.type).toBe('metrics-api');
    const url = new URL(trigger?.metadata.url ?? '');
    expect(url.pathname).toBe('/metrics/backlog');
    // The Service and port the URL names are the API's.
    expect(url.hostname.split('.')[0]).toBe('twinlens-api');
    const service = find<{ spec: { ports: { port: number }[] } }>('Service', 'twinlens-api');
    expect(service.spec.ports.map((p) => p.port)).toContain(Number(url.port));
    // The field it reads is the sum of waiting, prioritized, delayed and running jobs.
    const figures = backlogOf({ waiting: 7, batchWaiting: 5, active: 2, delayed: 1, completed: 9, failed: 3 });
    expect(figures).toMatchObject({ waiting: 2, prioritized: 5 });
    expect(figures[trigger?.metadata.valueLocation as keyof typeof figures]).toBe(10);
    // It authenticates with METRICS_TOKEN from the secret.
    const auth = find<{ spec: { secretTargetRef: { parameter: string; key: string }[] } }>(
      'TriggerAuthentication',
      trigger?.authenticationRef.name ?? '',
    );
    expect(trigger?.metadata.authMode).toBe('bearer');
    expect(auth.spec.secretTargetRef).toEqual([expect.objectContaining({ parameter: 'token', key: 'METRICS_TOKEN' })]);
  });
});
