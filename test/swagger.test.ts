/**
 * What Swagger UI shows a newcomer: examples by name ("exact answer", "labelled miss", ...), never
 * example1/2/3, and every error answer described code by code with bodies the server really sends:
 * each documented error body is produced here by a real request against the tau-bench sample.
 */
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { ERRORS } from '../src/core/errors.js';
import { createMetrics } from '../src/core/metrics.js';
import { BODY_CODES, ERROR_EXAMPLES } from '../src/http/schemas.js';
import { Simulator } from '../src/simulator/simulator.js';
import { appOf, cacheOf, onCleanup, TAU_BENCH, TAU_BENCH_TOOLS } from './helpers.js';

const JSON_TYPE = { 'content-type': 'application/json' };
const REQUESTS: Record<string, { method?: 'GET' | 'POST'; url: string; headers?: Record<string, string>; payload?: string | Buffer }> = {
  'a required field missing': { url: '/v1/call', payload: '{"arguments": {}}' },
  'calls missing': { url: '/v1/calls', payload: '{}' },
  'arguments not an object': { url: '/v1/servers/tau-bench-retail/tools/calculate', payload: '[1]' },
  'trajectory_ids missing': { url: '/get_observation', payload: '{}' },
  'since not understood': { method: 'GET', url: '/v1/report?since=yesterday' },
  'an unknown format': { method: 'GET', url: '/v1/tools?format=yaml' },
  'arguments a JSON string of an array': { url: '/v1/call', payload: '{"tool": "calculate", "arguments": "[1]"}' },
  'a tool of several servers, no server named': {
    url: '/v1/call',
    payload: '{"tool": "get_user_details", "arguments": {"user_id": "yusuf_rossi_9620"}}',
  },
  'too many calls in one batch': {
    url: '/v1/calls',
    payload: JSON.stringify({ calls: Array.from({ length: 1001 }, () => ({ tool: 'calculate', arguments: {} })) }),
  },
  'parallel arrays of different lengths': {
    url: '/get_observation',
    payload: '{"trajectory_ids": ["a"], "actions": ["x", "y"], "extra_fields": [{}]}',
  },
  'malformed JSON': { url: '/v1/call', payload: '{"tool": ' },
  'not UTF-8': { url: '/v1/call', payload: Buffer.from('{"\xff": 1}', 'latin1') },
  'an empty body': { url: '/v1/call', payload: '' },
  'a __proto__ key': { url: '/v1/call', payload: '{"tool": "calculate", "arguments": {"__proto__": {}}}' },
  'nested too deep': { url: '/v1/call', payload: `{"tool": "calculate", "arguments": {"a": ${'['.repeat(200)}${']'.repeat(200)}}}` },
  'a body over --body-limit': {
    url: '/v1/call',
    payload: `{"tool": "calculate", "arguments": {"expression": "${'1+'.repeat(2.2 * 1024 * 1024)}1"}}`,
  },
  'not JSON': { url: '/v1/call', headers: { 'content-type': 'text/plain' }, payload: 'calculate 1+1' },
  'an unknown server': { method: 'GET', url: '/v1/tools?server=nope' },
};

async function sample() {
  const cache = await cacheOf([TAU_BENCH, TAU_BENCH_TOOLS]);
  return appOf(cache.store);
}

