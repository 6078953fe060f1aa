/**
 * Development check of the output guard (`npm run check:shapes`), on real recorded datasets
 * (folders holding calls.jsonl and tools.jsonl, by default ../shared/datasets/*):
 *
 * - held out: leave a share of the recorded keys out (seeded), ingest the rest with the tool
 *   records, learn each tool's output shape as a server does (the neighbour index worker reading the
 *   cache), and count the real answers of the left-out calls that the guard lets through
 *   (target >= 97%);
 * - mutated: the same real answers changed as an improviser gets them wrong, and counted refused
 *   (target >= 95% of each kind):
 *     drop key   one key removed that every kept answer of the tool (same side: success or
 *                error) has at that place;
 *     type       one value replaced by one of a JSON kind that no kept answer had at that place
 *                (places where every kept answer had null are left out: null says nothing of a type);
 *     item key   one key removed from every item of a list, a key every kept item there had.
 *   "Has at that place" is judged here, by paths over the kept answers (through JSON text inside
 *   strings where every kept string at that place holds some), independently of the learnt shape.
 *   An answer with no such place for a kind is skipped for that kind.
 *
 * A held-out call whose tool has no recording left has no shape: its answer passes, and its
 * mutations are skipped (nothing to judge them by). Never tune to one dataset.
 *
 *   node dist/bench/check-shapes.js [DATASET_DIR ...] [--hold-out 0.2] [--seeds 3] [--verbose]
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { table } from '../src/core/format.js';
import type { Json, JsonObject } from '../src/core/types.js';
import { ingest } from '../src/ingest/ingest.js';
import { OutputShapes } from '../src/neighbors/output-shapes.js';
import { readEmbedded } from '../src/shapes/embedded.js';
import { misfits } from '../src/shapes/guard.js';
import { type Kind as JsonKind, kindOf } from '../src/shapes/shape.js';
import { Store } from '../src/store/store.js';
import { type Random, seeded } from './mutate.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Recorded {
  server: string;
  tool: string;
  key: string;
  output: Json;
  isError: boolean;
  line: string;
}

export type Kind = 'held out' | 'drop key' | 'type' | 'item key';
export const KINDS: readonly Kind[] = ['held out', 'drop key', 'type', 'item key'];

export interface Row {
  dataset: string;
  kind: Kind;
  answers: number;
  /** Held out: answers the guard let through; mutated: answers it refused. */
  good: number;
  skipped: number;
}

/** A place in an answer: object keys, list indices, and '#' for "the value this string holds". */
type Step = string | number | '#';

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

/** Path statistics of the kept answers of one tool and side: what was at each abstract place. */
class Oracle {
  readonly kinds = new Map<string, Set<JsonKind>>();
  readonly objects = new Map<string, { n: number; keys: Map<string, number> }>();
  readonly strings = new Map<string, { n: number; held: number }>();

  add(value: Json, path = '$'): void {
    const kind = kindOf(value);
    let kinds = this.kinds.get(path);
    if (!kinds) this.kinds.set(path, (kinds = new Set()));
    kinds.add(kind);
    if (typeof value === 'string') {
      const held = readEmbedded(value);
      const s = this.strings.get(path) ?? { n: 0, held: 0 };
      s.n++;
      if (held !== undefined) s.held++;
      this.strings.set(path, s);
      if (held !== undefined) this.add(held, `${path}#`);
    } else if (Array.isArray(value)) {
      for (const item of value) this.add(item, `${path}[]`);
    } else if (value !== null && typeof value === 'object') {
      const o = this.objects.get(path) ?? { n: 0, keys: new Map<string, number>() };
      o.n++;
      for (const key of Object.keys(value)) o.keys.set(key, (o.keys.get(key) ?? 0) + 1);
      this.objects.set(path, o);
      for (const [key, v] of Object.entries(value)) this.add(v, `${path}.${JSON.stringify(key)}`);
    }
  }

  /** Every kept string at `path` holds an object or a list (JSON text, a Python literal). */
  holdsText(path: string): boolean {
    const s = this.strings.get(path);
    return s !== undefined && s.n > 0 && s.held === s.n;
  }

  required(path: string, key: string): boolean {
    const o = this.objects.get(path);
    return o !== undefined && o.keys.get(key) === o.n;
  }
}

interface Place {
  steps: Step[];
  path: string;
  value: Json;
}

