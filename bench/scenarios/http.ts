/**
 * Scenarios 1-3: the exact tier against a bare Fastify route (the ceiling), against Mountebank
 * (a peer), and batches of 16 against single calls. One working set of ≥ 10k distinct recorded
 * calls, one toolsim server process; autocannon runs in this process on the same 2 cores.
 */
import { writeFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { createMetrics } from '../../src/core/metrics.js';
import { answerJson } from '../../src/http/serialize.js';
import { Simulator } from '../../src/simulator/simulator.js';
import { Store } from '../../src/store/store.js';
import { freshCache } from '../lib/cache.js';
import { bodyOf, distinctCalls, loadSamples, writeGeneratedLog } from '../lib/data.js';
import { alternate, type Load, load, ratios } from '../lib/load.js';
import { startMountebank } from '../lib/mountebank.js';
import { BARE_SERVER, CLI, dataPath } from '../lib/paths.js';
import { type Child, freePort, startChild } from '../lib/procs.js';
import type { Mode, Section } from '../lib/report.js';
import { median, spread, thousands } from '../lib/stats.js';

export const WORKING_SET = 10_000;

export interface HttpFixture {
  db: string;
  bodies: string[];
  answers: string[];
  toolsim: Child;
  close(): Promise<void>;
}

export async function httpFixture(): Promise<HttpFixture> {
  const { calls, lines } = distinctCalls(loadSamples(), WORKING_SET);
  const log = writeGeneratedLog(dataPath(`exact-${lines}.jsonl`), loadSamples(), lines);
  const db = await freshCache(dataPath('exact.db'), log);
  const bodies = calls.map((call) => JSON.stringify(bodyOf(call)));

  // The bytes toolsim answers, computed in-process once, so the bare route can serve the same ones.
  const store = Store.open(db, { readonly: true });
  const simulator = new Simulator({ store, metrics: createMetrics({ cacheCalls: () => 0, processMetrics: false }) });
  const answers: string[] = [];
  for (const call of calls) {
    const answer = await simulator.resolve(bodyOf(call));
    if (answer.tier !== 'exact') throw new Error(`working set call not exact: ${JSON.stringify(bodyOf(call))}`);
    answers.push(answerJson(answer));
  }
  store.close();

  const port = await freePort();
  const toolsim = await startChild({
    command: process.execPath,
    args: [CLI, 'serve', '--db', db, '--port', String(port), '--log-level', 'warn'],
    port,
    probe: '/readyz',
  });
  return { db, bodies, answers, toolsim, close: () => toolsim.stop() };
}

/** The same request must get the same bytes from both sides, or the comparison means nothing. */
async function checkSameBytes(url: string, fixture: HttpFixture, label: string): Promise<void> {
  for (let i = 0; i < fixture.bodies.length; i += Math.floor(fixture.bodies.length / 25)) {
    const response = await fetch(`${url}/v1/call`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: fixture.bodies[i]!,
    });
    const text = await response.text();
    if (text !== fixture.answers[i]) throw new Error(`${label} answered other bytes for request ${i}: ${text.slice(0, 200)}`);
  }
}

const ms = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(2));
const row = (label: string, loads: readonly Load[]): string =>
  `| ${label} | ${loads.map((l) => `${thousands(l.rps)} req/s, p50 ${ms(l.p50)} ms, p99 ${ms(l.p99)} ms, ${l.cpuUs.toFixed(0)} µs CPU/req${l.errors ? `, ${l.errors} errors` : ''}`).join(' | ')} |`;

function roundsTable(labels: [string, string], a: readonly Load[], b: readonly Load[]): string[] {
  const head = `| side | ${a.map((_, i) => `round ${i + 1}`).join(' | ')} |`;
  return [head, `|---|${a.map(() => '---').join('|')}|`, row(labels[0], a), row(labels[1], b)];
}

