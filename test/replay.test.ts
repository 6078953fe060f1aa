import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config.js';
import { createMetrics } from '../src/core/metrics.js';
import { ingest } from '../src/ingest/ingest.js';
import { sameOutput } from '../src/replay/compare.js';
import { checkGates } from '../src/replay/gates.js';
import { reportHtml } from '../src/replay/html.js';
import { replay } from '../src/replay/replay.js';
import type { ReplayReport } from '../src/replay/report.js';
import { HttpTarget, SimulatorTarget, TargetError } from '../src/replay/targets.js';
import { reportText } from '../src/replay/text.js';
import { SERVE_OPTIONS, startServer } from '../src/server.js';
import { Simulator } from '../src/simulator/simulator.js';
import { Store } from '../src/store/store.js';
import { API_BANK, cacheOf, onCleanup, ROOT, TAU_BENCH, tempDir, writeLog } from './helpers.js';
import { type CliResult, runCli } from './support/cli.js';

function dbTarget(store: Store): SimulatorTarget {
  const simulator = new Simulator({ store, metrics: createMetrics({ cacheCalls: () => 0, processMetrics: false }) });
  return new SimulatorTarget(simulator, store.path);
}

async function serverOn(db: string): Promise<string> {
  const server = await startServer(resolveConfig(SERVE_OPTIONS, { db, port: '0', 'log-level': 'silent' }, {}));
  onCleanup(() => server.close());
  return server.url;
}

