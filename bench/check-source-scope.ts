/**
 * Development check of the labels the exact tier gives (`npm run check:source-scope`), on the
 * real datasets and on a generated log of 64-bit ids, everything over HTTP on 127.0.0.1:
 *
 * - own-observation replay: every recorded call with a trajectory id is replayed with its own
 *   trajectory as `source_trajectory_id`; counts answers chosen by the source trajectory and
 *   answers equal to that trajectory's (first) observation, against the same replay without it;
 * - digits: every recorded output must come back in the HTTP answer as the exact text stored,
 *   and a generated log of 64-bit ids (in arguments and outputs) must replay digit for digit;
 * - collisions: the keys of 100,000 random 64-bit ids and the two listing ids of the issue.
 *
 *   node dist/bench/check-source-scope.js [DATASET.jsonl ...] [--ids 20000]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildApp } from '../src/app.js';
import { callKey, canonicalJson, parseArguments } from '../src/core/canonical.js';
import { table } from '../src/core/format.js';
import { createMetrics } from '../src/core/metrics.js';
import { ingest } from '../src/ingest/ingest.js';
import { Simulator } from '../src/simulator/simulator.js';
import { Store } from '../src/store/store.js';
import { SAMPLES } from './lib/paths.js';

interface Figures {
  dataset: string;
  calls: number;
  chosenBySource: number;
  ownWithSource: number;
  ownWithout: number;
  /** Calls on keys whose recordings disagree, and how many of them get their trajectory's observation. */
  disagreeing: number;
  disagreeingOwnWithSource: number;
  disagreeingOwnWithout: number;
  outputsVerbatim: number;
}

