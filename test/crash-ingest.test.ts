/**
 * SIGKILL during ingest: the cache still opens, passes `PRAGMA integrity_check`, and re-running
 * the ingest ends with exactly the contents of a clean run (every row, ids included, and the
 * snapshot id).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir } from './helpers.js';

const CLI = join(ROOT, 'dist/src/cli.js');

async function writeBigLog(path: string, lines: number): Promise<void> {
  const out = createWriteStream(path);
  for (let i = 0; i < lines; i++) {
    // Every 50th line repeats an earlier record: repeated observations must keep their ordinals.
    const n = i % 50 === 49 ? i - 7 : i;
    const line = JSON.stringify({
      server: `s${n % 3}`, tool: `t${n % 7}`, arguments: { i: n % 5000, q: `query ${(n * 7919) % 1000}` },
      output: { r: n, text: 'x'.repeat(40) }, trajectory_id: `t-${n >> 4}`,
    });
    if (!out.write(`${line}\n`)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve) => out.end(() => resolve()));
}

function ingestProcess(log: string, db: string): { exited: Promise<number | null>; kill: () => void } {
  const child = spawn(process.execPath, [CLI, 'ingest', log, '--db', db], { stdio: ['ignore', 'ignore', 'ignore'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { exited, kill: () => child.kill('SIGKILL') };
}

/** Calls committed so far, read by a second connection (WAL readers never block the writer). */
function committedCalls(db: string): number {
  try {
    const conn = new Database(db, { readonly: true, fileMustExist: true });
    try {
      return (conn.prepare('SELECT count(*) AS n FROM calls').get() as { n: number }).n;
    } finally {
      conn.close();
    }
  } catch {
    return 0;
  }
}

interface Contents {
  integrity: string;
  calls: number;
  callsDigest: string;
  toolsDigest: string;
  snapshot: string | undefined;
  ingest: string | undefined;
}

function contents(db: string): Contents {
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try {
    const digest = (sql: string): string => {
      const hash = createHash('sha256');
      for (const row of conn.prepare(sql).raw().iterate()) hash.update(JSON.stringify(row, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : v)));
      return hash.digest('hex');
    };
    const meta = (name: string): string | undefined => (conn.prepare('SELECT value FROM meta WHERE name = ?').get(name) as { value: string } | undefined)?.value;
    return {
      integrity: (conn.pragma('integrity_check', { simple: true }) as string),
      calls: (conn.prepare('SELECT count(*) AS n FROM calls').get() as { n: number }).n,
      callsDigest: digest('SELECT * FROM calls ORDER BY id'),
      toolsDigest: digest('SELECT * FROM tools ORDER BY server, tool'),
      snapshot: meta('snapshot_id'),
      ingest: meta('ingest'),
    };
  } finally {
    conn.close();
  }
}

describe('crash during ingest', () => {
  it('SIGKILL part-way, then a re-run, ends exactly like a clean run', async () => {
    const dir = tempDir();
    const log = join(dir, 'big.jsonl');
    const total = 24_000;
    await writeBigLog(log, total);

    const cleanDb = join(dir, 'clean.db');
    expect(await ingestProcess(log, cleanDb).exited).toBe(0);
    const clean = contents(cleanDb);
    expect(clean.integrity).toBe('ok');

    const crashedDb = join(dir, 'crashed.db');
    const killed: number[] = [];
    // Two kills at different depths, then a run to the end.
    for (const threshold of [1, Math.floor(total / 2)]) {
      const run = ingestProcess(log, crashedDb);
      let exited = false;
      void run.exited.then(() => {
        exited = true;
      });
      const started = committedCalls(crashedDb);
      for (let polls = 0; polls < 6000 && !exited; polls++) {
        if (committedCalls(crashedDb) - started >= threshold) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      run.kill();
      expect(await run.exited).toBeNull(); // killed, not finished
      const after = contents(crashedDb);
      expect(after.integrity).toBe('ok');
      expect(after.ingest).toBe('running');
      expect(after.calls).toBeLessThan(clean.calls);
      killed.push(after.calls);
    }
    expect(await ingestProcess(log, crashedDb).exited).toBe(0);
    const recovered = contents(crashedDb);
    expect(recovered).toEqual({ ...clean });
    expect(recovered.ingest).toBe('done');
    console.info(`[figures] crash during ingest: ${total} lines; killed with ${killed.join(' then ')} of ${clean.calls} calls committed; integrity ok; re-run identical (snapshot ${clean.snapshot})`);
  }, 120_000);
});
