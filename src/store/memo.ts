/**
 * Improvised answers, remembered so the same call gets the same answer after a restart. A table of
 * its own beside the recordings (never the calls table), keyed by the snapshot of the recordings,
 * the call key, the model and the prompt version: a change to any of them asks anew.
 *
 * It writes through a connection of its own: the serving store's connection holds one read
 * transaction for its whole life (a pinned snapshot) and refuses writes to the recordings.
 */
import Database from 'better-sqlite3';
import type { Observation } from '../core/types.js';

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

export class Memo {
  readonly #db: Database.Database;
  readonly #get: Database.Statement<[string, Buffer, string, string], { output: string; is_error: number }>;
  readonly #put: Database.Statement<[string, Buffer, string, string, string, number, string]>;

  /** Opens the memo in the cache file at `path` (which must exist). */
  constructor(path: string) {
    const db = new Database(path, { fileMustExist: true });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.exec(SCHEMA);
    this.#db = db;
    this.#get = db.prepare(
      'SELECT output, is_error FROM improvisations WHERE snapshot_id = ? AND key = ? AND model = ? AND prompt_version = ?',
    );
    // The first improvisation of a key stands: a later one never replaces it.
    this.#put = db.prepare(
      'INSERT OR IGNORE INTO improvisations (snapshot_id, key, model, prompt_version, output, is_error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
  }

  get(id: MemoId): Observation | undefined {
    const row = this.#get.get(id.snapshotId, Buffer.from(id.key, 'hex'), id.model, id.promptVersion);
    return row ? { outputJson: row.output, isError: row.is_error === 1 } : undefined;
  }

  put(id: MemoId, answer: Observation): void {
    this.#put.run(
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
    if (this.#db.open) this.#db.close();
  }
}
