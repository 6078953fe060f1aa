/**
 * The fuzzy tier against a stand-in Messages API on 127.0.0.1, through the real SDK: improvised
 * answers, the memo, single-flight, the breaker, budgets, the deadline, retries and bad answers.
 */
import { describe, expect, it } from 'vitest';
import { FUZZY_OPTIONS, resolveConfig } from '../src/config.js';
import { ConfigError } from '../src/core/errors.js';
import type { Answer } from '../src/core/types.js';
import { SqliteMemoTable as Memo } from '../src/store/memo-sqlite.js';
import { Store } from '../src/store/store.js';
import { createFuzzy, type FuzzyConfig } from '../src/tiers/fuzzy/fuzzy-tier.js';
import { appOf, cacheOf, metricValue, onCleanup, type TestApp } from './helpers.js';
import { runCli } from './support/cli.js';
import { type Behaviour, type FakeAnthropic, startFakeAnthropic } from './support/fake-anthropic.js';
import { weatherRecord } from './support/records.js';

const weather = (city: string, unit: string, temp: number): object => weatherRecord(city, temp, { unit, unitInOutput: true });
const RECORDS = [
  weather('Paris', 'C', 18),
  weather('London', 'C', 14),
  weather('Berlin', 'C', 16),
  weather('Madrid', 'F', 80),
  {
    server: 'weather',
    tool: 'get_weather',
    arguments: { city: 'Atlantis', unit: 'C' },
    output: 'Error: unknown city Atlantis',
    is_error: true,
  },
];
const NEAR = { server: 'weather', tool: 'get_weather', arguments: { city: 'Pariss', unit: 'C' } };
const IMPROVISED = { city: 'Pariss', temp: 19, unit: 'C' };

async function fake(initial: Behaviour = { kind: 'answer', output: IMPROVISED }): Promise<FakeAnthropic> {
  const server = await startFakeAnthropic(initial);
  onCleanup(() => server.close());
  return server;
}

function config(stand: FakeAnthropic, overrides: Partial<FuzzyConfig> = {}): FuzzyConfig {
  const defaults = resolveConfig(FUZZY_OPTIONS, {}, {});
  return { ...defaults, apiKey: 'sk-test-secret', baseUrl: stand.url, llmRetries: 0, ...overrides };
}

/** The fuzzy tier factory for a configuration; its memo connection closes after the test. */
function fuzzyTier(cfg: FuzzyConfig, extras: { now?: () => number } = {}): ReturnType<typeof createFuzzy>['tier'] {
  const fuzzy = createFuzzy(cfg, extras);
  onCleanup(() => fuzzy.close());
  return fuzzy.tier;
}

async function fuzzyApp(store: Store, stand: FakeAnthropic, overrides: Partial<FuzzyConfig> = {}, now?: () => number): Promise<TestApp> {
  return appOf(store, { fuzzy: fuzzyTier(config(stand, overrides), now ? { now } : {}) });
}

async function call(
  app: TestApp,
  body: object = NEAR,
): Promise<{
  tier: string;
  output: unknown;
  is_error: boolean;
  reason?: string;
  match: { memoized?: boolean; neighbors?: { arguments: Record<string, unknown>; similarity: number }[] };
}> {
  const response = await app.app.inject({ method: 'POST', url: '/v1/call', payload: body });
  expect(response.statusCode).toBe(200);
  return response.json();
}

const other = (city: string): object => ({ ...NEAR, arguments: { city, unit: 'C' } });

