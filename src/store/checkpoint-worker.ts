/**
 * Copies a cache's WAL into the file off the serving thread (`checkpointOffThread` in wal.ts): a
 * WAL of hundreds of MB, left by an ingest into a served cache, takes seconds to copy, which the
 * event loop must not wait for. Opens its own connection, checkpoints (PASSIVE: as far as the
 * readers allow, never waiting), closes and ends.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Sqlite } from './sqlite.js';

const { path } = workerData as { path: string };
let error: string | undefined;
try {
  const db = new Sqlite(path, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 0');
    db.pragma('wal_checkpoint(PASSIVE)');
  } finally {
    db.close();
  }
} catch (caught) {
  error = caught instanceof Error ? caught.message : String(caught);
}
parentPort?.postMessage({ error });