async function served(file: string, run: (url: string, store: Store) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'toolsim-scope-'));
  const store = Store.open(join(dir, 'cache.db'));
  try {
    await ingest({ store, inputs: [file] });
    const metrics = createMetrics({ cacheCalls: () => 0, processMetrics: false });
    const simulator = new Simulator({ store, metrics });
    const app = await buildApp({ simulator: () => simulator, metrics });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      await run(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, store);
    } finally {
      await app.close();
    }
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Posts calls in batches of 500 and returns each result's raw JSON text (outputs as the server wrote them). */
async function answers(url: string, calls: string[]): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < calls.length; i += 500) {
    const body = `{"calls":[${calls.slice(i, i + 500).join(',')}]}`;
    const response = await fetch(`${url}/v1/calls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const text = await response.text();
    // Split the results without parsing them (parsing would round the numbers being checked).
    const inner = text.slice('{"results":['.length, -2);
    let depth = 0;
    let start = 0;
    let inString = false;
    for (let j = 0; j < inner.length; j++) {
      const c = inner[j];
      if (inString) {
        if (c === '\\') j++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') depth--;
      else if (c === ',' && depth === 0) {
        out.push(inner.slice(start, j));
        start = j + 1;
      }
    }
    out.push(inner.slice(start));
  }
  return out;
}

async function checkDataset(file: string): Promise<Figures> {
  const figures: Figures = {
    dataset: file.split('/').at(-2) ?? file,
    calls: 0,
    chosenBySource: 0,
    ownWithSource: 0,
    ownWithout: 0,
    disagreeing: 0,
    disagreeingOwnWithSource: 0,
    disagreeingOwnWithout: 0,
    outputsVerbatim: 0,
  };
  await served(file, async (url, store) => {
    const recorded = [...store.recordedCalls()].filter((c) => c.trajectoryId !== null);
    const own = new Map<string, string>();
    const outputsOfKey = new Map<string, Set<string>>();
    for (const c of recorded) {
      const id = `${c.trajectoryId}\0${c.key}`;
      if (!own.has(id)) own.set(id, c.outputJson);
      let set = outputsOfKey.get(c.key);
      if (!set) outputsOfKey.set(c.key, (set = new Set()));
      set.add(c.outputJson);
    }
    // Arguments travel as their canonical JSON string, so no number is rounded on the way.
    const body = (c: (typeof recorded)[number], source: boolean): string =>
      JSON.stringify({
        server: c.server,
        tool: c.tool,
        arguments: c.arguments,
        ...(source ? { source_trajectory_id: c.trajectoryId } : {}),
      });
    const withSource = await answers(
      url,
      recorded.map((c) => body(c, true)),
    );
    const without = await answers(
      url,
      recorded.map((c) => body(c, false)),
    );
    recorded.forEach((c, i) => {
      figures.calls++;
      const expected = own.get(`${c.trajectoryId}\0${c.key}`)!;
      const a = withSource[i]!;
      const b = without[i]!;
      const disagree = outputsOfKey.get(c.key)!.size > 1;
      if (a.includes('"chosen_by":"source_trajectory"')) figures.chosenBySource++;
      const hasOwn = (answer: string): boolean => answer.startsWith(`{"tier":"exact","output":${expected},"is_error"`);
      if (hasOwn(a)) figures.ownWithSource++;
      if (hasOwn(b)) figures.ownWithout++;
      if (disagree) {
        figures.disagreeing++;
        if (hasOwn(a)) figures.disagreeingOwnWithSource++;
        if (hasOwn(b)) figures.disagreeingOwnWithout++;
      }
      // The policy's answer is one of the key's recorded outputs, as stored, character for character.
      if ([...outputsOfKey.get(c.key)!].some((o) => b.startsWith(`{"tier":"exact","output":${o},"is_error"`))) figures.outputsVerbatim++;
    });
  });
  return figures;
}

/** A log whose arguments and outputs hold 64-bit ids as JSON numbers; the answers must carry every digit. */
async function checkDigits(count: number): Promise<{ calls: number; digitForDigit: number; distinctKeys: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'toolsim-digits-'));
  try {
    const bytes = randomBytes(16 * count);
    const lines: string[] = [];
    const bodies: string[] = [];
    const outputs: string[] = [];
    for (let i = 0; i < count; i++) {
      const id = bytes.readBigUInt64BE(16 * i);
      const other = bytes.readBigUInt64BE(16 * i + 8);
      const output = `{"listing_id":${id},"seller":{"id":${other},"rating":4.50},"price":1.0e2}`;
      outputs.push(output);
      lines.push(`{"server":"shop","tool":"get_listing","arguments":{"listing_id":${id}},"output":${output},"trajectory_id":"t${i}"}`);
      bodies.push(`{"tool":"get_listing","arguments":{"listing_id":${id}}}`);
    }
    const file = join(dir, 'ids.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);
    let digitForDigit = 0;
    const keys = new Set<string>();
    await served(file, async (url) => {
      const results = await answers(url, bodies);
      results.forEach((r, i) => {
        if (r.startsWith(`{"tier":"exact","output":${outputs[i]},"is_error"`)) digitForDigit++;
        keys.add(/"key":"([0-9a-f]{64})"/.exec(r)?.[1] ?? '');
      });
    });
    return { calls: count, digitForDigit, distinctKeys: keys.size };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function collisions(count: number): { ids: number; keys: number } {
  const ids = new Set<bigint>([593322347340602809n, 593322347340602810n]);
  const bytes = randomBytes(8 * count);
  for (let i = 0; i < count; i++) ids.add(bytes.readBigUInt64BE(8 * i));
  const keys = new Set<string>();
  for (const id of ids) {
    const parsed = parseArguments(`{"listing_id": ${id}}`);
    if (!parsed.ok) throw new Error(parsed.reason);
    keys.add(callKey('shop', 'get_listing', canonicalJson(parsed.value)));
  }
  return { ids: ids.size, keys: keys.size };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { ids: { type: 'string', default: '20000' } } });
  const datasets = positionals.length > 0 ? positionals : SAMPLES;
  const rows: Figures[] = [];
  for (const file of datasets) rows.push(await checkDataset(file));
  const pct = (n: number, of: number): string => (of === 0 ? '-' : `${((100 * n) / of).toFixed(1)}%`);
  process.stdout.write(
    `${table(
      [
        'dataset',
        'calls',
        'chosen by source',
        'own obs. (source)',
        'own obs. (policy)',
        'disagreeing-key calls',
        'own (source)',
        'own (policy)',
        'outputs verbatim',
      ],
      rows.map((r) => [
        r.dataset,
        r.calls,
        pct(r.chosenBySource, r.calls),
        pct(r.ownWithSource, r.calls),
        pct(r.ownWithout, r.calls),
        r.disagreeing,
        pct(r.disagreeingOwnWithSource, r.disagreeing),
        pct(r.disagreeingOwnWithout, r.disagreeing),
        pct(r.outputsVerbatim, r.calls),
      ]),
    )}\n`,
  );
  const digits = await checkDigits(Number(values.ids));
  process.stdout.write(
    `64-bit ids over HTTP: ${digits.digitForDigit}/${digits.calls} outputs digit for digit, ${digits.distinctKeys} distinct keys\n`,
  );
  const c = collisions(100_000);
  process.stdout.write(`key collisions among ${c.ids} distinct 64-bit ids: ${c.ids - c.keys}\n`);
  const failed =
    rows.some((r) => r.ownWithSource !== r.calls || r.outputsVerbatim !== r.calls) ||
    digits.digitForDigit !== digits.calls ||
    c.ids !== c.keys;
  process.exitCode = failed ? 1 : 0;
}

await main();
