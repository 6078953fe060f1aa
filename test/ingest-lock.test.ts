/**
 * The ingest lock under a race: several processes that find one dead holder's lock at the same
 * moment end with one holder at a time; `release` removes only the releaser's own lock; and of
 * several ingests racing into a new cache, those that report failure published nothing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { IngestLock, IngestLockedError, lockPathOf } from '../src/store/ingest-lock.js';
import { Store } from '../src/store/store.js';
import { ROOT, tempDir, writeLog } from './helpers.js';

const CLI = join(ROOT, 'dist/src/cli.js');
const LOCK_MODULE = pathToFileURL(join(ROOT, 'dist/src/store/ingest-lock.js')).href;

/** The pid of a process that has ended (a killed ingest's). */
function deadPid(): number {
  const run = spawnSync(process.execPath, ['-e', '']);
  return run.pid!;
}

function deadLock(pid: number, round: number): string {
  return `${JSON.stringify({ pid, host: hostname(), started: new Date(round).toISOString(), command: `toolsim ingest (killed ${round})` })}\n`;
}

/** Runs `count` processes until they exit; resolves with their exit codes and output. */
function runAll(commands: string[][]): Promise<{ code: number | null; stdout: string; stderr: string }[]> {
  return Promise.all(
    commands.map(
      (args) =>
        new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
          const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
          let stdout = '';
          let stderr = '';
          child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
          child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
          child.on('close', (code) => resolve({ code, stdout, stderr }));
        }),
    ),
  );
}

describe('the ingest lock', () => {
  it('gives a dead holder’s lock to one of several processes taking it over at the same moment', async () => {
    const dir = tempDir();
    const cache = join(dir, 'cache.db');
    const lockPath = lockPathOf(cache);
    const racers = 6;
    const rounds = 12;
    const period = 700;
    const dead = deadPid();
    // Each racer, at every round's start, tries to take the lock over from a dead holder (written
    // by racer 0 before the round); a winner logs the span it held the lock, then releases it.
    const script = join(dir, 'racer.mjs');
    writeFileSync(
      script,
      `import { appendFileSync, writeFileSync } from 'node:fs';
const { IngestLock } = await import(${JSON.stringify(LOCK_MODULE)});
const [cache, lockPath, log, index, t0, dead, host] = process.argv.slice(2);
const now = () => performance.timeOrigin + performance.now();
const sleepUntil = (t) => { while (now() < t) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.max(0, Math.min(5, t - now() - 1))); };
for (let round = 0; round < ${rounds}; round++) {
  const start = Number(t0) + round * ${period};
  if (index === '0') {
    sleepUntil(start - ${period} * 0.3);
    writeFileSync(lockPath, JSON.stringify({ pid: Number(dead), host, started: new Date(round).toISOString(), command: 'killed ' + round }) + '\\n');
  }
  sleepUntil(start);
  try {
    const lock = IngestLock.acquire(cache);
    const from = now();
    sleepUntil(start + ${period} * 0.4);
    appendFileSync(log, JSON.stringify({ round, pid: process.pid, from, to: now() }) + '\\n');
    lock.release();
  } catch (error) {
    if (error.name !== 'IngestLockedError') { console.error(error); process.exit(2); }
  }
}
`,
    );
    const log = join(dir, 'holds.jsonl');
    writeFileSync(log, '');
    const t0 = Date.now() + 1500;
    const runs = await runAll(
      Array.from({ length: racers }, (_, i) => [script, cache, lockPath, log, String(i), String(t0), String(dead), hostname()]),
    );
    expect(runs.map((run) => [run.code, run.stderr])).toEqual(runs.map(() => [0, '']));
    const holds = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { round: number; pid: number; from: number; to: number })
      .sort((a, b) => a.from - b.from);
    // Every round's dead lock was taken over, and no two holds overlap in time.
    expect(new Set(holds.map((hold) => hold.round)).size).toBe(rounds);
    const overlapping = holds.filter((hold, i) => i > 0 && hold.from < holds[i - 1]!.to);
    expect(overlapping).toEqual([]);
    // Nothing is left behind: no lock, no right to take one over, no draft.
    expect(readdirSync(dir).filter((name) => name.includes('.lock'))).toEqual([]);
  }, 60_000);

  it('release removes only its own lock', () => {
    const dir = tempDir();
    const cache = join(dir, 'cache.db');
    const lock = IngestLock.acquire(cache);
    // Someone removed this lock (by hand) and another ingest took the cache meanwhile.
    const other = `${JSON.stringify({ pid: process.ppid, host: hostname(), started: 'then', command: 'the other ingest' })}\n`;
    writeFileSync(lockPathOf(cache), other);
    lock.release();
    expect(readFileSync(lockPathOf(cache), 'utf8')).toBe(other);
    expect(() => IngestLock.acquire(cache)).toThrow(IngestLockedError);
  });

  it('publishes nothing for an ingest that reports failure, of several racing into a new cache past a dead holder', async () => {
    const dir = tempDir();
    const racers = 6;
    const inputs = Array.from({ length: racers }, (_, r) =>
      writeLog(
        dir,
        `in-${r}.jsonl`,
        Array.from({ length: 1500 }, (_, i) => ({ server: `server-${r}`, tool: 't', arguments: { i }, output: { i, r } })),
      ),
    );
    // Six racers, six rounds: the old lock (rename the dead holder's lock aside) let two through
    // in about one run of two on this 2-core machine.
    for (let round = 0; round < 6; round++) {
      const cache = join(dir, `cache-${round}.db`);
      writeFileSync(lockPathOf(cache), deadLock(deadPid(), round));
      const runs = await runAll(inputs.map((input) => [CLI, 'ingest', input, '--db', cache]));
      const succeeded = runs.flatMap((run, r) => (run.code === 0 ? [`server-${r}`] : []));
      for (const run of runs) {
        if (run.code !== 0) {
          expect(run.code).toBe(1);
          expect(run.stderr).toMatch(/another ingest is writing/);
        }
      }
      expect(succeeded.length).toBeGreaterThan(0);
      const store = Store.open(cache, { readonly: true });
      try {
        const servers = [...new Set(store.catalog().map((tool) => tool.server))].sort();
        expect(servers).toEqual(succeeded.sort());
        expect(store.callCount()).toBe(1500 * succeeded.length);
      } finally {
        store.close();
      }
      expect(existsSync(lockPathOf(cache))).toBe(false);
      expect(existsSync(`${cache}.building`)).toBe(false);
    }
  }, 120_000);
});