/** Every place of an answer with its abstract path, through strings that hold values where the oracle says they do. */
function places(value: Json, oracle: Oracle, steps: Step[] = [], path = '$', out: Place[] = []): Place[] {
  out.push({ steps, path, value });
  if (typeof value === 'string') {
    if (oracle.holdsText(path)) {
      const held = readEmbedded(value);
      if (held !== undefined) places(held, oracle, [...steps, '#'], `${path}#`, out);
    }
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => {
      places(item, oracle, [...steps, i], `${path}[]`, out);
    });
  } else if (value !== null && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) places(v, oracle, [...steps, key], `${path}.${JSON.stringify(key)}`, out);
  }
  return out;
}

/** `value` with the place at `steps` replaced by what `change` makes of it (strings that held a value are written back as JSON). */
function changed(value: Json, steps: readonly Step[], change: (old: Json) => Json): Json {
  if (steps.length === 0) return change(value);
  const [step, ...rest] = steps;
  if (step === '#') return JSON.stringify(changed(readEmbedded(value as string)!, rest, change));
  if (typeof step === 'number') return (value as Json[]).map((item, i) => (i === step ? changed(item, rest, change) : item));
  const copy: JsonObject = { ...(value as JsonObject) };
  copy[step!] = changed(copy[step!]!, rest, change);
  return copy;
}

const without = (object: Json, key: string): Json => {
  const copy: JsonObject = { ...(object as JsonObject) };
  delete copy[key];
  return copy;
};

const VALUE_OF: Record<Exclude<JsonKind, 'null'>, Json> = { boolean: true, number: 7, string: 'changed', array: [], object: {} };

function mutations(answer: Json, oracle: Oracle, random: Random): Partial<Record<Kind, Json>> {
  const all = places(answer, oracle);
  const out: Partial<Record<Kind, Json>> = {};
  const drops = all.flatMap((p) =>
    p.value !== null && typeof p.value === 'object' && !Array.isArray(p.value)
      ? Object.keys(p.value)
          .filter((key) => oracle.required(p.path, key))
          .map((key) => ({ p, key }))
      : [],
  );
  if (drops.length > 0) {
    const { p, key } = pick(random, drops);
    out['drop key'] = changed(answer, p.steps, (o) => without(o, key));
  }
  const types = all.flatMap((p) => {
    const seen = oracle.kinds.get(p.path);
    if (!seen || (seen.size === 1 && seen.has('null'))) return [];
    const others = (Object.keys(VALUE_OF) as Exclude<JsonKind, 'null'>[]).filter((k) => !seen.has(k));
    return others.length > 0 ? [{ p, kind: pick(random, others) }] : [];
  });
  if (types.length > 0) {
    const { p, kind } = pick(random, types);
    out.type = changed(answer, p.steps, () => VALUE_OF[kind]);
  }
  const lists = all.flatMap((p) => {
    if (!Array.isArray(p.value)) return [];
    const items = p.value.filter((i): i is JsonObject => i !== null && typeof i === 'object' && !Array.isArray(i));
    if (items.length === 0) return [];
    const keys = new Set(items.flatMap((i) => Object.keys(i)));
    return [...keys].filter((key) => oracle.required(`${p.path}[]`, key)).map((key) => ({ p, key }));
  });
  if (lists.length > 0) {
    const { p, key } = pick(random, lists);
    out['item key'] = changed(answer, p.steps, (list) =>
      (list as Json[]).map((item) => (item !== null && typeof item === 'object' && !Array.isArray(item) ? without(item, key) : item)),
    );
  }
  return out;
}

