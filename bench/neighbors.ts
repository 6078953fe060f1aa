/**
 * Neighbour retrieval at scale: N distinct synthetic calls of one tool, grown from that tool's
 * recorded calls in a dataset by changing argument values (bench/mutate.ts), then timed lookups of
 * near calls (one value changed) through the inverted index. Reports build time, p50/p99/max per
 * lookup and the top-1 rate at that size. The LLM is not involved.
 *
 *   node dist/bench/neighbors.js [--calls 100000] [--queries 2000] [--tool NAME] [--dataset FILE] [--json]
 *
 * `benchNeighbors(opts)` is exported for bench/run.ts.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { callKey, canonicalJson, parseArguments } from '../src/core/canonical.js';
import { table } from '../src/core/format.js';
import type { JsonObject } from '../src/core/types.js';
import { NeighborIndex, type NeighborIndexOptions } from '../src/neighbors/neighbor-index.js';
import type { RecordedArguments } from '../src/store/store.js';
import { mutateArguments, mutateValue, seeded } from './mutate.js';

export interface BenchNeighborsOptions {
  /** Distinct recorded calls of the tool (default 100 000). */
  calls?: number;
  /** Timed lookups (default 2 000). */
  queries?: number;
  /** JSONL dataset the tool's calls are grown from (default the tau-bench sample). */
  dataset?: string;
  /** Tool name in the dataset (default update_reservation_flights). */
  tool?: string;
  seed?: number;
  /** Neighbours asked for per lookup (default 5). */
  k?: number;
  /** Index tuning (defaults: the serving ones). */
  index?: NeighborIndexOptions;
}

export interface BenchNeighborsResult {
  tool: string;
  calls: number;
  queries: number;
  k: number;
  buildMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** CPU time of the process per lookup: what a lookup costs when the machine is shared. */
  cpuP50Ms: number;
  cpuP99Ms: number;
  /** Share of the lookups the source call came first (ties with other near calls count against). */
  top1: number;
  /** Share of sampled lookups whose best similarity equals a full scan's: the index lost nothing. */
  agreement: number;
  node: string;
  cpu: string;
  date: string;
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function benchNeighbors(options: BenchNeighborsOptions = {}): BenchNeighborsResult {
  const calls = options.calls ?? 100_000;
  const queries = options.queries ?? 2_000;
  const k = options.k ?? 5;
  const tool = options.tool ?? 'update_reservation_flights';
  const dataset = options.dataset ?? join(ROOT, 'cache', 'samples', 'tau-bench', 'calls.jsonl');
  const random = seeded(options.seed ?? 42);

  const seeds = recordedArguments(dataset, tool);
  if (seeds.length === 0) throw new Error(`no calls of tool "${tool}" in ${dataset}`);
  // Grow distinct calls: each is a recorded one with one to three values changed.
  const rows: RecordedArguments[] = [];
  const seen = new Set<string>();
  for (let attempt = 0; rows.length < calls && attempt < calls * 20; attempt++) {
    let args = seeds[attempt % seeds.length]!;
    const changes = 1 + Math.floor(random() * 3);
    for (let c = 0; c < changes; c++) args = mutateArguments(args, random)?.arguments ?? args;
    const canonical = canonicalJson(args);
    if (seen.has(canonical)) continue;
    seen.add(canonical);
    rows.push({ key: callKey('bench', tool, canonical), arguments: canonical });
  }

  const index = new NeighborIndex({ argumentsOf: () => rows }, options.index ?? {});
  let started = performance.now();
  index.toolIndex('bench', tool);
  const buildMs = performance.now() - started;

  const times: number[] = [];
  const cpuTimes: number[] = [];
  const asked: { source: RecordedArguments; query: JsonObject; top: number }[] = [];
  let top1 = 0;
  const warmup = Math.min(100, queries);
  for (let q = -warmup; q < queries; q++) {
    const source = rows[Math.floor(random() * rows.length)]!;
    const args = JSON.parse(source.arguments) as JsonObject;
    const name = Object.keys(args)[Math.floor(random() * Object.keys(args).length)];
    const query = name === undefined ? args : { ...args, [name]: mutateValue(args[name]!, random) };
    const cpu = process.cpuUsage();
    started = performance.now();
    const [top] = index.nearest('bench', tool, query, k);
    const elapsed = performance.now() - started;
    const used = process.cpuUsage(cpu);
    if (q < 0) continue;
    times.push(elapsed);
    cpuTimes.push((used.user + used.system) / 1000);
    if (top?.key === source.key) top1++;
    if (q % 10 === 0) asked.push({ source, query, top: top?.similarity ?? 0 });
  }
  // Afterwards, so its garbage does not land in the timings: a full scan, the reference the index is
  // held to. Equal best similarity means the index lost nothing on that lookup.
  const scan = new NeighborIndex({ argumentsOf: () => rows }, { linearBelow: Infinity });
  const agreed = asked.filter((a) => scan.nearest('bench', tool, a.query, 1)[0]?.similarity === a.top).length;
  times.sort((a, b) => a - b);
  cpuTimes.sort((a, b) => a - b);
  const at = (p: number, list = times): number => list[Math.min(list.length - 1, Math.floor(p * list.length))]!;
  return {
    tool,
    calls: rows.length,
    queries,
    k,
    buildMs: round(buildMs),
    p50Ms: round(at(0.5)),
    p99Ms: round(at(0.99)),
    maxMs: round(times[times.length - 1] ?? 0),
    cpuP50Ms: round(at(0.5, cpuTimes)),
    cpuP99Ms: round(at(0.99, cpuTimes)),
    top1: round(top1 / queries),
    agreement: round(asked.length === 0 ? 1 : agreed / asked.length),
    node: process.version,
    cpu: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
    date: new Date().toISOString(),
  };
}

/** The canonical arguments of every call of `tool` in a JSONL dataset. */
function recordedArguments(dataset: string, tool: string): JsonObject[] {
  const out: JsonObject[] = [];
  for (const line of readFileSync(dataset, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const record = JSON.parse(line) as { tool?: unknown; arguments?: unknown; kind?: unknown };
    if (record.tool !== tool || (record.kind !== undefined && record.kind !== 'call')) continue;
    const parsed = parseArguments(record.arguments);
    if (parsed.ok) out.push(parsed.value);
  }
  return out;
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      calls: { type: 'string' },
      queries: { type: 'string' },
      tool: { type: 'string', multiple: true },
      dataset: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const tools = values.tool ?? ['update_reservation_flights', 'get_reservation_details'];
  const results = tools.map((tool) =>
    benchNeighbors({
      tool,
      ...(values.calls ? { calls: Number(values.calls) } : {}),
      ...(values.queries ? { queries: Number(values.queries) } : {}),
      ...(values.dataset ? { dataset: values.dataset } : {}),
    }),
  );
  if (values.json) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    `${table(
      ['tool', 'calls', 'lookups', 'build ms', 'p50 ms', 'p99 ms', 'max ms', 'cpu p50', 'cpu p99', 'top-1', 'same as scan'],
      results.map((r) => [
        r.tool,
        r.calls,
        r.queries,
        r.buildMs,
        r.p50Ms,
        r.p99Ms,
        r.maxMs,
        r.cpuP50Ms,
        r.cpuP99Ms,
        `${(100 * r.top1).toFixed(1)}%`,
        `${(100 * r.agreement).toFixed(1)}%`,
      ]),
    )}\n${results[0]?.date} node ${process.version}, ${results[0]?.cpu}, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}\n`,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
