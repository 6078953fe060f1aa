/**
 * SIGKILL during ingest: a new cache being built leaves no cache at all; an ingest into an existing
 * cache leaves it exactly as it was (its last complete snapshot, which a server then serves); and
 * re-running the ingest ends with exactly the contents of a clean run (every recorded call in its
 * place, the catalog, and the snapshot id).
 */
import { createWriteStream, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildPathOf } from '../src/store/store.js';
import { cacheContents, tempDir } from './helpers.js';
import { spawnCli } from './support/cli.js';

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

interface IngestProcess {
  exited: Promise<number | null>;
  kill: () => void;
  stdin: Writable | null;
  /** Bytes the process has read so far (of its log, mostly), from /proc. */
  bytesRead: () => number;
}

function ingestProcess(log: string, db: string): IngestProcess {
  const child = spawnCli(['ingest', log, '--db', db, '--format', 'toolsim'], {
    stdio: [log === '-' ? 'pipe' : 'ignore', 'ignore', 'ignore'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const bytesRead = (): number => {
    try {
      return Number(/^rchar: (\d+)/m.exec(readFileSync(`/proc/${child.pid}/io`, 'utf8'))?.[1] ?? 0);
    } catch {
      return 0;
    }
  };
  return { exited, kill: () => child.kill('SIGKILL'), stdin: child.stdin, bytesRead };
}

/** Reads the cache with a second connection while it may be written (WAL readers never block the writer). */

/** Waits until `ready` holds (or about a minute), polling. */
async function until(ready: () => boolean): Promise<void> {
  for (let polls = 0; polls < 6000 && !ready(); polls++) await new Promise((resolve) => setTimeout(resolve, 10));
}

const sizeOf = (path: string): number => (existsSync(path) ? statSync(path).size : 0);

describe('crash during ingest', () => {
  it('SIGKILL part-way, then a re-run, ends exactly like a clean run', async () => {
    const dir = tempDir();
    const log = join(dir, 'big.jsonl');
    const total = 105_000;
    await writeBigLog(log, total);

    const cleanDb = join(dir, 'clean.db');
    expect(await ingestProcess(log, cleanDb).exited).toBe(0);
    const clean = cacheContents(cleanDb);
    expect(clean.integrity).toBe('ok');

    const crashedDb = join(dir, 'crashed.db');
    const lines = readFileSync(log);
    const killed: string[] = [];

    // First kill: a new cache, built aside. The log comes through a pipe and stops at 60%; once the
    // process has read (and so handled) most of it, it is killed while waiting for the rest.
    const half = lines.indexOf(0x0a, Math.floor(lines.length * 0.6)) + 1;
    const piped = ingestProcess('-', crashedDb);
    piped.stdin!.on('error', () => undefined); // the kill closes the pipe
    piped.stdin!.write(lines.subarray(0, half));
    await until(() => piped.bytesRead() >= half - 200_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    piped.kill();
    expect(await piped.exited).toBeNull();
    expect(existsSync(crashedDb)).toBe(false);
    killed.push(`a new cache with ${sizeOf(buildPathOf(crashedDb))} bytes of it on disk (no cache left)`);

    // An existing cache holding the first 30% of the log (the dead build's lock and file are taken over).
    const part = join(dir, 'part.jsonl');
    writeFileSync(part, lines.subarray(0, lines.indexOf(0x0a, Math.floor(lines.length * 0.3)) + 1));
    expect(await ingestProcess(part, crashedDb).exited).toBe(0);
    const before = cacheContents(crashedDb);
    expect(before.calls).toBeLessThan(clean.calls);

    // Second kill: an ingest of the whole log into it, once it has read half the log.
    const racing = ingestProcess(log, crashedDb);
    let raceExited = false;
    void racing.exited.then(() => {
      raceExited = true;
    });
    await until(() => raceExited || racing.bytesRead() >= lines.length / 2);
    expect(raceExited).toBe(false);
    racing.kill();
    expect(await racing.exited).toBeNull();
    // Exactly the last complete snapshot: nothing of the killed ingest is visible.
    expect(cacheContents(crashedDb)).toEqual(before);
    killed.push(`an ingest into it half-way (cache unchanged)`);

    expect(await ingestProcess(log, crashedDb).exited).toBe(0);
    const recovered = cacheContents(crashedDb);
    expect(recovered).toEqual({ ...clean });
    console.info(
      `[figures] crash during ingest: ${total} lines; killed ${killed.join(', then ')}; integrity ok; re-run identical to a clean run (snapshot ${clean.snapshot})`,
    );
  }, 180_000);
});