function loadDataset(dir: string): { calls: Recorded[]; toolLines: string[] } {
  const calls = readFileSync(join(dir, 'calls.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const r = JSON.parse(line) as Record<string, unknown>;
      const server = (r['server'] as string | undefined) ?? 'default';
      const tool = r['tool'] as string;
      const raw = r['arguments'];
      const args = (typeof raw === 'string' ? JSON.parse(raw) : raw) as JsonObject;
      return {
        server,
        tool,
        key: JSON.stringify([server, tool, args]),
        output: r['output'] as Json,
        isError: r['is_error'] === true,
        line,
      };
    });
  const toolsPath = join(dir, 'tools.jsonl');
  const toolLines = existsSync(toolsPath)
    ? readFileSync(toolsPath, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
    : [];
  return { calls, toolLines };
}

const id = (server: string, tool: string): string => JSON.stringify([server, tool]);

export interface Failure {
  dataset: string;
  tool: string;
  kind: Kind;
  why: string;
}

export async function checkShapes(dirs: readonly string[], holdOut = 0.2, seeds = 3): Promise<{ rows: Row[]; failures: Failure[] }> {
  const rows: Row[] = [];
  const failures: Failure[] = [];
  for (const dir of dirs) {
    const dataset = basename(dir);
    const { calls, toolLines } = loadDataset(dir);
    const totals = new Map<Kind, Row>(KINDS.map((kind) => [kind, { dataset, kind, answers: 0, good: 0, skipped: 0 }]));
    for (let seed = 0; seed < seeds; seed++) {
      const random = seeded(104_729 * (seed + 1));
      const keys = [...new Set(calls.map((c) => c.key))];
      const out = new Set(keys.filter(() => random() < holdOut));
      const kept = calls.filter((c) => !out.has(c.key));
      const work = mkdtempSync(join(tmpdir(), 'toolsim-shapes-'));
      const log = join(work, 'log.jsonl');
      writeFileSync(log, `${[...toolLines, ...kept.map((c) => c.line)].join('\n')}\n`);
      const store = Store.open(join(work, 'cache.db'));
      try {
        await ingest({ store, inputs: [log] });
        // As a server learns them: in the neighbour index worker, from the cache file.
        const shapes = new OutputShapes(store, store.catalog());
        const oracles = new Map<string, Oracle>();
        for (const c of kept) {
          const o = `${id(c.server, c.tool)}${c.isError}`;
          if (!oracles.has(o)) oracles.set(o, new Oracle());
          oracles.get(o)!.add(c.output);
        }
        for (const c of calls) {
          if (!out.has(c.key)) continue;
          await shapes.ready(c.server, c.tool);
          const guide = shapes.guideOf(c.server, c.tool)!;
          const held = totals.get('held out')!;
          held.answers++;
          const real = misfits(guide, { output: c.output, isError: c.isError });
          if (real.length === 0) held.good++;
          else failures.push({ dataset, tool: c.tool, kind: 'held out', why: real.join('; ') });
          const oracle = oracles.get(`${id(c.server, c.tool)}${c.isError}`);
          const mutated = oracle ? mutations(c.output, oracle, random) : {};
          for (const kind of KINDS.slice(1)) {
            const row = totals.get(kind)!;
            const answer = mutated[kind];
            if (answer === undefined) {
              row.skipped++;
              continue;
            }
            row.answers++;
            if (misfits(guide, { output: answer, isError: c.isError }).length > 0) row.good++;
            else failures.push({ dataset, tool: c.tool, kind, why: JSON.stringify(answer).slice(0, 300) });
          }
        }
      } finally {
        store.close();
        rmSync(work, { recursive: true, force: true });
      }
    }
    rows.push(...totals.values());
  }
  return { rows, failures };
}

function defaultDirs(): string[] {
  for (const base of [
    join(ROOT, '..', 'shared', 'datasets'),
    join(process.cwd(), '..', 'shared', 'datasets'),
    join(ROOT, '..', '..', 'shared', 'datasets'),
  ]) {
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
      verbose: { type: 'boolean', default: false },
    },
    allowPositionals: true,
  });
  const { rows, failures } = await checkShapes(
    positionals.length > 0 ? positionals : defaultDirs(),
    Number(values['hold-out']),
    Number(values.seeds),
  );
  const pct = (n: number, d: number): string => (d === 0 ? '-' : `${((100 * n) / d).toFixed(1)}%`);
  const all = KINDS.map((kind) => {
    const mine = rows.filter((r) => r.kind === kind);
    const sum = (f: (r: Row) => number): number => mine.reduce((a, r) => a + f(r), 0);
    return { dataset: 'all', kind, answers: sum((r) => r.answers), good: sum((r) => r.good), skipped: sum((r) => r.skipped) };
  });
  const lines = [...rows, ...all].map((r) => [r.dataset, r.kind, r.answers, pct(r.good, r.answers), r.skipped]);
  process.stdout.write(`${table(['dataset', 'answers', 'n', 'passed (held out) / refused (mutated)', 'skipped'], lines)}\n`);
  if (values.verbose) for (const f of failures) process.stdout.write(`  ${f.dataset} ${f.tool} ${f.kind}: ${f.why}\n`);
  let ok = true;
  for (const r of [...rows, ...all]) {
    const share = r.answers === 0 ? 1 : r.good / r.answers;
    const target = r.kind === 'held out' ? 0.97 : 0.95;
    const pass = share >= target;
    if (!pass) ok = false;
    process.stdout.write(
      `${r.dataset} ${r.kind}: ${pct(r.good, r.answers)} ${r.kind === 'held out' ? 'passed' : 'refused'} (target >= ${target * 100}%) ${pass ? 'ok' : 'MISSED'}\n`,
    );
  }
  if (!ok) process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
