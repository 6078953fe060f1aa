/**
 * Scenarios 6-7: nearest recorded calls among many of one tool (in-process, LLM excluded), and the
 * miss tier over HTTP, which lists those neighbours with its answer.
 */
import { parseArguments } from '../../src/core/canonical.js';
import { NeighborIndex } from '../../src/neighbors/neighbor-index.js';
import { Store } from '../../src/store/store.js';
import { freshCache } from '../lib/cache.js';
import { bodyOf, generatedCall, loadSamples, type SampleCall, writeGeneratedLog } from '../lib/data.js';
import { load } from '../lib/load.js';
import { CLI, dataPath } from '../lib/paths.js';
import { freePort, startChild } from '../lib/procs.js';
import type { Mode, Section } from '../lib/report.js';
import { percentile, thousands } from '../lib/stats.js';

const SERVER = 'tau-bench-airline';
const TOOL = 'search_direct_flight';
/** Variants far past the recorded ones: same tool, arguments never recorded. */
const UNRECORDED = 10_000_000;

export interface OneToolCache {
  db: string;
  pool: SampleCall[];
}

export async function oneToolCache(mode: Mode): Promise<OneToolCache> {
  const pool = loadSamples().filter((call) => call.server === SERVER && call.tool === TOOL);
  const log = writeGeneratedLog(dataPath(`one-tool-${mode.oneToolCalls}.jsonl`), pool, mode.oneToolCalls);
  return { db: await freshCache(dataPath('one-tool.db'), log), pool };
}

export function nearestNeighbors(cache: OneToolCache, mode: Mode): Section {
  const store = Store.open(cache.db, { readonly: true });
  try {
    const index = new NeighborIndex(store);
    const queries = Array.from({ length: mode.queries }, (_, j) => {
      const parsed = parseArguments(generatedCall(cache.pool, UNRECORDED + j * cache.pool.length + j).arguments);
      if (!parsed.ok) throw new Error(parsed.reason);
      return parsed.value;
    });
    const loadStarted = performance.now();
    index.nearest(SERVER, TOOL, queries[0]!, 5);
    const loadMs = performance.now() - loadStarted;
    const times: number[] = [];
    for (const args of queries) {
      const started = performance.now();
      index.nearest(SERVER, TOOL, args, 5);
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    const p99 = percentile(times, 99);
    return {
      title: `6. Nearest neighbours among ${thousands(mode.oneToolCalls)} recorded calls of one tool`,
      figures: [
        { name: 'nearest 5, p50', value: `${percentile(times, 50).toFixed(2)} ms`, target: '' },
        { name: 'nearest 5, p99', value: `${p99.toFixed(2)} ms`, target: '< 2 ms', met: p99 < 2 },
      ],
      details: [
        `\`new NeighborIndex(store).nearest(server, tool, args, 5)\` in-process for ${mode.queries} calls of \`${SERVER}/${TOOL}\` ` +
          `with no exact record; the first call, which loads the tool's recorded arguments, took ${loadMs.toFixed(0)} ms and is not counted.`,
      ],
    };
  } finally {
    store.close();
  }
}

export async function missTier(cache: OneToolCache, mode: Mode): Promise<Section> {
  const port = await freePort();
  const server = await startChild({
    command: process.execPath,
    args: [CLI, 'serve', '--db', cache.db, '--port', String(port), '--log-level', 'warn'],
    port,
    probe: '/readyz',
  });
  try {
    const bodies = Array.from({ length: mode.queries }, (_, j) =>
      JSON.stringify(bodyOf(generatedCall(cache.pool, UNRECORDED + j * cache.pool.length + j + 1))),
    );
    const first = (await (
      await fetch(`${server.url}/v1/call`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[0]! })
    ).json()) as { tier: string; match: { neighbors?: unknown[] } };
    if (first.tier !== 'miss' || !first.match.neighbors?.length)
      throw new Error(`expected a miss with neighbours, got ${JSON.stringify(first).slice(0, 200)}`);
    const result = await load({ url: server.url, path: '/v1/call', sharedBodies: bodies, connections: 1, amount: bodies.length });
    return {
      title: '7. Miss tier with neighbours',
      figures: [
        { name: 'miss with 5 neighbours over HTTP, p50', value: `${result.p50} ms`, target: '' },
        { name: 'miss with 5 neighbours over HTTP, p99', value: `${result.p99} ms`, target: '' },
      ],
      details: [
        `\`POST /v1/call\` for ${thousands(result.requests)} different unrecorded calls of \`${SERVER}/${TOOL}\` on the cache of scenario 6 ` +
          `(fuzzy tier off, so each is a \`fuzzy_disabled\` miss listing 5 neighbours), one connection, ${result.errors} errors, after one ` +
          "unmeasured call that loads the neighbour index. Latencies are autocannon's, in whole milliseconds.",
      ],
    };
  } finally {
    await server.stop();
  }
}
