/**
 * Scenarios 4-5: ingest of a generated log through the CLI (calls/s, peak RSS), then serving the
 * resulting cache (process start to a ready /readyz, RSS after distinct lookups).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, statSync } from 'node:fs';
import { Sqlite } from '../../src/store/sqlite.js';
import { Store } from '../../src/store/store.js';
import { removeCache } from '../lib/cache.js';
import { bodyOf, distinctCalls, loadSamples, writeGeneratedLog } from '../lib/data.js';
import { load } from '../lib/load.js';
import { CLI, dataPath, ENTRY_BYTES, MEMO_HIT_BYTES } from '../lib/paths.js';
import { freePort, procCpuSeconds, procKb, startChild } from '../lib/procs.js';
import type { Mode, Section } from '../lib/report.js';
import { mb, thousands } from '../lib/stats.js';

export interface IngestRun {
  section: Section;
  db: string;
}

interface IngestChild {
  seconds: number;
  cpuSeconds: number;
  peakKb: number;
  out: string;
}

/** `toolsim ingest LOG --db DB` as a child process: wall and CPU time (from /proc), peak RSS, its summary. */
async function ingestChild(log: string, db: string): Promise<IngestChild> {
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, 'ingest', log, '--db', db], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.resume();
  let peakKb = 0;
  let cpuSeconds = 0;
  const poll = setInterval(() => {
    try {
      cpuSeconds = procCpuSeconds(child.pid!);
      const kb = procKb(child.pid!, 'VmHWM');
      if (Number.isFinite(kb)) peakKb = Math.max(peakKb, kb);
    } catch {
      // exited between polls
    }
  }, 20);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearInterval(poll);
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`toolsim ingest exited ${code}: ${out}`);
  return { seconds, cpuSeconds, peakKb, out };
}

/** The cache file and whatever SQLite keeps beside it. */
function cacheBytes(db: string): number {
  return ['', '-wal', '-journal'].reduce((sum, suffix) => sum + (existsSync(db + suffix) ? statSync(db + suffix).size : 0), 0);
}

