/**
 * Improvised answers, remembered so the same call gets the same answer after a restart. A file of
 * its own beside the recordings (`CACHE.memo`, see `memoPathOf`), keyed by the snapshot of the
 * recordings, the call key, the model and the prompt version: a change to any of them asks anew.
 *
 * Its own file, so that its writes never meet the serving store's read transaction on the
 * recordings (which SQLite cannot checkpoint past): its WAL is checkpointed as it goes and starts
 * over, staying within a few MB however many improvisations are written
 * (docs/decisions/bounded-wal.md). A memo of an older cache, kept in the cache file itself, is
 * copied into the memo file the first time it is opened.
 *
 * Answers read or written are kept in memory (an LRU bounded by bytes), so a memo hit after the
 * first reads no file (the simulator serves most from its answer LRU before asking here).
 *
 * A write never waits on the event loop: SQLite's lock is tried once (busy_timeout 0), and while it
 * is held (or the disk is full, or the file read-only) the answer is kept in memory, served from
 * there, and written again later in the background.
 *
 * On a read-only mount the memo cannot be written at all: it serves what it already holds (if
 * anything) and keeps new improvisations in memory only, and `writable` says so.
 */
import { existsSync, statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { LRUCache } from 'lru-cache';
import type { Observation } from '../core/types.js';
import type { Claim, FuzzyMemo, MemoId, MemoRead, MemoStatus, StoredAnswer } from './memo.js';
import { memoIdText } from './memo-key.js';
import { restInRollbackMode } from './schema.js';
import { Sqlite } from './sqlite.js';
import { setWalLimits, walBytes } from './wal.js';

const TABLE = 'improvisations';

const SCHEMA = `CREATE TABLE IF NOT EXISTS ${TABLE} (
  snapshot_id    TEXT NOT NULL,
  key            BLOB NOT NULL,
  model          TEXT NOT NULL,
  prompt_version TEXT NOT NULL,
  output         TEXT NOT NULL,
  is_error       INTEGER NOT NULL,
  created_at     TEXT NOT NULL,
  PRIMARY KEY (snapshot_id, key, model, prompt_version)
) WITHOUT ROWID`;

/** The memo file of the cache at `cache`. */
export function memoPathOf(cache: string): string {
  return `${cache}.memo`;
}

/** Answers kept in memory while their write waits, at most. */
const MAX_PENDING = 10_000;
/**
 * Bytes of answers kept in memory here, at most (as V8 holds them, about). Memo hits are served
 * from the snapshot's answer LRU once answered (src/tiers/answer-lru.ts); this one spares a file
 * read for what that LRU let go and for calls of diverged rollouts.
 */
export const MEMO_MEMORY_BYTES = 4 * 1024 * 1024;
/** Bytes an entry holds beyond its output's characters: its id string, the answer object, the cache's slots. */
const ENTRY_BYTES = 400;
/** Delay before pending answers are written again. */
const RETRY_MS = 1_000;

/** SQLite's answers when the file or its directory cannot be written. */
const READ_ONLY_CODES = new Set(['SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_READONLY_DIRECTORY']);

export class SqliteMemoTable {
  /** The memo's file. */
  readonly path: string;
  readonly #db: Database.Database | undefined;
  /** False on a read-only mount: improvisations are then answered but not written. */
  readonly writable: boolean;
  /** Answers whose write failed, by memo id, in the order they came; written again later. */
  readonly #pending = new Map<string, { id: MemoId; answer: Observation }>();
  /** Answers that stand, by memo id, as read or written: a hit after the first reads no file. */
  readonly #answers: LRUCache<string, Observation>;
  #retry: NodeJS.Timeout | undefined;
  readonly #get: Database.Statement<[string, Buffer, string, string], { output: string; is_error: number }> | undefined;
  readonly #put: Database.Statement<[string, Buffer, string, string, string, number, string]> | undefined;

  /**
   * Opens (creating it if need be) the memo of the cache at `cache`, which must exist, in the file
   * `memoPathOf(cache)`; `memoryBytes` bounds the answers kept in memory.
   */
  constructor(cache: string, options: { memoryBytes?: number } = {}) {
    if (!existsSync(cache)) throw new Error(`${cache} does not exist: no memo without its cache`);
    this.path = memoPathOf(cache);
    this.#answers = new LRUCache<string, Observation>({
      maxSize: Math.max(options.memoryBytes ?? MEMO_MEMORY_BYTES, 1),
      sizeCalculation: (answer, id) => ENTRY_BYTES + 2 * (answer.outputJson.length + id.length),
    });
    let db: Database.Database | undefined;
    let writable = true;
    try {
      db = new Sqlite(this.path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      setWalLimits(db);
      db.pragma('busy_timeout = 5000');
      if (!hasTable(db)) {
        // Created with what an older cache holds in its own file, in one transaction: a killed
        // process leaves no table, and the next open copies again.
        db.transaction(() => {
          db!.exec(SCHEMA);
          copyOlderMemo(cache, db!);
        })();
      }
      // From now on a locked database fails at once instead of freezing the event loop.
      db.pragma('busy_timeout = 0');
    } catch (error) {
      db?.close();
      if (!READ_ONLY_CODES.has((error as { code?: string }).code ?? '')) throw error;
      writable = false;
      // An older cache's memo lives in the cache file itself.
      db = readOnlyMemo(this.path) ?? readOnlyMemo(cache);
    }
    this.#db = db;
    this.writable = writable;
    this.#get = db?.prepare(`SELECT output, is_error FROM ${TABLE} WHERE snapshot_id = ? AND key = ? AND model = ? AND prompt_version = ?`);
    // The first improvisation of a key stands: a later one never replaces it.
    this.#put = writable
      ? db?.prepare(
          `INSERT OR IGNORE INTO ${TABLE} (snapshot_id, key, model, prompt_version, output, is_error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
      : undefined;
  }

  get(id: MemoId): Observation | undefined {
    const key = memoIdText(id);
    const known = this.#answers.get(key) ?? this.#pending.get(key)?.answer;
    if (known) return known;
    const row = this.#get?.get(id.snapshotId, Buffer.from(id.key, 'hex'), id.model, id.promptVersion);
    if (!row) return undefined;
    const answer = { outputJson: row.output, isError: row.is_error === 1 };
    this.#answers.set(key, answer);
    return answer;
  }

  /**
   * Writes an improvisation (the first one of an id stands). True when it is on disk; false when
   * the write failed at once: the answer is then kept in memory and written again later.
   */
  put(id: MemoId, answer: Observation): boolean {
    const key = memoIdText(id);
    if (this.#write(id, answer, key)) return true;
    if (!this.#pending.has(key) && this.#pending.size < MAX_PENDING) this.#pending.set(key, { id, answer });
    this.#scheduleRetry();
    return false;
  }

  /** Answers kept in memory for hits, and the bytes they are counted at. */
  get inMemory(): { entries: number; bytes: number } {
    return { entries: this.#answers.size, bytes: this.#answers.calculatedSize };
  }

  /** Answers waiting to be written. */
  get pending(): number {
    return this.#pending.size;
  }

  #write(id: MemoId, answer: Observation, key: string): boolean {
    if (!this.#put) return false;
    try {
      const { changes } = this.#put.run(
        id.snapshotId,
        Buffer.from(id.key, 'hex'),
        id.model,
        id.promptVersion,
        answer.outputJson,
        answer.isError ? 1 : 0,
        new Date().toISOString(),
      );
      // Written now: it stands. Otherwise another process wrote first, and `get` reads its answer.
      if (changes > 0) this.#answers.set(key, answer);
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
        if (!this.#db?.open || !this.#write(id, answer, key)) break;
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

function hasTable(db: Database.Database): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(TABLE) !== undefined;
}

/**
 * Copies the memo an older toolsim kept in the cache file itself (a table of the same name and
 * columns) into the new memo file, read through a connection of its own that writes nothing.
 */
function copyOlderMemo(cache: string, memo: Database.Database): void {
  let older: Database.Database | undefined;
  try {
    older = new Sqlite(cache, { readonly: true, fileMustExist: true });
    if (!hasTable(older)) return;
    const insert = memo.prepare(`INSERT OR IGNORE INTO ${TABLE} VALUES (?, ?, ?, ?, ?, ?, ?)`);
    for (const row of older.prepare(`SELECT * FROM ${TABLE}`).raw().iterate()) insert.run(...(row as unknown[]));
  } finally {
    older?.close();
  }
}

/** The memo table in the SQLite file at `path` on a read-only mount, if it has one. */
function readOnlyMemo(path: string): Database.Database | undefined {
  try {
    const db = new Sqlite(path, { readonly: true, fileMustExist: true });
    if (hasTable(db)) return db;
    db.close();
  } catch {
    // unreadable as well: no memo
  }
  return undefined;
}

/** What `toolsim stats` says of a cache's memo file. */
export interface MemoFileStats {
  path: string;
  improvisations: number;
  bytes: number;
  walBytes: number;
}

/** The memo file of the cache at `cache`, read without writing anything; undefined when there is none. */
export function memoFileStats(cache: string): MemoFileStats | undefined {
  const path = memoPathOf(cache);
  if (!existsSync(path)) return undefined;
  const db = readOnlyMemo(path);
  try {
    const improvisations = db ? (db.prepare(`SELECT count(*) AS n FROM ${TABLE}`).get() as { n: number }).n : 0;
    return { path, improvisations, bytes: statSync(path).size, walBytes: walBytes(path) };
  } finally {
    db?.close();
  }
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
