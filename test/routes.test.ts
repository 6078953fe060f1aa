import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../src/openapi.js';
import { checkCallRequest } from '../src/protocols/native.js';
import { appOf, cacheOf, metricValue, ROOT } from './helpers.js';

const records = [
  { server: 'whois', tool: 'whois_lookup', arguments: { domain: 'amazon.com' }, output: { created: '1994-11-01' } },
  { server: 'whois', tool: 'whois_lookup', arguments: { domain: 'amazon.com' }, output: { created: 'changed' } },
  { server: 'whois', tool: 'whois_lookup', arguments: { domain: 'amazon.com' }, output: { created: 'changed' } },
  { server: 'whois', tool: 'whois_lookup', arguments: { domain: 'google.com' }, output: 'Error: no such domain', is_error: true },
  { server: 'a', tool: 'shared', arguments: {}, output: 'from a' },
  { server: 'b', tool: 'shared', arguments: {}, output: 'from b' },
  {
    kind: 'tool',
    server: 'whois',
    tool: 'whois_lookup',
    description: 'Look up a domain',
    input_schema: { type: 'object', properties: { domain: { type: 'string' } } },
  },
];

async function app(repeatPolicy: 'first' | 'last' | 'most-common' = 'first', maxBatch?: number) {
  const { store } = await cacheOf(records);
  return appOf(store, { repeatPolicy }, maxBatch);
}

const post = (url: string, payload: unknown) => ({ method: 'POST' as const, url, payload: payload as Record<string, unknown> });

describe('POST /v1/call', () => {
  it('replays a recorded call exactly, with its key and observation count', async () => {
    const { app: a } = await app();
    const res = await a.inject(post('/v1/call', { server: 'whois', tool: 'whois_lookup', arguments: '{"domain":"amazon.com"}' }));
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({
      tier: 'exact',
      output: { created: '1994-11-01' },
      is_error: false,
      match: { key: expect.stringMatching(/^[0-9a-f]{64}$/), observations: 3, outputs: 2, chosen_by: 'policy' },
    });
  });

  it('serves the observation the repeat policy picks', async () => {
    const call = { tool: 'whois_lookup', arguments: { domain: 'amazon.com' } };
    for (const [policy, created] of [
      ['first', '1994-11-01'],
      ['last', 'changed'],
      ['most-common', 'changed'],
    ] as const) {
      const { app: a } = await app(policy);
      expect((await a.inject(post('/v1/call', call))).json().output).toEqual({ created });
    }
  });

  it('replays recorded errors as errors', async () => {
    const { app: a } = await app();
    const res = await a.inject(post('/v1/call', { tool: 'whois_lookup', arguments: { domain: 'google.com' } }));
    expect(res.json()).toMatchObject({ tier: 'exact', output: 'Error: no such domain', is_error: true });
  });

  it('answers an unrecorded call as a labelled miss with the nearest recorded calls', async () => {
    const { app: a } = await app();
    const res = await a.inject(post('/v1/call', { tool: 'whois_lookup', arguments: { domain: 'amazon.co' } }));
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ tier: 'miss', is_error: true, reason: 'fuzzy_disabled' });
    expect(body.output).toMatch(/^Error: whois_lookup could not process this request/);
    expect(body.match.neighbors[0]).toEqual({ arguments: { domain: 'amazon.com' }, similarity: expect.any(Number) });
    expect(body.match.neighbors[0].similarity).toBeGreaterThan(body.match.neighbors[1].similarity);
  });

  it('names the closest tools when the tool is unknown', async () => {
    const { app: a } = await app();
    const body = (await a.inject(post('/v1/call', { server: 'whois', tool: 'whois_lookp', arguments: {} }))).json();
    expect(body).toMatchObject({ tier: 'miss', reason: 'unknown_tool', is_error: true });
    expect(body.output).toContain('whois_lookup');
  });

  it('needs the server when two servers share the tool name', async () => {
    const { app: a } = await app();
    const res = await a.inject(post('/v1/call', { tool: 'shared', arguments: {} }));
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('ambiguous_tool');
    expect((await a.inject(post('/v1/call', { server: 'b', tool: 'shared', arguments: {} }))).json().output).toBe('from b');
  });

  it.each([
    ['no tool', { arguments: {} }, 'invalid_request'],
    ['tool of the wrong type', { tool: 1, arguments: {} }, 'invalid_request'],
    ['arguments as an array', { tool: 'whois_lookup', arguments: [1] }, 'invalid_request'],
    ['arguments as null', { tool: 'whois_lookup', arguments: null }, 'invalid_request'],
    ['arguments as a non-object JSON string', { tool: 'whois_lookup', arguments: '[1]' }, 'invalid_arguments'],
    ['arguments as a broken JSON string', { tool: 'whois_lookup', arguments: '{' }, 'invalid_arguments'],
    ['server as a number', { server: 2, tool: 'whois_lookup', arguments: {} }, 'invalid_request'],
  ])('refuses %s with a 400 JSON error', async (_name, payload, code) => {
    const { app: a } = await app();
    const res = await a.inject(post('/v1/call', payload));
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe(code);
    expect(res.json().error.message).toEqual(expect.any(String));
  });

  it('refuses bodies that are not JSON objects with a 4xx JSON error', async () => {
    const { app: a } = await app();
    const cases = [
      { headers: { 'content-type': 'application/json' }, payload: '{"tool":', status: 400, code: 'invalid_json' },
      { headers: { 'content-type': 'text/plain' }, payload: 'hello', status: 415, code: 'unsupported_media_type' },
      { headers: { 'content-type': 'application/json' }, payload: '', status: 400, code: 'empty_body' },
      {
        headers: { 'content-type': 'application/json' },
        payload: '{"tool":"t","arguments":{"__proto__":{"x":1}}}',
        status: 400,
        code: 'forbidden_key',
      },
    ];
    for (const { headers, payload, status, code } of cases) {
      const res = await a.inject({ method: 'POST', url: '/v1/call', headers, payload });
      expect([res.statusCode, res.json().error.code]).toEqual([status, code]);
    }
  });
});

