/**
 * SIGKILL during ingest: the cache still opens, passes SQLite's integrity check, and re-running
 * the ingest ends with exactly the contents of a clean run (every recorded call in its place, the
 * catalog, and the snapshot id).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Store } from '../src/store/store.js';
import { ROOT, tempDir } from './helpers.js';

const CLI = join(ROOT, 'dist/src/cli.js');

async function writeBigLog(path: string, lines: number): Promise<void> {
  const out = createWriteStream(path);
  for (let i = 0; i < lines; i++) {
    // Every 50th line repeats an earlier record: repeated observations must keep their ordinals.
    const n = i % 50 === 49 ? i - 7 : i;
    const line = JSON.stringify({
      server: `s${n % 3}`,
      tool: `t${n % 7}`,
      arguments: { i: n % 5000, q: `query ${(n * 7919) % 1000}` },
      output: { r: n, text: 'x'.repeat(40) },
      trajectory_id: `t-${n >> 4}`,
    });
    if (!out.write(`${line}\n`)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve) => out.end(() => resolve()));
}

function ingestProcess(log: string, db: string): { exited: Promise<number | null>; kill: () => void; stdin: Writable | null } {
  const child = spawn(process.execPath, [CLI, 'ingest', log, '--db', db, '--format', 'toolsim'], {
    stdio: [log === '-' ? 'pipe' : 'ignore', 'ignore', 'ignore'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { exited, kill: () => child.kill('SIGKILL'), stdin: child.stdin };
}

/** Reads the cache with a second connection while it may be written (WAL readers never block the writer). */
function read<T>(db: string, what: (store: Store) => T): T {
  const store = Store.open(db, { readonly: true });
  try {
    return what(store);
  } finally {
    store.close();
  }
}

/**
 * The fingerprint of the committed recordings, saved with every batch; undefined before the
 * cache has its schema.
 */
function committed(db: string): string | undefined {
  try {
    return read(db, (store) => (store.hasCalls() ? store.contentFingerprint().toString('hex') : undefined));
  } catch {
    return undefined;
  }
}

interface Contents {
  integrity: string;
  calls: number;
  callsDigest: string;
  catalog: string;
  snapshot: string;
  unfinished: boolean;
}

function contents(db: string): Contents {
  return read(db, (store) => {
    const hash = createHash('sha256');
    let calls = 0;
    for (const call of store.recordedCalls()) {
      hash.update(`${JSON.stringify(call)}\n`);
      calls++;
    }
    return {
      integrity: store.integrityCheck(),
      calls,
      callsDigest: hash.digest('hex'),
      catalog: JSON.stringify(store.catalog()),
      snapshot: store.snapshotId,
      unfinished: store.ingestUnfinished,
    };
  });
}

describe('crash during ingest', () => {
  it('SIGKILL part-way, then a re-run, ends exactly like a clean run', async () => {
    const dir = tempDir();
    const log = join(dir, 'big.jsonl');
    // Ingest commits every 50,000 rows: enough lines for two commits before the end.
    const total = 105_000;
    await writeBigLog(log, total);

    const cleanDb = join(dir, 'clean.db');
    expect(await ingestProcess(log, cleanDb).exited).toBe(0);
    const clean = contents(cleanDb);
    expect(clean.integrity).toBe('ok');

    const crashedDb = join(dir, 'crashed.db');
    const killed: number[] = [];
    // First kill, certainly part-way: the log comes through a pipe and stops at 60%; once the
    // first commit is in, the process is killed while waiting for the rest.
    const lines = readFileSync(log);
    const half = lines.indexOf(0x0a, Math.floor(lines.length * 0.6)) + 1;
    const piped = ingestProcess('-', crashedDb);
    piped.stdin!.on('error', () => undefined); // the kill closes the pipe
    piped.stdin!.write(lines.subarray(0, half));
    for (let polls = 0; polls < 6000 && committed(crashedDb) === undefined; polls++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    piped.kill();
    expect(await piped.exited).toBeNull();
    const after = contents(crashedDb);
    expect(after.integrity).toBe('ok');
    expect(after.unfinished).toBe(true);
    expect(after.calls).toBeLessThan(clean.calls);
    killed.push(after.calls);

    // Second kill: racing a run from the file, as soon as it has committed a batch more (most
    // likely mid-transaction of a later one; if it won the race, the re-run below adds nothing).
    const racing = ingestProcess(log, crashedDb);
    let exited = false;
    const before = committed(crashedDb);
    void racing.exited.then(() => {
      exited = true;
    });
    for (let polls = 0; polls < 6000 && !exited && committed(crashedDb) === before; polls++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    racing.kill();
    await racing.exited;
    expect(contents(crashedDb).integrity).toBe('ok');
    killed.push(contents(crashedDb).calls);

    expect(await ingestProcess(log, crashedDb).exited).toBe(0);
    const recovered = contents(crashedDb);
    expect(recovered).toEqual({ ...clean });
    expect(recovered.unfinished).toBe(false);
    console.info(
      `[figures] crash during ingest: ${total} lines; killed with ${killed.join(' then ')} of ${clean.calls} calls committed; integrity ok; re-run identical (snapshot ${clean.snapshot})`,
    );
  }, 180_000);
});
