/**
 * Labels a trainer can rely on: big numbers replayed digit for digit on every protocol, recorded
 * infrastructure failures never served as answers, and the source trajectory's own observation.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../src/core/metrics.js';
import { ingest } from '../src/ingest/ingest.js';
import { BUILT_IN_TRANSIENT_PATTERNS, transientMatcher } from '../src/ingest/transient.js';
import { sameOutput } from '../src/replay/compare.js';
import { replay } from '../src/replay/replay.js';
import { SimulatorTarget } from '../src/replay/targets.js';
import { Simulator } from '../src/simulator/simulator.js';
import { Store } from '../src/store/store.js';
import { API_BANK, appOf, cacheOf, metricValue, TAU_BENCH, tempDir, writeLog } from './helpers.js';

// The samples are copies of ../shared/datasets/*/calls.jsonl (the same bytes).
const DATASETS = { 'tau-bench': TAU_BENCH, 'api-bank': API_BANK };
const post = (url: string, payload: unknown) => ({ method: 'POST' as const, url, payload: payload as Record<string, unknown> });

describe('lossless numbers over HTTP', () => {
  const OUTPUT = '{"listing_id":593322347340602809,"price":1.50,"ratio":1e-7,"nested":[{"id":18446744073709551615}]}';
  const lines = [
    `{"server": "shop", "tool": "listing", "arguments": {"listing_id": 593322347340602809}, "output": ${OUTPUT.replace(',', ', ')}}`,
    '{"server": "shop", "tool": "listing", "arguments": {"listing_id": 593322347340602810}, "output": {"listing_id": 593322347340602810}}',
  ];

  it('keys 64-bit ids apart and replays outputs digit for digit on /v1/call, /v1/calls and /v1/servers/...', async () => {
    const { store } = await cacheOf(lines);
    const { app } = await appOf(store);
    const body = '{"server": "shop", "tool": "listing", "arguments": {"listing_id": 593322347340602809}}';
    const headers = { 'content-type': 'application/json' };
    const one = await app.inject({ method: 'POST', url: '/v1/call', headers, payload: body });
    expect(one.body).toContain(`"output":${OUTPUT},`);
    const other = await app.inject({ method: 'POST', url: '/v1/call', headers, payload: body.replace('809', '810') });
    expect(other.body).toContain('"output":{"listing_id":593322347340602810},');
    expect(one.json().match.key).not.toBe(other.json().match.key);
    // Never recorded: a neighbour of both ids is no exact answer.
    const unseen = await app.inject({ method: 'POST', url: '/v1/call', headers, payload: body.replace('809', '811') });
    expect(unseen.json().tier).toBe('miss');
    // Arguments as a JSON string, and 1.0e0-style spellings of the same value.
    const asString = await app.inject(post('/v1/call', { tool: 'listing', arguments: '{"listing_id": 5933223473406028090e-1}' }));
    expect(asString.body).toContain(`"output":${OUTPUT},`);
    const batch = await app.inject({ method: 'POST', url: '/v1/calls', headers, payload: `{"calls": [${body}]}` });
    expect(batch.body).toContain(`"output":${OUTPUT},`);
    const path = await app.inject({
      method: 'POST',
      url: '/v1/servers/shop/tools/listing',
      headers,
      payload: '{"listing_id": 593322347340602809}',
    });
    expect(path.body).toContain(`"output":${OUTPUT},`);
  });

  it('replays them digit for digit as MCP text content and verl observations', async () => {
    const { store } = await cacheOf(lines);
    const { app } = await appOf(store);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const mcp = await fetch(`${url}/mcp/shop`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: '{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "listing", "arguments": {"listing_id": 593322347340602809}}}',
    });
    const result = (await mcp.json()) as { result: { content: { text: string }[] } };
    expect(result.result.content[0]!.text).toBe(OUTPUT);
    const verl = await app.inject(
      post('/get_observation', {
        trajectory_ids: ['r1'],
        actions: ['<tool_call>{"name": "listing", "arguments": {"listing_id": 593322347340602809}}</tool_call>'],
      }),
    );
    expect(verl.json().observations[0]).toBe(`<tool_response>\n${OUTPUT}\n</tool_response>`);
  });

  it('replay compares outputs by exact value too', () => {
    expect(sameOutput('{"id":593322347340602809}', '{"id":593322347340602810}')).toBe(false);
    expect(sameOutput('{"id":593322347340602809}', '{"id": 5933223473406028090e-1}')).toBe(true);
    expect(sameOutput('"{\\"id\\": 593322347340602809}"', '{"id":593322347340602810}')).toBe(false);
    expect(sameOutput('{"a":1.50}', '{"a":1.5}')).toBe(true);
  });

  it('takes a verl trajectory id past 2^53 as its digits', async () => {
    const { store } = await cacheOf(lines);
    const { app } = await appOf(store);
    const action = '"<tool_call>{\\"name\\": \\"listing\\", \\"arguments\\": {\\"listing_id\\": 593322347340602810}}</tool_call>"';
    const verl = await app.inject({
      method: 'POST',
      url: '/get_observation',
      headers: { 'content-type': 'application/json' },
      payload: `{"trajectory_ids": [12345678901234567890], "actions": [${action}]}`,
    });
    expect(verl.statusCode).toBe(200);
    expect(verl.json().observations[0]).toContain('593322347340602810');
  });

  it('refuses a cache of key version 1 with a message to re-ingest', async () => {
    const { store, path } = await cacheOf(lines);
    store.close();
    const { Sqlite } = await import('../src/store/sqlite.js');
    const db = new Sqlite(path);
    db.prepare("DELETE FROM meta WHERE name = 'key_version'").run();
    db.close();
    expect(() => Store.open(path, { readonly: true })).toThrow(/toolsim-key-v1.*toolsim-key-v2.*Re-ingest/);
    expect(() => Store.open(path)).toThrow(/Re-ingest/);
  });
});