describe('POST /v1/calls', () => {
  it('answers in order and isolates a bad item', async () => {
    const { app: a } = await app();
    const res = await a.inject(
      post('/v1/calls', {
        calls: [
          { tool: 'whois_lookup', arguments: { domain: 'amazon.com' } },
          { tool: 42 },
          { tool: 'shared', arguments: {} },
          { tool: 'whois_lookup', arguments: { domain: 'nope.org' } },
        ],
      }),
    );
    expect(res.statusCode).toBe(200);
    const { results } = res.json();
    expect(results.map((r: { tier?: string; error?: { code: string } }) => r.tier ?? r.error?.code)).toEqual([
      'exact',
      'invalid_request',
      'ambiguous_tool',
      'miss',
    ]);
  });

  it('refuses a batch over --max-batch', async () => {
    const { app: a } = await app('first', 2);
    const res = await a.inject(post('/v1/calls', { calls: [1, 2, 3] }));
    expect([res.statusCode, res.json().error.code]).toEqual([400, 'batch_too_large']);
  });

  it('judges a batch item as POST /v1/call judges the same body', async () => {
    const { app: a } = await app();
    const bodies: unknown[] = [
      {},
      { tool: '' },
      { tool: 'x' },
      { tool: 'x', arguments: 1 },
      { tool: 'x', arguments: {} },
      { tool: 'x', arguments: 'str' },
      { tool: 'x', arguments: {}, server: '' },
      { tool: 'x', arguments: {}, trajectory_id: 5 },
      { tool: 'x', arguments: {}, trajectory_id: 't' },
      { tool: 'shared', arguments: {} },
      { tool: 'whois_lookup', arguments: '{"domain":"amazon.com"}' },
    ];
    const outcome = (r: { tier?: string; error?: { code: string } }): string => r.error?.code ?? r.tier ?? '?';
    const singles = await Promise.all(bodies.map(async (body) => outcome((await a.inject(post('/v1/call', body))).json())));
    const batch = (await a.inject(post('/v1/calls', { calls: bodies }))).json().results.map(outcome);
    expect(batch).toEqual(singles);
    expect(new Set(singles)).toEqual(new Set(['invalid_request', 'invalid_arguments', 'miss', 'ambiguous_tool', 'exact']));
    expect(() => checkCallRequest([])).toThrow('a call must be an object');
  });
});

describe('other routes', () => {
  it('POST /v1/servers/:server/tools/:tool takes the arguments as the body', async () => {
    const { app: a } = await app();
    const res = await a.inject(post('/v1/servers/whois/tools/whois_lookup', { domain: 'amazon.com' }));
    expect(res.json()).toMatchObject({ tier: 'exact', output: { created: '1994-11-01' } });
  });

  it('GET /v1/tools lists the catalog with descriptions, schemas and counts', async () => {
    const { app: a } = await app();
    expect((await a.inject({ method: 'GET', url: '/v1/tools' })).json().tools).toEqual([
      { server: 'a', tool: 'shared', calls: 1 },
      { server: 'b', tool: 'shared', calls: 1 },
      {
        server: 'whois',
        tool: 'whois_lookup',
        description: 'Look up a domain',
        input_schema: { type: 'object', properties: { domain: { type: 'string' } } },
        calls: 4,
      },
    ]);
  });

  it('GET /healthz, /readyz and an unknown route', async () => {
    const { app: a } = await app();
    expect((await a.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await a.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'ready', calls: 6, snapshot: expect.any(String) });
    const missing = await a.inject({ method: 'DELETE', url: '/v1/call' });
    expect([missing.statusCode, missing.json().error.code]).toEqual([404, 'not_found']);
  });

  it('GET /metrics counts calls by tier, server and tool, and misses by reason', async () => {
    const { app: a } = await app();
    await a.inject(post('/v1/call', { tool: 'whois_lookup', arguments: { domain: 'amazon.com' } }));
    await a.inject(post('/v1/call', { tool: 'whois_lookup', arguments: { domain: 'amazon.com' } }));
    await a.inject(post('/v1/call', { tool: 'whois_lookup', arguments: { domain: 'x.com' } }));
    await a.inject(post('/v1/call', { tool: 'nope', arguments: {} }));
    const res = await a.inject({ method: 'GET', url: '/metrics' });
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.body;
    expect(metricValue(text, 'toolsim_calls_total{tier="exact",server="whois",tool="whois_lookup"}')).toBe(2);
    expect(metricValue(text, 'toolsim_calls_total{tier="miss",server="whois",tool="whois_lookup"}')).toBe(1);
    expect(metricValue(text, 'toolsim_calls_total{tier="miss",server="_unknown",tool="_unknown"}')).toBe(1);
    expect(metricValue(text, 'toolsim_misses_total{reason="unknown_tool"}')).toBe(1);
    expect(metricValue(text, 'toolsim_call_duration_seconds_count{tier="exact"}')).toBe(2);
    expect(metricValue(text, 'toolsim_cache_calls')).toBe(6);
  });

  it('GET /openapi.json serves the committed openapi/openapi.json, which is up to date', async () => {
    const committed = readFileSync(join(ROOT, 'openapi/openapi.json'), 'utf8');
    expect(committed, 'openapi/openapi.json is stale: run `npm run openapi`').toBe(await openApiDocument());
    const { app: a } = await app();
    expect((await a.inject({ method: 'GET', url: '/openapi.json' })).json()).toEqual(JSON.parse(committed));
  });
});