export async function exactVsBare(fixture: HttpFixture, mode: Mode): Promise<Section> {
  const answersPath = dataPath('exact-answers.json');
  writeFileSync(answersPath, JSON.stringify(fixture.bodies.map((body, i) => [body, fixture.answers[i]!])));
  const port = await freePort();
  const bare = await startChild({ command: process.execPath, args: [BARE_SERVER, answersPath, String(port)], port, probe: '/readyz' });
  try {
    await checkSameBytes(fixture.toolsim.url, fixture, 'toolsim');
    await checkSameBytes(bare.url, fixture, 'bare route');
    const run = (url: string, durationS: number) => () =>
      load({ url, path: '/v1/call', bodies: fixture.bodies, connections: mode.connections, durationS, pid: pidOf(url), fine: true });
    const pidOf = (url: string): number => (url === bare.url ? bare.proc.pid! : fixture.toolsim.proc.pid!);
    const rounds = await alternate(
      mode.rounds,
      async () => {
        // Every distinct call once (so toolsim's LRU holds the working set, as in steady serving), then both sides briefly.
        await load({
          url: fixture.toolsim.url,
          path: '/v1/call',
          sharedBodies: fixture.bodies,
          connections: mode.connections,
          amount: fixture.bodies.length,
        });
        await run(fixture.toolsim.url, 2)();
        await run(bare.url, 2)();
      },
      run(fixture.toolsim.url, mode.roundS),
      run(bare.url, mode.roundS),
    );
    const throughput = ratios(rounds.a, rounds.b, (l) => l.rps);
    const p99 = ratios(rounds.a, rounds.b, (l) => l.p99);
    const cpu = ratios(rounds.b, rounds.a, (l) => l.cpuUs);
    return {
      title: '1. Exact tier vs a bare Fastify route (the ceiling)',
      figures: [
        { name: 'throughput, toolsim / bare', value: spread(throughput), target: '≥ 0.90', met: median(throughput) >= 0.9 },
        { name: 'p99 latency, toolsim / bare', value: spread(p99), target: '≤ 1.5', met: median(p99) <= 1.5 },
        { name: 'server CPU per request, bare / toolsim', value: spread(cpu), target: '≥ 0.90', met: median(cpu) >= 0.9 },
        {
          name: 'server CPU per request, toolsim and bare (µs)',
          value: `${median(rounds.a.map((l) => l.cpuUs)).toFixed(0)} and ${median(rounds.b.map((l) => l.cpuUs)).toFixed(0)}`,
          target: '',
        },
      ],
      details: [
        `${fixture.bodies.length} distinct recorded calls (generated from cache/samples), each connection cycling through all of them; ` +
          `${mode.connections} connections, ${mode.roundS} s per side per round, sides alternating, after every call was served once and a 2 s warm-up of each side. The bare route parses the body, ` +
          'looks it up in a Map and sends the same bytes toolsim answers (checked byte for byte on a sample before the rounds). ' +
          'Throughput on this shared machine depends on how much CPU each process gets, so each round also records the CPU each server ' +
          'spent per request (from /proc): bare / toolsim is the throughput ratio a server would reach with a core of its own. ' +
          "Latencies are autocannon's own per-response times, to the microsecond (its summary rounds them to whole milliseconds).",
        '',
        ...roundsTable(['toolsim `POST /v1/call`', 'bare Fastify route'], rounds.a, rounds.b),
      ],
    };
  } finally {
    await bare.stop();
  }
}

export async function againstMountebank(fixture: HttpFixture, mode: Mode): Promise<Section> {
  const mb = await startMountebank(fixture.bodies, fixture.answers);
  try {
    await checkSameBytes(mb.url, fixture, 'mountebank');
    const run = (url: string, durationS: number) => () =>
      load({
        url,
        path: '/v1/call',
        bodies: fixture.bodies,
        connections: mode.connections,
        durationS,
        pid: url === mb.url ? mb.pid : fixture.toolsim.proc.pid!,
      });
    const rounds = await alternate(
      Math.min(mode.rounds, 3),
      async () => {
        await run(mb.url, 2)();
      },
      run(fixture.toolsim.url, mode.roundS),
      run(mb.url, mode.roundS),
    );
    const throughput = ratios(rounds.a, rounds.b, (l) => l.rps);
    return {
      title: '2. Against a peer: Mountebank',
      figures: [
        { name: 'throughput, toolsim / Mountebank', value: spread(throughput, 1), target: '≥ 20', met: median(throughput) >= 20 },
        {
          name: 'server CPU per request, Mountebank / toolsim',
          value: spread(
            ratios(rounds.b, rounds.a, (l) => l.cpuUs),
            1,
          ),
          target: '',
        },
      ],
      details: [
        `Mountebank ${mb.version} (installed on demand into bench/.peer, outside the project's dependencies), one imposter on ` +
          `127.0.0.1 with ${fixture.bodies.length} stubs, each an \`equals\` predicate on the exact body (case-sensitive) answering ` +
          'the same bytes as toolsim; `--loglevel error --nologfile`, keep-alive via the default response header. ' +
          `${mode.connections} connections, ${mode.roundS} s per side per round.`,
        '',
        ...roundsTable(['toolsim', 'Mountebank'], rounds.a, rounds.b),
      ],
    };
  } finally {
    await mb.stop();
  }
}