describe('recorded failures (transient)', () => {
  const call = (output: unknown, extra: object = {}) => ({ server: 'web', tool: 'fetch', arguments: { url: 'a' }, output, ...extra });

  it('recognizes the usual infrastructure failures by their text, and no real tool error', () => {
    const isTransient = transientMatcher();
    for (const text of [
      "HTTPSConnectionPool(host='api.example.com', port=443): Max retries exceeded with url: /v1 (Caused by ProxyError('Unable to connect to proxy'))",
      "HTTPSConnectionPool(host='x', port=443): Read timed out. (read timeout=10)",
      'Connection pool is full, discarding connection: api.example.com',
      "('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))",
      'httpx.ReadTimeout: timed out',
      'Expecting value: line 1 column 1 (char 0)',
      'json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)',
      'Unexpected token \'<\', "<!DOCTYPE "... is not valid JSON',
      'Unexpected end of JSON input',
      'Error: read ECONNRESET',
      'connect ETIMEDOUT 10.0.0.1:443',
      'Error: socket hang up',
      'TypeError: fetch failed',
      '<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>',
      '503 Service Temporarily Unavailable',
      '429 Too Many Requests',
      'Request failed with status code 504',
      'Rate limit exceeded. Please retry after 30 seconds.',
      'upstream connect error or disconnect/reset before headers. reset reason: connection failure',
    ])
      expect([text, isTransient(text)]).toEqual([text, true]);
    for (const text of [
      'Error: user not found',
      'Error: order not found',
      'Error: the flight is not available',
      'Error: insufficient gift card balance',
      '{"status": "ok", "items": [429, 502, 503]}',
      'The server answered in 504 ms',
      `${'x'.repeat(20_000)} socket hang up`,
    ])
      expect([text, isTransient(text)]).toEqual([text, false]);
    expect(transientMatcher(['^quota: .*'])('quota: spent')).toBe(true);
    expect(() => transientMatcher(['('])).toThrow(/--transient-pattern/);
    expect(BUILT_IN_TRANSIENT_PATTERNS.length).toBeGreaterThan(10);
  });

  it('finds no recorded failure in the real datasets (tau-bench "Error: ..." outputs are real answers)', async () => {
    const isTransient = transientMatcher();
    let errors = 0;
    for (const file of Object.values(DATASETS)) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!line) continue;
        const record = JSON.parse(line) as { output: unknown };
        const text = typeof record.output === 'string' ? record.output : JSON.stringify(record.output);
        if (text.startsWith('Error')) errors++;
        expect([text.slice(0, 200), isTransient(text)]).toEqual([text.slice(0, 200), false]);
      }
    }
    expect(errors).toBeGreaterThan(100);
  });

  it('prefers a real answer under every repeat policy; a key with only failures is a recorded_failure miss', async () => {
    const records = [
      call('Error: read ECONNRESET', { is_error: true }),
      call({ body: 'real' }),
      call("HTTPSConnectionPool(host='a', port=443): Read timed out.", { is_error: true }),
      { ...call('timeout at the edge', { transient: true }), arguments: { url: 'b' } },
      { ...call('Error: socket hang up'), arguments: { url: 'c' }, transient: false },
    ];
    const { store, summary } = await cacheOf(records);
    expect(summary.transient).toBe(3);
    for (const repeatPolicy of ['first', 'last', 'most-common'] as const) {
      const { app, metrics } = await appOf(store, { repeatPolicy });
      const real = (await app.inject(post('/v1/call', { tool: 'fetch', arguments: { url: 'a' } }))).json();
      expect(real).toMatchObject({ tier: 'exact', output: { body: 'real' }, is_error: false, match: { observations: 3, failures: 2 } });
      const failed = (await app.inject(post('/v1/call', { tool: 'fetch', arguments: { url: 'b' } }))).json();
      expect(failed).toMatchObject({
        tier: 'miss',
        reason: 'recorded_failure',
        is_error: true,
        match: { observations: 1, failures: 1, recorded: 'timeout at the edge' },
      });
      // Declared not transient: served as recorded.
      const declared = (await app.inject(post('/v1/call', { tool: 'fetch', arguments: { url: 'c' } }))).json();
      expect(declared).toMatchObject({ tier: 'exact', output: 'Error: socket hang up' });
      const text = await metrics.registry.metrics();
      expect(metricValue(text, 'toolsim_misses_total{reason="recorded_failure"}')).toBe(1);
    }
    const stats = store.stats();
    expect([stats.transientCalls, stats.failureOnlyKeys]).toEqual([3, 1]);
  });

  it('toolsim replay counts recorded_failure misses and never compares with a recorded outage', async () => {
    const records = [call('Error: socket hang up', { is_error: true }), { ...call({ ok: 1 }), arguments: { url: 'z' } }];
    const { store } = await cacheOf(records);
    const simulator = new Simulator({ store, metrics: createMetrics({ cacheCalls: () => 0, processMetrics: false }) });
    const testSet = writeLog(tempDir(), 'test.jsonl', [records[0]!, { ...records[1]!, output: 'TypeError: fetch failed' }]);
    const report = await replay({ inputs: [testSet], target: new SimulatorTarget(simulator, store.path) });
    expect(report.missReasons).toEqual([{ reason: 'recorded_failure', calls: 1, share: 0.5 }]);
    expect(report.expectedFailures).toBe(2);
    expect(report.overall.differing).toBe(0);
  });

  it('takes --transient-pattern at ingest and keeps a re-ingest idempotent', async () => {
    const dir = tempDir();
    const log = writeLog(dir, 'log.jsonl', [call('QuotaGuard: spent')]);
    const store = Store.open(join(dir, 'cache.db'));
    try {
      const first = await ingest({ store, inputs: [log], transientPatterns: ['^QuotaGuard:'] });
      expect([first.callsAdded, first.transient]).toEqual([1, 1]);
      const again = await ingest({ store, inputs: [log] });
      expect(again.callsAdded).toBe(0);
      const simulator = new Simulator({ store, metrics: createMetrics({ cacheCalls: () => 0, processMetrics: false }) });
      expect((await simulator.resolve({ tool: 'fetch', arguments: { url: 'a' } })).reason).toBe('recorded_failure');
    } finally {
      store.close();
    }
  });
});

