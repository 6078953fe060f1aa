/**
 * The simulator's own cost of rollout state, without HTTP or `inject()` around it (whose noise on
 * a shared machine is larger than the difference): the same calls of named rollouts (a fresh set
 * each round, the last one ended, as a trainer ends its rollouts) resolved by a simulator with rollout state and
 * by one without it (today: `trajectory_id` ignored), alternating rounds, CPU of this process. Two
 * patterns: one rollout per recorded call making it again on every pass, and an RL run's (sibling
 * rollouts of a task making the same few calls once each, as scenario 10 sends them). With state, a
 * rollout's call is remembered by its text without `trajectory_id`, so siblings share a memo entry
 * that the server without state, keyed by the whole text, does not have.
 *
 *   node dist/bench/rollout-overhead.js [--calls 24000] [--rounds 6]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseJson } from '../src/core/json-text.js';
import { createMetrics } from '../src/core/metrics.js';
import { ingest } from '../src/ingest/ingest.js';
import { InMemoryRolloutStore } from '../src/rollouts/memory-store.js';
import { Rollouts } from '../src/rollouts/rollouts.js';
import { Simulator } from '../src/simulator/simulator.js';
import { Store } from '../src/store/store.js';
import { SAMPLES } from './lib/paths.js';
import { median } from './lib/stats.js';
import { roundBodies } from './scenarios/rollouts.js';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '24000' }, rounds: { type: 'string', default: '6' } } });
const calls = Number(values.calls);
const dir = mkdtempSync(join(tmpdir(), 'toolsim-overhead-'));
const store = Store.open(join(dir, 'cache.db'));
try {
  await ingest({ store, inputs: SAMPLES });
  const metrics = createMetrics({ cacheCalls: () => 0, processMetrics: false });
  const registry = new Rollouts({ store: new InMemoryRolloutStore(), sweepMs: 0 });
  const withState = new Simulator({ store, metrics, rollouts: registry });
  const without = new Simulator({ store, metrics });
  const seen = new Set<string>();
  const plain: string[] = [];
  for (const file of SAMPLES)
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const r = JSON.parse(line) as { server: string; tool: string; arguments: unknown };
      const body = JSON.stringify({ server: r.server, tool: r.tool, arguments: r.arguments });
      if (seen.has(body)) continue;
      seen.add(body);
      plain.push(body);
    }
  let round = 0;
  /** Median µs per call with and without state, and the rounds, for bodies `bodiesOf(round)` naming `rollouts(round)`. */
  const compare = async (bodiesOf: (at: number) => string[], rollouts: (at: number) => string[]) => {
    const run = async (simulator: Simulator, count: number): Promise<number> => {
      const at = ++round;
      const bodies = bodiesOf(at);
      const before = process.cpuUsage();
      for (let i = 0; i < count; i++) {
        const text = bodies[i % bodies.length]!;
        const answer = simulator.resolve(parseJson(text, 'value') as never, text);
        if (answer instanceof Promise) await answer;
      }
      const used = process.cpuUsage(before);
      if (simulator === withState) for (const id of rollouts(at)) await registry.end(id);
      return (used.user + used.system) / count;
    };
    await run(without, 2 * plain.length);
    await run(withState, 2 * plain.length);
    const a: number[] = [];
    const b: number[] = [];
    for (let r = 0; r < Number(values.rounds); r++) {
      if (r % 2 === 0) {
        a.push(await run(withState, calls));
        b.push(await run(without, calls));
      } else {
        b.push(await run(without, calls));
        a.push(await run(withState, calls));
      }
    }
    return `with rollout state ${median(a).toFixed(2)} µs, without ${median(b).toFixed(2)} µs (median of ${a.length} rounds; with / without per round: ${a.map((x, i) => `${x.toFixed(2)}/${b[i]!.toFixed(2)}`).join(', ')})`;
  };
  const perCall = await compare(
    (at) => plain.map((b, i) => `${b.slice(0, -1)},"trajectory_id":"overhead-${at}-${i}"}`),
    (at) => plain.map((_, i) => `overhead-${at}-${i}`),
  );
  // An RL run's pattern: each rollout makes 4 calls once, groups of 8 siblings the same ones.
  const count = calls / 4;
  const rl = await compare(
    (at) => roundBodies(plain, count, at),
    (at) => Array.from({ length: count }, (_, k) => `bench-${at}-${k}`),
  );
  process.stdout.write(
    `${plain.length} distinct recorded calls, ${calls} calls per round, simulator CPU per call:\n` +
      `  one rollout per call, making it again on every pass: ${perCall}\n` +
      `  sibling rollouts making the same 4 calls once each: ${rl}\n`,
  );
  await registry.close();
} finally {
  store.close();
  rmSync(dir, { recursive: true, force: true });
}
