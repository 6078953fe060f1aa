/**
 * Every bad input a 4xx: fast-check drives every route (each method of each path in the OpenAPI
 * document, the admin route, unknown paths) with arbitrary path parameters, query strings, headers
 * and bodies (arbitrary bytes, arbitrary JSON, and bodies shaped like each route's own with
 * arbitrary values in every field). No answer may be a 5xx but the documented 503s, and every
 * error answer is the registry's JSON shape with a registered code.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { ERRORS } from '../src/core/errors.js';
import { createMetrics } from '../src/core/metrics.js';
import { Simulator } from '../src/simulator/simulator.js';
import { cacheOf, onCleanup } from './helpers.js';

const records = [
  { kind: 'tool', server: 'shop', tool: 'lookup', input_schema: { type: 'object', properties: { id: { type: 'integer' } } } },
  { server: 'shop', tool: 'lookup', arguments: { id: 1 }, output: { name: 'one' } },
  { server: 'shop', tool: 'lookup', arguments: { id: 2 }, output: 'two <tool_response> <|im_end|>' },
  { server: 'web', tool: 'get', arguments: { url: 'a' }, output: 'Expecting value: line 1 column 1 (char 0)', is_error: true },
  { server: 'a', tool: 'shared', arguments: {}, output: 'a' },
  { server: 'b', tool: 'shared', arguments: {}, output: 'b' },
];

const TOKEN = 'property-token';
/** Routes the OpenAPI document does not list: the admin route, the document itself, no route at all. */
const UNLISTED: readonly (readonly [string, string])[] = [
  ['POST', '/admin/reload'],
  ['GET', '/openapi.json'],
  ['GET', '/v1/nothing/{server}'],
];

/** Every method of every path the app documents (so a route added later is driven too), and the unlisted ones. */
function routesOf(app: { swagger(): unknown }): (readonly [string, string])[] {
  const paths = (app.swagger() as { paths: Record<string, Record<string, unknown>> }).paths;
  const listed = Object.entries(paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => [m.toUpperCase(), path] as const));
  return [...listed, ...UNLISTED];
}

/** A value that may be any JSON, or one of the values the routes read specially. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  fc.constantFrom('lookup', 'shared', 'shop', 'mcp__shop__lookup', '', '__proto__', 'constructor', '1e400', '{"id":1}', '[1]'),
  fc.constantFrom(593322347340602809n, 1e308, -0, 0.1).map((n) => n),
  fc.string({ maxLength: 300 }),
);

const callShaped = fc.record(
  { server: anyValue, tool: anyValue, arguments: anyValue, trajectory_id: anyValue, source_trajectory_id: anyValue },
  { requiredKeys: [] },
);

const bodies: Record<string, fc.Arbitrary<unknown>> = {
  '/v1/call': callShaped,
  '/v1/explain': callShaped,
  '/v1/calls': fc.record({ calls: fc.oneof(fc.array(fc.oneof(callShaped, anyValue), { maxLength: 6 }), anyValue) }, { requiredKeys: [] }),
  '/get_observation': fc.record(
    {
      trajectory_ids: fc.oneof(fc.array(anyValue, { maxLength: 4 }), anyValue),
      actions: fc.oneof(
        fc.array(
          fc.oneof(
            fc.string({ maxLength: 200 }),
            callShaped.map((c) => `<tool_call>${JSON.stringify({ name: c.tool, arguments: c.arguments, server: c.server })}</tool_call>`),
            fc.constant('<tool_call>{"name":"lookup","arguments":{"id":1}}</tool_call>'),
          ),
          { maxLength: 4 },
        ),
        anyValue,
      ),
      extra_fields: fc.oneof(fc.array(fc.dictionary(fc.string({ maxLength: 20 }), anyValue, { maxKeys: 3 }), { maxLength: 4 }), anyValue),
      finish: fc.oneof(fc.array(anyValue, { maxLength: 4 }), anyValue),
    },
    { requiredKeys: [] },
  ),
  '/mcp': fc.record(
    {
      jsonrpc: fc.oneof(fc.constant('2.0'), anyValue),
      id: anyValue,
      method: fc.oneof(fc.constantFrom('initialize', 'tools/list', 'tools/call', 'ping', 'notifications/initialized'), anyValue),
      params: fc.oneof(
        fc.record({ name: anyValue, arguments: anyValue, _meta: anyValue, protocolVersion: anyValue }, { requiredKeys: [] }),
        anyValue,
      ),
    },
    { requiredKeys: [] },
  ),
};

/** An MCP endpoint: /mcp, /mcp/{server} or /servers/{server}/mcp (JSON-RPC errors, not the registry's). */
const isMcp = (path: string): boolean => path.startsWith('/mcp') || /^\/servers\/[^/]*\/mcp$/.test(path);

