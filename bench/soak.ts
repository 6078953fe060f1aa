/**
 * Soak: `toolsim serve` in its own process, loaded with autocannon over a mix of exact, fuzzy and
 * miss calls (single calls, batches and path-style calls), then pushed past capacity to show load
 * shedding (503 + Retry-After) while /healthz keeps answering. The fuzzy tier talks to the local
 * stand-in Messages API (test/support), which answers after 200 ms.
 *
 *   npm run soak -- [--seconds 60] [--connections 200] [--overload-seconds 15] [--overload-connections 1000]
 *                   [--max-event-loop-delay 1000]
 *
 * Prints one JSON object with the figures (date, machine, Node version included).
 *
 * The long run (bench/long-run.ts): distinct improvisations against the stand-in answering at once,
 * with per-block figures of server CPU, RSS, file and WAL sizes and memo-hit CPU:
 *
 *   npm run soak -- --long [--improvisations 100000] [--block 10000] [--probes 5000] [--connections 16]
 *                   [--ingest-at 50000] [--write] [--report FILE]
 *
 * `--write` puts the figures in bench/RESULTS.md (its long-run section, which `npm run bench` keeps);
 * `--report FILE` writes them from a JSON report printed by an earlier run instead of running.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ingest } from '../src/ingest/ingest.js';
import { type RecordedCall, Store } from '../src/store/store.js';
import { startFakeAnthropic } from '../test/support/fake-anthropic.js';
import { writeLongRunSection } from './lib/long-run-section.js';
import { RESULTS } from './lib/paths.js';
import { type LoadResult, type MixedCall, runLoad } from './load.js';
import { longRun, longRunMarkdown } from './long-run.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SAMPLES = ['cache/samples/tau-bench/calls.jsonl', 'cache/samples/api-bank/calls.jsonl'].map((p) => join(ROOT, p));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Exact calls (recorded arguments), near calls (one argument added: fuzzy, then memoized), misses
 * (arguments unlike any recording, unknown tools).
 */
function callMix(store: Store): { normal: MixedCall[]; heavy: MixedCall[] } {
  // The first 300 distinct recorded calls.
  const recorded = new Map<string, RecordedCall>();
  for (const call of store.recordedCalls()) {
    if (!recorded.has(call.key)) recorded.set(call.key, call);
    if (recorded.size === 300) break;
  }
  const rows = [...recorded.values()];
  const normal: MixedCall[] = [];
  rows.forEach((row, i) => {
    const args = JSON.parse(row.arguments) as Record<string, unknown>;
    normal.push({ path: '/v1/call', body: { server: row.server, tool: row.tool, arguments: args } });
    if (i % 3 === 0)
      normal.push({ path: '/v1/call', body: { server: row.server, tool: row.tool, arguments: { ...args, soak_near: i % 40 } } });
    if (i % 3 === 1)
      normal.push({ path: '/v1/call', body: { server: row.server, tool: row.tool, arguments: { soak_far: `nothing-like-${i}` } } });
    if (i % 10 === 0) normal.push({ path: '/v1/call', body: { tool: `no_such_tool_${i % 7}`, arguments: {} } });
    if (i % 15 === 0)
      normal.push({ path: `/v1/servers/${encodeURIComponent(row.server)}/tools/${encodeURIComponent(row.tool)}`, body: args });
    if (i % 20 === 0)
      normal.push({
        path: '/v1/calls',
        body: {
          calls: rows.slice(i, i + 8).map((r) => ({ server: r.server, tool: r.tool, arguments: JSON.parse(r.arguments) as unknown })),
        },
      });
  });
  // Past capacity: batches of misses, each scored against every recording of its tool.
  const heavy = rows.slice(0, 20).map((row, i) => ({
    path: '/v1/calls',
    body: {
      calls: Array.from({ length: 100 }, (_, j) => ({ server: row.server, tool: row.tool, arguments: { soak_heavy: `${i}-${j}` } })),
    },
  }));
  return { normal, heavy };
}

/**
 * Probes /healthz every 250 ms from a process of its own: the load generator's event loop is itself
 * busy, and would make the server look slower than it is.
 */
function probeHealth(url: string, seconds: number): Promise<{ probes: number; failed: number; worstMs: number }> {
  const script = `
    const until = Date.now() + ${Math.round(seconds * 1000)};
    let probes = 0, failed = 0, worst = 0;
    (async () => {
      while (Date.now() < until) {
        const started = performance.now();
        try {
          const res = await fetch(${JSON.stringify(`${url}/healthz`)}, { signal: AbortSignal.timeout(5000) });
          if (res.status !== 200) failed++;
          await res.arrayBuffer();
        } catch { failed++; }
        probes++;
        worst = Math.max(worst, performance.now() - started);
        await new Promise((r) => setTimeout(r, 250));
      }
      process.stdout.write(JSON.stringify({ probes, failed, worstMs: Math.round(worst) }));
    })();`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.on('exit', () => {
      try {
        resolve(JSON.parse(out) as { probes: number; failed: number; worstMs: number });
      } catch (error) {
        reject(error as Error);
      }
    });
  });
}

