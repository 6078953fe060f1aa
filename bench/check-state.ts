/**
 * Fidelity check of state within a rollout (`npm run check:state`), on tau-bench's recorded
 * trajectories, whose conversations write and then read the same orders and reservations. Over
 * HTTP on 127.0.0.1, with the fuzzy tier on and the real SDK talking to a stand-in Messages API
 * (test/support/fake-anthropic.ts) that answers like the nearest recording and records every prompt.
 *
 * - Changed rollouts: each trajectory with a write followed by more calls on the same server is
 *   replayed as a rollout (its own trajectory_id, its source_trajectory_id) with that first write
 *   changed (one argument set to a value another recording of the tool used, so no recording has
 *   the changed call). Counted: the later reads on that server served from recordings (must be 0),
 *   and those whose prompt carries the changed write (must be all that asked the model).
 * - The same rollouts again under new ids: the same answers, and no new LLM request.
 * - Every trajectory as recorded (scoped to its source), and its reads alone: the answers of the
 *   same calls without a trajectory_id, byte for byte, with no LLM request.
 *
 *   node dist/bench/check-state.js [--calls FILE] [--tools FILE] [--json]
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildApp } from '../src/app.js';
import { FUZZY_OPTIONS, resolveConfig } from '../src/config.js';
import { callKey, canonicalJson, normalizeName, parseArguments } from '../src/core/canonical.js';
import { table } from '../src/core/format.js';
import { createMetrics } from '../src/core/metrics.js';
import { ingest } from '../src/ingest/ingest.js';
import { InMemoryRolloutStore } from '../src/rollouts/memory-store.js';
import { Rollouts } from '../src/rollouts/rollouts.js';
import { WriteRule } from '../src/rollouts/write-rule.js';
import { Simulator } from '../src/simulator/simulator.js';
import { Store } from '../src/store/store.js';
import { createFuzzy } from '../src/tiers/fuzzy/fuzzy-tier.js';
import { startFakeAnthropic } from '../test/support/fake-anthropic.js';
import { nearestIsError, nearestOutput, userOf } from './lib/nearest-answer.js';
import { ROOT } from './lib/paths.js';

interface Recorded {
  server: string;
  tool: string;
  arguments: Record<string, unknown>;
  trajectory_id: string;
}

interface Answer {
  tier: 'exact' | 'fuzzy' | 'miss';
  output: unknown;
  reason?: string;
  match: { rollout?: { diverged_since: number; history: number } };
}

interface Step {
  body: Record<string, unknown>;
  /** The answer's JSON text as served. */
  text: string;
  answer: Answer;
  /** Prompts (user parts) of the LLM requests this call made. */
  prompts: string[];
}