/** A body for a route: raw bytes, any JSON, or its own shape with arbitrary values. */
function bodyFor(path: string): fc.Arbitrary<Buffer | undefined> {
  const own = bodies[isMcp(path) ? '/mcp' : path];
  const options: fc.Arbitrary<Buffer | undefined>[] = [
    fc.constant(undefined),
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    fc.string({ maxLength: 200 }).map((s) => Buffer.from(s)),
    fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v))),
  ];
  if (own) options.push(own.map((v) => Buffer.from(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x)))));
  if (own) options.push(own.map((v) => Buffer.from(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x)))));
  return fc.oneof(...options);
}

const segment = fc.oneof(
  fc.constantFrom('shop', 'lookup', 'a', 'nope', '%E0%A4%A', '..', '%00', 'x'.repeat(150)),
  fc.string({ minLength: 1, maxLength: 30 }).map(encodeURIComponent),
);
const query = fc.oneof(
  fc.constant(''),
  fc
    .dictionary(
      fc.oneof(fc.constantFrom('since', 'format', 'server', 'source_trajectory_id'), fc.string({ maxLength: 10 })),
      fc.oneof(
        fc.constantFrom('1h', '99999999999h', '0s', '-1h', '1e9d', '3000-01-01', '1969-01-01', 'openai', 'mcp', 'anthropic', ''),
        fc.string({ maxLength: 40 }),
      ),
      { maxKeys: 3 },
    )
    .map((q) => `?${new URLSearchParams(q).toString()}`),
  fc.string({ maxLength: 40 }).map((s) => `?${s}`),
);
const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'text/plain',
  'application/x-www-form-urlencoded',
  undefined,
);

const ALLOWED_503 = new Set(Object.entries(ERRORS).flatMap(([code, e]) => (e.status === 503 ? [code] : [])));

/** Values of the documented query parameters: durations and times of any size, names, formats. */
const queryValue = fc.oneof(
  fc.tuple(fc.stringMatching(/^\d{1,25}(\.\d{1,5})?$/), fc.constantFrom('s', 'm', 'h', 'd')).map(([n, unit]) => `${n}${unit}`),
  fc
    .tuple(fc.integer({ min: -300_000, max: 300_000 }), fc.integer({ min: 1, max: 12 }))
    .map(
      ([year, month]) =>
        `${year < 0 ? '-' : ''}${String(Math.abs(year)).padStart(year > 9999 || year < 0 ? 6 : 4, '0')}-${String(month).padStart(2, '0')}-01`,
    ),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom('openai', 'anthropic', 'mcp', 'shop', 'a', ''),
  fc.string({ maxLength: 30 }),
);
const QUERIES: Record<string, readonly string[]> = {
  '/v1/report': ['since'],
  '/v1/tools': ['format', 'server'],
  '/v1/servers/shop/tools/lookup': ['source_trajectory_id'],
};

