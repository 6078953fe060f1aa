/**
 * The built CLI, end to end: ingest a log, serve it on 127.0.0.1 with port 0, real HTTP requests,
 * metrics that match the requests made. Then every tau-bench call replayed over HTTP.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { metricValue, onCleanup, TAU_BENCH, tempDir, writeLog } from './helpers.js';
import { runCliSync, spawnCli } from './support/cli.js';

function toolsim(args: string[], input?: string) {
  const result = runCliSync(args, { ...(input === undefined ? {} : { input }), env: { ...process.env, TOOLSIM_DB: '' } });
  return { status: result.code, stdout: result.stdout, stderr: result.stderr };
}

/** Starts `toolsim serve` and resolves with its URL once it listens. */
async function serve(args: string[]): Promise<{ url: string; child: ChildProcess; logs: () => string }> {
  // Load shedding off: on a busy machine it would answer some of these requests 503 (load.test.ts tests it).
  const child = spawnCli(['serve', '--port', '0', '--max-event-loop-delay', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  onCleanup(() => {
    child.kill('SIGKILL');
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${output}`)));
  });
  return { url, child, logs: () => output };
}

// biome-ignore lint/suspicious/noExplicitAny: the tests read fields of arbitrary JSON answers
const postJson = async (url: string, body: unknown): Promise<{ status: number; body: any; text: string }> => {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  // Read as text first: an answer that is not JSON still says what it was when a test fails.
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = { unparsable: text.slice(0, 500) };
  }
  return { status: res.status, body: parsed, text };
};

describe('the built CLI', () => {
  it('ingests, reports bad lines with a non-zero exit, serves on loopback and counts what it served', async () => {
    const dir = tempDir();
    const db = join(dir, 'cache.db');
    const log = writeLog(dir, 'explore.jsonl', [
      { server: 'whois', tool: 'whois_lookup', arguments: { domain: 'amazon.com' }, output: { created: '1994-11-01' } },
      '{"broken": ',
      { server: 'whois', tool: 'whois_lookup', arguments: { domain: 'example.org' }, output: { created: '1995-08-14' } },
    ]);
    const ingested = toolsim(['ingest', log, '--db', db]);
    expect(ingested.status).toBe(1);
    expect(ingested.stderr).toContain(`${log}:2: not JSON`);
    expect(ingested.stdout).toMatch(/calls added\s+2/);
    expect(ingested.stdout).toMatch(/lines rejected\s+1/);
    expect(toolsim(['ingest', log, '--db', db]).stdout).toMatch(/calls already present\s+2/);

    const stats = JSON.parse(toolsim(['stats', '--db', db, '--json']).stdout);
    expect(stats).toMatchObject({ calls: 2, keys: 2, servers: 1, tools: 1 });

    const { url, child } = await serve(['--db', db]);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:/);
    const exact = await postJson(`${url}/v1/call`, { tool: 'whois_lookup', arguments: { domain: 'amazon.com' } });
    expect(exact).toMatchObject({ status: 200, body: { tier: 'exact', output: { created: '1994-11-01' } } });
    for (let i = 0; i < 3; i++) {
      const miss = await postJson(`${url}/v1/call`, { tool: 'whois_lookup', arguments: { domain: `n${i}.net` } });
      expect(miss, `${miss.status} ${miss.text.slice(0, 300)}`).toMatchObject({
        status: 200,
        body: { tier: 'miss', reason: 'fuzzy_disabled', is_error: true },
      });
    }
    const bad = await postJson(`${url}/v1/call`, { tool: 'whois_lookup' });
    expect(bad.status, bad.text.slice(0, 300)).toBe(400);

    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metricValue(metrics, 'toolsim_calls_total{tier="exact",server="whois",tool="whois_lookup"}')).toBe(1);
    expect(metricValue(metrics, 'toolsim_calls_total{tier="miss",server="whois",tool="whois_lookup"}')).toBe(3);
    expect(metricValue(metrics, 'toolsim_misses_total{reason="fuzzy_disabled"}')).toBe(3);
    expect(metricValue(metrics, 'toolsim_cache_calls')).toBe(2);
    expect(metrics).toContain('process_resident_memory_bytes');

    child.kill('SIGTERM');
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
  });

  it('refuses to serve a cache that does not exist, and explains flags it does not know', () => {
    const missing = toolsim(['serve', '--db', join(tempDir(), 'none.db'), '--port', '0']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/no cache at .*none\.db: run `npm run sample` or `toolsim ingest FILE --db .*none\.db` first/);
    const unknown = toolsim(['stats', '--colour']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option --colour/);
    const badPort = toolsim(['serve', '--port', 'eighty']);
    expect([badPort.status, badPort.stderr.split('\n')[0]]).toEqual([2, 'toolsim serve: --port must be a whole number, got "eighty"']);
  });
});

/** A copy of `value` whose object keys come in another (deterministic) order. */
function shuffleKeys(value: unknown, seed: { n: number }): unknown {
  if (Array.isArray(value)) return value.map((v) => shuffleKeys(v, seed));
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value);
  for (let i = entries.length - 1; i > 0; i--) {
    seed.n = (seed.n * 1103515245 + 12345) % 2 ** 31;
    const j = seed.n % (i + 1);
    [entries[i], entries[j]] = [entries[j]!, entries[i]!];
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, shuffleKeys(v, seed)]));
}

const sortedJson = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );

describe('tau-bench replayed over HTTP', () => {
  it('answers every recorded call exact, with the output the repeat policy picks', async () => {
    const dir = tempDir();
    const db = join(dir, 'tau.db');
    expect(toolsim(['ingest', TAU_BENCH, '--db', db]).status).toBe(0);
    const records = readFileSync(TAU_BENCH, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { server: string; tool: string; arguments: object; output: unknown; is_error: boolean });
    // Expected under `first`: the earliest recorded output of each distinct call.
    const firstOutput = new Map<string, unknown>();
    for (const r of records) {
      const id = `${r.server}\0${r.tool}\0${sortedJson(r.arguments)}`;
      if (!firstOutput.has(id)) firstOutput.set(id, r.output);
    }
    const { url } = await serve(['--db', db]);
    const seed = { n: 7 };
    let exact = 0;
    const wrong: string[] = [];
    for (let i = 0; i < records.length; i += 64) {
      const slice = records.slice(i, i + 64);
      await Promise.all(
        slice.map(async (r) => {
          const { status, body, text } = await postJson(`${url}/v1/call`, {
            server: r.server,
            tool: r.tool,
            arguments: shuffleKeys(r.arguments, seed),
          });
          const expected = firstOutput.get(`${r.server}\0${r.tool}\0${sortedJson(r.arguments)}`);
          if (body.tier === 'exact') exact++;
          if (body.tier !== 'exact' || sortedJson(body.output) !== sortedJson(expected))
            wrong.push(`${r.tool} ${JSON.stringify(r.arguments)}: ${status} ${text.slice(0, 300)}`);
        }),
      );
    }
    expect(wrong).toEqual([]);
    expect(exact).toBe(1957);
  });
});
