/**
 * The fuzzy tier's guards guard the right thing: waiting for a slot is bounded on its own (`llm_busy`)
 * and never counts against the LLM; the prompt budget bounds the whole prompt; a memo write that
 * cannot take SQLite's lock serves the answer at once, flagged `unmemoized`; an ingest holding the
 * cache's write lock does not hold up the memo, which has a file of its own.
 */

import { describe, expect, it } from 'vitest';
import { FUZZY_OPTIONS, resolveConfig } from '../src/config.js';
import { memoPathOf } from '../src/store/memo-sqlite.js';
import { Sqlite } from '../src/store/sqlite.js';
import { createFuzzy, type FuzzyConfig } from '../src/tiers/fuzzy/fuzzy-tier.js';
import { appOf, cacheOf, metricValue, onCleanup, type TestApp } from './helpers.js';
import { type Behaviour, type FakeAnthropic, startFakeAnthropic } from './support/fake-anthropic.js';
import { weatherCall, weatherRecord } from './support/records.js';

const weather = (city: string, temp: number): object => weatherRecord(city, temp, { unitInOutput: true });
const RECORDS = [weather('Paris', 18), weather('London', 14), weather('Berlin', 16), weather('Madrid', 25)];
const near = (city: string): object => weatherCall(city);
const IMPROVISED = { city: 'Pariss', temp: 19, unit: 'C' };

async function setup(behaviour: Behaviour, overrides: Partial<FuzzyConfig>): Promise<{ app: TestApp; stand: FakeAnthropic; path: string }> {
  const { store, path } = await cacheOf(RECORDS);
  const stand = await startFakeAnthropic(behaviour);
  onCleanup(() => stand.close());
  const config = { ...resolveConfig(FUZZY_OPTIONS, {}, {}), apiKey: 'sk-test', baseUrl: stand.url, llmRetries: 0, ...overrides };
  const fuzzy = createFuzzy(config);
  onCleanup(() => fuzzy.close());
  return { app: await appOf(store, { fuzzy: fuzzy.tier }), stand, path };
}

async function call(app: TestApp, body: object): Promise<Record<string, unknown>> {
  const response = await app.app.inject({ method: 'POST', url: '/v1/call', payload: body });
  expect(response.statusCode, response.body.slice(0, 500)).toBe(200);
  return response.json();
}

