/**
 * Development check of the labels (`npm run check:labels`), on real recorded datasets (folders
 * holding calls.jsonl and tools.jsonl, by default ../shared/datasets/*):
 *
 * - held out: leave a share of the recorded keys out (seeded), ingest the rest with the tool
 *   records, and count how many left-out calls the tier chain would improvise (target >= 97%);
 * - broken calls: change recorded calls the way agents get them wrong, and count how many would be
 *   improvised all the same (target <= 1% of each kind):
 *     rename  one argument name misspelt (user_id -> userId, a letter dropped or doubled);
 *     drop    one argument the schema requires left out (without a tool record: one present in
 *             every recording of the tool);
 *     swap    the arguments of a recorded call of another tool of the server (one whose schema
 *             takes other names).
 *
 * A held-out call whose tool has no recording left (all of them held out) is a miss
 * `no_similar_calls`: counted against the target, and shown apart as `tool unrecorded`.
 * "Would improvise" is `Simulator.explain` answering `fuzzy` with the fuzzy tier on: the decision
 * is made without any LLM request. Never tune to one dataset.
 *
 *   node dist/bench/check-labels.js [DATASET_DIR ...] [--hold-out 0.2] [--seeds 3] [--no-tool-records]
 *
 * `--no-tool-records` leaves tools.jsonl out, as for a log without schemas: the recordings alone
 * then say which names exist and which are required.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FUZZY_OPTIONS, resolveConfig } from '../src/config.js';
import { table } from '../src/core/format.js';
import { createMetrics } from '../src/core/metrics.js';
import type { JsonObject } from '../src/core/types.js';
import { ingest } from '../src/ingest/ingest.js';
import { Simulator } from '../src/simulator/simulator.js';
import { Store } from '../src/store/store.js';
import { createFuzzy } from '../src/tiers/fuzzy/fuzzy-tier.js';
import { type Random, seeded } from './mutate.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Recorded {
  server: string;
  tool: string;
  arguments: JsonObject;
  line: string;
}

interface ToolRecord {
  server: string;
  tool: string;
  properties: string[];
  required: string[];
}

export type Kind = 'held out' | 'rename' | 'drop' | 'swap';

export interface Row {
  dataset: string;
  kind: Kind;
  calls: number;
  improvised: number;
  invalid: number;
  otherMiss: number;
  exact: number;
  /** Improvised calls whose nearest recording scores below 0.25, the former gate. */
  farImprovised: number;
  /** Misses because no recording of the tool is left in the cache (every one was held out). */
  unrecordedTool: number;
  skipped: number;
}

