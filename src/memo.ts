/**
 * Improvised answers, remembered so the same call gets the same answer after a restart. A table of
 * its own beside the recordings (never the calls table), keyed by the snapshot of the recordings,
 * the call key, the model and the prompt version: a change to any of them asks anew.
 */
import type Database from 'better-sqlite3';
import type { Store } from './store.js';
import type { Observation } from './types.js';

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
  readonly #get: Database.Statement<[string, Buffer, string, string], { output: string; is_error: number }>;
  readonly #put: Database.Statement<[string, Buffer, string, string, string, number, string]>;

  constructor(store: Store) {
    store.db.exec(SCHEMA);
    this.#get = store.db.prepare(
      'SELECT output, is_error FROM improvisations WHERE snapshot_id = ? AND key = ? AND model = ? AND prompt_version = ?',
    );
    // The first improvisation of a key stands: a later one never replaces it.
    this.#put = store.db.prepare(
      'INSERT OR IGNORE INTO improvisations (snapshot_id, key, model, prompt_version, output, is_error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
  }

  get(id: MemoId): Observation | undefined {
    const row = this.#get.get(id.snapshotId, Buffer.from(id.key, 'hex'), id.model, id.promptVersion);
    return row ? { outputJson: row.output, isError: row.is_error === 1 } : undefined;
  }

  put(id: MemoId, answer: Observation): void {
    this.#put.run(id.snapshotId, Buffer.from(id.key, 'hex'), id.model, id.promptVersion, answer.outputJson, answer.isError ? 1 : 0, new Date().toISOString());
  }
}