describe('fuzzy tier', () => {
  it('improvises an answer for a near call through the respond tool, with the neighbours in the prompt', async () => {
    const { store } = await cacheOf(RECORDS);
    const stand = await fake();
    const app = await fuzzyApp(store, stand);

    const answer = await call(app);
    expect(answer).toMatchObject({ tier: 'fuzzy', output: IMPROVISED, is_error: false, match: { memoized: false } });
    expect(answer.match.neighbors?.[0]?.arguments).toEqual({ city: 'Paris', unit: 'C' });

    expect(stand.requests).toHaveLength(1);
    const { body, headers } = stand.requests[0]!;
    expect(headers['x-api-key'] ?? headers['authorization']).toMatch(/^(Bearer )?sk-test-secret$/);
    expect(body['tool_choice']).toEqual({ type: 'tool', name: 'respond' });
    expect(body['tools']).toEqual([
      expect.objectContaining({ name: 'respond', input_schema: expect.objectContaining({ required: ['output'] }) }),
    ]);
    const system = body['system'] as { text: string; cache_control?: unknown }[];
    expect(system[0]?.cache_control).toEqual({ type: 'ephemeral' });
    expect(system[0]?.text).toContain('get_weather');
    const user = (body['messages'] as { content: string }[])[0]!.content;
    expect(user).toContain('arguments: {"city":"Pariss","unit":"C"}');
    expect(user).toContain('output: {"city":"Paris","temp":18,"unit":"C"}'); // a recorded output, whole

    const metrics = await app.metrics.registry.metrics();
    expect(metricValue(metrics, 'toolsim_llm_requests_total{outcome="ok"}')).toBe(1);
    expect(metricValue(metrics, 'toolsim_llm_tokens_total{type="input"}')).toBe(100);
    expect(metricValue(metrics, 'toolsim_llm_tokens_total{type="output"}')).toBe(20);
    expect(metricValue(metrics, 'toolsim_calls_total{tier="fuzzy",server="weather",tool="get_weather"}')).toBe(1);
  });

  it('serves a memo hit from memory in the same turn, as the answer it was, whatever the request text', async () => {
    const { store } = await cacheOf(RECORDS);
    const stand = await fake();
    const { simulator, metrics } = await fuzzyApp(store, stand);
    const first = await simulator.resolve(NEAR);
    // The same call in other words (keys in another order): not the request memo, the answer LRU.
    const reordered = { tool: NEAR.tool, server: NEAR.server, arguments: { unit: 'C', city: 'Pariss' } };
    const hit = simulator.resolve(reordered);
    expect(hit).not.toBeInstanceOf(Promise);
    const answer = hit as Exclude<typeof hit, Promise<unknown>>;
    expect(answer).toMatchObject({ tier: 'fuzzy', outputJson: first.outputJson, match: { memoized: true, key: first.match.key } });
    // Neighbours as the first answer listed them; one request to the LLM in all.
    expect(answer.match.neighbors).toEqual(first.match.neighbors);
    expect(stand.requests).toHaveLength(1);
    expect(metricValue(await metrics.registry.metrics(), 'toolsim_fuzzy_memo_hits_total')).toBe(1);
    // Never an exact answer: the exact tier still has nothing for the key.
    expect(simulator.exact.lookup(first.match.key)).toBeUndefined();
  });

  it('serves a memo hit with the bytes of the answer it was, text outside ASCII included, and keeps it unchangeable', async () => {
    const { store } = await cacheOf([...RECORDS, weather('Zürich 🌧', 'C', 9)]);
    const output = { city: 'Zürich 🌧', temp: 9, unit: 'C', note: 'naïve “quotes” \u0000 and \\ escapes' };
    const stand = await fake({ kind: 'answer', output });
    const app = await fuzzyApp(store, stand);
    const near = { ...NEAR, arguments: { city: 'Zürich 🌧!', unit: 'C' } };
    const post = async (): Promise<{ status: number; type: string | undefined; text: string }> => {
      const response = await app.app.inject({ method: 'POST', url: '/v1/call', payload: near });
      return { status: response.statusCode, type: response.headers['content-type'] as string | undefined, text: response.body };
    };
    const first = await post();
    const hit = await post();
    expect(first.status).toBe(200);
    expect(JSON.parse(first.text)).toMatchObject({ tier: 'fuzzy', output, match: { memoized: false } });
    // The same bytes but for the flag, and the same content type.
    expect(hit).toEqual({ ...first, text: first.text.replace('"memoized":false', '"memoized":true') });
    expect(stand.requests).toHaveLength(1);

    // In process: the output and the neighbours as the first answer gave them (the text is kept as UTF-8).
    const answer = app.simulator.resolve(near) as Answer;
    expect(answer).not.toBeInstanceOf(Promise);
    expect(JSON.parse(answer.outputJson)).toEqual(output);
    expect(answer.json).toBe(hit.text);
    expect(answer.match).toEqual({ ...JSON.parse(first.text).match, memoized: true });
    // Every later call of the key shares it: nothing of it can be changed.
    expect(() => {
      (answer as { outputJson: string }).outputJson = '"changed"';
    }).toThrow(TypeError);
    expect(() => {
      (answer as { match: unknown }).match = {};
    }).toThrow(TypeError);
    answer.match.memoized = false;
    expect((app.simulator.resolve(near) as Answer).match.memoized).toBe(true);
    expect((await post()).text).toBe(hit.text);
  });

  it('reads a memo hit from the memo when the answer LRU has let it go', async () => {
    const { store } = await cacheOf(RECORDS);
    const stand = await fake();
    // An answer LRU of one entry: each exact answer pushes the improvisation out of memory.
    const app = await appOf(store, { fuzzy: fuzzyTier(config(stand)), lruSize: 1 });
    const first = await app.simulator.resolve(NEAR);
    app.simulator.exact.lookup(app.simulator.prepare(RECORDS[0] as typeof NEAR).call.key);
    const again = app.simulator.resolve({ ...NEAR, arguments: { unit: 'C', city: 'Pariss' } });
    expect(again).toBeInstanceOf(Promise);
    expect(await again).toMatchObject({ tier: 'fuzzy', outputJson: first.outputJson, match: { memoized: true } });
    expect(stand.requests).toHaveLength(1);
  });

  it('memoizes: the same call again makes no request, and the answer survives a restart, never as exact', async () => {
    const { store, path } = await cacheOf(RECORDS);
    const stand = await fake();
    const calls = store.callCount();
    const first = await fuzzyApp(store, stand);
    const a = await call(first);
    const b = await call(first);
    expect(stand.requests).toHaveLength(1);
    expect(b).toMatchObject({ tier: 'fuzzy', output: a.output, match: { memoized: true } });
    expect(metricValue(await first.metrics.registry.metrics(), 'toolsim_fuzzy_memo_hits_total')).toBe(1);
    await first.app.close();
    store.close();

    // A restart: a new read-only store and simulator on the same file.
    const reopened = Store.open(path, { pinSnapshot: true });
    onCleanup(() => reopened.close());
    const second = await fuzzyApp(reopened, stand);
    const c = await call(second);
    expect(c).toMatchObject({ tier: 'fuzzy', output: a.output, match: { memoized: true } });
    expect(stand.requests).toHaveLength(1);
    // The recordings are untouched and the improvisation is not one of them.
    expect(reopened.callCount()).toBe(calls);
    expect(second.simulator.exact.lookup(second.simulator.prepare(NEAR).call.key)).toBeUndefined();
    // With the fuzzy tier off, the memo is not served at all: the call is a miss, not an exact hit.
    const off = await appOf(reopened, { fuzzy: fuzzyTier(config(stand, { fuzzy: 'off' })) });
    expect(await call(off)).toMatchObject({ tier: 'miss', reason: 'fuzzy_disabled' });
  });

  it('answers 16 identical concurrent calls with one request (single-flight)', async () => {
    const { store } = await cacheOf(RECORDS);
    const stand = await fake({ kind: 'slow', delayMs: 150, after: { kind: 'answer', output: IMPROVISED } });
    const app = await fuzzyApp(store, stand);
    const answers = await Promise.all(Array.from({ length: 16 }, () => call(app)));
    expect(stand.requests).toHaveLength(1);
    for (const answer of answers) expect(answer).toMatchObject({ tier: 'fuzzy', output: IMPROVISED });
    expect(metricValue(await app.metrics.registry.metrics(), 'toolsim_singleflight_joins_total')).toBe(15);
  });

  it('opens the breaker after repeated failures, fails fast while open, then probes and recovers', async () => {
    const { store } = await cacheOf(RECORDS);
    const stand = await fake({ kind: 'status', status: 500 });
    let now = 1_000_000;
    const app = await fuzzyApp(store, stand, { breakerFailures: 3, breakerCooldownMs: 30_000 }, () => now);
    for (const city of ['Parix', 'Londn', 'Berlim'])
      expect(await call(app, other(city))).toMatchObject({ tier: 'miss', reason: 'llm_unavailable', is_error: true });
    expect(stand.requests).toHaveLength(3);
    // Open: no request goes out.
    expect(await call(app, other('Madri'))).toMatchObject({ tier: 'miss', reason: 'llm_unavailable' });
    expect(stand.requests).toHaveLength(3);
    // Cool-down over, the probe fails: open again.
    now += 30_000;
    expect(await call(app, other('Madri'))).toMatchObject({ reason: 'llm_unavailable' });
    expect(stand.requests).toHaveLength(4);
    expect(await call(app, other('Madrd'))).toMatchObject({ reason: 'llm_unavailable' });
    expect(stand.requests).toHaveLength(4);
    // Next probe succeeds: closed again.
    now += 30_000;
    stand.setDefault({ kind: 'answer', output: IMPROVISED });
    expect(await call(app, other('Madri'))).toMatchObject({ tier: 'fuzzy' });
    expect(await call(app, other('Parus'))).toMatchObject({ tier: 'fuzzy' });
    expect(stand.requests).toHaveLength(6);
    const metrics = await app.metrics.registry.metrics();
    expect(metricValue(metrics, 'toolsim_llm_requests_total{outcome="error"}')).toBe(4);
    expect(metricValue(metrics, 'toolsim_misses_total{reason="llm_unavailable"}')).toBe(6);
  });

  it('stops asking when the request or token budget is spent, still serving the memo', async () => {
    const { store } = await cacheOf(RECORDS);
    const stand = await fake();
    const app = await fuzzyApp(store, stand, { llmMaxRequests: 1 });
    expect(await call(app)).toMatchObject({ tier: 'fuzzy' });
    expect(await call(app, other('Londn'))).toMatchObject({ tier: 'miss', reason: 'llm_budget_exhausted' });
    expect(await call(app)).toMatchObject({ tier: 'fuzzy', match: { memoized: true } });
    expect(stand.requests).toHaveLength(1);

    const tokens = await fuzzyApp(store, stand, { llmMaxTokens: 50 });
    expect(await call(tokens, other('Berln'))).toMatchObject({ tier: 'fuzzy' }); // spends 120 tokens
    expect(await call(tokens, other('Madrdi'))).toMatchObject({ tier: 'miss', reason: 'llm_budget_exhausted' });
    expect(stand.requests).toHaveLength(2);
  });

  it('aborts the request at the deadline and answers llm_unavailable', async () => {
    const { store } = await cacheOf(RECORDS);
    const stand = await fake({ kind: 'hang' });
    const app = await fuzzyApp(store, stand, { llmDeadlineMs: 300 });
    expect(await call(app)).toMatchObject({ tier: 'miss', reason: 'llm_unavailable' });
    await expect.poll(() => stand.aborted).toBe(1);
    expect(metricValue(await app.metrics.registry.metrics(), 'toolsim_llm_requests_total{outcome="timeout"}')).toBe(1);
  });

  it('retries once after an invalid answer, then gives llm_invalid_output', async () => {
    const { store } = await cacheOf(RECORDS);
    const stand = await fake();
    const app = await fuzzyApp(store, stand);
    stand.script({ kind: 'answer', output: 42 }, { kind: 'answer', output: IMPROVISED });
    expect(await call(app)).toMatchObject({ tier: 'fuzzy', output: IMPROVISED });
    expect(stand.requests).toHaveLength(2);
    expect(JSON.stringify(stand.requests[1]!.body['messages'])).toContain('rejected: the output is a number');

    stand.script({ kind: 'text', text: 'I think it is sunny' }, { kind: 'answer', output: 'x'.repeat(20_000) });
    expect(await call(app, other('Londn'))).toMatchObject({ tier: 'miss', reason: 'llm_invalid_output' });
    expect(stand.requests).toHaveLength(4);
    expect(metricValue(await app.metrics.registry.metrics(), 'toolsim_llm_requests_total{outcome="invalid_output"}')).toBe(3);

    stand.script({ kind: 'garbage' });
    expect(await call(app, other('Berln'))).toMatchObject({ tier: 'miss', reason: 'llm_unavailable' });
  });

  it('rides out 429 with retry-after and 529 within the SDK retries', async () => {
    const { store } = await cacheOf(RECORDS);
    const stand = await fake();
    const app = await fuzzyApp(store, stand, { llmRetries: 2 });
    stand.script({ kind: 'status', status: 429, retryAfter: '0.01' });
    expect(await call(app)).toMatchObject({ tier: 'fuzzy' });
    stand.script({ kind: 'status', status: 529, retryAfterMs: '10' }, { kind: 'status', status: 529, retryAfterMs: '10' });
    expect(await call(app, other('Londn'))).toMatchObject({ tier: 'fuzzy' });
    expect(stand.requests).toHaveLength(5);
    stand.script(...Array.from({ length: 3 }, (): Behaviour => ({ kind: 'status', status: 429, retryAfterMs: '5' })));
    expect(await call(app, other('Berln'))).toMatchObject({ tier: 'miss', reason: 'llm_unavailable' });
    expect(metricValue(await app.metrics.registry.metrics(), 'toolsim_llm_requests_total{outcome="rate_limited"}')).toBe(1);
  });

  it('reports an error where similar recorded calls failed', async () => {
    const { store } = await cacheOf(RECORDS);
    const stand = await fake({ kind: 'answer', output: 'Error: unknown city Atlantiss', isError: true });
    const app = await fuzzyApp(store, stand);
    expect(await call(app, other('Atlantiss'))).toMatchObject({ tier: 'fuzzy', is_error: true, output: 'Error: unknown city Atlantiss' });
    expect(JSON.stringify(stand.requests[0]!.body['messages'])).toContain('is_error: true');
  });

  it('asks nothing for arguments the tool does not take, or when the tier is off', async () => {
    const { store } = await cacheOf(RECORDS);
    const stand = await fake();
    const app = await fuzzyApp(store, stand);
    expect(await call(app, { ...NEAR, arguments: { zip: 75001 } })).toMatchObject({
      tier: 'miss',
      reason: 'invalid_arguments',
      is_error: true,
      output:
        'Error: get_weather: unknown argument "zip"; missing required argument "city"; missing required argument "unit"; it takes city (string, required), unit (string, required)',
    });
    const off = await appOf(store, { fuzzy: fuzzyTier(config(stand, { apiKey: '' })) });
    expect(await call(off)).toMatchObject({ tier: 'miss', reason: 'fuzzy_disabled' });
    expect(stand.requests).toHaveLength(0);
    expect(() => fuzzyTier(config(stand, { apiKey: '', fuzzy: 'on' }))).toThrow(ConfigError);
  });

  it('improvises a call that fits the tool however far its values are from every recording; a floor is opt-in', async () => {
    const { store } = await cacheOf(RECORDS);
    const stand = await fake();
    const app = await fuzzyApp(store, stand);
    const far = await call(app, { ...NEAR, arguments: { city: 'Ouagadougou', unit: 'K' } });
    expect(far).toMatchObject({ tier: 'fuzzy', output: IMPROVISED });
    // The similarity stays in the answer, so a trainer can make its own cut.
    expect(far.match.neighbors?.[0]?.similarity).toBeLessThan(0.25);
    expect(stand.requests).toHaveLength(1);
    const floored = await fuzzyApp(store, stand, { threshold: 0.6 });
    expect(await call(floored, { ...NEAR, arguments: { city: 'Reykjavik', unit: 'K' } })).toMatchObject({
      tier: 'miss',
      reason: 'no_similar_calls',
    });
    expect(stand.requests).toHaveLength(1);
  });

  it('improvises a call of a tool nobody recorded from its description and schema; without either, asks nothing', async () => {
    const { store } = await cacheOf([
      ...RECORDS,
      {
        kind: 'tool',
        server: 'weather',
        tool: 'get_tides',
        description: 'High and low tides at a port',
        input_schema: { type: 'object', properties: { port: { type: 'string' } }, required: ['port'] },
      },
    ]);
    const stand = await fake({ kind: 'answer', output: 'High tide 06:12' });
    const app = await fuzzyApp(store, stand);
    const tides = await call(app, { server: 'weather', tool: 'get_tides', arguments: { port: 'Brest' } });
    expect(tides).toMatchObject({ tier: 'fuzzy', output: 'High tide 06:12', match: { neighbors: [] } });
    const user = (stand.requests[0]!.body['messages'] as { content: string }[])[0]!.content;
    expect(user).toContain('No call of the tool "get_tides" was recorded');
    expect(JSON.stringify(stand.requests[0]!.body['system'])).toContain('High and low tides at a port');
    expect(await call(app, { server: 'weather', tool: 'get_tides', arguments: { harbour: 'Brest' } })).toMatchObject({
      reason: 'invalid_arguments',
    });
    expect(stand.requests).toHaveLength(1);
  });

  it('explains a call: key, tier, neighbours and the exact prompt, with no request', async () => {
    const { store } = await cacheOf(RECORDS);
    const stand = await fake();
    const app = await fuzzyApp(store, stand);
    const response = await app.app.inject({ method: 'POST', url: '/v1/explain', payload: NEAR });
    expect(response.statusCode).toBe(200);
    const explanation = response.json();
    expect(explanation).toMatchObject({ tier: 'fuzzy', memoized: false, key: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(explanation.neighbors[0]).toMatchObject({ arguments: { city: 'Paris', unit: 'C' } });
    expect(explanation.prompt.user).toContain('"city":"Pariss"');
    expect(stand.requests).toHaveLength(0);
    // The prompt explained is the prompt sent.
    await call(app);
    expect((stand.requests[0]!.body['messages'] as { content: string }[])[0]!.content).toBe(explanation.prompt.user);
    expect((stand.requests[0]!.body['system'] as { text: string }[])[0]!.text).toBe(explanation.prompt.system);
  });
});

describe('serving store', () => {
  it('refuses writes to the recordings while the memo stays writable', async () => {
    const { store, path } = await cacheOf(RECORDS);
    const recorded = [...store.recordedCalls()];
    const snapshot = store.snapshotId;
    store.close();
    const serving = Store.open(path, { readonly: true });
    onCleanup(() => serving.close());
    // An ingest on the serving connection is refused at its first write.
    expect(() => serving.beginIngest()).toThrow(/read-only while serving/);
    expect([...serving.recordedCalls()]).toEqual(recorded);
    expect(serving.snapshotId).toBe(snapshot);
    // The memo writes its own table beside the recordings, through its own connection.
    const memo = new Memo(path);
    onCleanup(() => memo.close());
    const id = { snapshotId: snapshot, key: recorded[0]!.key, model: 'm', promptVersion: 'p' };
    memo.put(id, { outputJson: '"improvised"', isError: false });
    expect(memo.get(id)).toEqual({ outputJson: '"improvised"', isError: false });
  });
});

describe('toolsim explain', () => {
  it('prints the tier, neighbours and prompt of a call without an API key or request', async () => {
    const { path, store } = await cacheOf(RECORDS);
    store.close();
    const env = { ...process.env, ANTHROPIC_API_KEY: '', TOOLSIM_FUZZY: '' };
    const run = await runCli(['explain', '--db', path, '--tool', 'get_weather', '--arguments', '{"city":"Pariss","unit":"C"}', '--json'], {
      env,
    });
    expect(run.code, run.stderr).toBe(0);
    const out = run.stdout;
    const explanation = JSON.parse(out) as { tier: string; reason: string; neighbors: unknown[]; prompt: { user: string } };
    expect(explanation).toMatchObject({ tier: 'miss', reason: 'fuzzy_disabled' });
    expect(explanation.neighbors).toHaveLength(5);
    expect(explanation.prompt.user).toContain('"city":"Pariss"');
  });
});

describe('serving with the fuzzy tier', () => {
  it('improvises through toolsim serve, memoizes beside a pinned snapshot, and never logs the API key', async () => {
    const { PassThrough } = await import('node:stream');
    const { startServer } = await import('../src/server.js');
    const { serveConfig } = await import('./server-process.js');
    const { path, store } = await cacheOf(RECORDS);
    store.close();
    const stand = await fake();
    const log: string[] = [];
    const logStream = new PassThrough();
    logStream.on('data', (chunk: Buffer) => log.push(chunk.toString('utf8')));
    const server = await startServer(
      serveConfig({ db: path, apiKey: 'sk-never-logged-42', baseUrl: stand.url, llmRetries: 0, logLevel: 'debug' }),
      { logStream },
    );
    onCleanup(() => server.close());
    const post = async (): Promise<Record<string, unknown>> =>
      (await (
        await fetch(`${server.url}/v1/call`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer sk-never-logged-42' },
          body: JSON.stringify(NEAR),
        })
      ).json()) as Record<string, unknown>;
    expect(await post()).toMatchObject({ tier: 'fuzzy', output: IMPROVISED, match: { memoized: false } });
    expect(await post()).toMatchObject({ tier: 'fuzzy', output: IMPROVISED, match: { memoized: true } });
    expect(stand.requests).toHaveLength(1);
    await server.close();
    expect(log.join('')).toContain('toolsim serving');
    expect(log.join('')).not.toContain('sk-never-logged-42');
  });
});
