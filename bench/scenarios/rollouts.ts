/**
 * Scenario 9: the cost of rollout state for rollouts that never diverge. The same recorded calls,
 * sent plain and sent as calls of named rollouts (`trajectory_id`: in each round, one rollout per
 * call making its call again on every pass, ended with `DELETE /v1/rollouts/{id}` after the round,
 * as a trainer ends its rollouts), to the same toolsim, in alternating rounds: over HTTP
 * (throughput and server CPU per request) and in-process through `inject()` (CPU per request).
 */
import { buildApp } from '../../src/app.js';
import { createMetrics } from '../../src/core/metrics.js';
import { InMemoryRolloutStore } from '../../src/rollouts/memory-store.js';
import { Rollouts } from '../../src/rollouts/rollouts.js';
import { Simulator } from '../../src/simulator/simulator.js';
import { Store } from '../../src/store/store.js';
import { alternate, load, ratios } from '../lib/load.js';
import type { Mode, Section } from '../lib/report.js';
import { median, spread, thousands } from '../lib/stats.js';
import type { HttpFixture } from './http.js';

/** Calls in the working set: small enough that both sides' request texts stay in the request memo. */
const CALLS = 4_000;

/** A body as a call of rollout `bench-<round>-<i>`: the trajectory id spliced in, every other byte as it was. */
const named = (body: string, i: number, round = 0): string => `${body.slice(0, -1)},"trajectory_id":"bench-${round}-${i}"}`;

/** Ends the rollouts of a round, 50 requests at a time (not timed). */
async function endRound(url: string, count: number, round: number): Promise<void> {
  for (let i = 0; i < count; i += 50)
    await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, (_, j) => fetch(`${url}/v1/rollouts/bench-${round}-${i + j}`, { method: 'DELETE' })),
    );
}

