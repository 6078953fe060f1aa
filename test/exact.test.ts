import { describe, expect, it } from 'vitest';
import { createMetrics } from '../src/core/metrics.js';
import type { Answer } from '../src/core/types.js';
import { Simulator } from '../src/simulator/simulator.js';
import { ANSWER_ENTRY_BYTES, stringBytes } from '../src/tiers/answer-lru.js';
import { appOf, cacheOf, metricValue } from './helpers.js';

describe("the exact tier's LRU", () => {
  it('keeps answering every recorded call exactly when its byte bound forces evictions', async () => {
    const records = Array.from({ length: 200 }, (_, i) => ({ tool: 't', arguments: { i }, output: { i, text: 'x'.repeat(500) } }));
    const { store } = await cacheOf(records);
    const metrics = createMetrics({ cacheCalls: () => 0, processMetrics: false });
    // 4 KiB holds about three of these outputs: nearly every lookup goes back to SQLite.
    const simulator = new Simulator({ store, metrics, lruBytes: 4096 });
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 200; i++) {
        const answer = await simulator.resolve({ tool: 't', arguments: { i } });
        expect([answer.tier, JSON.parse(answer.outputJson).i]).toEqual(['exact', i]);
      }
    }
  });
});

describe('exact answers served again from memory', () => {
  const records = [
    { server: 's', tool: 't', arguments: { q: 'a', n: 1 }, output: { id: 17, text: 'café' } },
    { server: 's', tool: 't', arguments: { q: 'a', n: 1 }, output: { id: 2 } },
    { server: 's', tool: 'u', arguments: { q: 'a', n: 1 }, output: 'u says hi' },
  ];
  const post = (body: string, url = '/v1/call') => ({
    method: 'POST' as const,
    url,
    headers: { 'content-type': 'application/json' },
    payload: body,
  });

  it('answers a repeated request with the same bytes as the first time, and counts every call', async () => {
    const { store } = await cacheOf(records);
    const { app, simulator } = await appOf(store);
    const body = '{"server":"s","tool":"t","arguments":{"n":1,"q":"a"}}';
    const first = await app.inject(post(body));
    expect(first.json()).toMatchObject({ tier: 'exact', is_error: false, match: { observations: 2, outputs: 2 } });
    expect(first.body).toContain('"output":{"id":17,"text":"café"}');
    // Remembered from the second time on: calls that never repeat do not fill the memo.
    expect(simulator.remembered.entries).toBe(0);
    for (let i = 0; i < 4; i++) expect((await app.inject(post(body))).body).toBe(first.body);
    // Another text of the same call (keys reordered) takes the long way and gets the same answer.
    expect((await app.inject(post('{"arguments":{"q":"a","n":1.0},"tool":"t","server":"s"}'))).body).toBe(first.body);
    expect(simulator.remembered.entries).toBe(2);
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metricValue(metrics, 'toolsim_calls_total{tier="exact",server="s",tool="t"}')).toBe(6);
    expect(metricValue(metrics, 'toolsim_call_duration_seconds_count{tier="exact"}')).toBe(6);
    expect(metricValue(metrics, 'toolsim_call_duration_seconds_bucket{le="+Inf",tier="exact"}')).toBe(6);
    expect(metricValue(metrics, 'toolsim_call_duration_seconds_sum{tier="exact"}')).toBeGreaterThan(0);
  });

  it('never serves a remembered answer for the same text with another meaning or a bad request', async () => {
    const { store } = await cacheOf(records);
    const { app } = await appOf(store);
    const body = '{"server":"s","tool":"t","arguments":{"n":1,"q":"a"}}';
    expect((await app.inject(post(body))).json().tier).toBe('exact');
    // The same bytes as the arguments of another tool, by path: that tool's own answer (here a miss).
    const byPath = await app.inject(post(body, '/v1/servers/s/tools/u'));
    expect(byPath.json()).toMatchObject({ tier: 'miss' });
    // A request that differs only in bytes that make it invalid is still refused.
    const bad = await app.inject(post(`${body.slice(0, -1)},"trajectory_id":7}`));
    expect([bad.statusCode, bad.json().error.code]).toEqual([400, 'invalid_request']);
    const invalidUtf8 = Buffer.concat([Buffer.from(body.slice(0, -3)), Buffer.from([0xff]), Buffer.from('"}}')]);
    const refused = await app.inject({
      method: 'POST',
      url: '/v1/call',
      headers: { 'content-type': 'application/json' },
      payload: invalidUtf8,
    });
    expect([refused.statusCode, refused.json().error.code]).toEqual([400, 'invalid_utf8']);
  });

  it('a new snapshot answers from its own recordings, not from what the previous one remembered', async () => {
    const { store } = await cacheOf(records);
    const { store: other } = await cacheOf([{ server: 's', tool: 't', arguments: { q: 'a', n: 1 }, output: 'changed' }]);
    const metrics = createMetrics({ cacheCalls: () => 0, processMetrics: false });
    const body = { server: 's', tool: 't', arguments: { n: 1, q: 'a' } };
    const text = JSON.stringify(body);
    const before = new Simulator({ store, metrics });
    expect((before.resolve(body, text) as Answer).outputJson).toBe('{"id":17,"text":"café"}');
    expect((before.resolve(body, text) as Answer).outputJson).toBe('{"id":17,"text":"café"}');
    const after = new Simulator({ store: other, metrics });
    expect((after.resolve(body, text) as Answer).outputJson).toBe('"changed"');
  });
});

describe("the exact tier's byte accounting", () => {
  it('counts a string of Latin-1 characters at one byte a character and any other at two', () => {
    expect(stringBytes('{"a":"café"}')).toBe(12);
    expect(stringBytes('{"a":"日本"}')).toBe(20);
    expect(stringBytes('{"a":"😀"}')).toBe(20);
  });

  it('holds no more entries than its byte budget allows, counting each entry with its overhead', async () => {
    const records = Array.from({ length: 50 }, (_, i) => ({ tool: 't', arguments: { i }, output: 'x'.repeat(1000) }));
    const { store } = await cacheOf(records);
    const metrics = createMetrics({ cacheCalls: () => 0, processMetrics: false });
    // Room for ten answers of ~1.1 kB text each plus the per-entry overhead, and the memo's share.
    const perEntry = 1000 + 120 + ANSWER_ENTRY_BYTES;
    const simulator = new Simulator({ store, metrics, lruBytes: Math.ceil((10 * perEntry) / (7 / 8)) });
    for (let i = 0; i < 50; i++) expect((await simulator.resolve({ tool: 't', arguments: { i } })).tier).toBe('exact');
    const { entries, bytes } = simulator.exact.cached;
    expect(entries).toBeGreaterThanOrEqual(9);
    expect(entries).toBeLessThanOrEqual(10);
    expect(bytes).toBeGreaterThan(entries * (1000 + ANSWER_ENTRY_BYTES));
  });
});