describe('Swagger UI: named examples and described errors', () => {
  it('every documented error body is what the server sends for a real request', async () => {
    const { app } = await sample();
    const names = Object.keys(ERROR_EXAMPLES).filter((name) => ERRORS[ERROR_EXAMPLES[name]!.code].status !== 503);
    expect(Object.keys(REQUESTS).sort()).toEqual(names.sort());
    for (const [name, request] of Object.entries(REQUESTS)) {
      const example = ERROR_EXAMPLES[name]!;
      const response = await app.inject({
        method: request.method ?? 'POST',
        url: request.url,
        headers: request.headers ?? (request.method === 'GET' ? {} : JSON_TYPE),
        ...(request.payload === undefined ? {} : { payload: request.payload }),
      });
      expect([name, response.statusCode], response.body.slice(0, 300)).toEqual([name, ERRORS[example.code].status]);
      expect(response.json(), name).toEqual({ error: { code: example.code, message: example.message } });
    }
  });

  it('the 503 bodies are what a lagging and a closing server send', async () => {
    const cache = await cacheOf([TAU_BENCH, TAU_BENCH_TOOLS]);
    const metrics = createMetrics({ cacheCalls: () => 0, processMetrics: false });
    const simulator = new Simulator({ store: cache.store, metrics });
    const app = await buildApp({ simulator: () => simulator, metrics, maxEventLoopDelay: 20 });
    onCleanup(() => app.close());
    await app.ready();
    const call = () =>
      app.inject({ method: 'POST', url: '/v1/call', headers: JSON_TYPE, payload: '{"tool": "calculate", "arguments": {}}' });
    // Block the event loop well past --max-event-loop-delay, then call: shed with the lag it saw.
    const until = performance.now() + 300;
    while (performance.now() < until);
    const lagging = await call();
    const overloaded = ERROR_EXAMPLES['over capacity']!;
    expect(lagging.statusCode).toBe(503);
    expect(lagging.json().error.code).toBe(overloaded.code);
    const digits = (text: string) => text.replace(/\d+/g, 'N');
    expect(digits(lagging.json().error.message)).toBe(digits(overloaded.message));
    app.drain();
    const closing = await call();
    const shutting = ERROR_EXAMPLES['shutting down']!;
    expect([closing.statusCode, closing.json()]).toEqual([503, { error: { code: shutting.code, message: shutting.message } }]);
  });

  it('the OpenAPI document names every example and describes every error answer with real bodies', async () => {
    const { app } = await sample();
    const spec = (await app.inject({ url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, Media> }; responses: Record<string, Response> }>>;
    };
    type Media = { examples?: Record<string, { summary: string; value: unknown }> };
    type Response = { description: string; content?: Record<string, Media> };
    expect(JSON.stringify(spec)).not.toMatch(/"example\d+"/);

    const call = spec['paths']['/v1/call']!['post']!;
    expect(Object.keys(call.requestBody!.content['application/json']!.examples!)).toEqual([
      'exact answer',
      'labelled miss',
      'tool name shared by two servers',
    ]);
    const answers = call.responses['200']!.content!['application/json']!.examples!;
    expect(answers['exact answer']!.summary).toBe('exact answer');
    expect((answers['labelled miss']!.value as { tier: string }).tier).toBe('miss');

    let described = 0;
    for (const [path, operations] of Object.entries(spec.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        for (const [status, response] of Object.entries(operation.responses)) {
          const where = `${method.toUpperCase()} ${path} ${status}`;
          expect(response.description, where).not.toBe('Default Response');
          const examples = response.content?.['application/json']?.examples;
          if (Number(status) < 400 || !examples) continue;
          described++;
          for (const [name, { summary, value }] of Object.entries(examples)) {
            expect(summary, where).toBe(name);
            const { code, message } = (value as { error: { code: keyof typeof ERRORS; message: string } }).error;
            expect(ERRORS[code].status, `${where} ${name}`).toBe(Number(status));
            expect(response.description, where).toContain(`\`${code}\`: ${ERRORS[code].when}`);
            expect(message, where).toBe(ERROR_EXAMPLES[name]!.message);
          }
        }
      }
    }
    expect(described).toBeGreaterThan(20);
    // 400, 413 and 415 of the call routes: each code a JSON body can draw, by name.
    for (const status of ['400', '413', '415']) {
      const response = call.responses[status]!;
      const codes = Object.values(response.content!['application/json']!.examples!).map(
        (e) => (e.value as { error: { code: string } }).error.code,
      );
      for (const code of BODY_CODES.filter((c) => String(ERRORS[c].status) === status)) expect(codes, status).toContain(code);
    }
  });
});
