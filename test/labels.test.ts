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
    const matcher = transientMatcher();
    // Recorded as a successful string output: the text is the failure, from its start.
    const isTransient = (text: string): boolean => matcher({ text, isString: true, isError: false });
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
    expect(transientMatcher(['^quota: .*'])({ text: 'quota: spent', isString: true, isError: false })).toBe(true);
    expect(() => transientMatcher(['('])).toThrow(/--transient-pattern/);
    expect(BUILT_IN_TRANSIENT_PATTERNS.length).toBeGreaterThan(10);
  });

  it('finds no recorded failure in the real datasets (tau-bench "Error: ..." outputs are real answers)', async () => {
    const isTransient = transientMatcher();
    let errors = 0;
    for (const file of Object.values(DATASETS)) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!line) continue;
        const record = JSON.parse(line) as { output: unknown; is_error?: boolean };
        const isString = typeof record.output === 'string';
        const text = isString ? (record.output as string) : JSON.stringify(record.output);
        if (text.startsWith('Error')) errors++;
        // Either way it was recorded: as the tool's error, and as a success.
        for (const isError of [true, false]) {
          expect([text.slice(0, 200), isTransient({ text, isString, isError })]).toEqual([text.slice(0, 200), false]);
        }
      }
    }
    expect(errors).toBeGreaterThan(100);
  });

  /** Real answers of search, fetch, monitoring and weather tools that mention an outage. */
  const MENTIONS: readonly { tool: string; output: unknown }[] = [
    {
      tool: 'search',
      output: {
        results: [
          {
            title: 'HTTP 429 Too Many Requests - MDN',
            snippet: 'The HTTP 429 Too Many Requests response status code indicates the user has sent too many requests.',
          },
          {
            title: 'Fixing 502 Bad Gateway in nginx',
            snippet: 'upstream connect error or disconnect/reset before headers means Envoy could not reach the pod.',
          },
        ],
      },
    },
    {
      tool: 'search',
      output: 'Top result: "429 Too Many Requests" explained. Rate limit exceeded errors happen when a client sends too much.',
    },
    {
      tool: 'fetch',
      output: '# Handling timeouts\n\nCatch `requests.exceptions.ReadTimeout` and retry; a `ReadTimeout` means the server was slow.',
    },
    { tool: 'fetch', output: { status: 200, body: 'How to fix ECONNRESET and socket hang up in Node.js' } },
    { tool: 'fetch', output: '<html><body><h1>Status page</h1><p>Yesterday: 503 Service Unavailable for 4 minutes.</p></body></html>' },
    { tool: 'monitor', output: 'a.example is DOWN: 503 Service Unavailable (checked 12:00 UTC)' },
    { tool: 'monitor', output: { host: 'a.example', state: 'DOWN', detail: '503 Service Unavailable' } },
    { tool: 'monitor', output: [{ check: 'api', last_error: "HTTPSConnectionPool(host='api', port=443): Read timed out." }] },
    { tool: 'weather', output: 'Tonight: dense fog. Rate limited visibility below 200 m on the coast.' },
    { tool: 'weather', output: { forecast: 'Rate limited visibility', wind: 'calm' } },
    { tool: 'weather', output: 'Ferries: connection refused by the operator due to storms; crossings resume Tuesday.' },
  ];

  it('never takes a recorded success that mentions an outage for one (0 of the corpus matched)', async () => {
    const isTransient = transientMatcher();
    const matched = MENTIONS.filter(({ output }) => {
      const isString = typeof output === 'string';
      return isTransient({ text: isString ? (output as string) : JSON.stringify(output), isString, isError: false });
    });
    expect(matched).toEqual([]);
    // Ingested and served: each one is an exact answer, not a recorded_failure miss.
    const records = MENTIONS.map(({ tool, output }, i) => ({ server: 'web', tool, arguments: { i }, output }));
    const { store, summary } = await cacheOf(records);
    expect(summary.transient).toBe(0);
    const { app } = await appOf(store);
    for (const [i, { tool, output }] of MENTIONS.entries()) {
      const answer = (await app.inject(post('/v1/call', { tool, arguments: { i } }))).json();
      expect(answer).toMatchObject({ tier: 'exact', output });
    }
  });

  it('reads the start of a successful string in linear time, whatever it starts with', () => {
    const isTransient = transientMatcher();
    // Leads that a repeated, overlapping lead pattern would backtrack on exponentially (61 spaces took 12 s).
    for (const text of [' '.repeat(2000), '( '.repeat(1000), 'Error: '.repeat(290), 'connect '.repeat(250), `${"['".repeat(1000)}x`]) {
      const started = performance.now();
      expect(isTransient({ text: `${text}x`, isString: true, isError: false })).toBe(false);
      // Wide guard (a loaded machine): linear work on 2 KiB is well under a millisecond.
      expect(performance.now() - started).toBeLessThan(1000);
    }
    expect(isTransient({ text: `${' '.repeat(100)}Error: 429 Too Many Requests`, isString: true, isError: false })).toBe(true);
  });

  it('recognizes a failure anywhere in an error output, a JSON one included, and only there', async () => {
    const isTransient = transientMatcher();
    const error = (output: unknown) => ({
      text: typeof output === 'string' ? output : JSON.stringify(output),
      isString: typeof output === 'string',
      isError: true,
    });
    expect(isTransient(error({ error: 'upstream: 503 Service Unavailable' }))).toBe(true);
    expect(isTransient(error('Tool failed while calling the API: read ECONNRESET'))).toBe(true);
    expect(isTransient({ ...error({ error: 'upstream: 503 Service Unavailable' }), isError: false })).toBe(false);
    expect(isTransient(error('Error: user not found'))).toBe(false);
    // A Python traceback recorded as a success: its last line is the failure.
    const traceback =
      'Traceback (most recent call last):\n  File "tool.py", line 3, in run\n    r = requests.get(url)\nrequests.exceptions.ConnectionError: HTTPSConnectionPool(host=\'api\', port=443): Max retries exceeded with url: /x';
    expect(isTransient({ text: traceback, isString: true, isError: false })).toBe(true);
  });

  it('takes a transcript result\'s own "transient": false (OpenAI chat, Anthropic, MCP _meta)', async () => {
    const dir = tempDir();
    const chat = writeLog(dir, 'chat.jsonl', [
      {
        messages: [
          { role: 'user', content: 'go' },
          { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'probe', arguments: '{"host":"a"}' } }] },
          { role: 'tool', tool_call_id: 'c1', content: 'Error: socket hang up', transient: false },
          { role: 'assistant', tool_calls: [{ id: 'c2', type: 'function', function: { name: 'probe', arguments: '{"host":"b"}' } }] },
          { role: 'tool', tool_call_id: 'c2', content: 'Error: socket hang up' },
        ],
      },
    ]);
    const { store, summary } = await cacheOf([chat]);
    expect(summary.transient).toBe(1);
    const { app } = await appOf(store);
    expect((await app.inject(post('/v1/call', { tool: 'probe', arguments: { host: 'a' } }))).json()).toMatchObject({
      tier: 'exact',
      output: 'Error: socket hang up',
    });
    expect((await app.inject(post('/v1/call', { tool: 'probe', arguments: { host: 'b' } }))).json()).toMatchObject({
      tier: 'miss',
      reason: 'recorded_failure',
    });
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

  it('compares trajectory ids as NFC, as every other string: a recorded NFD id matches an NFC request, and back', async () => {
    const nfc = 'café-run'.normalize('NFC');
    const nfd = 'résumé-run'.normalize('NFD');
    const { store } = await cacheOf([
      { tool: 'order', arguments: { id: 3 }, output: 'from café', trajectory_id: nfc },
      { tool: 'order', arguments: { id: 3 }, output: 'from résumé', trajectory_id: nfd },
      { tool: 'order', arguments: { id: 3 }, output: 'from other', trajectory_id: 'other' },
      { tool: 'order', arguments: { id: 4 }, output: 'only', trajectory_id: nfd },
    ]);
    const { app } = await appOf(store, { repeatPolicy: 'last' });
    const ask = async (source: string, id = 3) =>
      (await app.inject(post('/v1/call', { tool: 'order', arguments: { id }, source_trajectory_id: source }))).json();
    expect(await ask(nfc.normalize('NFD'))).toMatchObject({ output: 'from café', match: { chosen_by: 'source_trajectory' } });
    expect(await ask(nfd.normalize('NFC'))).toMatchObject({ output: 'from résumé', match: { chosen_by: 'source_trajectory' } });
    expect(await ask(nfd.normalize('NFC'), 4)).toMatchObject({ output: 'only', match: { chosen_by: 'source_trajectory' } });
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
