/**
 * Scenario 10: the cost of rollout state for rollouts that never diverge. The same request bodies,
 * calls of named rollouts as an RL run sends them (many rollouts each making a few calls, the
 * sibling rollouts of one task making the same calls, a rollout's next call once its previous one
 * was answered), sent to toolsim with rollout state and to toolsim without it (today's: every call
 * on its own, `trajectory_id` ignored), in alternating rounds: over HTTP to two server processes
 * (throughput and server CPU per request), and in-process through `inject()` (CPU per request).
 */
import { buildApp } from '../../src/app.js';
import { createMetrics } from '../../src/core/metrics.js';
import { InMemoryRolloutStore } from '../../src/rollouts/memory-store.js';
import { Rollouts } from '../../src/rollouts/rollouts.js';
import { Simulator } from '../../src/simulator/simulator.js';
import { Store } from '../../src/store/store.js';
import { alternate, load, ratios } from '../lib/load.js';
import { STATELESS_SERVER } from '../lib/paths.js';
import { freePort, startChild } from '../lib/procs.js';
import type { Mode, Section } from '../lib/report.js';
import { median, spread, thousands } from '../lib/stats.js';
import type { HttpFixture } from './http.js';

/** Distinct recorded calls the rounds draw from. */
const CALLS = 4_000;
/** Calls each rollout makes. */
const PER_ROLLOUT = 4;
/** Rollouts of one task (a group), making the same calls. */
const SIBLINGS = 8;
/** Rollouts per round over HTTP: about one pass of their calls in a round on this machine. */
const HTTP_ROLLOUTS = 12_000;

/**
 * A round's request bodies, in the order they are sent: every rollout's first call, then every
 * rollout's second, and so on (so a rollout's calls never overlap, as its agent waits for each
 * answer). Rollout `bench-<round>-<k>` belongs to group k / SIBLINGS, whose PER_ROLLOUT calls are
 * recorded calls taken in turn from `plain` (each round from a later place). Each body is the
 * recorded call's with the trajectory id spliced in, every other byte as it was.
 */
export function roundBodies(plain: readonly string[], rollouts: number, round: number): string[] {
  const out: string[] = [];
  const start = round * Math.ceil(rollouts / SIBLINGS) * PER_ROLLOUT;
  for (let j = 0; j < PER_ROLLOUT; j++)
    for (let k = 0; k < rollouts; k++) {
      const call = plain[(start + Math.floor(k / SIBLINGS) * PER_ROLLOUT + j) % plain.length]!;
      out.push(`${call.slice(0, -1)},"trajectory_id":"bench-${round}-${k}"}`);
    }
  return out;
}

/** Ends the rollouts of a round, 50 requests at a time (not timed), as a trainer ends its rollouts. */
async function endRound(url: string, count: number, round: number): Promise<void> {
  for (let i = 0; i < count; i += 50)
    await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, (_, j) =>
        fetch(`${url}/v1/rollouts/bench-${round}-${i + j}`, { method: 'DELETE' }).then((r) => r.arrayBuffer()),
      ),
    );
}