describe('fuzzy guards', () => {
  it('gives each improvisation its whole deadline once it holds a slot: a healthy slow LLM never opens the breaker', async () => {
    // 6 distinct misses, one slot, 250 ms per answer, a 1 s deadline: queued, the last waits
    // 1.25 s, which used to count against its deadline and then as an LLM failure. The deadline
    // leaves each answer 750 ms of slack for a loaded machine.
    const slow: Behaviour = { kind: 'slow', delayMs: 250, after: { kind: 'answer', output: IMPROVISED } };
    const { app, stand } = await setup(slow, { llmConcurrency: 1, llmDeadlineMs: 1000, breakerFailures: 2 });
    const cities = ['Pariss', 'Londn', 'Berln', 'Madri', 'Parus', 'Lindon'];
    const answers = await Promise.all(cities.map((c) => call(app, near(c))));
    for (const answer of answers) expect(answer).toMatchObject({ tier: 'fuzzy' });
    expect(stand.requests).toHaveLength(6);
    const metrics = await app.metrics.registry.metrics();
    expect(metricValue(metrics, 'toolsim_llm_requests_total{outcome="timeout"}')).toBe(0);
  });

  it('answers llm_busy past --llm-queue-ms, and a busy tier does not count as an LLM failure', async () => {
    const slow: Behaviour = { kind: 'slow', delayMs: 400, after: { kind: 'answer', output: IMPROVISED } };
    const { app, stand } = await setup(slow, { llmConcurrency: 1, llmQueueMs: 50, breakerFailures: 1 });
    const [first, second, third] = await Promise.all([call(app, near('Pariss')), call(app, near('Londn')), call(app, near('Berln'))]);
    expect(first).toMatchObject({ tier: 'fuzzy' });
    expect(second).toMatchObject({ tier: 'miss', reason: 'llm_busy', is_error: true });
    expect(third).toMatchObject({ tier: 'miss', reason: 'llm_busy' });
    // The breaker (1 failure opens it) is still closed: the next call is asked of the LLM.
    expect(await call(app, near('Madri'))).toMatchObject({ tier: 'fuzzy' });
    expect(stand.requests).toHaveLength(2);
    expect(metricValue(await app.metrics.registry.metrics(), 'toolsim_misses_total{reason="llm_busy"}')).toBe(2);
  });

  it('keeps every prompt within --prompt-tokens, the call arguments included; a call that cannot fit is prompt_too_large', async () => {
    const budget = 1_000;
    const { app, stand } = await setup({ kind: 'answer', output: IMPROVISED }, { promptTokens: budget });
    const huge = { server: 'weather', tool: 'get_weather', arguments: { city: `Paris${'s'.repeat(200_000)}`, unit: 'C' } };
    expect(await call(app, huge)).toMatchObject({ tier: 'miss', reason: 'prompt_too_large', is_error: true });
    expect(stand.requests).toHaveLength(0);
    expect(await call(app, near('Pariss'))).toMatchObject({ tier: 'fuzzy' });
    const sent = stand.requests[0]!.body as { system: { text: string }[]; messages: { content: string }[] };
    const chars = sent.system[0]!.text.length + sent.messages[0]!.content.length;
    expect(chars).toBeLessThanOrEqual(budget * 4);
  });

  it('memoizes at once while an ingest holds the write lock of the cache: the memo has a file of its own', async () => {
    const { app, path } = await setup({ kind: 'answer', output: IMPROVISED }, {});
    const ingest = new Sqlite(path);
    onCleanup(() => {
      if (ingest.inTransaction) ingest.exec('ROLLBACK');
      ingest.close();
    });
    ingest.exec('BEGIN IMMEDIATE'); // what an ingest holds while it writes
    expect(await call(app, near('Pariss'))).toMatchObject({ tier: 'fuzzy', output: IMPROVISED, match: { memoized: false } });
    expect(metricValue(await app.metrics.registry.metrics(), 'toolsim_memo_write_failures_total')).toBe(0);
    const reader = new Sqlite(memoPathOf(path), { readonly: true });
    onCleanup(() => {
      reader.close();
    });
    expect(reader.prepare('SELECT count(*) AS n FROM improvisations').get()).toEqual({ n: 1 });
  });

  it('serves an improvisation at once while another process holds the write lock of the memo, flagged unmemoized, then memoizes it', async () => {
    const { app, path } = await setup({ kind: 'answer', output: IMPROVISED }, {});
    // Opened by the server at its start (the first snapshot's fuzzy tier).
    const writer = new Sqlite(memoPathOf(path));
    onCleanup(() => {
      if (writer.inTransaction) writer.exec('ROLLBACK');
      writer.close();
    });
    writer.exec('BEGIN IMMEDIATE'); // another server on the same cache writing its own improvisation
    const started = performance.now();
    const first = await call(app, near('Pariss'));
    // SQLite's busy wait was 5 s on the event loop, then a 500; a wide guard against that.
    expect(performance.now() - started).toBeLessThan(2_500);
    expect(first).toMatchObject({ tier: 'fuzzy', output: IMPROVISED, match: { memoized: false, unmemoized: true } });
    expect(metricValue(await app.metrics.registry.metrics(), 'toolsim_memo_write_failures_total')).toBe(1);
    // The same call again gets the same answer, from memory, with no second request.
    expect(await call(app, near('Pariss'))).toMatchObject({ tier: 'fuzzy', output: IMPROVISED, match: { memoized: true } });
    writer.exec('ROLLBACK');
    // Once the lock is free the answer is written to the memo file.
    const reader = new Sqlite(memoPathOf(path), { readonly: true });
    onCleanup(() => {
      reader.close();
    });
    await expect
      .poll(() => (reader.prepare('SELECT count(*) AS n FROM improvisations').get() as { n: number }).n, { timeout: 5_000 })
      .toBe(1);
  });
});
