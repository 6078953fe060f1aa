/**
 * Hostile requests against a real server on 127.0.0.1: every malformed request is a 4xx with a JSON
 * error, none a 5xx; the server answers normally afterwards; heap does not grow across rounds;
 * nothing reaches Object.prototype.
 */
import { Agent, request as httpRequest } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { createMetrics } from '../src/core/metrics.js';
import { Simulator } from '../src/simulator/simulator.js';
import { cacheOf, onCleanup } from './helpers.js';
import { type HostileRequest, hostileCorpus } from './hostile/corpus.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(base: URL, agent: Agent, req: HostileRequest): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...req.headers };
    if (req.body !== undefined) headers['content-length'] = req.body.length;
    const r = httpRequest({ host: base.hostname, port: base.port, method: req.method, path: req.path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(req.body);
  });
}

const records = [
  { server: 'shop', tool: 'lookup', arguments: { id: 1 }, output: { name: 'one' } },
  { server: 'shop', tool: 'lookup', arguments: { id: 2 }, output: { name: 'two' } },
  { server: 'a', tool: 'shared', arguments: {}, output: 'a' },
  { server: 'b', tool: 'shared', arguments: {}, output: 'b' },
];

describe('hostile requests', () => {
  it('answers every one of >= 500 malformed requests with a 4xx JSON error, and keeps serving', async () => {
    const { store } = await cacheOf(records);
    const metrics = createMetrics({ cacheCalls: () => 0, processMetrics: false });
    const simulator = new Simulator({ store, metrics });
    const limits = { bodyLimit: 8 * 1024 * 1024, maxBatch: 100 };
    const app = await buildApp({ simulator: () => simulator, metrics, ...limits });
    onCleanup(() => app.close());
    const base = new URL(await app.listen({ host: '127.0.0.1', port: 0 }));
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    onCleanup(() => agent.destroy());

    const corpus = hostileCorpus(limits);
    expect(corpus.length).toBeGreaterThanOrEqual(500);
    const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();

    const heap: number[] = [];
    const wrong: string[] = [];
    for (let round = 0; round < 3; round++) {
      for (const req of corpus) {
        const reply = await send(base, agent, req);
        let error: unknown;
        try {
          error = (JSON.parse(reply.body) as { error?: unknown }).error;
        } catch {
          error = undefined;
        }
        const ok =
          reply.status >= 400 &&
          reply.status < 500 &&
          reply.headers['content-type']?.toString().startsWith('application/json') &&
          error !== undefined;
        if (!ok && round === 0) wrong.push(`${req.name}: ${reply.status} ${reply.body.slice(0, 120)}`);
      }
      gc();
      heap.push(process.memoryUsage().heapUsed);
    }
    console.info(
      `[figures] hostile requests: ${corpus.length} x 3 rounds, all 4xx JSON; heap after gc per round (MB): ${heap.map((h) => (h / 2 ** 20).toFixed(1)).join(', ')}`,
    );
    expect(wrong).toEqual([]);
    // Round 1 warms caches and JIT; rounds 2 and 3 must not keep growing.
    expect(heap[2]! - heap[1]!).toBeLessThan(16 * 1024 * 1024);

    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeBefore);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();

    const healthy = await send(base, agent, { name: 'health', method: 'GET', path: '/healthz' });
    expect(healthy.status).toBe(200);
    const exact = await send(base, agent, {
      name: 'exact',
      method: 'POST',
      path: '/v1/call',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify({ tool: 'lookup', arguments: { id: 2 } })),
    });
    expect(exact.status).toBe(200);
    expect(JSON.parse(exact.body)).toMatchObject({ tier: 'exact', output: { name: 'two' } });
  });

  it('keeps a __proto__ key inside an arguments string as plain data, polluting nothing', async () => {
    const { store } = await cacheOf(records);
    const metrics = createMetrics({ cacheCalls: () => 0, processMetrics: false });
    const simulator = new Simulator({ store, metrics });
    const app = await buildApp({ simulator: () => simulator, metrics });
    onCleanup(() => app.close());
    for (const args of ['{"__proto__":{"polluted":"yes"}}', '{"constructor":{"prototype":{"polluted":"yes"}}}']) {
      const res = await app.inject({ method: 'POST', url: '/v1/call', payload: { tool: 'lookup', arguments: args } });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ tier: 'miss' });
    }
    // A batch item with a bad shape is an error result for that item alone, not a 4xx.
    const batch = await app.inject({
      method: 'POST',
      url: '/v1/calls',
      payload: { calls: [[[[1]]], { tool: 'lookup', arguments: { id: 1 } }] },
    });
    expect(batch.statusCode).toBe(200);
    expect(batch.json()).toMatchObject({ results: [{ error: { code: 'invalid_request' } }, { tier: 'exact' }] });
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});
