/** Test helpers: temp folders that clean up, caches built from log lines, an app on a real cache. */
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { createMetrics, type Metrics } from '../src/core/metrics.js';
import { type IngestSummary, ingest } from '../src/ingest/ingest.js';
import { Simulator, type SimulatorOptions } from '../src/simulator/simulator.js';
import { Store } from '../src/store/store.js';
import { onCleanup, tempDir, writeLog } from './support/temp.js';

export { API_BANK, CLI, ROOT, TAU_BENCH, TAU_BENCH_TOOLS } from './support/paths.js';

export { onCleanup, tempDir, writeLog } from './support/temp.js';

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
