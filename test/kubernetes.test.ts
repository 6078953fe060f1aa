/**
 * The Kubernetes manifests (deploy/kubernetes/), checked offline: no cluster runs here, and
 * `kubectl kustomize` is not installed, so the kustomization is rendered by hand (resources,
 * labels, strategic-merge patches: all that these files use, and any other field fails the test).
 * Every rendered object is validated against the Kubernetes JSON schemas of `kubernetes-models`,
 * then held to what the fleet needs: replicas, security, probes, grace, resources, the memo's
 * Secret, and selectors that really select the pods.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ROOT } from './helpers.js';

type Obj = Record<string, unknown>;
const BASE = join(ROOT, 'deploy/kubernetes');

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

function loadYaml(path: string): Obj[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]!.message}`);
    return doc.toJS() as Obj;
  });
}

/** `kubectl kustomize DIR` for the features these files use. */
function render(dir: string): Obj[] {
  const [k] = loadYaml(join(dir, 'kustomization.yaml'));
  const known = new Set(['apiVersion', 'kind', 'resources', 'labels', 'patches']);
  for (const field of Object.keys(k!))
    if (!known.has(field)) throw new Error(`${dir}: kustomization field ${field} is not rendered by this test`);
  let objects: Obj[] = [];
  for (const resource of (k!['resources'] as string[]) ?? []) {
    const path = join(dir, resource);
    objects.push(...(statSync(path).isDirectory() ? render(path) : loadYaml(path)));
  }
  for (const { pairs } of (k!['labels'] as { pairs: Record<string, string> }[]) ?? []) {
    for (const o of objects) {
      const metadata = o['metadata'] as Obj;
      metadata['labels'] = { ...(metadata['labels'] as Obj), ...pairs };
    }
  }
  for (const { path } of (k!['patches'] as { path: string }[]) ?? []) {
    for (const patch of loadYaml(join(dir, path))) {
      const name = (patch['metadata'] as Obj)['name'];
      const target = objects.find((o) => o['kind'] === patch['kind'] && (o['metadata'] as Obj)['name'] === name);
      if (!target) throw new Error(`${dir}/${path}: no ${String(patch['kind'])} ${String(name)} to patch`);
      objects = objects.map((o) => (o === target ? (merge(o, patch) as Obj) : o));
    }
  }
  return objects;
}

