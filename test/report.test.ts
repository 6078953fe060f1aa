/**
 * The end-of-run report: `GET /v1/report?since=` counts the calls of a window by tier and miss
 * reason, with the LLM requests and tokens behind them; `toolsim report` prints it with the cost.
 */
import { describe, expect, it } from 'vitest';
import { llmCost } from '../src/commands/report.js';
import { createMetrics } from '../src/core/metrics.js';
import { parseSince, UsageHistory } from '../src/http/report.js';
import { appOf, cacheOf, onCleanup, TAU_BENCH } from './helpers.js';
import { runCli } from './support/cli.js';

const EXACT = { tool: 'find_user_id_by_name_zip', arguments: { first_name: 'Yusuf', last_name: 'Rossi', zip: '19122' } };
const MISS = { tool: 'find_user_id_by_name_zip', arguments: { first_name: 'Yusuf', last_name: 'Rossi', zip: '10001' } };

describe('GET /v1/report', () => {
  it('counts tiers, shares and miss reasons since the server started', async () => {
    const { store } = await cacheOf([TAU_BENCH]);
    const { app } = await appOf(store);
    for (const call of [EXACT, EXACT, EXACT, MISS, { tool: 'no_such_tool', arguments: {} }])
      expect((await app.inject({ method: 'POST', url: '/v1/call', payload: call })).statusCode).toBe(200);
    const response = await app.inject({ method: 'GET', url: '/v1/report' });
    expect(response.statusCode).toBe(200);
    const report = response.json();
    expect(report).toMatchObject({
      calls: 5,
      tiers: { exact: 3, fuzzy: 0, miss: 2 },
      shares: { exact: 0.6, fuzzy: 0, miss: 0.4 },
      misses: { fuzzy_disabled: 1, unknown_tool: 1 },
      llmTokens: { input: 0, output: 0, cache_read: 0, cache_write: 0 },
    });
    expect(Date.parse(report.to)).toBeGreaterThanOrEqual(Date.parse(report.from));
    expect((await app.inject({ method: 'GET', url: '/v1/report?since=yesterday' })).json()).toMatchObject({
      error: { code: 'invalid_request' },
    });
  });

  it('reports a window: the difference from the last sample at or before its start', async () => {
    let now = Date.parse('2026-11-29T10:00:00Z');
    const metrics = createMetrics({ cacheCalls: () => 0, processMetrics: false });
    const history = new UsageHistory({ metrics, now: () => now, sampleEveryMs: 3_600_000 });
    onCleanup(() => history.close());
    const count = (tier: 'exact' | 'fuzzy' | 'miss', n: number) => {
      for (let i = 0; i < n; i++) metrics.callTally(tier, 's', 't').count(0.001);
    };
    count('exact', 10);
    metrics.llmTokens.inc({ type: 'input' }, 1000);
    now += 60_000;
    await history.sample(); // 10:01
    count('fuzzy', 3);
    count('miss', 1);
    metrics.misses.inc({ reason: 'no_similar_calls' }, 1);
    metrics.llmRequests.inc({ outcome: 'ok' }, 3);
    metrics.llmTokens.inc({ type: 'input' }, 600);
    metrics.llmTokens.inc({ type: 'output' }, 90);
    now += 60_000; // 10:02

    const window = await history.report('90s'); // from 10:00:30: the 10:00 start is the last sample before
    expect(window).toMatchObject({ calls: 14, from: '2026-11-29T10:00:00.000Z', requestedFrom: '2026-11-29T10:00:30.000Z' });
    const last = await history.report('2026-11-29T10:01:00Z');
    expect(last).toMatchObject({
      from: '2026-11-29T10:01:00.000Z',
      to: '2026-11-29T10:02:00.000Z',
      seconds: 60,
      calls: 4,
      tiers: { exact: 0, fuzzy: 3, miss: 1 },
      shares: { exact: 0, fuzzy: 0.75, miss: 0.25 },
      misses: { no_similar_calls: 1 },
      llmRequests: { ok: 3 },
      llmTokens: { input: 600, output: 90, cache_read: 0, cache_write: 0 },
    });
    expect(last.requestedFrom).toBeUndefined();
  });

  it('reads durations and ISO times, refuses anything else', () => {
    const now = Date.parse('2026-11-29T12:00:00Z');
    expect(parseSince('2h', now)).toBe(Date.parse('2026-11-29T10:00:00Z'));
    expect(parseSince('1d', now)).toBe(Date.parse('2026-11-28T12:00:00Z'));
    expect(parseSince('2026-11-29T11:30:00Z', now)).toBe(Date.parse('2026-11-29T11:30:00Z'));
    expect(parseSince('', now)).toBeUndefined();
    expect(() => parseSince('2 hours', now)).toThrow(/duration/);
  });
});

describe('toolsim report', () => {
  it('prices tokens per million, cache tokens at the input price unless given', () => {
    const tokens = { input: 2_000_000, output: 100_000, cache_read: 1_000_000, cache_write: 0 };
    expect(llmCost(tokens, { input: 1, output: 5 })).toBe(3.5);
    expect(llmCost(tokens, { input: 1, output: 5, cacheRead: 0.1 })).toBe(2.6);
    expect(llmCost(tokens, { input: 1 })).toBeUndefined();
  });

  it('prints a running server’s report as a table and as JSON with the cost', async () => {
    const { store } = await cacheOf([TAU_BENCH]);
    const { app } = await appOf(store);
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    for (const call of [EXACT, MISS]) await app.inject({ method: 'POST', url: '/v1/call', payload: call });
    const cli = (...args: string[]) => runCli(['report', '--url', url, ...args], { env: { PATH: process.env['PATH'] ?? '' } });
    const table = await cli('--since', '1h');
    expect(table.code, table.stderr).toBe(0);
    const { stdout } = table;
    expect(stdout).toMatch(/exact\s+1\s+50\.0%/);
    expect(stdout).toMatch(/fuzzy_disabled\s+1\s+50\.0%/);
    expect(stdout).toContain('give --price-input and --price-output');
    const priced = await cli('--json', '--price-input', '1', '--price-output', '5');
    expect(priced.code, priced.stderr).toBe(0);
    const json = JSON.parse(priced.stdout);
    expect(json).toMatchObject({ calls: 2, tiers: { exact: 1, miss: 1 }, llmCost: 0 });
    expect(await cli('--price-input', '1')).toMatchObject({ code: 2 });
  });
});