export async function batchVsSingle(fixture: HttpFixture, mode: Mode): Promise<Section> {
  const size = 16;
  const batches: string[] = [];
  for (let i = 0; i + size <= fixture.bodies.length; i += size) {
    batches.push(`{"calls":[${fixture.bodies.slice(i, i + size).join(',')}]}`);
  }
  const url = fixture.toolsim.url;
  const rounds = await alternate(
    mode.rounds,
    async () => {
      await load({ url, path: '/v1/calls', bodies: batches, connections: mode.connections, durationS: 1 });
    },
    () =>
      load({
        url,
        path: '/v1/calls',
        bodies: batches,
        connections: mode.connections,
        durationS: mode.roundS,
        pid: fixture.toolsim.proc.pid!,
      }),
    () =>
      load({
        url,
        path: '/v1/call',
        bodies: fixture.bodies,
        connections: mode.connections,
        durationS: mode.roundS,
        pid: fixture.toolsim.proc.pid!,
      }),
  );
  const callsRatio = rounds.a.map((l, i) => (l.rps * size) / rounds.b[i]!.rps);
  return {
    title: '3. Batches of 16 vs single calls',
    figures: [
      { name: 'calls/s, batch of 16 / single', value: spread(callsRatio), target: '≥ 3', met: median(callsRatio) >= 3 },
      {
        name: 'server CPU per call, single / in a batch of 16',
        value: spread(rounds.b.map((l, i) => l.cpuUs / (rounds.a[i]!.cpuUs / size))),
        target: '',
      },
      { name: 'calls/s in batches of 16 (median)', value: thousands(median(rounds.a.map((l) => l.rps * size))), target: '' },
    ],
    details: [
      `${batches.length} distinct batches of ${size} recorded calls via \`POST /v1/calls\` against the same calls one by one via ` +
        `\`POST /v1/call\`; ${mode.connections} connections, ${mode.roundS} s per side per round (figures below are requests, a batch request carries 16 calls).`,
      '',
      ...roundsTable(['`POST /v1/calls` ×16', '`POST /v1/call`'], rounds.a, rounds.b),
    ],
  };
}

/**
 * The same comparison without sockets: toolsim's app (as `serve` builds it, load shedding on) and a
 * bare Fastify route, both in this process and driven by `inject()`, in alternating rounds. The CPU
 * is this process's (`process.cpuUsage`), so the machine's load and the kernel's socket work fall
 * out; `inject()` itself costs both sides the same.
 */
export async function exactInProcess(fixture: HttpFixture, mode: Mode): Promise<Section> {
  const store = Store.open(fixture.db, { readonly: true });
  const metrics = createMetrics({ cacheCalls: () => 0 });
  const simulator = new Simulator({ store, metrics });
  const toolsim = await buildApp({ simulator: () => simulator, metrics, maxEventLoopDelay: 1000 });
  const answers = new Map(fixture.bodies.map((body, i) => [JSON.stringify(JSON.parse(body)), fixture.answers[i]!]));
  const bare = Fastify({ logger: false });
  bare.post('/v1/call', async (request, reply) =>
    reply.type('application/json; charset=utf-8').send(answers.get(JSON.stringify(request.body))),
  );
  await bare.ready();
  const headers = { 'content-type': 'application/json' };
  const calls = mode.quick ? 10_000 : 30_000;
  const run = async (app: FastifyInstance, count = calls): Promise<number> => {
    const before = process.cpuUsage();
    for (let i = 0; i < count; i++) {
      const at = i % fixture.bodies.length;
      const response = await app.inject({ method: 'POST', url: '/v1/call', headers, payload: fixture.bodies[at]! });
      if (response.body !== fixture.answers[at]) throw new Error(`in-process answer ${at} differs: ${response.body.slice(0, 200)}`);
    }
    const used = process.cpuUsage(before);
    return (used.user + used.system) / count;
  };
  try {
    // Two passes first: a call is remembered by its text from its second answer on, as in steady serving.
    await run(toolsim, 2 * fixture.bodies.length);
    await run(bare, 2 * fixture.bodies.length);
    const a: number[] = [];
    const b: number[] = [];
    for (let r = 0; r < 4; r++) {
      if (r % 2 === 0) {
        a.push(await run(toolsim));
        b.push(await run(bare));
      } else {
        b.push(await run(bare));
        a.push(await run(toolsim));
      }
    }
    const cpu = b.map((x, i) => x / a[i]!);
    return {
      title: '1b. Exact tier vs the bare route, in-process',
      figures: [
        { name: 'CPU per request in-process, bare / toolsim', value: spread(cpu), target: '≥ 0.90', met: median(cpu) >= 0.9 },
        {
          name: 'CPU per request in-process, toolsim and bare (µs)',
          value: `${median(a).toFixed(1)} and ${median(b).toFixed(1)}`,
          target: '',
        },
      ],
      details: [
        `toolsim's app (buildApp, with load shedding as \`serve\` sets it) and a bare Fastify route answering from a Map, both in the bench process, ` +
          `each sent ${thousands(calls)} of the ${fixture.bodies.length} recorded calls through \`inject()\` per round (answers checked byte for byte), ` +
          "four alternating rounds after two unmeasured passes over the calls each. CPU from `process.cpuUsage()` of this process, so the kernel's socket work " +
          'and the other processes on the machine are left out; `inject()` costs both sides alike. Per round, toolsim then bare (µs): ' +
          a.map((x, i) => `${x.toFixed(1)} / ${b[i]!.toFixed(1)}`).join(', ') +
          '.',
      ],
    };
  } finally {
    await toolsim.close();
    await bare.close();
    store.close();
  }
}
