/**
 * The long run of `npm run soak -- --long`: `toolsim serve` in its own process against the
 * Anthropic stand-in (answering at once), fed distinct near calls, each one improvised once, as a
 * trainer's long run would. Per block of improvisations it reports the server's CPU per
 * improvisation, its RSS, the sizes of the cache and memo files and of their WALs (the largest
 * seen, sampled every 200 ms), and, in the same moments, the server's CPU per memo hit (calls
 * improvised earlier in the block, asked again) and per exact answer (recorded calls).
 *
 * Half-way (`--ingest-at`), another log is ingested into the served cache and the server reloaded,
 * so the figures cover an ingest appending to a served cache and what follows a reload.
 *
 * The targets (issue 21): WAL never over 64 MB; CPU per improvisation of the last block within
 * 20% of the first; RSS after the first block within 64 MB of it.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { ingest } from '../src/ingest/ingest.js';
import { memoPathOf } from '../src/store/memo-sqlite.js';
import { type RecordedCall, Store } from '../src/store/store.js';
import { startFakeAnthropic } from '../test/support/fake-anthropic.js';
import { nearestIsError, nearestOutput } from './lib/nearest-answer.js';

export interface LongRunOptions {
  root: string;
  dir: string;
  port: number;
  improvisations: number;
  block: number;
  /** Memo hits and exact answers measured per block, each. */
  probes: number;
  connections: number;
  /** Improvisations after which another log is ingested into the served cache and the server reloaded (0: never). */
  ingestAt: number;
  /** Node flags for the server process (V8 flags, say), before its script. */
  serverNodeFlags?: string[];
}

const TICK_S = 1 / 100; // USER_HZ on Linux
const MB = 1024 * 1024;
const ADMIN_TOKEN = 'long-run-admin-token-0123456789';

export interface Call {
  server: string;
  tool: string;
  arguments: Record<string, unknown>;
}

/** User + system CPU seconds and RSS bytes of a process, from /proc. */
function usage(pid: number): { cpu: number; rss: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpu = (Number(fields[11]) + Number(fields[12])) * TICK_S;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
  return { cpu, rss };
}

const size = (path: string): number => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};

/**
 * A near call per recorded call and index: the recorded arguments with the first string value
 * changed (`-n<i>` appended), so that each one is distinct, close to a recording, and takes no
 * argument the tool was never called with.
 */
/** The recorded calls `nearCall` can vary: those with a string argument. */
export function nearCallBases(calls: Iterable<RecordedCall>): RecordedCall[] {
  return [...calls].filter((b) => Object.values(JSON.parse(b.arguments) as object).some((v) => typeof v === 'string'));
}

export function nearCall(base: RecordedCall, i: number): Call {
  const args = JSON.parse(base.arguments) as Record<string, unknown>;
  const name = Object.keys(args).find((k) => typeof args[k] === 'string')!;
  return { server: base.server, tool: base.tool, arguments: { ...args, [name]: `${String(args[name])}-n${i}` } };
}

/** Posts `bodies` to `path` over `connections` keep-alive connections; counts answers by tier (or status). */
async function drive(
  url: string,
  path: string,
  bodies: readonly unknown[],
  connections: number,
  agent: Agent,
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let next = 0;
  const one = (body: unknown): Promise<void> =>
    new Promise((resolve) => {
      const payload = JSON.stringify(body);
      const req = request(
        new URL(path, url),
        { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            let label = `status ${res.statusCode}`;
            if (res.statusCode === 200) {
              const answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
                tier: string;
                reason?: string;
                match?: { memoized?: boolean };
              };
              label =
                answer.tier === 'fuzzy'
                  ? answer.match?.memoized
                    ? 'memo'
                    : 'improvised'
                  : `${answer.tier}${answer.reason ? `:${answer.reason}` : ''}`;
            }
            counts[label] = (counts[label] ?? 0) + 1;
            resolve();
          });
        },
      );
      req.on('error', () => {
        counts['error'] = (counts['error'] ?? 0) + 1;
        resolve();
      });
      req.end(payload);
    });
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (next < bodies.length) await one(bodies[next++]);
    }),
  );
  return counts;
}

async function waitReady(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`the server exited (${child.exitCode ?? child.signalCode}) before it was ready`);
    if (
      await fetch(new URL('/readyz', url)).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the server did not become ready');
}

