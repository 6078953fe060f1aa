/**
 * The output guard in the fuzzy tier, through the real Anthropic SDK against the stand-in Messages
 * API: answers that do not fit the learnt shape or the declared schema are refused, asked once
 * more with what did not fit, then a miss `llm_invalid_output` saying what did not fit.
 */
import { describe, expect, it } from 'vitest';
import { FUZZY_OPTIONS, resolveConfig } from '../src/config.js';
import { SqliteMemoTable } from '../src/store/memo-sqlite.js';
import type { Store } from '../src/store/store.js';
import { createFuzzy } from '../src/tiers/fuzzy/fuzzy-tier.js';
import { PROMPT_VERSION } from '../src/tiers/fuzzy/prompt.js';
import { appOf, cacheOf, metricValue, onCleanup, type TestApp } from './helpers.js';
import { type Behaviour, type FakeAnthropic, type SeenRequest, startFakeAnthropic } from './support/fake-anthropic.js';

const weather = (city: string, temp: number): object => ({
  server: 'weather',
  tool: 'get_weather',
  arguments: { city },
  output: { city, temp, unit: 'C' },
});
const RECORDS = [weather('Paris', 18), weather('London', 14), weather('Berlin', 16)];
const NEAR = { server: 'weather', tool: 'get_weather', arguments: { city: 'Pariss' } };

async function fake(initial: Behaviour): Promise<FakeAnthropic> {
  const server = await startFakeAnthropic(initial);
  onCleanup(() => server.close());
  return server;
}

async function fuzzyApp(store: Store, stand: FakeAnthropic): Promise<TestApp> {
  const fuzzy = createFuzzy({ ...resolveConfig(FUZZY_OPTIONS, {}, {}), apiKey: 'sk-test', baseUrl: stand.url, llmRetries: 0 });
  onCleanup(() => fuzzy.close());
  return appOf(store, { fuzzy: fuzzy.tier });
}

interface Answered {
  tier: string;
  output: unknown;
  is_error: boolean;
  reason?: string;
  match: { refused?: string[]; memoized?: boolean };
}

async function call(app: TestApp, body: object = NEAR): Promise<Answered> {
  const response = await app.app.inject({ method: 'POST', url: '/v1/call', payload: body });
  expect(response.statusCode).toBe(200);
  return response.json();
}

const system = (request: SeenRequest): string => (request.body['system'] as { text: string }[]).map((b) => b.text).join('\n');
const user = (request: SeenRequest): string => (request.body['messages'] as { content: string }[])[0]!.content;

async function refusedCount(app: TestApp, reason: string): Promise<number> {
  const text = (await app.app.inject({ method: 'GET', url: '/metrics' })).body;
  return metricValue(text, `toolsim_llm_answers_refused_total{reason="${reason}"}`);
}