const SHARED = '/work/shared/datasets/tau-bench';
const defaultFile = (name: string): string =>
  existsSync(join(SHARED, name)) ? join(SHARED, name) : join(ROOT, 'cache/samples/tau-bench', name);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      calls: { type: 'string', default: defaultFile('calls.jsonl') },
      tools: { type: 'string', default: defaultFile('tools.jsonl') },
      json: { type: 'boolean', default: false },
    },
  });
  const callsFile = values.calls!;
  const toolsFile = values.tools!;
  const records = readFileSync(callsFile, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Recorded & { kind?: string });
  const tools = readFileSync(toolsFile, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { server: string; tool: string; annotations?: unknown });
  // Which tools write: as the server decides it (annotations where the tool records have them, else the name).
  const rule = new WriteRule();
  const annotations = new Map(tools.map((t) => [`${t.server}/${t.tool}`, t.annotations]));
  const writes = (c: Recorded): boolean => rule.classify(c.server, c.tool, annotations.get(`${c.server}/${c.tool}`)).writes;
  const keyOf = (c: { server: string; tool: string; arguments: unknown }): string => {
    const parsed = parseArguments(c.arguments);
    if (!parsed.ok) throw new Error(parsed.reason);
    return callKey(normalizeName(c.server), normalizeName(c.tool), canonicalJson(parsed.value));
  };
  const recordedKeys = new Set(records.map(keyOf));
  const trajectories = new Map<string, Recorded[]>();
  for (const r of records) {
    const list = trajectories.get(r.trajectory_id);
    if (list) list.push(r);
    else trajectories.set(r.trajectory_id, [r]);
  }
  // Values string arguments took in recordings, by tool and by argument name on the server: a
  // changed write uses another value of its own tool's (another reason), else of the same argument
  // of another tool (another order, another reservation).
  const seen = new Map<string, Set<string>>();
  const add = (key: string, value: string): void => {
    const set = seen.get(key) ?? new Set<string>();
    seen.set(key, set);
    set.add(value);
  };
  for (const r of records)
    for (const [name, value] of Object.entries(r.arguments)) {
      if (typeof value !== 'string') continue;
      add(JSON.stringify([r.server, r.tool, name]), value);
      add(JSON.stringify([r.server, name]), value);
    }
  const changedWrite = (w: Recorded): Recorded | undefined => {
    const names = Object.keys(w.arguments).sort();
    const candidates = [
      ...names.map((name) => [name, seen.get(JSON.stringify([w.server, w.tool, name]))] as const),
      ...names.map((name) => [name, seen.get(JSON.stringify([w.server, name]))] as const),
    ];
    for (const [name, values] of candidates) {
      if (typeof w.arguments[name] !== 'string') continue;
      for (const value of [...(values ?? [])].sort()) {
        if (value === w.arguments[name]) continue;
        const candidate = { ...w, arguments: { ...w.arguments, [name]: value } };
        if (!recordedKeys.has(keyOf(candidate))) return candidate;
      }
    }
    return undefined;
  };

  const dir = mkdtempSync(join(tmpdir(), 'toolsim-state-'));
  const fake = await startFakeAnthropic({ kind: 'answer', output: nearestOutput, isError: nearestIsError });
  const store = Store.open(join(dir, 'cache.db'));
  const rollouts = new Rollouts({ store: new InMemoryRolloutStore(), sweepMs: 0 });
  const fuzzy = createFuzzy({ ...resolveConfig(FUZZY_OPTIONS, {}, {}), apiKey: 'sk-check', baseUrl: fake.url, llmRetries: 0 });
  try {
    await ingest({ store, inputs: [callsFile, toolsFile] });
    const metrics = createMetrics({ cacheCalls: () => 0, processMetrics: false });
    const simulator = new Simulator({ store, metrics, fuzzy: fuzzy.tier, rollouts });
    const app = await buildApp({ simulator: () => simulator, metrics });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const post = async (body: Record<string, unknown>): Promise<Step> => {
      const before = fake.requests.length;
      const response = await fetch(`${url}/v1/call`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${text.slice(0, 200)}`);
      return { body, text, answer: JSON.parse(text) as Answer, prompts: fake.requests.slice(before).map(userOf) };
    };
    const bodyOf = (c: Recorded, rollout?: string): Record<string, unknown> => ({
      server: c.server,
      tool: c.tool,
      arguments: c.arguments,
      source_trajectory_id: c.trajectory_id,
      ...(rollout === undefined ? {} : { trajectory_id: rollout }),
    });
    try {
      // Today's answers: every recorded call on its own, scoped to its source trajectory.
      const baseline = new Map<string, string>();
      for (const c of records) {
        const body = bodyOf(c);
        baseline.set(JSON.stringify(body), (await post(body)).text);
      }
      const baselineRequests = fake.requests.length;

      const f = {
        trajectories: trajectories.size,
        eligible: 0,
        unchangeable: 0,
        changedFuzzy: 0,
        changedMiss: 0,
        laterCalls: 0,
        laterReads: 0,
        readsExact: 0,
        readsFuzzy: 0,
        readsMiss: 0,
        readsWithRollout: 0,
        readsAsking: 0,
        promptsCarrying: 0,
        againCalls: 0,
        againSame: 0,
        againRequests: 0,
        recordedCalls: 0,
        recordedSame: 0,
        recordedRequests: 0,
        readOnlyCalls: 0,
        readOnlySame: 0,
        readOnlyRequests: 0,
        baselineRequests,
        llmRequests: 0,
      };
      const missReasons = new Map<string, number>();
      const writeMisses = new Map<string, number>();
      const changedRuns: { id: string; steps: Step[] }[] = [];
      let n = 0;
      for (const [id, calls] of trajectories) {
        const at = calls.findIndex((c, i) => writes(c) && calls.slice(i + 1).some((later) => later.server === c.server));
        if (at < 0) continue;
        f.eligible++;
        const changed = changedWrite(calls[at]!);
        if (!changed) {
          f.unchangeable++;
          continue;
        }
        const sequence = [...calls.slice(0, at), changed, ...calls.slice(at + 1)];
        const rollout = `changed-${++n}`;
        const steps: Step[] = [];
        for (const c of sequence) steps.push(await post(bodyOf(c, rollout)));
        changedRuns.push({ id, steps });
        const write = steps[at]!;
        if (write.answer.tier === 'fuzzy') f.changedFuzzy++;
        else {
          f.changedMiss++;
          const reason = write.answer.reason ?? write.answer.tier;
          writeMisses.set(reason, (writeMisses.get(reason) ?? 0) + 1);
        }
        if (write.answer.tier !== 'fuzzy') continue;
        const changedArgs = canonicalJson((parseArguments(changed.arguments) as { ok: true; value: never }).value);
        for (const [i, step] of steps.entries()) {
          const c = sequence[i]!;
          if (i <= at || c.server !== changed.server) continue;
          f.laterCalls++;
          if (writes(c)) continue;
          f.laterReads++;
          if (step.answer.tier === 'exact') f.readsExact++;
          else if (step.answer.tier === 'fuzzy') f.readsFuzzy++;
          else {
            f.readsMiss++;
            missReasons.set(step.answer.reason ?? '?', (missReasons.get(step.answer.reason ?? '?') ?? 0) + 1);
          }
          if (step.answer.match.rollout) f.readsWithRollout++;
          if (step.prompts.length > 0) {
            f.readsAsking++;
            if (step.prompts.every((p) => p.includes(`(the write no recording has): ${changed.tool}\narguments: ${changedArgs}`)))
              f.promptsCarrying++;
          }
        }
      }
      // The same rollouts again, under new names: the same answers, from the memo.
      const beforeAgain = fake.requests.length;
      for (const run of changedRuns) {
        const rollout = `again-${++n}`;
        for (const step of run.steps) {
          const again = await post({ ...step.body, trajectory_id: rollout });
          f.againCalls++;
          if (again.answer.tier === step.answer.tier && JSON.stringify(again.answer.output) === JSON.stringify(step.answer.output))
            f.againSame++;
        }
      }
      f.againRequests = fake.requests.length - beforeAgain;
      // Rollouts that write as recorded, and rollouts that only read: today's answers.
      const beforeControls = fake.requests.length;
      for (const [id, calls] of trajectories) {
        const rollout = `recorded-${++n}`;
        for (const c of calls) {
          const step = await post(bodyOf(c, rollout));
          f.recordedCalls++;
          if (step.text === baseline.get(JSON.stringify(bodyOf(c)))) f.recordedSame++;
        }
        const reads = calls.filter((c) => !writes(c));
        const readOnly = `readonly-${++n}`;
        for (const c of reads) {
          const step = await post(bodyOf(c, readOnly));
          f.readOnlyCalls++;
          if (step.text === baseline.get(JSON.stringify(bodyOf(c)))) f.readOnlySame++;
        }
        void id;
      }
      f.recordedRequests = fake.requests.length - beforeControls;
      f.readOnlyRequests = f.recordedRequests;
      f.llmRequests = fake.requests.length;

      if (values.json) process.stdout.write(`${JSON.stringify({ ...f, missReasons: Object.fromEntries(missReasons) }, null, 2)}\n`);
      else {
        const pct = (x: number, of: number): string => (of === 0 ? '-' : `${x}/${of} (${((100 * x) / of).toFixed(1)}%)`);
        process.stdout.write(
          `${table(
            ['figure', 'value'],
            [
              ['dataset', callsFile.replace(`${ROOT}`, '')],
              ['trajectories', f.trajectories],
              ['with a write followed by calls on its server', f.eligible],
              ['  no unrecorded change found for the write', f.unchangeable],
              ['changed writes improvised (the rollout diverges)', pct(f.changedFuzzy, f.changedFuzzy + f.changedMiss)],
              ...(writeMisses.size > 0
                ? [['  misses (the rollout stays recorded)', [...writeMisses].map(([r, c]) => `${r} ${c}`).join(', ')] as [string, string]]
                : []),
              ['later calls on the changed server', f.laterCalls],
              ['later reads', f.laterReads],
              ['  served from recordings (exact)', pct(f.readsExact, f.laterReads)],
              ['  improvised (fuzzy)', pct(f.readsFuzzy, f.laterReads)],
              ['  misses', `${f.readsMiss}${missReasons.size ? ` (${[...missReasons].map(([r, c]) => `${r} ${c}`).join(', ')})` : ''}`],
              ['  with match.rollout', pct(f.readsWithRollout, f.laterReads)],
              ['  prompts carrying the changed write', pct(f.promptsCarrying, f.readsAsking)],
              ['same rollouts again: same answers', pct(f.againSame, f.againCalls)],
              ['same rollouts again: new LLM requests', f.againRequests],
              ['as recorded (scoped): answers as without a rollout', pct(f.recordedSame, f.recordedCalls)],
              ['read-only rollouts: answers as without a rollout', pct(f.readOnlySame, f.readOnlyCalls)],
              ['LLM requests: baseline, and both of these together', `${f.baselineRequests}, ${f.recordedRequests}`],
            ],
          )}\n`,
        );
      }
      const failed =
        f.readsExact > 0 ||
        f.promptsCarrying !== f.readsAsking ||
        f.againSame !== f.againCalls ||
        f.againRequests > 0 ||
        f.recordedSame !== f.recordedCalls ||
        f.readOnlySame !== f.readOnlyCalls ||
        f.recordedRequests > 0 ||
        f.baselineRequests > 0 ||
        f.changedFuzzy === 0;
      process.exitCode = failed ? 1 : 0;
    } finally {
      await app.close();
    }
  } finally {
    await fuzzy.close();
    await rollouts.close();
    store.close();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