/** One tau-bench cache on disk for the whole file (ingesting it is the slow part); tests only read it. */
let tau: Promise<{ dir: string; path: string; store: Store }> | undefined;
function tauCache(): Promise<{ path: string; store: Store }> {
  return (tau ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'toolsim-replay-'));
    const path = join(dir, 'tau.db');
    const store = Store.open(path);
    await ingest({ store, inputs: [TAU_BENCH] });
    return { dir, path, store };
  })());
}
afterAll(async () => {
  if (!tau) return;
  const { dir, store } = await tau;
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the CLI; resolves with the exit code instead of rejecting on a non-zero one. */
function cli(args: string[]): Promise<CliResult> {
  return runCli(args, { cwd: ROOT, env: { PATH: process.env['PATH'] ?? '' } });
}

describe('replaying tau-bench against its own cache', () => {
  it('answers every call exactly; only the keys whose recordings disagree differ, in-process and over HTTP alike', async () => {
    const cache = await tauCache();
    const disagreeing = cache.store.stats().disagreeingKeys;
    expect(disagreeing).toBe(8);

    const direct = await replay({ inputs: [TAU_BENCH], target: dbTarget(cache.store) });
    const overHttp = await replay({
      inputs: [TAU_BENCH],
      target: new HttpTarget(await serverOn(cache.path)),
      batchSize: 64,
      concurrency: 3,
    });
    for (const report of [direct, overHttp]) {
      expect(report.overall).toMatchObject({
        calls: 1957,
        exact: 1957,
        fuzzy: 0,
        miss: 0,
        errors: 0,
        exactRate: 1,
        compared: 1957,
        differing: 0,
      });
      expect(report.differing.unexplained).toEqual([]);
      expect(report.differing.hiddenStateKeys).toBe(disagreeing);
      expect(report.overall.differingHiddenState).toBe(report.differing.hiddenState.length);
      for (const d of report.differing.hiddenState) expect(d.recordedOutputs).toBeGreaterThan(1);
      expect(report.tools).toHaveLength(30);
      expect(report.servers.map((s) => [s.server, s.calls])).toEqual([
        ['tau-bench-airline', 1164],
        ['tau-bench-retail', 793],
      ]);
    }
    // The first observation is served, so the calls that differ are the later, different recordings.
    expect(overHttp.differing.hiddenState.map((d) => d.line)).toEqual(direct.differing.hiddenState.map((d) => d.line));
    expect(checkGates(direct, { minExact: 1, maxMiss: 0, maxDiffer: 0 }).every((g) => g.passed)).toBe(true);
  });
});

describe('replaying api-bank against a tau-bench cache', () => {
  it('reports every call as a miss with reason unknown_tool, in the terminal, JSON and HTML reports', async () => {
    const cache = await tauCache();
    const dir = tempDir();
    const html = join(dir, 'report.html');
    const result = await cli(['replay', API_BANK, '--url', await serverOn(cache.path), '--json', '--html', html, '--min-exact', '0.9']);
    expect(result.stderr).toContain('gate --min-exact failed');
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as ReplayReport;
    expect(report.overall).toMatchObject({ calls: 508, exact: 0, fuzzy: 0, miss: 508, missRate: 1 });
    expect(report.missReasons).toEqual([{ reason: 'unknown_tool', calls: 508, share: 1 }]);
    expect(report.tools.every((t) => t.missReasons.unknown_tool === t.calls)).toBe(true);
    expect(report.gates).toEqual([{ gate: '--min-exact', limit: 0.9, actual: 0, passed: false }]);

    const text = reportText(report);
    expect(text).toMatch(/unknown_tool\s+508\s+100\.0%/);
    expect(text).toMatch(/--min-exact\s+90\.0%\s+0\.0%\s+FAIL/);

    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<h1>toolsim replay</h1>');
    expect(page).toContain('<td class="l">unknown_tool</td><td>508</td>');
    // One stacked bar per tool, all of it miss.
    expect(page.match(/<div class="bar"><span class="miss" style="width:100\.000%"/g)).toHaveLength(report.tools.length);
    // Self-contained: nothing is fetched when the page is opened.
    expect(page).not.toMatch(/(src|href)=|url\(|@import|<script/i);
  });
});

describe('comparing answers with the expected output', () => {
  it('compares JSON values, and JSON held in strings by the value it holds', () => {
    expect(sameOutput('{"a":1,"b":[1,2]}', '{"b":[1,2.0],"a":1}')).toBe(true);
    expect(sameOutput(JSON.stringify('{"a": 1, "b": "x"}'), JSON.stringify('{"b":"x","a":1}'))).toBe(true);
    expect(sameOutput(JSON.stringify('{"a": 1}'), '{"a":1}')).toBe(true);
    expect(sameOutput(JSON.stringify('{"a": 1}'), JSON.stringify('{"a": 2}'))).toBe(false);
    expect(sameOutput('"success"', '"Success"')).toBe(false);
    expect(sameOutput('{"a":null}', '{}')).toBe(false);
    expect(sameOutput('[1,2]', '[2,1]')).toBe(false);
    expect(sameOutput(JSON.stringify('{not json'), JSON.stringify('{not json'))).toBe(true);
  });

  it('lists answers that differ on keys recorded once apart from hidden state, and gates on them', async () => {
    const cache = await cacheOf([
      { server: 's', tool: 'balance', arguments: { id: 1 }, output: { amount: 10 } },
      { server: 's', tool: 'balance', arguments: { id: 2 }, output: { amount: 5 } },
      { server: 's', tool: 'balance', arguments: { id: 2 }, output: { amount: 6 } },
    ]);
    const dir = tempDir();
    const testSet = writeLog(dir, 'test.jsonl', [
      { server: 's', tool: 'balance', arguments: { id: 1 }, output: { amount: 11 } },
      { server: 's', tool: 'balance', arguments: '{"id": 1}', output: { amount: 10 } },
      { server: 's', tool: 'balance', arguments: { id: 2 }, output: { amount: 6 } },
      { server: 's', tool: 'balance', arguments: { id: 1 } },
      { server: 's', tool: 'balance', arguments: { id: 3 }, output: null },
      'not json',
    ]);
    const problems: string[] = [];
    const report = await replay({ inputs: [testSet], target: dbTarget(cache.store), onProblem: (p) => problems.push(p) });
    expect(problems).toEqual([expect.stringMatching(/test\.jsonl:6: not JSON/)]);
    expect(report.rejected).toBe(1);
    expect(report.overall).toMatchObject({ calls: 5, exact: 4, miss: 1, compared: 3, differing: 1, differingHiddenState: 1 });
    expect(report.missReasons).toEqual([{ reason: 'fuzzy_disabled', calls: 1, share: 0.2 }]);
    expect(report.differing.unexplained).toEqual([
      expect.objectContaining({ line: 1, arguments: { id: 1 }, expected: { amount: 11 }, served: { amount: 10 }, recordedOutputs: 1 }),
    ]);
    expect(report.differing.hiddenState).toEqual([
      expect.objectContaining({ line: 3, expected: { amount: 6 }, served: { amount: 5 }, recordedOutputs: 2 }),
    ]);
    expect(checkGates(report, { maxDiffer: 0, maxMiss: 0.2 })).toEqual([
      { gate: '--max-miss', limit: 0.2, actual: 0.2, passed: true },
      { gate: '--max-differ', limit: 0, actual: 1, passed: false },
    ]);
    const html = reportHtml(report);
    expect(html).toContain('&quot;amount&quot;: 11');
    expect(reportText(report)).toMatch(/although every recording of the key agrees: 1 calls on 1 keys/);
  });
});

describe('replay command line', () => {
  it('passes its gates on tau-bench, and refuses --url with --db', async () => {
    const cache = await tauCache();
    const passing = await cli(['replay', TAU_BENCH, '--db', cache.path, '--min-exact', '0.99', '--max-miss', '0', '--max-differ', '0']);
    expect(passing.stderr).toBe('');
    expect(passing.code).toBe(0);
    expect(passing.stdout).toMatch(/1,957\s+1,957\s+0\s+0\s+0\s+100\.0%/);
    expect(passing.stdout).toContain('9 calls on 8 keys');
    expect(passing.stdout).toMatch(/--min-exact\s+99\.0%\s+100\.0%\s+pass/);

    const both = await cli(['replay', TAU_BENCH, '--db', cache.path, '--url', 'http://127.0.0.1:1']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('not both');
    const badGate = await cli(['replay', TAU_BENCH, '--db', cache.path, '--min-exact', '90']);
    expect(badGate.code).toBe(2);
    expect(badGate.stderr).toContain('--min-exact must be between 0 and 1');
  });

  it('fails with a clear message when the server cannot be reached', async () => {
    const target = new HttpTarget('http://127.0.0.1:9/');
    await expect(replay({ inputs: [API_BANK], target })).rejects.toThrow(TargetError);
    await expect(replay({ inputs: [API_BANK], target })).rejects.toThrow(/cannot reach http:\/\/127\.0\.0\.1:9\/v1\/calls/);
    expect(() => new HttpTarget('localhost:8080')).toThrow(/--url must be an http\(s\) URL/);
  });
});

describe('coverage in toolsim stats', () => {
  it('shows per tool the distinct argument sets, those seen once, and the keys whose recordings disagree', async () => {
    const cache = await cacheOf([
      { server: 's', tool: 'balance', arguments: { id: 1 }, output: 10 },
      { server: 's', tool: 'balance', arguments: { id: 2 }, output: 5 },
      { server: 's', tool: 'balance', arguments: { id: 2 }, output: 6 },
      { server: 's', tool: 'balance', arguments: { id: 3 }, output: 7 },
      { server: 's', tool: 'balance', arguments: { id: 3 }, output: 7 },
      { server: 's', tool: 'ping', arguments: {}, output: 'pong' },
    ]);
    expect(cache.store.stats()).toMatchObject({
      keys: 4,
      singleKeys: 2,
      repeatedKeys: 2,
      disagreeingKeys: 1,
      perTool: [
        { tool: 'balance', calls: 5, keys: 3, singleKeys: 1, repeatedKeys: 2, disagreeingKeys: 1 },
        { tool: 'ping', calls: 1, keys: 1, singleKeys: 1, repeatedKeys: 0, disagreeingKeys: 0 },
      ],
    });
    cache.store.close();
    const { stdout, code } = await cli(['stats', '--db', cache.path]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/server\s+tool\s+calls\s+share\s+arg sets\s+seen once\s+repeated\s+disagree\s+calls\/set/);
    expect(stdout).toMatch(/s\s+balance\s+5\s+83\.3%\s+3\s+1\s+2\s+1\s+1\.7/);
    expect(stdout).toMatch(/keys recorded once\s+2/);
  });
});
