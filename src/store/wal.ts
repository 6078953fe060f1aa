/**
 * Keeping the WAL of every file toolsim writes small (docs/decisions/bounded-wal.md): SQLite
 * copies the WAL into the file at a checkpoint, as far as the oldest reader allows, and a writer
 * starts it over once it is all copied and no reader still reads from it.
 */
import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/**
 * The size a WAL is cut back to when it starts over (`journal_size_limit`), and past which a
 * serving store truncates it once no reader needs it: 16 MiB.
 */
export const WAL_SIZE_LIMIT = 16 * 1024 * 1024;

/** Bytes of the WAL beside a SQLite file (0 when there is none). */
export function walBytes(path: string): number {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}

/**
 * Runs a checkpoint on `db` without waiting: a busy database (an ingest writing, a reader in the
 * way) leaves it for the next time.
 */
export function checkpoint(db: Database.Database, mode: 'PASSIVE' | 'TRUNCATE'): void {
  const timeout = db.pragma('busy_timeout', { simple: true }) as number;
  try {
    db.pragma('busy_timeout = 0');
    db.pragma(`wal_checkpoint(${mode})`);
  } catch {
    // SQLITE_BUSY or SQLITE_LOCKED: the next renewal tries again
  } finally {
    db.pragma(`busy_timeout = ${timeout}`);
  }
}

/**
 * The WAL is checkpointed into the file every ~1,000 pages written (by the connection that
 * commits), and cut back to `WAL_SIZE_LIMIT` once it starts over: a large write does not leave a
 * WAL of its size on disk for ever.
 */
export function setWalLimits(db: Database.Database): void {
  db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`);
  db.pragma('wal_autocheckpoint = 1000');
}

/**
 * Checkpoints the SQLite file at `path` in a worker thread (checkpoint-worker.ts); resolves when it
 * is done, whatever happened (a busy file is left for the next time).
 */
export function checkpointOffThread(path: string): Promise<void> {
  return new Promise((resolve) => {
    let worker: Worker;
    try {
      worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), { workerData: { path } });
    } catch {
      resolve();
      return;
    }
    worker.unref();
    worker.once('message', () => resolve());
    worker.once('error', () => resolve());
    worker.once('exit', () => resolve());
  });
}
