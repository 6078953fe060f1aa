/**
 * Development check of neighbour quality (`npm run check:neighbors`). For every recorded call of
 * every tool with at least two distinct recorded calls: change one argument value (bench/mutate.ts),
 * look up the nearest recorded calls, and count how often the top neighbour is the call the query
 * came from. Anything else ranked first is an unrelated call. Changes that land on another recorded
 * call are skipped (the exact tier answers those). A change to an opaque id (src/neighbors/similarity.ts)
 * makes a call about another thing, with no nearest recording by design: such queries are counted
 * apart (`id changed`) and left out of the accuracy. Runs both the full scan and the inverted index.
 *
 *   node dist/bench/check-neighbors.js [DATASET.jsonl ...] [--mutations 3] [--target 0.95]
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { canonicalJson } from '../src/core/canonical.js';
import { table } from '../src/core/format.js';
import type { Json, JsonObject } from '../src/core/types.js';
import { ingest } from '../src/ingest/ingest.js';
import { type ArgumentSource, NeighborIndex } from '../src/neighbors/neighbor-index.js';
import { isOpaqueId, isOpaqueNumber } from '../src/neighbors/similarity.js';
import { Store } from '../src/store/store.js';
import { mutateArguments, seeded } from './mutate.js';

export interface CheckResult {
  dataset: string;
  mode: 'scan' | 'index';
  tools: number;
  queries: number;
  top1: number;
  unrelatedFirst: number;
  /** Queries whose source call scores at or above `threshold` (would reach the LLM). */
  aboveThreshold: number;
  skipped: number;
  /** Queries whose change hit an opaque id: not counted in `queries`. */
  idChanged: number;
}

const opaque = (v: Json): boolean => (typeof v === 'string' && isOpaqueId(v)) || (typeof v === 'number' && isOpaqueNumber(v));

/** Does a leaf that differs between the two values hold an opaque id on the recorded side? */
export function changesAnId(recorded: Json, changed: Json): boolean {
  if (recorded === changed) return false;
  if (recorded !== null && typeof recorded === 'object' && changed !== null && typeof changed === 'object') {
    if (Array.isArray(recorded) && Array.isArray(changed))
      return recorded.some((item, i) => i < changed.length && changesAnId(item, changed[i]!));
    if (!Array.isArray(recorded) && !Array.isArray(changed))
      return Object.keys(recorded).some((k) => Object.hasOwn(changed, k) && changesAnId(recorded[k]!, changed[k]!));
    return false;
  }
  return opaque(recorded);
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function defaultDatasets(): string[] {
  const samples = join(ROOT, 'cache', 'samples');
  return readdirSync(samples).map((name) => join(samples, name, 'calls.jsonl'));
}

export async function checkNeighbors(datasets: readonly string[], mutations = 3, threshold = 0.25): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const dataset of datasets) {
    const dir = mkdtempSync(join(tmpdir(), 'toolsim-check-'));
    const store = Store.open(join(dir, 'cache.db'));
    try {
      await ingest({ store, inputs: [dataset] });
      const tools = store.catalog().filter((t) => store.argumentsOf(t.server, t.tool).length >= 2);
      for (const mode of ['scan', 'index'] as const) {
        const index = new NeighborIndex(store as ArgumentSource, { linearBelow: mode === 'scan' ? Infinity : 0 });
        const result: CheckResult = {
          dataset: basename(dirname(dataset)),
          mode,
          tools: tools.length,
          queries: 0,
          top1: 0,
          unrelatedFirst: 0,
          aboveThreshold: 0,
          skipped: 0,
          idChanged: 0,
        };
        for (const { server, tool } of tools) {
          const recorded = store.argumentsOf(server, tool);
          const canonicals = new Set(recorded.map((r) => r.arguments));
          recorded.forEach((source, i) => {
            const random = seeded(1000 * i + 17);
            for (let m = 0; m < mutations; m++) {
              const original = JSON.parse(source.arguments) as JsonObject;
              const changed = mutateArguments(original, random);
              if (!changed || canonicals.has(canonicalJson(changed.arguments))) {
                result.skipped++;
                continue;
              }
              if (changesAnId(original, changed.arguments)) {
                result.idChanged++;
                continue;
              }
              const [top] = index.nearest(server, tool, changed.arguments, 1);
              result.queries++;
              if (top?.key === source.key) result.top1++;
              else result.unrelatedFirst++;
              if (top && top.similarity >= threshold) result.aboveThreshold++;
            }
          });
        }
        results.push(result);
      }
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return results;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { mutations: { type: 'string', default: '3' }, target: { type: 'string', default: '0.95' } },
    allowPositionals: true,
  });
  const results = await checkNeighbors(positionals.length > 0 ? positionals : defaultDatasets(), Number(values.mutations));
  const pct = (n: number, d: number): string => (d === 0 ? '-' : `${((100 * n) / d).toFixed(1)}%`);
  const rows = results.map((r) => [
    r.dataset,
    r.mode,
    r.tools,
    r.queries,
    pct(r.top1, r.queries),
    pct(r.unrelatedFirst, r.queries),
    r.skipped,
    r.idChanged,
  ]);
  let worst = 1;
  for (const mode of ['scan', 'index'] as const) {
    const mine = results.filter((r) => r.mode === mode);
    const queries = mine.reduce((a, r) => a + r.queries, 0);
    const top1 = mine.reduce((a, r) => a + r.top1, 0);
    rows.push([
      'all',
      mode,
      mine.reduce((a, r) => a + r.tools, 0),
      queries,
      pct(top1, queries),
      pct(queries - top1, queries),
      mine.reduce((a, r) => a + r.skipped, 0),
      mine.reduce((a, r) => a + r.idChanged, 0),
    ]);
    worst = Math.min(worst, queries === 0 ? 1 : top1 / queries);
  }
  process.stdout.write(
    `${table(['dataset', 'lookup', 'tools', 'queries', 'top-1 is source', 'unrelated first', 'skipped', 'id changed'], rows)}\n`,
  );
  const target = Number(values.target);
  process.stdout.write(`top-1 accuracy ${(100 * worst).toFixed(1)}% (target ${(100 * target).toFixed(0)}%)\n`);
  if (worst < target) process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