/** Strategic merge as these files need it: objects merge, lists of named items merge by name, other lists are replaced. */
function merge(base: unknown, patch: unknown): unknown {
  if (Array.isArray(base) && Array.isArray(patch) && patch.every((p) => typeof p === 'object' && p !== null && 'name' in p)) {
    const out = base.map((b) => {
      const p = patch.find((q: Obj) => q['name'] === (b as Obj)['name']);
      return p ? merge(b, p) : b;
    });
    for (const p of patch) if (!base.some((b: Obj) => b['name'] === (p as Obj)['name'])) out.push(p);
    return out;
  }
  if (isObj(base) && isObj(patch)) {
    const out: Obj = { ...base };
    for (const [key, value] of Object.entries(patch)) out[key] = key in base ? merge(base[key], value) : value;
    return out;
  }
  return patch;
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function validate(objects: Obj[]): void {
  for (const o of objects) {
    const model = MODELS[`${String(o['apiVersion'])}/${String(o['kind'])}`];
    if (!model) throw new Error(`no schema for ${String(o['apiVersion'])} ${String(o['kind'])}`);
    new model(o as never).validate();
  }
}

function one<T = Obj>(objects: Obj[], kind: string): T {
  const found = objects.filter((o) => o['kind'] === kind);
  expect(found, kind).toHaveLength(1);
  return found[0] as T;
}

const matches = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

interface Container {
  name: string;
  image: string;
  command?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  ports?: { name: string; containerPort: number }[];
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: Obj;
  livenessProbe?: { httpGet: { path: string; port: string } };
  readinessProbe?: { httpGet: { path: string; port: string } };
  lifecycle?: { preStop: { exec: { command: string[] } } };
  volumeMounts?: { name: string; mountPath: string }[];
}

interface PodSpec {
  terminationGracePeriodSeconds: number;
  securityContext: Obj;
  containers: Container[];
  initContainers: Container[];
  volumes: { name: string }[];
}

function checkFleet(objects: Obj[]): { deployment: Obj; pod: PodSpec; server: Container } {
  validate(objects);
  const deployment = one(objects, 'Deployment') as Obj & {
    spec: { replicas: number; selector: { matchLabels: Record<string, string> }; template: { metadata: Obj; spec: PodSpec } };
  };
  const { spec } = deployment;
  const podLabels = spec.template.metadata['labels'] as Record<string, string>;
  const pod = spec.template.spec;
  expect(spec.replicas).toBeGreaterThanOrEqual(2);
  expect(matches(spec.selector.matchLabels, podLabels)).toBe(true);
  expect(pod.securityContext['runAsNonRoot']).toBe(true);
  expect(pod.securityContext['runAsUser']).toBeGreaterThan(0);

  const server = pod.containers.find((c) => c.name === 'toolsim')!;
  expect(server).toBeDefined();
  for (const c of [...pod.containers, ...pod.initContainers]) {
    expect(c.securityContext['readOnlyRootFilesystem'], c.name).toBe(true);
    expect(c.securityContext['allowPrivilegeEscalation'], c.name).toBe(false);
    for (const part of ['requests', 'limits'] as const) {
      expect(c.resources[part], `${c.name} ${part}`).toHaveProperty('cpu');
      expect(c.resources[part], `${c.name} ${part}`).toHaveProperty('memory');
    }
    for (const mount of c.volumeMounts ?? []) expect(pod.volumes.map((v) => v.name)).toContain(mount.name);
  }
  expect(server.livenessProbe?.httpGet.path).toBe('/healthz');
  expect(server.readinessProbe?.httpGet.path).toBe('/readyz');
  const portNames = (server.ports ?? []).map((p) => p.name);
  expect(portNames).toContain(server.readinessProbe?.httpGet.port);

  // Grace longer than what stopping takes: preStop, then toolsim's drain and its 10 s exit bound.
  const preStop = Number(server.lifecycle?.preStop.exec.command[1] ?? 0);
  expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStop + 0.5 + 10);

  const env = new Map((server.env ?? []).map((e) => [e.name, e]));
  expect(env.get('TOOLSIM_MEMO_URL')?.valueFrom?.secretKeyRef).toMatchObject({ name: expect.any(String), key: expect.any(String) });
  expect(env.get('TOOLSIM_MEMO_URL')?.value).toBeUndefined();
  expect(env.get('TOOLSIM_HOST')?.value).toBe('0.0.0.0');
  // The cache file the server opens is on a volume the init container fills.
  const dbPath = env.get('TOOLSIM_DB')?.value ?? '';
  const mount = (server.volumeMounts ?? []).find((m) => dbPath.startsWith(`${m.mountPath}/`));
  expect(mount, `a volume holding ${dbPath}`).toBeDefined();
  const filler = pod.initContainers.find((c) => (c.volumeMounts ?? []).some((m) => m.name === mount!.name));
  expect(filler, 'an init container filling the cache volume').toBeDefined();
  expect(JSON.stringify(filler!.command)).toContain(dbPath);

  const service = one(objects, 'Service') as { spec: { selector: Record<string, string>; ports: { targetPort: string }[] } };
  expect(matches(service.spec.selector, podLabels)).toBe(true);
  for (const port of service.spec.ports) expect(portNames).toContain(port.targetPort);
  const pdb = one(objects, 'PodDisruptionBudget') as {
    spec: { selector: { matchLabels: Record<string, string> }; maxUnavailable: number };
  };
  expect(matches(pdb.spec.selector.matchLabels, podLabels)).toBe(true);
  expect(pdb.spec.maxUnavailable).toBeLessThan(spec.replicas);
  const annotations = spec.template.metadata['annotations'] as Record<string, string>;
  expect(annotations['prometheus.io/scrape']).toBe('true');
  expect(annotations['prometheus.io/path']).toBe('/metrics');
  expect(Number(annotations['prometheus.io/port'])).toBe((server.ports ?? []).find((p) => p.name === 'http')?.containerPort);
  return { deployment, pod, server };
}

describe('Kubernetes manifests (validated offline; no cluster)', () => {
  it('the base renders to a valid Deployment, Service and PodDisruptionBudget fit for a fleet', () => {
    const objects = render(BASE);
    expect(objects.map((o) => o['kind']).sort()).toEqual(['Deployment', 'PodDisruptionBudget', 'Service']);
    const { pod } = checkFleet(objects);
    expect(pod.initContainers[0]!.command).toEqual(['cp', '/app/cache/toolsim.db', '/cache/toolsim.db']);
    for (const o of objects) expect((o['metadata'] as { labels: Obj }).labels['app.kubernetes.io/part-of']).toBe('toolsim');
  });

  it('the fetch-cache example downloads a versioned cache file and checks its digest instead', () => {
    const objects = render(join(BASE, 'examples/fetch-cache'));
    const { pod } = checkFleet(objects);
    const [init] = pod.initContainers;
    expect(init!.image).toMatch(/curl/);
    const env = new Map((init!.env ?? []).map((e) => [e.name, e.value]));
    expect(env.get('CACHE_URL')).toMatch(/^https:\/\//);
    expect(env.get('CACHE_SHA256')).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(init!.command)).toContain('sha256sum -c');
  });

  it('the validator refuses a manifest that breaks the schema', () => {
    const objects = render(BASE);
    const deployment = structuredClone(one(objects, 'Deployment')) as { spec: Obj };
    deployment.spec['replicas'] = 'three';
    expect(() => validate([deployment as Obj])).toThrow(/replicas/);
  });
});