export async function longRun(options: LongRunOptions): Promise<Record<string, unknown>> {
  const { root, dir, port } = options;
  const db = join(dir, 'cache.db');
  const memo = memoPathOf(db);
  const store = Store.open(db);
  await ingest({ store, inputs: [join(root, 'cache/samples/tau-bench/calls.jsonl')] });
  const recorded = new Map<string, RecordedCall>();
  for (const call of store.recordedCalls()) if (!recorded.has(call.key)) recorded.set(call.key, call);
  store.close();
  // Calls with a string argument to vary (`nearCall`).
  const bases = nearCallBases(recorded.values());
  const exact: Call[] = bases.map((b) => ({
    server: b.server,
    tool: b.tool,
    arguments: JSON.parse(b.arguments) as Record<string, unknown>,
  }));

  const stand = await startFakeAnthropic({ kind: 'answer', output: nearestOutput, isError: nearestIsError });
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...(options.serverNodeFlags ?? []),
      join(root, 'dist/src/cli.js'),
      'serve',
      '--db',
      db,
      '--port',
      String(port),
      '--log-level',
      'warn',
      '--fuzzy',
      'on',
      '--admin-token',
      ADMIN_TOKEN,
    ],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: {
        PATH: process.env['PATH'] ?? '',
        ANTHROPIC_API_KEY: 'sk-soak-stand-in',
        ANTHROPIC_BASE_URL: stand.url,
      },
    },
  );
  const pid = child.pid!;
  const url = `http://127.0.0.1:${port}`;
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const maxima = { cacheWal: 0, memoWal: 0 };
  const sampler = setInterval(() => {
    maxima.cacheWal = Math.max(maxima.cacheWal, size(`${db}-wal`));
    maxima.memoWal = Math.max(maxima.memoWal, size(`${memo}-wal`));
  }, 200);
  const blocks: Record<string, unknown>[] = [];
  let ingestReport: Record<string, unknown> | undefined;
  try {
    await waitReady(url, child);
    // Warm-up: every recorded call once (and its neighbour index built), so that the first block is not the first use.
    await drive(url, '/v1/call', exact, options.connections, agent);
    await drive(url, '/v1/call', exact, options.connections, agent);
    const started = Date.now();
    for (let from = 0; from < options.improvisations; from += options.block) {
      const to = Math.min(from + options.block, options.improvisations);
      if (options.ingestAt > 0 && from === options.ingestAt) {
        const before = Date.now();
        const done = spawnSync(
          process.execPath,
          [join(root, 'dist/src/cli.js'), 'ingest', join(root, 'cache/samples/api-bank/calls.jsonl'), '--db', db],
          {
            encoding: 'utf8',
          },
        );
        if (done.status !== 0) throw new Error(`ingest failed: ${done.stderr}`);
        const walAfterIngest = size(`${db}-wal`);
        const reload = await fetch(new URL('/admin/reload', url), { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
        ingestReport = {
          at: from,
          seconds: (Date.now() - before) / 1000,
          reload: (await reload.json()) as unknown,
          cacheWalAfterIngestMB: +(walAfterIngest / MB).toFixed(2),
        };
      }
      const bodies = Array.from({ length: to - from }, (_, k) => nearCall(bases[(from + k) % bases.length]!, from + k));
      const cpu0 = usage(pid).cpu;
      const t0 = Date.now();
      const tiers = await drive(url, '/v1/call', bodies, options.connections, agent);
      const cpu1 = usage(pid).cpu;
      const seconds = (Date.now() - t0) / 1000;
      stand.requests.splice(0);
      // Memo hits and exact answers, one after the other, at the same moment of the run.
      const hits = bodies.slice(0, options.probes);
      const exactProbe = Array.from({ length: options.probes }, (_, k) => exact[k % exact.length]!);
      const h0 = usage(pid).cpu;
      const hitTiers = await drive(url, '/v1/call', hits, options.connections, agent);
      const h1 = usage(pid).cpu;
      await drive(url, '/v1/call', exactProbe, options.connections, agent);
      const e1 = usage(pid).cpu;
      const { rss } = usage(pid);
      const metrics = await (await fetch(new URL('/metrics', url))).text();
      const heapUsed = Number(/^nodejs_heap_size_used_bytes (\d+)/m.exec(metrics)?.[1] ?? 0);
      const metric = (re: RegExp): number => +(Number(re.exec(metrics)?.[1] ?? 0) / MB).toFixed(1);
      const smaps = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      const smap = (name: string): number => +(Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(smaps)?.[1] ?? 0) / 1024).toFixed(1);
      const detail = {
        heapTotalMB: metric(/^nodejs_heap_size_total_bytes (\d+)/m),
        externalMB: metric(/^nodejs_external_memory_bytes (\d+)/m),
        oldUsedMB: metric(/^nodejs_heap_space_size_used_bytes\{space="old"\} (\d+)/m),
        oldTotalMB: metric(/^nodejs_heap_space_size_total_bytes\{space="old"\} (\d+)/m),
        newTotalMB: metric(/^nodejs_heap_space_size_total_bytes\{space="new"\} (\d+)/m),
        loTotalMB: metric(/^nodejs_heap_space_size_total_bytes\{space="large_object"\} (\d+)/m),
        anonMB: smap('Anonymous'),
        privateDirtyMB: smap('Private_Dirty'),
        fileRssMB: +(smap('Rss') - smap('Anonymous')).toFixed(1),
      };
      blocks.push({
        improvisations: to,
        seconds: +seconds.toFixed(1),
        cpuPerImprovisationMs: +(((cpu1 - cpu0) / (to - from)) * 1000).toFixed(3),
        memoHitCpuUs: Math.round(((h1 - h0) / hits.length) * 1e6),
        exactCpuUs: Math.round(((e1 - h1) / exactProbe.length) * 1e6),
        rssMB: +(rss / MB).toFixed(1),
        heapUsedMB: +(heapUsed / MB).toFixed(1),
        cacheMB: +(size(db) / MB).toFixed(2),
        cacheWalMB: +(size(`${db}-wal`) / MB).toFixed(2),
        memoMB: +(size(memo) / MB).toFixed(2),
        memoWalMB: +(size(`${memo}-wal`) / MB).toFixed(2),
        maxWalSoFarMB: +(Math.max(maxima.cacheWal, maxima.memoWal) / MB).toFixed(2),
        load1: +loadavg()[0]!.toFixed(2),
        tiers,
        memoProbe: hitTiers,
        detail,
      });
      process.stderr.write(`${JSON.stringify(blocks.at(-1))}\n`);
    }
    const first = blocks[0] as { cpuPerImprovisationMs: number; rssMB: number };
    const last = blocks.at(-1) as { cpuPerImprovisationMs: number };
    const rssAfterFirst = blocks.slice(1).map((b) => (b as { rssMB: number }).rssMB);
    return {
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      cpu: cpus()[0]?.model,
      improvisations: options.improvisations,
      block: options.block,
      connections: options.connections,
      serverNodeFlags: options.serverNodeFlags ?? [],
      minutes: +((Date.now() - started) / 60_000).toFixed(1),
      ingest: ingestReport,
      blocks,
      targets: {
        maxWalMB: +(Math.max(maxima.cacheWal, maxima.memoWal) / MB).toFixed(2),
        walWithin64MB: Math.max(maxima.cacheWal, maxima.memoWal) <= 64 * MB,
        lastVsFirstCpu: +(last.cpuPerImprovisationMs / first.cpuPerImprovisationMs).toFixed(3),
        cpuWithin20Percent: last.cpuPerImprovisationMs <= first.cpuPerImprovisationMs * 1.2,
        rssSpreadAfterFirstMB: rssAfterFirst.length
          ? +(Math.max(...rssAfterFirst) - Math.min(first.rssMB, ...rssAfterFirst)).toFixed(1)
          : 0,
      },
    };
  } finally {
    clearInterval(sampler);
    agent.destroy();
    // A server that died early (a bad flag) has exited already: waiting for its exit would never end.
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await stand.close();
  }
}

