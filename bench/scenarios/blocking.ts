/**
 * Scenario 8: no request freezes the server. The requests that used to block the event loop for
 * seconds are sent at once (a near miss with a 1 MB and one with a 100 KB string argument, the
 * first miss of a large tool with its neighbour index still to build, a batch of 100 misses with
 * 3 KB strings, a verl-tool action of 40,000 `<tool_call>` blocks, an MCP call with a 1 MB tool
 * name, a body of 1.5M nested arrays), with the bounded-work bodies of round three (the largest of
 * each kind the body limit allows: 200k keys, 50k decimals, pathological numbers, the largest batch,
 * verl action and verl amplification), while `/healthz` is asked every 10 ms on its own connection;
 * then each alone. The figure is the slowest `/healthz` answer. Shared by `npm run bench` and a test
 * (with a wide margin).
 */
import { request } from 'node:http';
import type { JsonObject } from '../../src/core/types.js';
import { CLI } from '../lib/paths.js';
import { freePort, startChild } from '../lib/procs.js';
import type { Section } from '../lib/report.js';
import { percentile } from '../lib/stats.js';

export interface Attack {
  name: string;
  path: string;
  body: string;
  headers?: Record<string, string>;
}

/** The blocking requests of one recorded tool, built from one of its recorded argument sets. */
export function blockingAttacks(server: string, tool: string, recorded: JsonObject): Attack[] {
  const stringKey = Object.keys(recorded).find((k) => typeof recorded[k] === 'string') ?? 'q';
  const near = (length: number, salt: string): string =>
    JSON.stringify({
      server,
      tool,
      arguments: { ...recorded, [stringKey]: `${String(recorded[stringKey] ?? '')}${salt}`.padEnd(length, 'x') },
    });
  const batch = {
    calls: Array.from({ length: 100 }, (_, i) => ({
      server,
      tool,
      arguments: { ...recorded, [stringKey]: `${String(recorded[stringKey] ?? '')}-${i}-`.padEnd(3_000, 'y') },
    })),
  };
  const block = `<tool_call>${JSON.stringify({ name: tool, arguments: {} })}</tool_call>`;
  const depth = 1_500_000;
  return [
    { name: 'near miss, 1 MB string', path: '/v1/call', body: near(1_000_000, 'a') },
    { name: 'near miss, 100 KB string', path: '/v1/call', body: near(100_000, 'b') },
    { name: 'batch of 100 misses, 3 KB strings', path: '/v1/calls', body: JSON.stringify(batch) },
    {
      name: 'verl-tool action of 40,000 blocks',
      path: '/get_observation',
      body: JSON.stringify({ trajectory_ids: ['t'], actions: [block.repeat(40_000)] }),
    },
    {
      name: 'MCP call, 1 MB tool name',
      path: `/mcp/${encodeURIComponent(server)}`,
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'n'.repeat(1_000_000), arguments: {} } }),
      headers: { accept: 'application/json, text/event-stream' },
    },
    { name: '1.5M nested arrays', path: '/v1/call', body: `{"tool":"${tool}","arguments":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}` },
  ];
}

/** Bytes every body below stays under: the default `--body-limit` is 4 MiB (4,194,304). */
const BODY = 4_000_000;

/**
 * The bodies of the bounded-work issues (round three): the largest of each kind `--body-limit`
 * allows, refused (400) where they pass a bound, answered where they do not. `recorded` must be a
 * recorded argument set of the tool (its calls are exact hits).
 */