const post = (url: string, body: string): Promise<string> =>
  fetch(`${url}/v1/call`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then((r) => r.text());

export async function rolloutsVsPlain(fixture: HttpFixture, mode: Mode): Promise<Section> {
  const plain = fixture.bodies.slice(0, CALLS);
  const stateful = { url: fixture.toolsim.url, pid: fixture.toolsim.proc.pid! };
  const port = await freePort();
  const child = await startChild({
    command: process.execPath,
    args: [STATELESS_SERVER, '--db', fixture.db, '--port', String(port), '--log-level', 'warn'],
    port,
    probe: '/readyz',
  });
  try {
    const stateless = { url: child.url, pid: child.proc.pid! };
    // The answers must be the same bytes, and only one side keeps rollout state, or the comparison means nothing.
    const probe = roundBodies(plain, HTTP_ROLLOUTS, 0);
    for (let i = 0; i < probe.length; i += 997) {
      const [a, b] = await Promise.all([post(stateful.url, probe[i]!), post(stateless.url, probe[i]!)]);
      if (a !== b) throw new Error(`request ${i} got other bytes with rollout state than without: ${a.slice(0, 200)} / ${b.slice(0, 200)}`);
    }
    const kept = await Promise.all([stateful.url, stateless.url].map((url) => fetch(`${url}/v1/rollouts/bench-0-0`).then((r) => r.status)));
    if (kept[0] !== 200 || kept[1] !== 404)
      throw new Error(`GET /v1/rollouts/bench-0-0: ${kept[0]} with state, ${kept[1]} without (expected 200, 404)`);
    await endRound(stateful.url, HTTP_ROLLOUTS, 0);

    // Each pair of rounds sends one set of new rollouts to both sides (`alternate` varies which goes
    // first), made before any is timed; both sides are sent the DELETEs after their round, so the
    // client's own work between rounds is the same (the server without state answers them 404).
    const bodiesOf = Array.from({ length: mode.rounds }, (_, r) => roundBodies(plain, HTTP_ROLLOUTS, r + 1));
    let sides = 0;
    const side = (server: typeof stateful) => async () => {
      const round = 1 + Math.floor(sides++ / 2);
      const sharedBodies = bodiesOf[round - 1]!;
      const result = await load({
        ...server,
        path: '/v1/call',
        sharedBodies,
        connections: mode.connections,
        durationS: mode.roundS,
        fine: true,
      });
      await endRound(server.url, HTTP_ROLLOUTS, round);
      return result;
    };
    const rounds = await alternate(
      mode.rounds,
      async () => {
        // One untimed pass of new rollouts on each side: both processes warm, their caches alike.
        const warm = roundBodies(plain, HTTP_ROLLOUTS, 1_000);
        for (const server of [stateful, stateless])
          await load({ ...server, path: '/v1/call', sharedBodies: warm, connections: mode.connections, amount: warm.length });
        for (const server of [stateful, stateless]) await endRound(server.url, HTTP_ROLLOUTS, 1_000);
      },
      side(stateful),
      side(stateless),
    );
    const throughput = ratios(rounds.a, rounds.b, (l) => l.rps);
    const cpu = ratios(rounds.b, rounds.a, (l) => l.cpuUs);
    const inProcess = await inProcessRounds(fixture.db, plain, mode);
    return {
      title: '10. Rollouts that never diverge vs the same calls without rollout state (the exact tier)',
      figures: [
        {
          name: 'throughput, with / without rollout state (HTTP)',
          value: spread(throughput),
          target: '≥ 0.95',
          met: median(throughput) >= 0.95,
        },
        {
          name: 'server CPU per request, without / with rollout state (HTTP)',
          value: spread(cpu),
          target: '≥ 0.95',
          met: median(cpu) >= 0.95,
        },
        {
          name: 'server CPU per request, with and without rollout state (µs, HTTP)',
          value: `${median(rounds.a.map((l) => l.cpuUs)).toFixed(1)} and ${median(rounds.b.map((l) => l.cpuUs)).toFixed(1)}`,
          target: '',
        },
        {
          name: 'CPU per request in-process, without / with rollout state',
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
        `The same request bodies, calls of named rollouts as an RL run sends them, to toolsim with rollout state (\`toolsim serve\`, the in-memory registry) and to toolsim without it ` +
          "(today's: the same server with every call on its own, `trajectory_id` ignored; bench/servers/stateless.ts). " +
          `Each round, ${thousands(HTTP_ROLLOUTS)} new rollouts making ${PER_ROLLOUT} recorded calls each, groups of ${SIBLINGS} sibling rollouts making the same calls ` +
          `(drawn in turn from ${thousands(CALLS)} distinct recorded calls), every rollout's first call sent before any second one. Every request text is new (its \`trajectory_id\` with it): ` +
          "the server without state remembers texts whole, so none repeats; the one with state remembers a rollout's call by its text without `trajectory_id`, so a task's siblings after the first are request memo hits. " +
          'Every rollout grows a history of exact answers and never diverges; ended with DELETE after the round (untimed; sent to both sides, the one without state answering 404, so the client does the same work). ' +
          'Answers checked the same bytes on both sides, and that only one side keeps rollout state, first. ' +
          `Over HTTP: ${mode.connections} connections taking the bodies in turn, ${mode.roundS} s per side per round, sides alternating; ` +
          `in-process: ${thousands(inProcess.calls / PER_ROLLOUT)} rollouts per round the same way, ${thousands(inProcess.calls)} \`inject()\` calls per side per round, four alternating rounds, CPU of this process. ` +
          `Rounds over HTTP (with / without state, req/s and server µs CPU/request): ${rounds.a
            .map(
              (l, i) => `${thousands(l.rps)} / ${thousands(rounds.b[i]!.rps)} (${l.cpuUs.toFixed(0)} / ${rounds.b[i]!.cpuUs.toFixed(0)})`,
            )
            .join(', ')}; ` +
          `in-process (with / without state, µs): ${inProcess.rollout.map((x, i) => `${x.toFixed(1)} / ${inProcess.plain[i]!.toFixed(1)}`).join(', ')}.`,
      ],
    };
  } finally {
    await child.stop();
  }
}

/**
 * In-process, the same bodies (new rollouts each round, the last ones ended) to toolsim with
 * rollout state and to toolsim without it (today: `trajectory_id` read and ignored), two apps on
 * one cache: the cost of the state itself, the request memo alike on both sides.
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
  // One pass: each rollout makes its calls once.
  const count = calls / PER_ROLLOUT;
  const run = async (app: typeof stateful, round: number): Promise<number> => {
    const bodies = roundBodies(plain, count, round);
    const before = process.cpuUsage();
    for (let i = 0; i < calls; i++) {
      const response = await app.inject({ method: 'POST', url: '/v1/call', headers, payload: bodies[i % bodies.length]! });
      if (response.statusCode !== 200) throw new Error(`in-process call ${i}: ${response.statusCode}`);
    }
    const used = process.cpuUsage(before);
    // The round's rollouts end, as a trainer ends them (not timed).
    if (app === stateful) for (let i = 0; i < count; i++) await registry.end(`bench-${round}-${i}`);
    return (used.user + used.system) / calls;
  };
  try {
    await run(stateless, 0);
    await run(stateful, 0);
    const a: number[] = [];
    const b: number[] = [];
    for (let r = 1; r <= 4; r++) {
      if (r % 2 === 1) {
        a.push(await run(stateful, r));
        b.push(await run(stateless, r));
      } else {
        b.push(await run(stateless, r));
        a.push(await run(stateful, r));
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