export async function ingestLog(mode: Mode): Promise<IngestRun> {
  const calls = mode.ingestCalls;
  const log = writeGeneratedLog(dataPath(`ingest-${calls}.jsonl`), loadSamples(), calls);
  // New calls for the append: the lines that follow the first log's in the same generator.
  const appended = Math.round(calls / 10);
  const appendLog = writeGeneratedLog(dataPath(`ingest-${calls}+${appended}.jsonl`), loadSamples(), appended, calls);
  const db = dataPath(`ingest-${calls}.db`);
  removeCache(db);
  const fresh = await ingestChild(log, db);
  const dbBytes = cacheBytes(db);
  // The append goes into a copy, so that scenario 5 serves the cache of exactly `calls` calls.
  const appendDb = dataPath(`ingest-${calls}-append.db`);
  removeCache(appendDb);
  copyFileSync(db, appendDb);
  const append = await ingestChild(appendLog, appendDb);
  const appendBytes = cacheBytes(appendDb);
  removeCache(appendDb);
  const logBytes = statSync(log).size;
  const rate = calls / fresh.seconds;
  const appendRate = appended / append.seconds;
  const name = (path: string): string => path.replace(/.*bench\//, 'bench/');
  return {
    db,
    section: {
      title: `4. Ingest of a generated ${thousands(calls)}-call log`,
      figures: [
        { name: 'ingest into a new cache, calls/s (whole CLI run)', value: thousands(rate), target: '≥ 75,000', met: rate >= 75_000 },
        {
          name: 'ingest into a new cache, calls per CPU-second of the ingest process',
          value: thousands(calls / fresh.cpuSeconds),
          target: '',
        },
        {
          name: 'ingest into a new cache, peak RSS',
          value: mb(fresh.peakKb * 1024),
          target: 'bounded',
          met: fresh.peakKb * 1024 < 512 * 1024 * 1024,
        },
        { name: `cache of ${thousands(calls)} calls on disk`, value: mb(dbBytes), target: '≤ 400 MB', met: dbBytes <= 400 * 1024 * 1024 },
        {
          name: `append of ${thousands(appended)} new calls into it, calls/s`,
          value: thousands(appendRate),
          target: '≥ 30,000',
          met: appendRate >= 30_000,
        },
        { name: 'append, calls per CPU-second of the ingest process', value: thousands(appended / append.cpuSeconds), target: '' },
      ],
      details: [
        `\`toolsim ingest ${name(log)} --db …\` as a child process into a new cache: ${thousands(calls)} lines ` +
          `(${mb(logBytes)} of JSON Lines, ${(logBytes / calls).toFixed(0)} bytes a line on average) in ${fresh.seconds.toFixed(1)} s from spawn to exit; ` +
          `cache file ${mb(dbBytes)}. The process used ${fresh.cpuSeconds.toFixed(1)} CPU-seconds (user + system, from /proc), so on this shared machine it had about ${((100 * fresh.cpuSeconds) / fresh.seconds).toFixed(0)}% of one core. Peak RSS is the child's VmHWM, polled every 20 ms. ` +
          "A new cache is built in a temporary file (no journal on disk, no syncs, the readers' indexes built after the rows) and renamed into place. " +
          "What bounds memory: the batch in hand (2,000 rows), SQLite's 64 MB page cache (the transaction's pages spill to the file past it), a memo of up to 4,096 short output texts, and an ordinal counter per distinct record of the current input (a Map entry per line here, so that part grows " +
          "with the input: tens of MB per million lines), plus the V8 heap's slack between collections.",
        '',
        `Then \`toolsim ingest ${name(appendLog)} --db …\` (${thousands(appended)} new calls) into a copy of that cache: the normal path, one transaction with every index kept up to date, ` +
          `${append.seconds.toFixed(1)} s, ${append.cpuSeconds.toFixed(1)} CPU-seconds, peak RSS ${mb(append.peakKb * 1024)}; the cache then held ${mb(appendBytes)}.`,
        '',
        'The CLI summary of the first:',
        '',
        '```',
        fresh.out.trim(),
        '```',
      ],
    },
  };
}

interface Served {
  readyMs: number;
  readyCpu: number;
  rssReady: number;
  rss: number;
  peak: number;
  seconds: number;
  result: Awaited<ReturnType<typeof load>>;
}

async function serveAndLookUp(db: string, bodies: readonly string[], mode: Mode, extra: readonly string[]): Promise<Served> {
  const port = await freePort();
  const server = await startChild({
    command: process.execPath,
    args: [CLI, 'serve', '--db', db, '--port', String(port), '--log-level', 'warn', ...extra],
    port,
    probe: '/readyz',
  });
  try {
    const readyCpu = procCpuSeconds(server.proc.pid!);
    const rssReady = procKb(server.proc.pid!, 'VmRSS') * 1024;
    const probe = (await (
      await fetch(`${server.url}/v1/call`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: bodies[bodies.length - 1]!,
      })
    ).json()) as { tier: string };
    if (probe.tier !== 'exact') throw new Error(`lookup answered ${probe.tier}, expected exact`);
    const started = performance.now();
    const result = await load({
      url: server.url,
      path: '/v1/call',
      sharedBodies: bodies,
      connections: mode.connections,
      amount: bodies.length,
    });
    const seconds = (performance.now() - started) / 1000;
    const rss = procKb(server.proc.pid!, 'VmRSS') * 1024;
    const peak = procKb(server.proc.pid!, 'VmHWM') * 1024;
    return { readyMs: server.readyMs, readyCpu, rssReady, rss, peak, seconds, result };
  } finally {
    await server.stop();
  }
}

