/**
 * Improvised answers, remembered so the same call gets the same answer after a restart. A table of
 * its own beside the recordings (never the calls table), keyed by the snapshot of the recordings,
 * the call key, the model and the prompt version: a change to any of them asks anew.
 *
 * It writes through a connection of its own: the serving store's connection holds one read
 * transaction for its whole life (a pinned snapshot) and refuses writes to the recordings.
 *
 * A write never waits on the event loop: SQLite's lock is tried once (busy_timeout 0), and while an
 * ingest holds it (or the disk is full, or the file read-only) the answer is kept in memory, served
 * from there, and written again later in the background.
 *
 * On a read-only mount the memo cannot be written at all: it serves what it already holds (if
 * anything) and keeps new improvisations in memory only, and `writable` says so.
 */
import type Database from 'better-sqlite3';
import type { Observation } from '../core/types.js';
import type { Claim, FuzzyMemo, MemoId, MemoRead, MemoStatus, StoredAnswer } from './memo.js';
import { memoIdText } from './memo-key.js';
import { restInRollbackMode } from './schema.js';
import { Sqlite } from './sqlite.js';

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

/** Answers kept in memory while their write waits, at most. */
const MAX_PENDING = 10_000;
/** Delay before pending answers are written again. */
const RETRY_MS = 1_000;

/** SQLite's answers when the file or its directory cannot be written. */
const READ_ONLY_CODES = new Set(['SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_READONLY_DIRECTORY']);

export class SqliteMemoTable {
  readonly #db: Database.Database | undefined;
  /** False on a read-only mount: improvisations are then answered but not written. */
  readonly writable: boolean;
  /** Answers whose write failed, by memo id, in the order they came; written again later. */
  readonly #pending = new Map<string, { id: MemoId; answer: Observation }>();
  #retry: NodeJS.Timeout | undefined;
  readonly #get: Database.Statement<[string, Buffer, string, string], { output: string; is_error: number }> | undefined;
  readonly #put: Database.Statement<[string, Buffer, string, string, string, number, string]> | undefined;

  /** Opens the memo in the cache file at `path` (which must exist). */
  constructor(path: string) {
    let db: Database.Database | undefined;
    let writable = true;
    try {
      db = new Sqlite(path, { fileMustExist: true });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 5000');
      db.exec(SCHEMA);
      // From now on a locked database fails at once instead of freezing the event loop.
      db.pragma('busy_timeout = 0');
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
    const pending = this.#pending.size > 0 ? this.#pending.get(memoIdText(id)) : undefined;
    if (pending) return pending.answer;
    const row = this.#get?.get(id.snapshotId, Buffer.from(id.key, 'hex'), id.model, id.promptVersion);
    return row ? { outputJson: row.output, isError: row.is_error === 1 } : undefined;
  }

  /**
   * Writes an improvisation (the first one of an id stands). True when it is on disk; false when
   * the write failed at once: the answer is then kept in memory and written again later.
   */
  put(id: MemoId, answer: Observation): boolean {
    if (this.#write(id, answer)) return true;
    const key = memoIdText(id);
    if (!this.#pending.has(key) && this.#pending.size < MAX_PENDING) this.#pending.set(key, { id, answer });
    this.#scheduleRetry();
    return false;
  }

  /** Answers waiting to be written. */
  get pending(): number {
    return this.#pending.size;
  }

  #write(id: MemoId, answer: Observation): boolean {
    if (!this.#put) return false;
    try {
      this.#put.run(
        id.snapshotId,
        Buffer.from(id.key, 'hex'),
        id.model,
        id.promptVersion,
        answer.outputJson,
        answer.isError ? 1 : 0,
        new Date().toISOString(),
      );
      return true;
    } catch {
      // SQLITE_BUSY (an ingest holds the lock), SQLITE_FULL, SQLITE_READONLY: served unmemoized.
      return false;
    }
  }

  #scheduleRetry(): void {
    if (this.#retry || this.#pending.size === 0 || !this.#put || !this.#db?.open) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      for (const [key, { id, answer }] of this.#pending) {
        if (!this.#db?.open || !this.#write(id, answer)) break;
        this.#pending.delete(key);
      }
      this.#scheduleRetry();
    }, RETRY_MS);
    this.#retry.unref();
  }

  close(): void {
    clearTimeout(this.#retry);
    this.#retry = undefined;
    if (!this.#db?.open) return;
    if (this.writable) restInRollbackMode(this.#db);
    this.#db.close();
  }
}

/** The memo table of a cache on a read-only mount, if it has one. */
function readOnlyMemo(path: string): Database.Database | undefined {
  try {
    const db = new Sqlite(path, { readonly: true, fileMustExist: true });
    if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'improvisations'").get()) return db;
    db.close();
  } catch {
    // unreadable as well: no memo
  }
  return undefined;
}

const OWNER: Claim = { kind: 'owner', release() {} };

/** The embedded SQLite memo behind this interface. One process improvises each call: in-process single-flight is enough. */
export class SqliteMemo implements FuzzyMemo {
  readonly #memo: SqliteMemoTable;

  constructor(memo: SqliteMemoTable) {
    this.#memo = memo;
  }

  get(id: MemoId): MemoRead {
    const answer = this.#memo.get(id);
    return answer ? { kind: 'hit', answer } : { kind: 'none' };
  }

  peek(id: MemoId): Observation | undefined {
    return this.#memo.get(id);
  }

  put(id: MemoId, answer: Observation): StoredAnswer {
    const memoized = this.#memo.put(id, answer);
    // Another process on the same file may have memoized first; its answer stands.
    return { answer: this.#memo.get(id) ?? answer, memoized };
  }

  claim(): Claim {
    return OWNER;
  }

  status(): MemoStatus {
    return { backend: 'sqlite', state: 'ok' };
  }

  close(): void {
    this.#memo.close();
  }
}
