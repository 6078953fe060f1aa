/**
 * Load: a short closed-loop run against `toolsim serve` in its own process over a mix of exact,
 * miss and unknown-tool calls (the 60 s / 200-connection soak is `npm run soak`); and load
 * shedding: past the event-loop lag limit a call gets 503 + Retry-After while /healthz answers.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type MixedCall, runLoad } from '../bench/load.js';
import { buildApp } from '../src/app.js';
import { createMetrics } from '../src/core/metrics.js';
import { ingest } from '../src/ingest/ingest.js';
import { Simulator } from '../src/simulator/simulator.js';
import { type RecordedCall, Store } from '../src/store/store.js';
import { API_BANK, cacheOf, onCleanup, TAU_BENCH, tempDir } from './helpers.js';
import { serveProcess } from './server-process.js';

function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // Holds the event loop, as a burst of heavy calls would.
  }
}

describe('load', () => {
  it('answers a mixed load at 50 connections with zero failed requests', async () => {
    const dir = tempDir();
    const db = join(dir, 'cache.db');
    const store = Store.open(db);
    await ingest({ store, inputs: [TAU_BENCH, API_BANK] });
    // The first 100 distinct recorded calls.
    const recorded = new Map<string, RecordedCall>();
    for (const call of store.recordedCalls()) {
      if (!recorded.has(call.key)) recorded.set(call.key, call);
      if (recorded.size === 100) break;
    }
    const rows = [...recorded.values()];
    store.close();
    const calls: MixedCall[] = rows.flatMap((row, i) => {
      const args = JSON.parse(row.arguments) as Record<string, unknown>;
      const exact = { path: '/v1/call', body: { server: row.server, tool: row.tool, arguments: args } };
      const miss = { path: '/v1/call', body: { server: row.server, tool: row.tool, arguments: { ...args, load_miss: i } } };
      return i % 4 === 0 ? [exact, miss, { path: '/v1/call', body: { tool: 'no_such_tool', arguments: {} } }] : [exact];
    });
    const server = await serveProcess(['--db', db]);
    const result = await runLoad({ url: server.url, connections: 50, seconds: 3, calls, timeout: 10 });
    console.info(
      `[figures] load (suite): 50 connections x 3 s: ${result.requests} requests, ${result.failed} failed, ${Math.round(result.rps)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms`,
    );
    expect(result.requests).toBeGreaterThan(100);
    expect(result.failed).toBe(0);
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  }, 60_000);

  it('sheds calls with 503 + Retry-After while the event loop lags, keeps /healthz, and recovers', async () => {
    const { store } = await cacheOf([{ server: 'kv', tool: 'get', arguments: { k: 1 }, output: 1 }]);
    const metrics = createMetrics({ cacheCalls: () => 1, processMetrics: false });
    const simulator = new Simulator({ store, metrics });
    const app = await buildApp({ simulator: () => simulator, metrics, maxEventLoopDelay: 200 });
    onCleanup(() => app.close());
    const call = { method: 'POST' as const, url: '/v1/call', payload: { tool: 'get', arguments: { k: 1 } } };
    const settle = async (): Promise<number> => {
      let status = 0;
      for (let i = 0; i < 30 && status !== 200; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        status = (await app.inject(call)).statusCode;
      }
      return status;
    };
    expect(await settle()).toBe(200);

    busyWait(400);
    const shed = await app.inject(call);
    const health = await app.inject({ method: 'GET', url: '/healthz' });
    expect(shed.statusCode).toBe(503);
    expect(shed.headers['retry-after']).toBe('1');
    expect(shed.json()).toMatchObject({ error: { code: 'overloaded' } });
    expect(health.statusCode).toBe(200);

    // Recovery: the live check lets calls through again as soon as the loop is free.
    expect(await settle()).toBe(200);
  });
});
