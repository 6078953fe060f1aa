/** Test helpers: temp folders that clean up, caches built from log lines, an app on a real cache. */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterEach } from 'vitest';
import { buildApp } from '../src/app.js';
import { createMetrics, type Metrics } from '../src/core/metrics.js';
import { type IngestSummary, ingest } from '../src/ingest/ingest.js';
import { Simulator, type SimulatorOptions } from '../src/simulator/simulator.js';
import { Store } from '../src/store/store.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const TAU_BENCH = join(ROOT, 'cache/samples/tau-bench/calls.jsonl');
/** The tools of the tau-bench sample: their real descriptions and parameter schemas. */
export const TAU_BENCH_TOOLS = join(ROOT, 'cache/samples/tau-bench/tools.jsonl');
export const API_BANK = join(ROOT, 'cache/samples/api-bank/calls.jsonl');

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});
/** Runs `fn` after the current test, whatever its outcome. */
export function onCleanup(fn: () => void | Promise<void>): void {
  cleanups.push(fn);
}

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'toolsim-test-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes records (objects, or raw strings for malformed lines) as a JSONL file. */
export function writeLog(dir: string, name: string, records: readonly (object | string)[]): string {
  const path = join(dir, name);
  writeFileSync(path, `${records.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n')}\n`);
  return path;
}

export interface Cache {
  store: Store;
  path: string;
  summary: IngestSummary;
  problems: string[];
}

/** A cache on disk holding the given log files (or records), open for writing. */
export async function cacheOf(inputs: readonly string[] | readonly (object | string)[], ignoreArgs: string[] = []): Promise<Cache> {
  const dir = tempDir();
  const files = inputs.every((i) => typeof i === 'string' && !i.trimStart().startsWith('{'))
    ? (inputs as string[])
    : [writeLog(dir, 'log.jsonl', inputs)];
  const path = join(dir, 'cache.db');
  const store = Store.open(path);
  onCleanup(() => store.close());
  const problems: string[] = [];
  const summary = await ingest({ store, inputs: files, ignoreArgs, onProblem: (p) => problems.push(p) });
  return { store, path, summary, problems };
}

export interface TestApp {
  app: FastifyInstance;
  simulator: Simulator;
  metrics: Metrics;
}

export async function appOf(store: Store, options: Partial<SimulatorOptions> = {}, maxBatch?: number): Promise<TestApp> {
  const metrics = createMetrics({ cacheCalls: () => simulator.callCount, processMetrics: false });
  const simulator = new Simulator({ store, metrics, ...options });
  const app = await buildApp({ simulator: () => simulator, metrics, ...(maxBatch ? { maxBatch } : {}) });
  onCleanup(() => app.close());
  return { app, simulator, metrics };
}

/** A metric's value from Prometheus text, or 0 when the series is absent. */
export function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

/** What a cache holds, read through the Store: every call in order (as a digest), the catalog, the snapshot id. */
export interface CacheContents {
  integrity: string;
  calls: number;
  callsDigest: string;
  catalog: string;
  snapshot: string;
}

export function cacheContents(db: string): CacheContents {
  const store = Store.open(db, { readonly: true });
  try {
    const hash = createHash('sha256');
    let calls = 0;
    for (const call of store.recordedCalls()) {
      hash.update(`${JSON.stringify(call)}\n`);
      calls++;
    }
    return {
      integrity: store.integrityCheck(),
      calls,
      callsDigest: hash.digest('hex'),
      catalog: JSON.stringify(store.catalog()),
      snapshot: store.snapshotId,
    };
  } finally {
    store.close();
  }
}

/** A free TCP port on 127.0.0.1 (for a child process that must be told its port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
