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
  const block = `<tool_call>${JSON.stringify({ name: tool, arguments: recorded })}</tool_call>`;
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