interface Block {
  improvisations: number;
  seconds: number;
  cpuPerImprovisationMs: number;
  memoHitCpuUs: number;
  exactCpuUs: number;
  rssMB: number;
  heapUsedMB?: number;
  detail?: { heapTotalMB: number; externalMB: number };
  cacheMB: number;
  cacheWalMB: number;
  memoMB: number;
  memoWalMB: number;
  maxWalSoFarMB: number;
  load1: number;
  tiers: Record<string, number>;
}

/** The long run's report as the section of bench/RESULTS.md. */
export function longRunMarkdown(report: Record<string, unknown>, command: string): string {
  const blocks = report['blocks'] as Block[];
  const targets = report['targets'] as {
    maxWalMB: number;
    walWithin64MB: boolean;
    lastVsFirstCpu: number;
    cpuWithin20Percent: boolean;
    rssSpreadAfterFirstMB: number;
  };
  const ingestReport = report['ingest'] as
    | { at: number; seconds: number; cacheWalAfterIngestMB: number; reload: { calls?: number } }
    | undefined;
  const verdict = (met: boolean): string => (met ? 'met' : '**missed**');
  const loads = blocks.map((b) => b.load1);
  const hitRatios = blocks.map((b) => b.memoHitCpuUs / b.exactCpuUs).sort((a, b) => a - b);
  const hitVsExact = hitRatios[Math.floor((hitRatios.length - 1) / 2)]!;
  const lines = [
    `## Long run: ${Number(report['improvisations']).toLocaleString('en')} distinct improvisations`,
    '',
    `\`${command}\` (bench/long-run.ts). ${String(report['date'])}, Node ${String(report['node'])}, ${String(report['cpus'])} CPUs (${String(report['cpu'])}); ${String(report['minutes'])} minutes. ` +
      `Load average (1 minute) ${Math.min(...loads)}–${Math.max(...loads)} on ${String(report['cpus'])} CPUs at the block ends (the soak's own client and stand-in included); CPU figures are the server process's own (user + system, /proc), which other load disturbs less than wall times.`,
    '',
    `\`toolsim serve --fuzzy on\` on the tau-bench sample cache, in its own process, against the Anthropic stand-in (test/support/fake-anthropic.ts) answering at once; ${String(report['connections'])} keep-alive connections. ` +
      'Each improvisation is a distinct near call (a recorded call with its first string argument changed), improvised once and memoized. After each block: the first ' +
      "calls of the block asked again (memo hits), then as many recorded calls (exact), each side's server CPU per call measured alone. RSS is VmRSS; the V8 heap in use and committed, and the memory V8 knows is held outside its heap (buffers: memo hits' texts among them), are from /metrics (garbage not yet collected included). " +
      'File and WAL sizes at the block end; the largest WAL seen is sampled every 200 ms.' +
      (ingestReport
        ? ` After ${ingestReport.at.toLocaleString('en')} improvisations, the api-bank sample is ingested into the served cache (another process) and the server reloaded (${ingestReport.reload.calls ?? '?'} calls then; the cache's WAL right after the ingest: ${ingestReport.cacheWalAfterIngestMB} MB).`
        : ''),
    '',
    '| improvisations | server CPU per improvisation | memo hit, CPU per call | exact, CPU per call | RSS | V8 heap used | V8 heap committed | outside the heap | cache file | cache WAL | memo file | memo WAL | largest WAL so far | load (1 min) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...blocks.map(
      (b) =>
        `| ${b.improvisations.toLocaleString('en')} | ${b.cpuPerImprovisationMs.toFixed(2)} ms | ${b.memoHitCpuUs} µs | ${b.exactCpuUs} µs | ${b.rssMB} MB | ${b.heapUsedMB ?? '–'} MB | ${b.detail?.heapTotalMB ?? '–'} MB | ${b.detail?.externalMB ?? '–'} MB | ${b.cacheMB} MB | ${b.cacheWalMB} MB | ${b.memoMB} MB | ${b.memoWalMB} MB | ${b.maxWalSoFarMB} MB | ${b.load1} |`,
    ),
    '',
    '| target | value | |',
    '|---|---|---|',
    `| WAL never over 64 MB (cache and memo) | largest ${targets.maxWalMB} MB | ${verdict(targets.walWithin64MB)} |`,
    `| server CPU per call, last block within 20% of the first | ${targets.lastVsFirstCpu} × | ${verdict(targets.cpuWithin20Percent)} |`,
    `| RSS flat after the first block (within 64 MB) | spread ${targets.rssSpreadAfterFirstMB} MB | ${verdict(targets.rssSpreadAfterFirstMB <= 64)} |`,
    `| a memo hit costs about what an exact answer does (median of the blocks' memo hit / exact, at most 1.25) | ${hitVsExact.toFixed(2)} × (${Math.min(...hitRatios).toFixed(2)}–${Math.max(...hitRatios).toFixed(2)}) | ${verdict(hitVsExact <= 1.25)} |`,
    '',
  ];
  return lines.join('\n');
}