describe('source scope: source_trajectory_id', () => {
  const records = [
    { tool: 'order', arguments: { id: 1 }, output: 'pending', trajectory_id: 'A' },
    { tool: 'order', arguments: { id: 1 }, output: 'cancelled', trajectory_id: 'B' },
    { tool: 'order', arguments: { id: 1 }, output: 'refunded', trajectory_id: 'B' },
    { tool: 'order', arguments: { id: 1 }, output: 'Error: socket hang up', is_error: true, trajectory_id: 'C' },
    { tool: 'order', arguments: { id: 2 }, output: 'same', trajectory_id: 'A' },
    { tool: 'order', arguments: { id: 2 }, output: 'same', trajectory_id: 'B' },
  ];

  it("serves the source trajectory's first observation, else the policy, and says which rule chose", async () => {
    const { store } = await cacheOf(records);
    const { app } = await appOf(store, { repeatPolicy: 'last' });
    const ask = async (url: string, payload: unknown) => (await app.inject(post(url, payload))).json();
    expect(await ask('/v1/call', { tool: 'order', arguments: { id: 1 }, source_trajectory_id: 'B' })).toMatchObject({
      output: 'cancelled',
      match: { chosen_by: 'source_trajectory', observations: 4, outputs: 3, failures: 1 },
    });
    expect(await ask('/v1/call', { tool: 'order', arguments: { id: 1 }, source_trajectory_id: 'A' })).toMatchObject({
      output: 'pending',
      match: { chosen_by: 'source_trajectory' },
    });
    // C recorded only a failure, and Z never recorded the call: the policy (last real answer).
    for (const source of ['C', 'Z'])
      expect(await ask('/v1/call', { tool: 'order', arguments: { id: 1 }, source_trajectory_id: source })).toMatchObject({
        output: 'refunded',
        match: { chosen_by: 'policy' },
      });
    expect(await ask('/v1/call', { tool: 'order', arguments: { id: 2 }, source_trajectory_id: 'B' })).toMatchObject({
      output: 'same',
      match: { chosen_by: 'source_trajectory' },
    });
    const batch = await ask('/v1/calls', {
      calls: [
        { tool: 'order', arguments: { id: 1 }, source_trajectory_id: 'A' },
        { tool: 'order', arguments: { id: 1 }, source_trajectory_id: 7 },
      ],
    });
    expect(batch.results[0]).toMatchObject({ output: 'pending', match: { chosen_by: 'source_trajectory' } });
    expect(batch.results[1]).toMatchObject({ error: { code: 'invalid_request' } });
    expect(await ask('/v1/servers/default/tools/order?source_trajectory_id=A', { id: 1 })).toMatchObject({ output: 'pending' });
    const verl = await ask('/get_observation', {
      trajectory_ids: ['rollout-1'],
      actions: ['<tool_call>{"name": "order", "arguments": {"id": 1}}</tool_call>'],
      extra_fields: [{ source_trajectory_id: 'A' }],
    });
    expect(verl.observations[0]).toBe('<tool_response>\npending\n</tool_response>');
  });

  it('takes it from MCP _meta', async () => {
    const { store } = await cacheOf(records);
    const { app } = await appOf(store);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const response = await fetch(`${url}/mcp/default`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'order', arguments: { id: 1 }, _meta: { 'toolsim/source_trajectory_id': 'B' } },
      }),
    });
    expect(((await response.json()) as { result: { content: { text: string }[] } }).result.content[0]!.text).toBe('cancelled');
  });

  it('replays every recorded trajectory of both datasets with its own observations (100%)', async () => {
    for (const [dataset, file] of Object.entries(DATASETS)) {
      const { store } = await cacheOf([file]);
      const simulator = new Simulator({ store, metrics: createMetrics({ cacheCalls: () => 0, processMetrics: false }) });
      // The first output each trajectory recorded for each key: what its label was read from.
      const own = new Map<string, string>();
      let calls = 0;
      let chosen = 0;
      let matching = 0;
      for (const recorded of store.recordedCalls()) {
        if (recorded.trajectoryId === null) continue;
        const id = `${recorded.trajectoryId}\0${recorded.key}`;
        if (!own.has(id)) own.set(id, recorded.outputJson);
      }
      for (const recorded of store.recordedCalls()) {
        if (recorded.trajectoryId === null) continue;
        calls++;
        const answer = await simulator.resolve({
          server: recorded.server,
          tool: recorded.tool,
          arguments: recorded.arguments,
          source_trajectory_id: recorded.trajectoryId,
        });
        if (answer.match.chosen_by === 'source_trajectory') chosen++;
        if (answer.outputJson === own.get(`${recorded.trajectoryId}\0${recorded.key}`)) matching++;
      }
      expect([dataset, calls > 0, chosen, matching]).toEqual([dataset, true, calls, calls]);
    }
  });
});