export async function rolloutsVsPlain(fixture: HttpFixture, mode: Mode): Promise<Section> {
  const plain = fixture.bodies.slice(0, CALLS);
  const rollouts = plain.map((body, i) => named(body, i));
  const url = fixture.toolsim.url;
  const pid = fixture.toolsim.proc.pid!;
  // The answers must be the same bytes, or the comparison means nothing.
  for (let i = 0; i < plain.length; i += 97) {
    const [a, b] = await Promise.all(
      [plain[i]!, rollouts[i]!].map((body) =>
        fetch(`${url}/v1/call`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then((r) => r.text()),
      ),
    );
    if (a !== b) throw new Error(`a rollout's call got other bytes than the plain call ${i}: ${String(b).slice(0, 200)}`);
  }
  const run = (bodies: readonly string[], durationS: number) => () =>
    load({ url, path: '/v1/call', bodies, connections: mode.connections, durationS, pid, fine: true });
  let round = 0;
  const rolloutRound = async (): Promise<Awaited<ReturnType<ReturnType<typeof run>>>> => {
    const at = ++round;
    const result = await run(
      plain.map((body, i) => named(body, i, at)),
      mode.roundS,
    )();
    await endRound(url, plain.length, at);
    return result;
  };
  const rounds = await alternate(
    mode.rounds,
    async () => {
      // Every call twice on each side first (the request memo remembers a text from its second answer).
      for (const bodies of [plain, rollouts])
        await load({ url, path: '/v1/call', sharedBodies: bodies, connections: mode.connections, amount: 2 * bodies.length });
      await endRound(url, plain.length, 0);
    },
    rolloutRound,
    run(plain, mode.roundS),
  );
  const throughput = ratios(rounds.a, rounds.b, (l) => l.rps);
  const cpu = ratios(rounds.b, rounds.a, (l) => l.cpuUs);
  const inProcess = await inProcessRounds(fixture.db, plain, mode);
  return {
    title: '10. Rollouts that never diverge vs plain calls (the exact tier)',
    figures: [
      {
        name: 'throughput, rollout calls / plain calls (HTTP)',
        value: spread(throughput),
        target: '≥ 0.95',
        met: median(throughput) >= 0.95,
      },
      { name: 'server CPU per request, plain / rollout calls (HTTP)', value: spread(cpu), target: '≥ 0.95', met: median(cpu) >= 0.95 },
      {
        name: 'CPU per request in-process, without / with rollout state (the same calls of named rollouts)',
        value: spread(inProcess.ratio),
        target: '≥ 0.95',
        met: median(inProcess.ratio) >= 0.95,
      },
      {
        name: 'CPU per request in-process, with and without rollout state (µs)',
        value: `${median(inProcess.rollout).toFixed(1)} and ${median(inProcess.plain).toFixed(1)}`,
        target: '',
      },
    ],
    details: [
      `${CALLS} distinct recorded calls, sent plain and as calls of ${CALLS} named rollouts per round (\`trajectory_id\`, one per call, each making its call again on every pass, ` +
        'so each rollout grows a history of exact answers and never diverges; ended with DELETE after the round, untimed, as a trainer ends its rollouts); answers checked the same bytes on a sample first. ' +
        `Over HTTP to one toolsim process (the in-memory rollout registry): ${mode.connections} connections, ${mode.roundS} s per side per round, sides alternating; ` +
        `in-process: the same calls of named rollouts (a fresh set each round) to toolsim with rollout state and to toolsim without it (today's: \`trajectory_id\` ignored), ${thousands(inProcess.calls)} \`inject()\` calls per side per round, four alternating rounds, CPU of this process. ` +
        `Rounds over HTTP (rollout / plain req/s): ${rounds.a.map((l, i) => `${thousands(l.rps)} / ${thousands(rounds.b[i]!.rps)}`).join(', ')}; ` +
        `in-process (with / without state, µs): ${inProcess.rollout.map((x, i) => `${x.toFixed(1)} / ${inProcess.plain[i]!.toFixed(1)}`).join(', ')}.`,
    ],
  };
}

/**
 * In-process, the same calls of named rollouts (a fresh set each round, the last one ended) to
 * toolsim with rollout state and to toolsim without it (today: `trajectory_id` read and ignored),
 * two apps on one cache: the cost of the state itself, the request memo alike on both sides.
 */
async function inProcessRounds(
  db: string,
  plain: readonly string[],
  mode: Mode,
): Promise<{ ratio: number[]; rollout: number[]; plain: number[]; calls: number }> {
  const store = Store.open(db, { readonly: true });
  const metrics = createMetrics({ cacheCalls: () => 0, processMetrics: false });
  const registry = new Rollouts({ store: new InMemoryRolloutStore(), sweepMs: 0 });
  const withState = new Simulator({ store, metrics, rollouts: registry });
  const without = new Simulator({ store, metrics });
  const stateful = await buildApp({ simulator: () => withState, metrics, maxEventLoopDelay: 1000 });
  const stateless = await buildApp({ simulator: () => without, metrics, maxEventLoopDelay: 1000 });
  const headers = { 'content-type': 'application/json' };
  const calls = mode.quick ? 8_000 : 24_000;
  let round = 0;
  let lastStateful = -1;
  const run = async (app: typeof stateful, count = calls): Promise<number> => {
    round++;
    // A fresh set of rollouts each round, the last set ended first (as a trainer ends its rollouts).
    if (app === stateful) {
      if (lastStateful >= 0) for (let i = 0; i < plain.length; i++) await registry.end(`bench-${lastStateful}-${i}`);
      lastStateful = round;
    }
    const bodies = plain.map((body, i) => named(body, i, round));
    const before = process.cpuUsage();
    for (let i = 0; i < count; i++) {
      const response = await app.inject({ method: 'POST', url: '/v1/call', headers, payload: bodies[i % bodies.length]! });
      if (response.statusCode !== 200) throw new Error(`in-process call ${i}: ${response.statusCode}`);
    }
    const used = process.cpuUsage(before);
    return (used.user + used.system) / count;
  };
  try {
    await run(stateless, 2 * plain.length);
    await run(stateful, 2 * plain.length);
    const a: number[] = [];
    const b: number[] = [];
    for (let r = 0; r < 4; r++) {
      if (r % 2 === 0) {
        a.push(await run(stateful));
        b.push(await run(stateless));
      } else {
        b.push(await run(stateless));
        a.push(await run(stateful));
      }
    }
    return { ratio: b.map((x, i) => x / a[i]!), rollout: a, plain: b, calls };
  } finally {
    await stateful.close();
    await stateless.close();
    await registry.close();
    store.close();
  }
}
