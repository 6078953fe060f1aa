/**
 * Scenarios 4-5: ingest of a generated log through the CLI (calls/s, peak RSS), then serving the
 * resulting cache (process start to a ready /readyz, RSS after distinct lookups).
 */
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { removeCache } from '../lib/cache.js';
import { bodyOf, distinctCalls, loadSamples, writeGeneratedLog } from '../lib/data.js';
import { load } from '../lib/load.js';
import { CLI, dataPath } from '../lib/paths.js';
import { freePort, procKb, startChild } from '../lib/procs.js';
import type { Mode, Section } from '../lib/report.js';
import { mb, thousands } from '../lib/stats.js';

export interface IngestRun {
  section: Section;
  db: string;
}

export async function ingestLog(mode: Mode): Promise<IngestRun> {
  const calls = mode.ingestCalls;
  const log = writeGeneratedLog(dataPath(`ingest-${calls}.jsonl`), loadSamples(), calls);
  const db = dataPath(`ingest-${calls}.db`);
  removeCache(db);
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, 'ingest', log, '--db', db], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.resume();
  let peakKb = 0;
  const poll = setInterval(() => {
    try {
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
  const logBytes = statSync(log).size;
  const dbBytes = statSync(db).size;
  const rate = calls / seconds;
  return {
    db,
    section: {
      title: `4. Ingest of a generated ${thousands(calls)}-call log`,
      figures: [
        { name: 'ingest, calls/s (whole CLI run)', value: thousands(rate), target: '≥ 150,000', met: rate >= 150_000 },
        { name: 'ingest, peak RSS', value: mb(peakKb * 1024), target: 'bounded', met: peakKb * 1024 < 512 * 1024 * 1024 },
      ],
      details: [
        `\`toolsim ingest ${log.replace(/.*bench\//, 'bench/')} --db …\` as a child process into a new cache: ${thousands(calls)} lines ` +
          `(${mb(logBytes)} of JSON Lines, ${(logBytes / calls).toFixed(0)} bytes a line on average) in ${seconds.toFixed(1)} s from spawn to exit; ` +
          `cache file ${mb(dbBytes)}. Peak RSS is the child's VmHWM, polled every 20 ms.`,
        '',
        'The CLI summary:',
        '',
        '```',
        out.trim(),
        '```',
      ],
    },
  };
}

export async function serveLargeCache(db: string, mode: Mode): Promise<Section> {
  const port = await freePort();
  const server = await startChild({
    command: process.execPath, args: [CLI, 'serve', '--db', db, '--port', String(port), '--log-level', 'warn'], port, probe: '/readyz',
  });
  try {
    const rssReady = procKb(server.proc.pid!, 'VmRSS') * 1024;
    const { calls } = distinctCalls(loadSamples(), mode.lookups);
    const bodies = calls.map((call) => JSON.stringify(bodyOf(call)));
    const probe = await (await fetch(`${server.url}/v1/call`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[bodies.length - 1]! })).json() as { tier: string };
    if (probe.tier !== 'exact') throw new Error(`lookup answered ${probe.tier}, expected exact`);
    const started = performance.now();
    const result = await load({ url: server.url, path: '/v1/call', sharedBodies: bodies, connections: mode.connections, amount: bodies.length });
    const seconds = (performance.now() - started) / 1000;
    const rss = procKb(server.proc.pid!, 'VmRSS') * 1024;
    const peak = procKb(server.proc.pid!, 'VmHWM') * 1024;
    return {
      title: `5. Serving a cache of ${thousands(mode.ingestCalls)} recorded calls`,
      figures: [
        { name: 'process start to ready `/readyz`', value: `${server.readyMs.toFixed(0)} ms`, target: '< 1 s', met: server.readyMs < 1000 },
        { name: `RSS after ${thousands(bodies.length)} distinct lookups`, value: mb(rss), target: '< 250 MB', met: rss < 250 * 1024 * 1024 },
      ],
      details: [
        `\`toolsim serve --db <the cache from scenario 4>\` as a child process; ready time from spawn to the first 200 from \`GET /readyz\` ` +
          `(polled every 5 ms), RSS ${mb(rssReady)} when ready. Then ${thousands(result.requests)} \`POST /v1/call\` requests, each a different ` +
          `recorded call (${mode.connections} connections, ${result.errors} errors, ${seconds.toFixed(1)} s, ${thousands(result.rps)} req/s, ` +
          `p99 ${result.p99} ms); RSS is the server's VmRSS afterwards (peak VmHWM ${mb(peak)}). The exact tier's LRU holds up to 100,000 answers (--cache-size).`,
      ],
    };
  } finally {
    await server.stop();
  }
}
