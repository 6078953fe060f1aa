/**
 * Improvised answers, remembered so the same call gets the same answer after a restart. A table of
 * its own beside the recordings (never the calls table), keyed by the snapshot of the recordings,
 * the call key, the model and the prompt version: a change to any of them asks anew.
 *
 * It writes through a connection of its own: the serving store's connection holds one read
 * transaction for its whole life (a pinned snapshot) and refuses writes to the recordings.
 *
 * On a read-only mount the memo cannot be written: it then serves what it already holds (if
 * anything) and forgets new improvisations, and `writable` says so.
 */
import Database from 'better-sqlite3';
import type { Observation } from '../core/types.js';
import { restInRollbackMode } from './schema.js';

const SCHEMA = `CREATE TABLE IF NOT EXISTS improvisations (
  snapshot_id    TEXT NOT NULL,
  key            BLOB NOT NULL,
  model          TEXT NOT NULL,
  prompt_version TEXT NOT NULL,
  output         TEXT NOT NULL,
  is_error       INTEGER NOT NULL,
  created_at     TEXT NOT NULL,
  PRIMARY KEY (snapshot_id, key, model, prompt_version)
) WITHOUT ROWID`;

export interface MemoId {
  snapshotId: string;
  key: string;
  model: string;
  promptVersion: string;
}

/** SQLite's answers when the file or its directory cannot be written. */
const READ_ONLY_CODES = new Set(['SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_READONLY_DIRECTORY']);

export class Memo {
  readonly #db: Database.Database | undefined;
  readonly #get: Database.Statement<[string, Buffer, string, string], { output: string; is_error: number }> | undefined;
  readonly #put: Database.Statement<[string, Buffer, string, string, string, number, string]> | undefined;
  /** False on a read-only mount: improvisations are then answered but not remembered. */
  readonly writable: boolean;

  /** Opens the memo in the cache file at `path` (which must exist). */
  constructor(path: string) {
    let db: Database.Database | undefined;
    let writable = true;
    try {
      db = new Database(path, { fileMustExist: true });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 5000');
      db.exec(SCHEMA);
    } catch (error) {
      db?.close();
      if (!READ_ONLY_CODES.has((error as { code?: string }).code ?? '')) throw error;
      writable = false;
      db = readOnlyMemo(path);
    }
    this.#db = db;
    this.writable = writable;
    this.#get = db?.prepare(
      'SELECT output, is_error FROM improvisations WHERE snapshot_id = ? AND key = ? AND model = ? AND prompt_version = ?',
    );
    // The first improvisation of a key stands: a later one never replaces it.
    this.#put = writable
      ? db?.prepare(
          'INSERT OR IGNORE INTO improvisations (snapshot_id, key, model, prompt_version, output, is_error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
      : undefined;
  }

  get(id: MemoId): Observation | undefined {
    const row = this.#get?.get(id.snapshotId, Buffer.from(id.key, 'hex'), id.model, id.promptVersion);
    return row ? { outputJson: row.output, isError: row.is_error === 1 } : undefined;
  }

  put(id: MemoId, answer: Observation): void {
    this.#put?.run(
      id.snapshotId,
      Buffer.from(id.key, 'hex'),
      id.model,
      id.promptVersion,
      answer.outputJson,
      answer.isError ? 1 : 0,
      new Date().toISOString(),
    );
  }

  close(): void {
    if (!this.#db?.open) return;
    if (this.writable) restInRollbackMode(this.#db);
    this.#db.close();
  }
}

/** The memo table of a cache on a read-only mount, if it has one. */
function readOnlyMemo(path: string): Database.Database | undefined {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'improvisations'").get()) return db;
    db.close();
  } catch {
    // unreadable as well: no memo
  }
  return undefined;
}
