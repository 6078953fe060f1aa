/**
 * LLM outage under load: the stand-in Messages API hangs past the deadline, answers 429/500/529,
 * resets connections, returns garbage. Every request is answered (200) within the deadline, as a
 * labelled miss where no answer could be made; the breaker opens (the stand-in stops being asked)
 * and closes again once the API recovers; no unhandled rejection.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MixedCall, runLoad } from '../bench/load.js';
import { ingest } from '../src/ingest/ingest.js';
import { startServer } from '../src/server.js';
import { Store } from '../src/store/store.js';
import { metricValue, onCleanup, tempDir, writeLog } from './helpers.js';
import { serveConfig } from './server-process.js';
import { type Behaviour, startFakeAnthropic } from './support/fake-anthropic.js';
import { weatherRecord } from './support/records.js';

const DEADLINE_MS = 1500;
const COOLDOWN_MS = 800;

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
beforeAll(() => process.on('unhandledRejection', onUnhandled));
afterAll(() => process.off('unhandledRejection', onUnhandled));

const weather = (city: string, temp: number): object => weatherRecord(city, temp);

describe('LLM outage under load', () => {
  it('answers every call within the deadline through timeouts, 429/500/529, resets and garbage; the breaker opens and closes', async () => {
    const dir = tempDir();
    const db = join(dir, 'cache.db');
    const writer = Store.open(db);
    await ingest({
      store: writer,
      inputs: [writeLog(dir, 'a.jsonl', [weather('Paris', 18), weather('London', 14), weather('Berlin', 16)])],
    });
    writer.close();
    const stand = await startFakeAnthropic({ kind: 'answer', output: { city: 'Paris', temp: 17 } });
    onCleanup(() => stand.close());
    const serve = async (breakerFailures: number): Promise<Awaited<ReturnType<typeof startServer>>> => {
      const running = await startServer(
        serveConfig({
          db,
          apiKey: 'sk-test-outage',
          baseUrl: stand.url,
          fuzzy: 'on',
          llmDeadlineMs: DEADLINE_MS,
          llmRetries: 1,
          breakerFailures,
          breakerCooldownMs: COOLDOWN_MS,
          llmConcurrency: 8,
        }),
      );
      onCleanup(() => running.close());
      return running;
    };
    // First with a breaker that never opens, so that every call meets the failing API itself.
    let server = await serve(1_000_000);
    const metrics = async (): Promise<string> => (await fetch(new URL('/metrics', server.url))).text();
    let round = 0;
    // Distinct near calls each phase, so neither the memo nor single-flight hides the outage.
    const nearCalls = (): MixedCall[] => {
      round++;
      return Array.from({ length: 100 }, (_, i) => ({
        path: '/v1/call',
        body: { tool: 'get_weather', arguments: { city: `Paris-${round}-${i}`, unit: 'C' } },
      }));
    };
    const exactCall: MixedCall = { path: '/v1/call', body: { tool: 'get_weather', arguments: { city: 'London', unit: 'C' } } };

    const modes: [string, Behaviour][] = [
      ['timeout', { kind: 'hang' }],
      ['429', { kind: 'status', status: 429, retryAfter: '0' }],
      ['500', { kind: 'status', status: 500 }],
      ['529', { kind: 'status', status: 529 }],
      ['reset', { kind: 'reset' }],
      ['garbage', { kind: 'garbage' }],
    ];
    const figures: string[] = [];
    for (const [name, behaviour] of modes) {
      stand.setDefault(behaviour);
      const askedBefore = stand.requests.length;
      const missesBefore =
        metricValue(await metrics(), 'toolsim_misses_total{reason="llm_unavailable"}') +
        metricValue(await metrics(), 'toolsim_misses_total{reason="llm_invalid_output"}');
      const result = await runLoad({
        url: server.url,
        connections: 16,
        seconds: name === 'timeout' ? 2 : 1,
        calls: [...nearCalls(), exactCall],
        timeout: 10,
      });
      const sampleStarted = performance.now();
      const sample = await fetch(new URL('/v1/call', server.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ tool: 'get_weather', arguments: { city: `Paris-sample-${name}`, unit: 'C' } }),
      }).then((r) => r.json() as Promise<{ tier: string; reason?: string; is_error: boolean }>);
      const sampleMs = Math.round(performance.now() - sampleStarted);
      expect(sampleMs, name).toBeLessThan(DEADLINE_MS + 1000);
      const text = await metrics();
      const misses =
        metricValue(text, 'toolsim_misses_total{reason="llm_unavailable"}') +
        metricValue(text, 'toolsim_misses_total{reason="llm_invalid_output"}') -
        missesBefore;
      expect(result.failed, name).toBe(0);
      expect(result.requests, name).toBeGreaterThanOrEqual(16);
      // Within the deadline (plus the time queued behind a busy 2-core machine).
      expect(result.max, name).toBeLessThan(DEADLINE_MS + 2000);
      expect(sample.tier, name).toBe('miss');
      expect(['llm_unavailable', 'llm_invalid_output'], name).toContain(sample.reason);
      expect(sample.is_error).toBe(true);
      expect(misses, name).toBeGreaterThan(0);
      figures.push(
        `${name}: ${result.requests} req, 0 failed, max ${result.max} ms, single call ${sampleMs} ms, ${stand.requests.length - askedBefore} LLM requests`,
      );
    }
    expect(metricValue(await metrics(), 'toolsim_calls_total{tier="fuzzy",server="weather",tool="get_weather"}')).toBe(0);

    // Now with a breaker that opens after 5 failures: under load the stand-in is asked a few
    // times, then no more (at most a probe per cool-down) while every call is still answered.
    await server.close();
    server = await serve(5);
    stand.setDefault({ kind: 'status', status: 529 });
    const askedBeforeOpen = stand.requests.length;
    const open = await runLoad({ url: server.url, connections: 16, seconds: 1, calls: nearCalls(), timeout: 10 });
    const askedWhileOpen = stand.requests.length - askedBeforeOpen;
    expect(open.failed).toBe(0);
    // 5 failures (each with one retry) open it; a cool-down of 800 ms allows at most one probe more.
    expect(askedWhileOpen).toBeLessThanOrEqual(16);
    expect(open.requests).toBeGreaterThan(askedWhileOpen * 5);

    // The API recovers: after the cool-down a probe succeeds, the breaker closes, fuzzy answers resume.
    stand.setDefault({ kind: 'answer', output: { city: 'Paris', temp: 17 } });
    let recovered: { tier: string } | undefined;
    for (let i = 0; i < 40 && recovered?.tier !== 'fuzzy'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      recovered = await fetch(new URL('/v1/call', server.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ tool: 'get_weather', arguments: { city: `Paris-recovered-${i}`, unit: 'C' } }),
      }).then((r) => r.json() as Promise<{ tier: string }>);
    }
    expect(recovered?.tier).toBe('fuzzy');
    const after = await runLoad({ url: server.url, connections: 16, seconds: 1, calls: [...nearCalls(), exactCall], timeout: 10 });
    expect(after.failed).toBe(0);
    expect(metricValue(await metrics(), 'toolsim_calls_total{tier="fuzzy",server="weather",tool="get_weather"}')).toBeGreaterThan(10);
    expect(unhandled).toEqual([]);
    console.info(
      `[figures] LLM outage under load (deadline ${DEADLINE_MS} ms): ${figures.join('; ')}; breaker (5 failures): ${open.requests} req, ${askedWhileOpen} LLM requests, 0 failed; recovered: ${after.requests} req, 0 failed`,
    );
  }, 60_000);
});