describe('the output guard', () => {
  it('refuses an answer missing a key every recording has, and asks again with what did not fit', async () => {
    const { store } = await cacheOf(RECORDS);
    const stand = await fake({ kind: 'answer', output: { city: 'Pariss', temp: 19, unit: 'C' } });
    stand.script({ kind: 'answer', output: { city: 'Pariss', temp: 19 } });
    const app = await fuzzyApp(store, stand);
    const answer = await call(app);
    expect(answer).toMatchObject({ tier: 'fuzzy', output: { city: 'Pariss', temp: 19, unit: 'C' }, is_error: false });
    expect(stand.requests).toHaveLength(2);
    // The shape is in the prompt from the first request on; the reason in the second.
    expect(system(stand.requests[0]!)).toContain('Output shape, learnt from 3 recorded answer(s)');
    expect(system(stand.requests[0]!)).toContain('"required":["city","temp","unit"]');
    expect(user(stand.requests[0]!)).not.toContain('rejected');
    expect(user(stand.requests[1]!)).toContain(
      'Your previous answer was rejected: $ has no key "unit", which every recorded answer has there. Answer again',
    );
    expect(await refusedCount(app, 'missing_key')).toBe(1);
    expect(await refusedCount(app, 'schema')).toBe(0);
  });

  it('makes a second refusal a miss llm_invalid_output whose match.refused says what did not fit, and memoizes nothing', async () => {
    const { store } = await cacheOf(RECORDS);
    const stand = await fake({ kind: 'answer', output: { city: 'Pariss', temp: 'nineteen', unit: 'C' } });
    const app = await fuzzyApp(store, stand);
    const answer = await call(app);
    expect(answer).toMatchObject({
      tier: 'miss',
      reason: 'llm_invalid_output',
      is_error: true,
      match: { refused: ['$.temp is a string, but the recorded answers have a number there'] },
    });
    expect(stand.requests).toHaveLength(2);
    expect(await refusedCount(app, 'wrong_kind')).toBe(2);
    // Nothing was memoized: the same call is asked anew, and a good answer is then served.
    stand.setDefault({ kind: 'answer', output: { city: 'Pariss', temp: 19, unit: 'C' } });
    expect(await call(app)).toMatchObject({ tier: 'fuzzy', output: { city: 'Pariss', temp: 19, unit: 'C' } });
    expect(stand.requests).toHaveLength(3);
  });

  it('holds answers to a declared output schema rather than to the learnt shape', async () => {
    const declared = {
      type: 'object',
      properties: { city: { type: 'string' }, temp: { type: 'number' }, unit: { enum: ['C', 'F'] } },
      required: ['city', 'temp'],
    };
    const { store } = await cacheOf([{ kind: 'tool', server: 'weather', tool: 'get_weather', output_schema: declared }, ...RECORDS]);
    // Without "unit" (every recording has it, the schema does not require it): served.
    const stand = await fake({ kind: 'answer', output: { city: 'Pariss', temp: 19 } });
    const app = await fuzzyApp(store, stand);
    expect(await call(app)).toMatchObject({ tier: 'fuzzy', output: { city: 'Pariss', temp: 19 } });
    expect(system(stand.requests[0]!)).toContain(`Output schema (declared by the tool; a successful answer must fit it): `);
    expect(system(stand.requests[0]!)).not.toContain('Output shape, learnt');
    // A unit the schema does not allow: refused twice, in the schema's words.
    stand.setDefault({ kind: 'answer', output: { city: 'Oslo', temp: 3, unit: 'K' } });
    const refused = await call(app, { ...NEAR, arguments: { city: 'Oslo' } });
    expect(refused).toMatchObject({
      reason: 'llm_invalid_output',
      match: { refused: ['$.unit must be equal to one of the allowed values (declared output schema)'] },
    });
    expect(await refusedCount(app, 'schema')).toBe(2);
    const explained = (await app.app.inject({ method: 'POST', url: '/v1/explain', payload: NEAR })).json();
    expect(explained.output).toEqual({ guard: 'declared', schema: declared });
  });

  it('allows each recorded shape of a tool whose recordings have two, and says so in explain', async () => {
    const { store } = await cacheOf([
      ...RECORDS,
      { server: 'weather', tool: 'get_weather', arguments: { city: 'Atlantis' }, output: { error_code: 404, message: 'no such city' } },
      { server: 'weather', tool: 'get_weather', arguments: { city: 'Lemuria' }, output: { error_code: 404, message: 'no such city' } },
    ]);
    const stand = await fake({ kind: 'answer', output: { error_code: 404, message: 'no such city' } });
    const app = await fuzzyApp(store, stand);
    expect(await call(app, { ...NEAR, arguments: { city: 'Mu' } })).toMatchObject({ tier: 'fuzzy', output: { error_code: 404 } });
    stand.setDefault({ kind: 'answer', output: { city: 'Pariss', temp: 19, unit: 'C' } });
    expect(await call(app)).toMatchObject({ tier: 'fuzzy', output: { city: 'Pariss' } });
    // Half of one and half of the other fits neither: told against the closest (one key short).
    stand.setDefault({ kind: 'answer', output: { city: 'Rome', error_code: 1 } });
    const mixed = await call(app, { ...NEAR, arguments: { city: 'Rome' } });
    expect(mixed.reason).toBe('llm_invalid_output');
    expect(mixed.match.refused).toEqual(['$ has no key "message", which every recorded answer has there']);
    const explained = (await app.app.inject({ method: 'POST', url: '/v1/explain', payload: NEAR })).json();
    expect(explained.output.guard).toBe('learnt');
    expect(explained.output.disagreements).toEqual([
      'successes $: the recorded objects are of 2 kinds, each allowed, with these keys always present: {city, temp, unit} (3); {error_code, message} (2)',
    ]);
    expect(explained.output.schema.success.anyOf).toHaveLength(2);
  });

  it('reads JSON text inside string answers: plain text where every recording holds JSON is refused', async () => {
    const records = ['Paris', 'London'].map((city) => ({
      server: 'shop',
      tool: 'get_user',
      arguments: { user_id: city.toLowerCase() },
      output: JSON.stringify({ user_id: city.toLowerCase(), orders: ['#W1'] }),
    }));
    const { store } = await cacheOf(records);
    const stand = await fake({ kind: 'answer', output: 'user parisss has order #W1' });
    stand.script({ kind: 'answer', output: JSON.stringify({ orders: [] }) });
    const app = await fuzzyApp(store, stand);
    const answer = await call(app, { server: 'shop', tool: 'get_user', arguments: { user_id: 'parisss' } });
    expect(answer.match.refused).toEqual(['$ is plain text, but every recorded answer holds JSON text there']);
    expect(user(stand.requests[1]!)).toContain('the JSON text of the answer has no key \\"user_id\\"'.replaceAll('\\"', '"'));
    expect(await refusedCount(app, 'missing_key')).toBe(1);
    expect(await refusedCount(app, 'not_json_text')).toBe(1);
  });

  it('never serves an answer memoized under the previous prompt version', async () => {
    const { store, path } = await cacheOf(RECORDS);
    const stand = await fake({ kind: 'answer', output: { city: 'Pariss', temp: 19, unit: 'C' } });
    const app = await fuzzyApp(store, stand);
    const key = app.simulator.prepare(NEAR).call.key;
    const memo = new SqliteMemoTable(path);
    onCleanup(() => memo.close());
    expect(PROMPT_VERSION).toBe('p3');
    // An answer of the p2 prompt (never held to the guard), memoized for this very call.
    memo.put(
      { snapshotId: store.snapshotId, key, model: resolveConfig(FUZZY_OPTIONS, {}, {}).model, promptVersion: 'p2' },
      {
        outputJson: '{"city":"Pariss"}',
        isError: false,
      },
    );
    expect(await call(app)).toMatchObject({ tier: 'fuzzy', output: { city: 'Pariss', temp: 19, unit: 'C' }, match: { memoized: false } });
    expect(stand.requests).toHaveLength(1);
    expect(await call(app)).toMatchObject({ match: { memoized: true } });
    expect(stand.requests).toHaveLength(1);
  });
});