export function boundedWorkAttacks(server: string, tool: string, recorded: JsonObject): Attack[] {
  const call = (args: string): string => `{"server":${JSON.stringify(server)},"tool":${JSON.stringify(tool)},"arguments":${args}}`;
  const list = (n: number, item: (i: number) => string): string => Array.from({ length: n }, (_, i) => item(i)).join(',');
  const stringKey = Object.keys(recorded).find((k) => typeof recorded[k] === 'string') ?? 'q';
  const withString = (length: number, salt: string): JsonObject => ({
    ...recorded,
    [stringKey]: `${String(recorded[stringKey] ?? '')}${salt}`.padEnd(length, 'z'),
  });
  const block = (args: JsonObject): string => `<tool_call>${JSON.stringify({ name: tool, arguments: args })}</tool_call>`;
  const exact = block(recorded);
  const verl = (actions: string[]): string => JSON.stringify({ trajectory_ids: actions.map((_, i) => `t${i}`), actions });
  return [
    {
      name: 'first miss of the 100k-call tool',
      path: '/v1/call',
      body: JSON.stringify({ server, tool, arguments: withString(40, 'first') }),
    },
    { name: '200k-key body (3 MB)', path: '/v1/call', body: call(`{${list(200_000, (i) => `"k${i}":${i}`)}}`) },
    {
      name: '200k keys in a JSON string of arguments (3 MB)',
      path: '/v1/call',
      body: call(JSON.stringify(`{${list(200_000, (i) => `"k${i}":${i}`)}}`)),
    },
    {
      name: '50k-decimal body (1.4 MB)',
      path: '/v1/call',
      body: call(`{"d":[${list(50_000, (i) => `0.${String(i).padStart(25, '3')}`)}]}`),
    },
    {
      name: '9,500 decimals of 400 digits (3.8 MB, under the key cap)',
      path: '/v1/call',
      body: call(`{"d":[${list(9_500, (i) => `0.${String(i).padStart(398, '7')}`)}]}`),
    },
    { name: '1e and 4M nines (4 MB)', path: '/v1/call', body: call(`{"n":1e${'9'.repeat(BODY - 100)}}`) },
    { name: '700k × 1e400 (4 MB)', path: '/v1/call', body: call(`{"n":[${list(660_000, () => '1e400')}]}`) },
    {
      name: '200k 20-digit integers (4 MB)',
      path: '/v1/call',
      body: call(`{"n":[${list(190_000, (i) => String(10n ** 19n + BigInt(i) * 7_919n))}]}`),
    },
    { name: '1M × 0.1 (4 MB)', path: '/v1/call', body: call(`{"n":[${list(990_000, () => '0.1')}]}`) },
    {
      name: 'largest batch: 1,000 misses of 3.9 KB (3.9 MB)',
      path: '/v1/calls',
      body: JSON.stringify({ calls: Array.from({ length: 1_000 }, (_, i) => ({ server, tool, arguments: withString(3_850, `-${i}-`) })) }),
    },
    {
      name: 'explain of 9,900 unknown names (largest echo)',
      path: '/v1/explain',
      body: call(`{${list(9_900, (i) => `"unknown_argument_name_${i}":${i}`)}}`),
    },
    {
      name: 'largest verl action: 64 blocks of 60 KB (3.9 MB)',
      path: '/get_observation',
      body: verl([Array.from({ length: 64 }, (_, i) => block(withString(60_000, `-${i}-`))).join('\n')]),
    },
    {
      name: 'verl amplification: 440 actions × 64 blocks (refused)',
      path: '/get_observation',
      body: verl(Array.from({ length: 440 }, () => exact.repeat(64))),
    },
    {
      name: 'verl amplification: 15 actions × 64 exact blocks (largest accepted)',
      path: '/get_observation',
      body: verl(Array.from({ length: 15 }, () => exact.repeat(64))),
    },
  ];
}

export interface BlockingResult {
  /** Every `/healthz` latency while the attacks ran, ms. */
  healthz: number[];
  max: number;
  p99: number;
  attacks: { name: string; status: number; ms: number; bytes: number }[];
}

function post(url: string, attack: Attack): Promise<{ status: number; bytes: number }> {
  const target = new URL(attack.path, url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(attack.body), ...attack.headers },
      },
      (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(attack.body);
  });
}

