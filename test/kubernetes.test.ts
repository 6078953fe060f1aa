/**
 * The Kubernetes manifests (deploy/kubernetes/), checked offline: no cluster runs here. The base
 * and every overlay are rendered by the real `kubectl kustomize`; where kubectl is missing, by a
 * small renderer of our own (resources, labels, strategic-merge patches: all that these files use,
 * and any other field fails the test), which refuses what kustomize refuses for these files (an
 * overlay inside its own base). Every rendered object is validated against the Kubernetes JSON
 * schemas of `kubernetes-models`, then held to what the fleet needs: replicas, security, probes,
 * grace, resources, the memo's Secret, and selectors that really select the pods.
 *
 * kubectl is not a Debian package, so .ci/run installs it only where apt offers one: under CI=true
 * a missing kubectl is a failure there, and a said fallback elsewhere.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ROOT, tempDir } from './helpers.js';

type Obj = Record<string, unknown>;
const KUBERNETES = join(ROOT, 'deploy/kubernetes');
const BASE = join(KUBERNETES, 'base');
const OVERLAYS = readdirSync(join(KUBERNETES, 'overlays')).map((name) => join(KUBERNETES, 'overlays', name));

const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));
/** Whether apt offers a kubectl package here, so that .ci/run installs it. */
const aptOffersKubectl = (): boolean =>
  /Candidate: (?!\(none\))/.test(spawnSync('apt-cache', ['policy', 'kubectl'], { encoding: 'utf8' }).stdout ?? '');
if (!KUBECTL) {
  if (process.env['CI'] === 'true' && aptOffersKubectl())
    throw new Error('kubectl not found although apt offers it: .ci/run installs it (apt-get install kubectl)');
  console.warn("kubectl not found: the manifests are rendered by the test's own renderer (kubectl is not a Debian package)");
}

function kubectlKustomize(dir: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(KUBECTL!, ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The objects `kubectl kustomize DIR` renders (or, without kubectl, our renderer). */
function build(dir: string): Obj[] {
  if (!KUBECTL) return render(dir);
  const result = kubectlKustomize(dir);
  if (result.status !== 0) throw new Error(`kubectl kustomize ${relative(ROOT, dir)} failed: ${result.stderr}`);
  return parseAllDocuments(result.stdout).map((doc) => doc.toJS() as Obj);
}

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
function render(dir: string, visited: readonly string[] = []): Obj[] {
  // kustomize refuses a resource folder that contains a folder already being rendered.
  for (const seen of visited)
    if (seen === resolve(dir) || seen.startsWith(`${resolve(dir)}${sep}`))
      throw new Error(`cycle detected: candidate root ${dir} contains visited root ${seen}`);
  const [k] = loadYaml(join(dir, 'kustomization.yaml'));
  const known = new Set(['apiVersion', 'kind', 'resources', 'labels', 'patches']);
  for (const field of Object.keys(k!))
    if (!known.has(field)) throw new Error(`${dir}: kustomization field ${field} is not rendered by this test`);
  let objects: Obj[] = [];
  for (const resource of (k!['resources'] as string[]) ?? []) {
    const path = join(dir, resource);
    objects.push(...(statSync(path).isDirectory() ? render(path, [...visited, resolve(dir)]) : loadYaml(path)));
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
  it.skipIf(!KUBECTL)('kubectl kustomize renders the base and every overlay', () => {
    expect(OVERLAYS.length).toBeGreaterThan(0);
    for (const dir of [BASE, ...OVERLAYS]) {
      const result = kubectlKustomize(dir);
      expect(result.stderr, relative(ROOT, dir)).toBe('');
      expect(result.status, relative(ROOT, dir)).toBe(0);
      expect(result.stdout).toContain('kind: Deployment');
    }
  });

  it('every overlay sits outside the base (kustomize refuses an overlay inside its own base)', () => {
    for (const dir of OVERLAYS) expect(resolve(dir).startsWith(`${resolve(BASE)}${sep}`), dir).toBe(false);
    // The old layout, an overlay inside the base's folder, fails as kustomize fails it.
    const inside = join(tempDir(), 'base');
    cpSync(BASE, inside, { recursive: true });
    cpSync(join(KUBERNETES, 'overlays/fetch-cache'), join(inside, 'examples/fetch-cache'), { recursive: true });
    const kustomization = join(inside, 'examples/fetch-cache/kustomization.yaml');
    writeFileSync(kustomization, readFileSync(kustomization, 'utf8').replace('../../base', '../..'));
    expect(() => render(join(inside, 'examples/fetch-cache'))).toThrow(/cycle detected/);
    if (KUBECTL) {
      const result = kubectlKustomize(join(inside, 'examples/fetch-cache'));
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(/cycle detected/);
    }
  });

  it.skipIf(!KUBECTL)('our fallback renderer agrees with kubectl kustomize on every folder', () => {
    const byKind = (objects: Obj[]) => [...objects].sort((a, b) => String(a['kind']).localeCompare(String(b['kind'])));
    for (const dir of [BASE, ...OVERLAYS]) expect(byKind(render(dir)), relative(ROOT, dir)).toEqual(byKind(build(dir)));
  });

  it('the base renders to a valid Deployment, Service and PodDisruptionBudget fit for a fleet', () => {
    const objects = build(BASE);
    expect(objects.map((o) => o['kind']).sort()).toEqual(['Deployment', 'PodDisruptionBudget', 'Service']);
    const { pod } = checkFleet(objects);
    expect(pod.initContainers[0]!.command).toEqual(['cp', '/app/cache/toolsim.db', '/cache/toolsim.db']);
    for (const o of objects) expect((o['metadata'] as { labels: Obj }).labels['app.kubernetes.io/part-of']).toBe('toolsim');
  });

  it('the fetch-cache example downloads a versioned cache file and checks its digest instead', () => {
    const objects = build(join(KUBERNETES, 'overlays/fetch-cache'));
    const { pod } = checkFleet(objects);
    const [init] = pod.initContainers;
    expect(init!.image).toMatch(/curl/);
    const env = new Map((init!.env ?? []).map((e) => [e.name, e.value]));
    expect(env.get('CACHE_URL')).toMatch(/^https:\/\//);
    expect(env.get('CACHE_SHA256')).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(init!.command)).toContain('sha256sum -c');
  });

  it('the validator refuses a manifest that breaks the schema', () => {
    const objects = build(BASE);
    const deployment = structuredClone(one(objects, 'Deployment')) as { spec: Obj };
    deployment.spec['replicas'] = 'three';
    expect(() => validate([deployment as Obj])).toThrow(/replicas/);
  });
});
