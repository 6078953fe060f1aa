/**
 * Scenario 8: no request freezes the server. The requests that used to block the event loop for
 * seconds are sent at once (a near miss with a 1 MB and one with a 100 KB string argument, the
 * first miss of a large tool with its neighbour index still to build, a batch of 100 misses with
 * 3 KB strings, a verl-tool action of 40,000 `<tool_call>` blocks, an MCP call with a 1 MB tool
 * name, a body of 1.5M nested arrays) while `/healthz` is asked every 10 ms on its own connection.
 * The figure is the slowest `/healthz` answer. Shared by `npm run bench` and a test (with a wide margin).
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

/** Scenario 8 of `npm run bench`: fresh servers on the one-tool cache, every blocking request at once, `/healthz` timed. */
export async function blockingScenario(
  cache: { db: string; pool: readonly { server: string; tool: string; arguments: JsonObject }[] },
  rounds: number,
): Promise<Section> {
  const sample = cache.pool[0]!;
  const attacks = blockingAttacks(sample.server, sample.tool, sample.arguments);
  const maxima: number[] = [];
  const idleMaxima: number[] = [];
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
      const result = await probeWhile(server.url, attacks);
      maxima.push(result.max);
      details.push(
        `- round ${round + 1}: nothing in flight: /healthz max ${idle.max.toFixed(0)} ms, p99 ${idle.p99.toFixed(0)} ms over ${idle.n} probes; ` +
          `blocking requests in flight: /healthz max ${result.max.toFixed(0)} ms, p99 ${result.p99.toFixed(0)} ms over ${result.healthz.length} probes; ` +
          result.attacks.map((a) => `${a.name}: ${a.status} in ${a.ms.toFixed(0)} ms`).join('; '),
      );
    } finally {
      await server.stop();
    }
  }
  const sorted = [...maxima].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  const idleSorted = [...idleMaxima].sort((a, b) => a - b);
  return {
    title: '8. No request freezes the server',
    figures: [
      {
        name: '/healthz, slowest answer while the blocking requests are in flight',
        value: `${median.toFixed(0)} ms (${sorted[0]!.toFixed(0)}–${sorted.at(-1)!.toFixed(0)}, n=${rounds})`,
        target: '< 50 ms',
        met: median < 50,
      },
      {
        name: '/healthz, slowest answer with nothing in flight (the noise floor of this machine)',
        value: `${idleSorted[Math.floor(idleSorted.length / 2)]!.toFixed(0)} ms (${idleSorted[0]!.toFixed(0)}–${idleSorted.at(-1)!.toFixed(0)}, n=${rounds})`,
        target: '',
      },
    ],
    details: [
      `A fresh \`toolsim serve\` on the cache of scenario 6 (one tool, neighbour index not yet built) per round; all at once: ` +
        `${attacks.map((a) => a.name).join(', ')}; meanwhile \`GET /healthz\` on a new connection every 10 ms until all are answered.`,
      ...details,
    ],
  };
}