const summarize = (r: LoadResult): Record<string, unknown> => ({
  requests: r.requests,
  failed: r.failed,
  errors: r.errors,
  timeouts: r.timeouts,
  statuses: r.statuses,
  rps: Math.round(r.rps),
  p50_ms: r.p50,
  p99_ms: r.p99,
  max_ms: r.max,
});

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '60' },
      connections: { type: 'string', default: '200' },
      'overload-seconds': { type: 'string', default: '15' },
      'overload-connections': { type: 'string', default: '1000' },
      'max-event-loop-delay': { type: 'string', default: '1000' },
      long: { type: 'boolean', default: false },
      improvisations: { type: 'string', default: '100000' },
      block: { type: 'string', default: '10000' },
      probes: { type: 'string', default: '5000' },
      'ingest-at': { type: 'string', default: '50000' },
      write: { type: 'boolean', default: false },
      'server-node-flags': { type: 'string' },
      report: { type: 'string' },
    },
  });
  const dir = mkdtempSync(join(tmpdir(), 'toolsim-soak-'));
  try {
    if (values.long) {
      // --report FILE: the section from a report printed earlier, without running again.
      const report = values.report
        ? (JSON.parse(readFileSync(values.report, 'utf8')) as Record<string, unknown>)
        : await longRun({
            root: ROOT,
            dir,
            port: await freePort(),
            improvisations: Number(values.improvisations),
            block: Number(values.block),
            probes: Number(values.probes),
            connections: process.argv.includes('--connections') ? Number(values.connections) : 16,
            ingestAt: Number(values['ingest-at']),
            ...(values['server-node-flags'] ? { serverNodeFlags: values['server-node-flags'].split(' ') } : {}),
          });
      if (!values.report) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      if (values.write) {
        const args = process.argv.slice(2).filter((a, i, all) => a !== '--write' && a !== '--report' && all[i - 1] !== '--report');
        writeLongRunSection(RESULTS, longRunMarkdown(report, ['npm run soak --', ...args].join(' ')));
      }
      return;
    }
    const db = join(dir, 'cache.db');
    const store = Store.open(db);
    await ingest({ store, inputs: SAMPLES });
    const mix = callMix(store);
    store.close();

    const stand = await startFakeAnthropic({ kind: 'slow', delayMs: 200, after: { kind: 'answer', output: 'improvised by the stand-in' } });
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        join(ROOT, 'dist/src/cli.js'),
        'serve',
        '--db',
        db,
        '--port',
        String(port),
        '--log-level',
        'warn',
        '--max-event-loop-delay',
        values['max-event-loop-delay'],
        '--fuzzy',
        'on',
      ],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { PATH: process.env['PATH'] ?? '', ANTHROPIC_API_KEY: 'sk-soak-stand-in', ANTHROPIC_BASE_URL: stand.url },
      },
    );
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      if (
        await fetch(new URL('/readyz', url)).then(
          (r) => r.ok,
          () => false,
        )
      )
        break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const steady = await runLoad({
      url,
      connections: Number(values.connections),
      seconds: Number(values.seconds),
      calls: mix.normal,
      timeout: 10,
    });
    const tiers = async (): Promise<Record<string, number>> => {
      const text = await (await fetch(new URL('/metrics', url))).text();
      const out: Record<string, number> = {};
      for (const match of text.matchAll(/^toolsim_calls_total\{tier="(\w+)"[^}]*\} (\d+)/gm))
        out[match[1]!] = (out[match[1]!] ?? 0) + Number(match[2]);
      return out;
    };
    const steadyTiers = await tiers();
    const llmRequests = stand.requests.length;
    if (Number(values['overload-seconds']) === 0) {
      child.kill('SIGTERM');
      await stand.close();
      process.stdout.write(`${JSON.stringify({ steady: summarize(steady), steadyTiers, llmRequests })}\n`);
      return;
    }
    const health = probeHealth(url, Number(values['overload-seconds']));
    const overload = await runLoad({
      url,
      connections: Number(values['overload-connections']),
      seconds: Number(values['overload-seconds']),
      calls: [...mix.heavy, ...mix.normal],
      timeout: 10,
    });
    const healthDuringOverload = await health;
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const after = await fetch(new URL('/v1/call', url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(mix.normal[0]!.body),
    });

    child.kill('SIGTERM');
    const exitCode = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await stand.close();
    process.stdout.write(
      `${JSON.stringify(
        {
          date: new Date().toISOString(),
          node: process.version,
          cpus: cpus().length,
          cpu: cpus()[0]?.model,
          steady: {
            connections: Number(values.connections),
            seconds: Number(values.seconds),
            ...summarize(steady),
            tiers: steadyTiers,
            llmRequests,
          },
          overload: {
            connections: Number(values['overload-connections']),
            seconds: Number(values['overload-seconds']),
            ...summarize(overload),
          },
          healthDuringOverload,
          statusAfterOverload: after.status,
          exitCode,
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
