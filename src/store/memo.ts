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

/** A memo read: the answer that stands, none yet, or the memo cannot be read now (a shared memo's database is down). */
export type MemoRead = { kind: 'hit'; answer: Observation } | { kind: 'none' } | { kind: 'unavailable' };

/**
 * The right to improvise a call (single-flight across processes), or why it is not ours: another
 * process answered meanwhile, failed (its miss reason is shared), is still at it past our deadline,
 * or the memo cannot be reached.
 */
export type Claim =
  | { kind: 'owner'; release(failure?: string): Promise<void> | void }
  | { kind: 'answer'; answer: Observation; waited: boolean }
  | { kind: 'failed'; reason: string }
  | { kind: 'timeout' }
  | { kind: 'unavailable' };

/** What /readyz says of the memo. */
export interface MemoStatus {
  backend: 'sqlite' | 'postgres';
  state: 'ok' | 'connecting' | 'unavailable';
  /** ISO time of the last change of state. */
  since?: string;
  /** Why it is unavailable (the driver's message; never the URL). */
  error?: string;
}

/**
 * The fuzzy tier's memo: the SQLite one beside the recordings (one process, the default), or a
 * PostgreSQL one shared by every replica (memo-postgres.ts). The first answer written for an id
 * stands; `put` returns it.
 */
export interface FuzzyMemo {
  get(id: MemoId): MemoRead | Promise<MemoRead>;
  /** What is known without waiting (`toolsim explain`); a shared memo answers from what it has seen. */
  peek(id: MemoId): Observation | undefined;
  /** Stores `answer` unless an answer stands already; returns the one that stands, or undefined when it could not be stored. */
  put(id: MemoId, answer: Observation): Observation | undefined | Promise<Observation | undefined>;
  /** Before improvising: take the claim, or wait (until `signal`) for the owner's outcome. */
  claim(id: MemoId, signal: AbortSignal): Claim | Promise<Claim>;
  status(): MemoStatus;
  close(): void | Promise<void>;
}

const OWNER: Claim = { kind: 'owner', release() {} };

/** The embedded memo in the SQLite cache. One process improvises each call: in-process single-flight is enough. */
export class Memo implements FuzzyMemo {
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

  get(id: MemoId): MemoRead {
    const answer = this.peek(id);
    return answer ? { kind: 'hit', answer } : { kind: 'none' };
  }

  peek(id: MemoId): Observation | undefined {
    const row = this.#get.get(id.snapshotId, Buffer.from(id.key, 'hex'), id.model, id.promptVersion);
    return row ? { outputJson: row.output, isError: row.is_error === 1 } : undefined;
  }

  claim(): Claim {
    return OWNER;
  }

  status(): MemoStatus {
    return { backend: 'sqlite', state: 'ok' };
  }

  put(id: MemoId, answer: Observation): Observation | undefined {
    this.#put.run(
      id.snapshotId,
      Buffer.from(id.key, 'hex'),
      id.model,
      id.promptVersion,
      answer.outputJson,
      answer.isError ? 1 : 0,
      new Date().toISOString(),
    );
    // Another process on the same file may have memoized first; its answer stands.
    return this.peek(id) ?? answer;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