function healthz(url: string): Promise<number> {
  const target = new URL('/healthz', url);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: target.hostname, port: target.port, path: target.pathname, agent: false }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`healthz ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * The server's own slowest event-loop delay (ms) since the last time this was asked:
 * `nodejs_eventloop_lag_max_seconds`, which prom-client measures with a 10 ms timer and resets at
 * each scrape. Measured inside the server, it is not the client's (nor the probe's) time.
 */
export async function serverLagMax(url: string): Promise<number> {
  const text = await (await fetch(new URL('/metrics', url))).text();
  const line = text.split('\n').find((l) => l.startsWith('nodejs_eventloop_lag_max_seconds '));
  return line ? Number(line.split(' ')[1]) * 1000 : Number.NaN;
}

/** `/healthz` every `intervalMs` for `ms` with nothing else in flight: the noise floor of the machine. */
export async function probeIdle(url: string, ms: number, intervalMs = 10): Promise<{ max: number; p99: number; n: number }> {
  const times: number[] = [];
  const until = performance.now() + ms;
  while (performance.now() < until) {
    times.push(await healthz(url));
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  times.sort((a, b) => a - b);
  return { max: times.at(-1) ?? 0, p99: percentile(times, 99), n: times.length };
}

/** Sends every attack at once and asks `/healthz` every `intervalMs` until they are all answered. */
export async function probeWhile(url: string, attacks: readonly Attack[], intervalMs = 10): Promise<BlockingResult> {
  const healthTimes: number[] = [];
  let done = false;
  const prober = (async () => {
    while (!done) {
      healthTimes.push(await healthz(url));
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  const results = await Promise.all(
    attacks.map(async (attack) => {
      const started = performance.now();
      const { status, bytes } = await post(url, attack);
      return { name: attack.name, status, ms: performance.now() - started, bytes };
    }),
  );
  done = true;
  await prober;
  const sorted = [...healthTimes].sort((a, b) => a - b);
  return { healthz: healthTimes, max: sorted.at(-1) ?? 0, p99: percentile(sorted, 99), attacks: results };
}

/** Scenario 8 of `npm run bench`: fresh servers on the one-tool cache, every blocking request at once, then each alone, `/healthz` timed. */
export async function blockingScenario(
  cache: { db: string; pool: readonly { server: string; tool: string; arguments: JsonObject }[] },
  rounds: number,
): Promise<Section> {
  const sample = cache.pool[0]!;
  const bounded = boundedWorkAttacks(sample.server, sample.tool, sample.arguments);
  // The first miss goes first, alone below; all at once it is one among the others.
  const attacks = [...blockingAttacks(sample.server, sample.tool, sample.arguments), ...bounded];
  const maxima: number[] = [];
  const idleMaxima: number[] = [];
  /** The server's slowest event-loop delay while everything was in flight, per round. */
  const lagMaxima: number[] = [];
  /** Per attack, the slowest /healthz while it alone was in flight, per round (and the server's slowest loop delay). */
  const alone = new Map<string, { max: number[]; lag: number[]; status: number; ms: number[]; bytes: number }>();
  const details: string[] = [];
  for (let round = 0; round < rounds; round++) {
    const port = await freePort();
    const server = await startChild({
      command: process.execPath,
      args: [CLI, 'serve', '--db', cache.db, '--port', String(port), '--log-level', 'warn'],
      port,
      probe: '/readyz',
    });
    try {
      // The MCP SDK is loaded just after start-up; the requests come once it is.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const idle = await probeIdle(server.url, 3_000);
      idleMaxima.push(idle.max);
      // Alternate: odd rounds send everything at once on the fresh server (the first miss among
      // them), even rounds send the first miss alone first, then every request alone.
      if (round % 2 === 0) {
        await serverLagMax(server.url);
        const result = await probeWhile(server.url, attacks);
        const lag = await serverLagMax(server.url);
        lagMaxima.push(lag);
        maxima.push(result.max);
        details.push(
          `- round ${round + 1}, all at once on a fresh server: nothing in flight: /healthz max ${idle.max.toFixed(0)} ms, p99 ${idle.p99.toFixed(0)} ms over ${idle.n} probes; ` +
            `all in flight: /healthz max ${result.max.toFixed(0)} ms, p99 ${result.p99.toFixed(0)} ms over ${result.healthz.length} probes, server's slowest loop delay ${lag.toFixed(0)} ms; ` +
            result.attacks.map((a) => `${a.name}: ${a.status} in ${a.ms.toFixed(0)} ms`).join('; '),
        );
      } else {
        const lines: string[] = [];
        for (const attack of [bounded[0]!, ...attacks.filter((a) => a !== bounded[0])]) {
          await serverLagMax(server.url);
          const result = await probeWhile(server.url, [attack]);
          const lag = await serverLagMax(server.url);
          const a = result.attacks[0]!;
          const entry = alone.get(attack.name) ?? { max: [], lag: [], status: a.status, ms: [], bytes: a.bytes };
          entry.max.push(result.max);
          entry.lag.push(lag);
          entry.ms.push(a.ms);
          alone.set(attack.name, entry);
          lines.push(
            `${attack.name}: ${a.status} in ${a.ms.toFixed(0)} ms, /healthz max ${result.max.toFixed(0)} ms, loop delay ${lag.toFixed(0)} ms`,
          );
        }
        details.push(
          `- round ${round + 1}, one at a time on a fresh server: nothing in flight: /healthz max ${idle.max.toFixed(0)} ms over ${idle.n} probes; ${lines.join('; ')}`,
        );
      }
    } finally {
      await server.stop();
    }
  }
  const range = (values: number[]): string => {
    const sorted = [...values].sort((a, b) => a - b);
    return `${sorted[Math.floor(sorted.length / 2)]!.toFixed(0)} ms (${sorted[0]!.toFixed(0)}–${sorted.at(-1)!.toFixed(0)}, n=${values.length})`;
  };
  const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const worstAlone = [...alone.entries()].sort((a, b) => median(b[1].max) - median(a[1].max));
  const figures: Section['figures'] = [];
  if (maxima.length > 0)
    figures.push({
      name: '/healthz, slowest answer while every blocking request is in flight at once',
      value: range(maxima),
      target: '< 50 ms',
      met: median(maxima) < 50,
    });
  if (worstAlone.length > 0) {
    const [name, worst] = worstAlone[0]!;
    figures.push({
      name: `/healthz, slowest answer with one request in flight, worst request (${name})`,
      value: range(worst.max),
      target: '< 50 ms',
      met: median(worst.max) < 50,
    });
  }
  if (worstAlone.length > 0) {
    const [name, worst] = [...alone.entries()].sort((a, b) => median(b[1].lag) - median(a[1].lag))[0]!;
    figures.push({
      name: `the server's slowest event-loop delay (nodejs_eventloop_lag_max_seconds) with one request in flight, worst request (${name})`,
      value: range(worst.lag),
      target: '',
    });
  }
  if (lagMaxima.length > 0)
    figures.push({
      name: "the server's slowest event-loop delay while every blocking request is in flight at once",
      value: range(lagMaxima),
      target: '',
    });
  figures.push({
    name: '/healthz, slowest answer with nothing in flight (the noise floor of this machine)',
    value: range(idleMaxima),
    target: '',
  });
  return {
    title: '8. No request freezes the server',
    figures,
    details: [
      `A fresh \`toolsim serve\` (default limits: 4 MiB bodies, --max-body-keys 10,000, --max-batch 1,000) on the cache of scenario 6 ` +
        '(one tool, neighbour index not yet built) per round. Odd rounds send every request at once; even rounds send each alone, ' +
        'the first miss first; meanwhile `GET /healthz` on a new connection every 10 ms until the requests are answered. ' +
        `The requests: ${attacks.map((a) => a.name).join(', ')}.`,
      '',
      "The server's slowest event-loop delay is `nodejs_eventloop_lag_max_seconds` of its `/metrics` (prom-client's 10 ms timer, " +
        'reset by each scrape), read before and after the requests: measured inside the server, it leaves out the time the client ' +
        'and the probe wait for a CPU on a shared machine, which /healthz includes.',
      '',
      '| request, alone | status | answer bytes | slowest /healthz | server’s slowest loop delay | request time |',
      '|---|---|---|---|---|---|',
      ...worstAlone.map(([name, e]) => `| ${name} | ${e.status} | ${e.bytes} | ${range(e.max)} | ${range(e.lag)} | ${range(e.ms)} |`),
      '',
      ...details,
    ],
  };
}