describe('every route, arbitrary input', () => {
  it('answers every documented query parameter, whatever its value, without a 5xx', async () => {
    const { store } = await cacheOf(records);
    const metrics = createMetrics({ cacheCalls: () => 0, processMetrics: false });
    const simulator = new Simulator({ store, metrics });
    const app = await buildApp({ simulator: () => simulator, metrics });
    onCleanup(() => app.close());
    const request = fc
      .constantFrom(...Object.keys(QUERIES))
      .chain((path) =>
        fc.record({ path: fc.constant(path), query: fc.dictionary(fc.constantFrom(...QUERIES[path]!), queryValue, { maxKeys: 2 }) }),
      );
    await fc.assert(
      fc.asyncProperty(request, async ({ path, query }) => {
        const url = `${path}?${new URLSearchParams(query).toString()}`;
        const reply = await app.inject({
          method: path.startsWith('/v1/servers') ? 'POST' : 'GET',
          url,
          ...(path.startsWith('/v1/servers') ? { headers: { 'content-type': 'application/json' }, payload: '{"id":1}' } : {}),
        });
        expect(reply.statusCode, `${url} ${reply.body.slice(0, 300)}`).toBeLessThan(500);
      }),
      { numRuns: 500, seed: 20_261_204 },
    );
  }, 120_000);

  it('answers no 5xx but the documented 503s, always in the error shape', async () => {
    const { store } = await cacheOf(records);
    const metrics = createMetrics({ cacheCalls: () => 0, processMetrics: false });
    const simulator = new Simulator({ store, metrics });
    const app = await buildApp({
      simulator: () => simulator,
      metrics,
      maxBatch: 20,
      maxBodyKeys: 500,
      admin: {
        token: TOKEN,
        reload: async () => ({
          reloaded: false,
          snapshot: simulator.snapshotId,
          previous: simulator.snapshotId,
          calls: simulator.callCount,
        }),
      },
    });
    onCleanup(() => app.close());
    const routes = routesOf(app);
    expect(routes.length).toBeGreaterThanOrEqual(19);
    const request = fc.constantFrom(...routes).chain(([method, template]) =>
      fc.record({
        method: fc.constant(method),
        // Every path parameter (`{server}`, `{tool}`, any later one) an arbitrary segment.
        path: fc.array(segment, { minLength: 4, maxLength: 4 }).map((segments) => {
          let i = 0;
          return template.replace(/\{[^}]+\}/g, () => segments[i++ % segments.length]!);
        }),
        query,
        body: bodyFor(template),
        contentType,
        auth: fc.constantFrom(undefined, `Bearer ${TOKEN}`, 'Bearer wrong', 'Basic x'),
        accept: fc.constantFrom(undefined, 'application/json, text/event-stream', 'text/html'),
      }),
    );
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const headers: Record<string, string> = {};
        if (r.contentType !== undefined && r.body !== undefined) headers['content-type'] = r.contentType;
        if (r.auth !== undefined) headers['authorization'] = r.auth;
        if (r.accept !== undefined) headers['accept'] = r.accept;
        const reply = await app.inject({
          method: r.method as 'GET' | 'POST' | 'DELETE',
          url: `${r.path}${r.query}`,
          headers,
          ...(r.body !== undefined && r.method !== 'GET' ? { payload: r.body } : {}),
        });
        seen.set(reply.statusCode, (seen.get(reply.statusCode) ?? 0) + 1);
        const where = `${r.method} ${r.path}${r.query} ${reply.statusCode} ${reply.body.slice(0, 300)}`;
        if (reply.statusCode >= 500) {
          expect(reply.statusCode, where).toBe(503);
          expect(ALLOWED_503.has(reply.json().error?.code), where).toBe(true);
        }
        // Every error outside MCP's JSON-RPC envelope is the registry's shape.
        if (reply.statusCode >= 400 && !isMcp(r.path)) {
          const code = reply.json().error?.code as string | undefined;
          expect(code !== undefined && code in ERRORS, where).toBe(true);
        }
      }),
      { numRuns: 2_000, seed: 20_261_204 },
    );
    console.info(`[figures] statuses over 2,000 arbitrary requests: ${JSON.stringify(Object.fromEntries(seen))}`);
    // The property reached the routes' own work, not only their refusals.
    expect(seen.get(200) ?? 0).toBeGreaterThan(50);
    expect(seen.get(400) ?? 0).toBeGreaterThan(50);
  }, 120_000);
});