interface EntryBytes {
  entries: number;
  answerTextPerEntry: number;
  heapPerAnswerEntry: number;
  accountedPerAnswerEntry: number;
  requestTextPerEntry: number;
  heapPerMemoEntry: number;
  accountedPerMemoEntry: number;
  heapPerMissEntry: number;
  accountedPerMissEntry: number;
  heapPerMemoHit: number;
  accountedPerMemoHit: number;
  memoHitTextPerEntry: number;
}

/** A bench script in a child with --expose-gc, printing one JSON line: what entries hold against what is counted for them. */
async function measureIn<T>(script: string, args: string[]): Promise<T> {
  const child = spawn(process.execPath, ['--expose-gc', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`${script} exited ${code}`);
  return JSON.parse(out) as T;
}

export async function serveLargeCache(db: string, mode: Mode): Promise<Section> {
  const entry = {
    ...(await measureIn<Omit<EntryBytes, 'heapPerMemoHit' | 'accountedPerMemoHit' | 'memoHitTextPerEntry'>>(ENTRY_BYTES, [
      db,
      String(Math.min(20_000, mode.lookups)),
    ])),
    ...(await measureIn<Pick<EntryBytes, 'heapPerMemoHit' | 'accountedPerMemoHit' | 'memoHitTextPerEntry'>>(MEMO_HIT_BYTES, [
      String(Math.min(5_000, mode.lookups)),
    ])),
  };
  const bytes = (held: number, accounted: number): string => `${held.toFixed(0)} B held, ${accounted.toFixed(0)} B counted`;
  const honest = (held: number, accounted: number): boolean => accounted >= 0.97 * held && accounted <= 1.15 * held;
  const { calls } = distinctCalls(loadSamples(), mode.lookups);
  const bodies = calls.map((call) => JSON.stringify(bodyOf(call)));
  const small = Math.round(mode.lookups / 10);
  // What the server's start used to do on every launch, against what it does now.
  const raw = new Sqlite(db, { readonly: true });
  let started = performance.now();
  raw.prepare('SELECT count(*) AS n FROM calls').get();
  const scanMs = performance.now() - started;
  raw.close();
  const store = Store.open(db, { readonly: true });
  started = performance.now();
  store.callCount();
  const countMs = performance.now() - started;
  store.close();
  const standard = await serveAndLookUp(db, bodies, mode, []);
  const smallLru = await serveAndLookUp(db, bodies, mode, ['--lru-size', String(small)]);
  const describe = (s: Served): string =>
    `ready in ${s.readyMs.toFixed(0)} ms having used ${(s.readyCpu * 1000).toFixed(0)} ms of CPU, RSS ${mb(s.rssReady)} when ready; ` +
    `${thousands(s.result.requests)} lookups in ${s.seconds.toFixed(1)} s (${thousands(s.result.rps)} req/s, p99 ${s.result.p99} ms, ${s.result.errors} errors); ` +
    `RSS afterwards ${mb(s.rss)}, peak ${mb(s.peak)}`;
  {
    const { readyMs, rss } = standard;
    return {
      title: `5. Serving a cache of ${thousands(mode.ingestCalls)} recorded calls`,
      figures: [
        { name: 'process start to ready `/readyz`', value: `${readyMs.toFixed(0)} ms`, target: '< 1 s', met: readyMs < 1000 },
        { name: 'CPU time used by the server until ready', value: `${(standard.readyCpu * 1000).toFixed(0)} ms`, target: '' },
        {
          name: `RSS after ${thousands(bodies.length)} distinct lookups`,
          value: mb(rss),
          target: '< 250 MB',
          met: rss < 250 * 1024 * 1024,
        },
        { name: `the same with \`--lru-size ${small}\``, value: mb(smallLru.rss), target: '' },
        {
          name: 'exact LRU, one answer: V8 heap held vs counted',
          value: bytes(entry.heapPerAnswerEntry, entry.accountedPerAnswerEntry),
          target: 'counted within −3%…+15%',
          met: honest(entry.heapPerAnswerEntry, entry.accountedPerAnswerEntry),
        },
        {
          name: 'exact LRU, one key never recorded: held vs counted',
          value: bytes(entry.heapPerMissEntry, entry.accountedPerMissEntry),
          target: 'counted within −3%…+15%',
          met: honest(entry.heapPerMissEntry, entry.accountedPerMissEntry),
        },
        {
          name: 'answer LRU, one memo hit (an improvisation and its key never recorded): held vs counted',
          value: bytes(entry.heapPerMemoHit, entry.accountedPerMemoHit),
          target: 'counted within −3%…+15%',
          met: honest(entry.heapPerMemoHit, entry.accountedPerMemoHit),
        },
        {
          name: 'request memo, one entry: held vs counted',
          value: bytes(entry.heapPerMemoEntry, entry.accountedPerMemoEntry),
          target: 'counted within −3%…+15%',
          met: honest(entry.heapPerMemoEntry, entry.accountedPerMemoEntry),
        },
      ],
      details: [
        `- default \`--lru-size\` (100,000 answers): ${describe(standard)}`,
        `- \`--lru-size ${small}\`: ${describe(smallLru)}`,
        `- counting the recorded calls at start: \`SELECT count(*) FROM calls\` took ${scanMs.toFixed(0)} ms on this cache, ` +
          `\`Store.callCount()\` (the per-tool counts ingest keeps) ${countMs.toFixed(2)} ms.`,
        '',
        `\`toolsim serve --db <the cache from scenario 4> --log-level warn\` as a child process, twice; ready time from spawn to the first 200 ` +
          `from \`GET /readyz\` (polled every 5 ms). Then one \`POST /v1/call\` for each of ${thousands(bodies.length)} different recorded calls ` +
          `(${mode.connections} connections); RSS is the server's VmRSS afterwards. The exact tier's LRU keeps up to --lru-size answers ` +
          'within 7/8 of --lru-mb (48 MiB by default) and the memo of request texts within the other 1/8, both counted as V8 holds them; ' +
          'SQLite keeps a 16 MB page cache when serving; the rest is Node itself (about 90 MB when ready, 44 MB of it the shared binary), ' +
          "V8's young generation (up to 32 MB under load) and garbage not yet collected.",
        '',
        `Per entry, measured by \`node --expose-gc dist/bench/entry-bytes.js\` on this cache with ${thousands(entry.entries)} distinct calls ` +
          '(V8 heap used after full collections, before and after, nothing evicted): an answer holds ' +
          `${entry.heapPerAnswerEntry.toFixed(0)} bytes of which ${entry.answerTextPerEntry.toFixed(0)} are its JSON text (the output inside it), ` +
          `so ${(entry.heapPerAnswerEntry - entry.answerTextPerEntry).toFixed(0)} bytes of overhead (the served object, the answer and its match, ` +
          'the output slice, the key, the string headers, the map slot); a key never recorded holds ' +
          `${entry.heapPerMissEntry.toFixed(0)} bytes; a memo entry ${entry.heapPerMemoEntry.toFixed(0)} bytes, of which ` +
          `${entry.requestTextPerEntry.toFixed(0)} are the request text; a memo hit (5,000 near calls of the tau-bench sample improvised by the stand-in, by \`memo-hit-bytes.js\`, ` +
          `held being what clearing the answer LRU frees) ${entry.heapPerMemoHit.toFixed(0)} bytes with the exact tier's entry for its key, ` +
          `of which ${entry.memoHitTextPerEntry.toFixed(0)} are its JSON text. The accounting (src/tiers/answer-lru.ts) counts ` +
          `${entry.accountedPerAnswerEntry.toFixed(0)}, ${entry.accountedPerMissEntry.toFixed(0)}, ${entry.accountedPerMemoEntry.toFixed(0)} and ${entry.accountedPerMemoHit.toFixed(0)} bytes for them. ` +
          'It used to count two bytes a character of the output plus 64: too much for Latin-1 text, too little for small outputs (whose fixed overhead is several times 64 bytes).',
      ],
    };
  }
}