function readJsonl(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function loadDataset(dir: string, withToolRecords: boolean): { calls: Recorded[]; tools: ToolRecord[]; toolLines: string[] } {
  const lines = readFileSync(join(dir, 'calls.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
  const calls = lines.map((line) => {
    const r = JSON.parse(line) as Record<string, unknown>;
    const raw = r['arguments'];
    const args = (typeof raw === 'string' ? JSON.parse(raw) : raw) as JsonObject;
    return { server: (r['server'] as string | undefined) ?? 'default', tool: r['tool'] as string, arguments: args, line };
  });
  const toolsPath = join(dir, 'tools.jsonl');
  const hasTools = withToolRecords && existsSync(toolsPath);
  const toolLines = hasTools
    ? readFileSync(toolsPath, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
    : [];
  const tools = (hasTools ? readJsonl(toolsPath) : []).map((r) => {
    const schema = (r['input_schema'] ?? {}) as { properties?: Record<string, unknown>; required?: string[] };
    return {
      server: (r['server'] as string | undefined) ?? 'default',
      tool: r['tool'] as string,
      properties: Object.keys(schema.properties ?? {}),
      required: schema.required ?? [],
    };
  });
  // A tool without a tool record: what its recordings show stands in for the schema (names used,
  // and those present in every one of several recordings as required).
  const described = new Set(tools.map((t) => id(t.server, t.tool)));
  const seen = new Map<string, { server: string; tool: string; names: Map<string, number>; count: number }>();
  for (const c of calls) {
    if (described.has(id(c.server, c.tool))) continue;
    const entry = seen.get(id(c.server, c.tool)) ?? { server: c.server, tool: c.tool, names: new Map<string, number>(), count: 0 };
    entry.count++;
    for (const name of Object.keys(c.arguments)) entry.names.set(name, (entry.names.get(name) ?? 0) + 1);
    seen.set(id(c.server, c.tool), entry);
  }
  for (const { server, tool, names, count } of seen.values()) {
    const required = count >= 2 ? [...names].filter(([, n]) => n === count).map(([name]) => name) : [];
    tools.push({ server, tool, properties: [...names.keys()], required });
  }
  return { calls, tools, toolLines };
}

const id = (server: string, tool: string): string => JSON.stringify([server, tool]);
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

/** A misspelling of an argument name, as agents write them: camelCase, a letter dropped or doubled. */
export function misspell(name: string, random: Random): string {
  const camel = name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  const choices: string[] = [];
  if (camel !== name) choices.push(camel);
  if (name.length > 2) {
    const at = 1 + Math.floor(random() * (name.length - 2));
    choices.push(name.slice(0, at) + name.slice(at + 1), name.slice(0, at) + name[at] + name.slice(at));
  } else choices.push(`${name}_`);
  return pick(random, choices);
}

export async function checkLabels(dirs: readonly string[], holdOut = 0.2, seeds = 1, withToolRecords = true): Promise<Row[]> {
  const rows: Row[] = [];
  for (const dir of dirs) {
    const dataset = basename(dir);
    const { calls, tools, toolLines } = loadDataset(dir, withToolRecords);
    const schemaOf = new Map(tools.map((t) => [id(t.server, t.tool), t]));
    const totals = new Map<Kind, Row>();
    const row = (kind: Kind): Row => {
      let r = totals.get(kind);
      if (!r) {
        r = { dataset, kind, calls: 0, improvised: 0, invalid: 0, otherMiss: 0, exact: 0, farImprovised: 0, unrecordedTool: 0, skipped: 0 };
        totals.set(kind, r);
      }
      return r;
    };
    for (let seed = 0; seed < seeds; seed++) {
      const random = seeded(7919 * (seed + 1));
      // Group recordings by call (server, tool, arguments); a held-out call leaves with all its recordings.
      const byCall = new Map<string, Recorded[]>();
      for (const call of calls) {
        const key = JSON.stringify([call.server, call.tool, call.arguments]);
        const list = byCall.get(key);
        if (list) list.push(call);
        else byCall.set(key, [call]);
      }
      const out = new Set<string>();
      for (const key of byCall.keys()) if (random() < holdOut) out.add(key);
      const work = mkdtempSync(join(tmpdir(), 'toolsim-labels-'));
      const log = join(work, 'log.jsonl');
      const kept = [...byCall].filter(([key]) => !out.has(key)).flatMap(([, list]) => list.map((c) => c.line));
      writeFileSync(log, `${[...toolLines, ...kept].join('\n')}\n`);
      const store = Store.open(join(work, 'cache.db'));
      const fuzzy = createFuzzy({ ...resolveConfig(FUZZY_OPTIONS, {}, {}), apiKey: 'check-labels', baseUrl: 'http://127.0.0.1:9' });
      try {
        await ingest({ store, inputs: [log] });
        const metrics = createMetrics({ cacheCalls: () => 0, processMetrics: false });
        const simulator = new Simulator({ store, metrics, fuzzy: fuzzy.tier });
        const judge = (kind: Kind, server: string, tool: string, args: JsonObject): void => {
          const r = row(kind);
          const explained = simulator.explain({ server, tool, arguments: args });
          r.calls++;
          if (explained.tier === 'fuzzy') {
            r.improvised++;
            if ((explained.neighbors[0]?.similarity ?? 0) < 0.25) r.farImprovised++;
          } else if (explained.tier === 'exact') r.exact++;
          else if (explained.reason === 'invalid_arguments') r.invalid++;
          else r.otherMiss++;
          if (explained.tier === 'miss' && explained.neighbors.length === 0 && explained.reason === 'no_similar_calls') r.unrecordedTool++;
        };
        for (const key of out) {
          const call = byCall.get(key)![0]!;
          judge('held out', call.server, call.tool, call.arguments);
        }
        // Broken calls, from every distinct recorded call (kept or held out).
        const toolsOfServer = new Map<string, ToolRecord[]>();
        for (const t of tools) toolsOfServer.set(t.server, [...(toolsOfServer.get(t.server) ?? []), t]);
        const recordedNames = new Map<string, Set<string>>();
        const examples = new Map<string, JsonObject[]>();
        for (const list of byCall.values()) {
          const c = list[0]!;
          const names = recordedNames.get(id(c.server, c.tool)) ?? new Set<string>();
          for (const n of Object.keys(c.arguments)) names.add(n);
          recordedNames.set(id(c.server, c.tool), names);
          examples.set(id(c.server, c.tool), [...(examples.get(id(c.server, c.tool)) ?? []), c.arguments]);
        }
        for (const list of byCall.values()) {
          const c = list[0]!;
          const schema = schemaOf.get(id(c.server, c.tool));
          const known = new Set([...(schema?.properties ?? []), ...(recordedNames.get(id(c.server, c.tool)) ?? [])]);
          const names = Object.keys(c.arguments);
          // rename
          if (names.length === 0) row('rename').skipped++;
          else {
            const name = pick(random, names);
            const wrong = misspell(name, random);
            if (known.has(wrong)) row('rename').skipped++;
            else {
              const args: JsonObject = {};
              for (const n of names) args[n === name ? wrong : n] = c.arguments[n]!;
              judge('rename', c.server, c.tool, args);
            }
          }
          // drop
          const droppable = (schema?.required ?? []).filter((n) => Object.hasOwn(c.arguments, n));
          if (droppable.length === 0) row('drop').skipped++;
          else {
            const name = pick(random, droppable);
            const args: JsonObject = { ...c.arguments };
            delete args[name];
            judge('drop', c.server, c.tool, args);
          }
          // swap
          const mine = [...(schema?.properties ?? [])].sort().join('\0');
          const others = (toolsOfServer.get(c.server) ?? []).filter(
            (t) => t.tool !== c.tool && [...t.properties].sort().join('\0') !== mine && examples.has(id(t.server, t.tool)),
          );
          if (others.length === 0) row('swap').skipped++;
          else {
            const other = pick(random, others);
            judge('swap', c.server, c.tool, pick(random, examples.get(id(other.server, other.tool))!));
          }
        }
      } finally {
        fuzzy.close();
        store.close();
        rmSync(work, { recursive: true, force: true });
      }
    }
    rows.push(...totals.values());
  }
  return rows;
}

function defaultDirs(): string[] {
  for (const base of [join(ROOT, '..', 'shared', 'datasets'), join(process.cwd(), '..', 'shared', 'datasets')]) {
    if (existsSync(base))
      return readdirSync(base)
        .map((name) => join(base, name))
        .filter((d) => existsSync(join(d, 'calls.jsonl')));
  }
  throw new Error('no datasets found: pass dataset folders (each with calls.jsonl and tools.jsonl)');
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: {
      'hold-out': { type: 'string', default: '0.2' },
      seeds: { type: 'string', default: '3' },
      'no-tool-records': { type: 'boolean', default: false },
    },
    allowPositionals: true,
  });
  const rows = await checkLabels(
    positionals.length > 0 ? positionals : defaultDirs(),
    Number(values['hold-out']),
    Number(values.seeds),
    !values['no-tool-records'],
  );
  const pct = (n: number, d: number): string => (d === 0 ? '-' : `${((100 * n) / d).toFixed(1)}%`);
  const kinds: Kind[] = ['held out', 'rename', 'drop', 'swap'];
  const all = kinds.map((kind) => {
    const mine = rows.filter((r) => r.kind === kind);
    const sum = (f: (r: Row) => number): number => mine.reduce((a, r) => a + f(r), 0);
    return {
      dataset: 'all',
      kind,
      calls: sum((r) => r.calls),
      improvised: sum((r) => r.improvised),
      invalid: sum((r) => r.invalid),
      otherMiss: sum((r) => r.otherMiss),
      exact: sum((r) => r.exact),
      farImprovised: sum((r) => r.farImprovised),
      unrecordedTool: sum((r) => r.unrecordedTool),
      skipped: sum((r) => r.skipped),
    };
  });
  const lines = [...rows, ...all].map((r) => [
    r.dataset,
    r.kind,
    r.calls,
    pct(r.improvised, r.calls),
    pct(r.invalid, r.calls),
    pct(r.otherMiss, r.calls),
    r.exact,
    r.farImprovised,
    r.unrecordedTool,
    r.skipped,
  ]);
  process.stdout.write(
    `${table(['dataset', 'calls', 'n', 'improvised', 'invalid_arguments', 'other miss', 'exact', 'improvised < 0.25', 'tool unrecorded', 'skipped'], lines)}\n`,
  );
  let ok = true;
  for (const r of rows) {
    const share = r.calls === 0 ? (r.kind === 'held out' ? 1 : 0) : r.improvised / r.calls;
    const pass = r.kind === 'held out' ? share >= 0.97 : share <= 0.01;
    if (!pass) ok = false;
    process.stdout.write(
      `${r.dataset} ${r.kind}: ${pct(r.improvised, r.calls)} improvised (target ${r.kind === 'held out' ? '>= 97%' : '<= 1%'}) ${pass ? 'ok' : 'MISSED'}\n`,
    );
  }
  if (!ok) process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
