/**
 * The write side of one ingest, begun by `Store.beginIngest`: one transaction from start to end,
 * so the cache moves from one complete snapshot to the next or not at all. A killed or failed
 * ingest (disk full, a read error of the cache) leaves the cache exactly as it was, and its
 * readers never see part of one; a re-run then does the whole work and ends like a clean run.
 *
 * Rows already present (same identity) are counted, not added; each added row is folded into the
 * content fingerprint that names the new snapshot.
 */
import { hash, randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { toolId } from '../core/tool-id.js';
import { IngestLock } from './ingest-lock.js';
import { COMMIT_ID, createReadIndexes, IDENTITY_INDEX, prefixOf } from './schema.js';
import { addIdentity, identityOf, snapshotIdOf } from './snapshot-id.js';
import { Sqlite } from './sqlite.js';
import type { ServerInfo, Store } from './store.js';

/** One recorded call as written; `record` and `ordinal` are its identity (see store.ts). */
export interface CallRow {
  key: Buffer;
  server: string;
  tool: string;
  arguments: string;
  output: string;
  isError: boolean;
  /** An infrastructure failure recorded in place of the tool's answer (docs/log-format.md). */
  transient: boolean;
  record: Buffer;
  ordinal: number;
  trajectoryId: string | null;
  nodeId: string | null;
  recordedAt: string | null;
  source: string | null;
  metadata: string | null;
}

export interface ToolRow {
  server: string;
  tool: string;
  description: string | null;
  inputSchema: string | null;
  /** JSON text of the declared output schema (MCP's `outputSchema`). */
  outputSchema: string | null;
  /** JSON text of MCP's tool annotations. */
  annotations: string | null;
}

export interface WriteResult {
  added: number;
  present: number;
}

/** Writing into the cache failed (a full disk, an I/O error): the whole ingest is undone. */
export class StoreWriteError extends Error {
  constructor(
    message: string,
    readonly sqliteCode: string | undefined,
  ) {
    super(message);
    this.name = 'StoreWriteError';
  }
}

/** SQLite's errors while writing become `StoreWriteError`s, which end the ingest; others pass. */
function writing<T>(write: () => T): T {
  try {
    return write();
  } catch (error) {
    if (error instanceof Sqlite.SqliteError) {
      const reason = error.code === 'SQLITE_FULL' ? 'the disk (or the database) is full' : error.message;
      throw new StoreWriteError(`cannot write the cache: ${reason} (${error.code})`, error.code);
    }
    throw error;
  }
}

/**
 * Output texts remembered by the writer with their ids, so that frequent ones (tools answer the
 * same text to many calls) skip hashing and a lookup: at most this many, each at most
 * OUTPUT_MEMO_CHARS long, so the memo stays within a few MB.
 */
const OUTPUT_MEMO_ENTRIES = 4096;
const OUTPUT_MEMO_CHARS = 1024;

export class IngestWriter {
  readonly #db: Database.Database;
  readonly #store: Store;
  /** The fingerprint of every recording, this ingest's included so far. */
  readonly #content: Buffer;
  readonly #toolIds = new Map<string, number>();
  /** Calls added per tool id, added to the tools' counts at the end. */
  readonly #addedPerTool = new Map<number, number>();
  readonly #outputMemo = new Map<string, number>();
  readonly #findIdentity: Database.Statement<[number], { record: Buffer; ordinal: number }>;
  readonly #identityTaken: Database.Statement<[number], unknown>;
  readonly #findOutput: Database.Statement<[number, string], { id: number }>;
  readonly #insertOutput: Database.Statement<[number, string]>;
  readonly #insertCall: Database.Statement;
  readonly #upsertTool: Database.Statement;
  readonly #touchTool: Database.Statement<[string, string]>;
  readonly #toolId: Database.Statement<[string, string], { id: number }>;
  readonly #getMeta: Database.Statement<[string], { value: string }>;
  readonly #putMeta: Database.Statement<[string, string]>;
  readonly #lock: IngestLock | undefined;
  #ended = false;
  /** Inputs begun so far (`beginInput`). */
  #inputs = 0;
  /** Rows are written without checking them against the cache (see `beginInput`). */
  #unchecked = false;

  private constructor(db: Database.Database, store: Store, lock: IngestLock | undefined) {
    this.#db = db;
    this.#lock = lock;
    this.#store = store;
    this.#findIdentity = db.prepare('SELECT record, ordinal FROM calls WHERE identity = ?');
    // Answered from the index alone: most rows are new, and then no table row is read.
    this.#identityTaken = db.prepare('SELECT 1 FROM calls WHERE identity = ? LIMIT 1');
    this.#findOutput = db.prepare('SELECT id FROM outputs WHERE prefix = ? AND text = ?');
    this.#insertOutput = db.prepare('INSERT INTO outputs (prefix, text) VALUES (?, ?)');
    // Positional parameters: binding by name costs a lookup per column per row at ingest rates.
    this.#insertCall = db.prepare(`INSERT INTO calls
      (key_prefix, identity, tool_id, output_id, is_error, ordinal, key, record, arguments, trajectory_id, node_id, recorded_at, source, metadata, transient)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.#upsertTool = db.prepare(`INSERT INTO tools (server, tool, description, input_schema, output_schema, annotations)
      VALUES (@server, @tool, @description, @inputSchema, @outputSchema, @annotations)
      ON CONFLICT (server, tool) DO UPDATE SET
        description = coalesce(excluded.description, description),
        input_schema = coalesce(excluded.input_schema, input_schema),
        output_schema = coalesce(excluded.output_schema, output_schema),
        annotations = coalesce(excluded.annotations, annotations)`);
    this.#touchTool = db.prepare('INSERT OR IGNORE INTO tools (server, tool) VALUES (?, ?)');
    this.#toolId = db.prepare('SELECT id FROM tools WHERE server = ? AND tool = ?');
    this.#getMeta = db.prepare('SELECT value FROM meta WHERE name = ?');
    this.#putMeta = db.prepare('INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)');
    this.#content = store.contentFingerprint();
  }

  /**
   * Opens the ingest's transaction (waiting for the memo's short writes, never for another
   * ingest: the caller holds the cache's ingest lock) and holds the cache to `ignoredArguments`.
   * `db` is the store's own connection.
   */
  static begin(db: Database.Database, store: Store, lockPath: string | undefined, ignoredArguments: readonly string[]): IngestWriter {
    const lock = lockPath === undefined ? undefined : IngestLock.acquire(lockPath);
    try {
      writing(() => db.exec('BEGIN IMMEDIATE'));
      const writer = new IngestWriter(db, store, lock);
      writer.#claimIgnoredArguments(ignoredArguments);
      return writer;
    } catch (error) {
      if (db.inTransaction) db.exec('ROLLBACK');
      lock?.release();
      throw error;
    }
  }

  /** Fixes the ignored argument names on first use; afterwards they must match (keys depend on them). */
  #claimIgnoredArguments(names: readonly string[]): void {
    const wanted = [...new Set(names)].sort();
    const current = this.#getMeta.get('ignore_args')?.value;
    if (current === undefined) {
      if (this.#store.hasCalls() && wanted.length > 0) {
        throw new Error('this cache already holds calls keyed without --ignore-arg; ingest into a new cache');
      }
      this.#putMeta.run('ignore_args', JSON.stringify(wanted));
      return;
    }
    const have = JSON.parse(current) as string[];
    if (JSON.stringify(have) !== JSON.stringify(wanted)) {
      throw new Error(
        `this cache was built with --ignore-arg ${JSON.stringify(have)}; got ${JSON.stringify(wanted)}. Keys depend on them: use the same names or a new cache`,
      );
    }
  }

  #toolIdOf(server: string, tool: string): number {
    const name = toolId(server, tool);
    let id = this.#toolIds.get(name);
    if (id === undefined) {
      this.#touchTool.run(server, tool);
      id = this.#toolId.get(server, tool)!.id;
      this.#toolIds.set(name, id);
    }
    return id;
  }

  /** The id of an output text, stored once however many calls answer it. */
  #outputIdOf(text: string): number {
    const memo = this.#outputMemo.get(text);
    if (memo !== undefined) return memo;
    const prefix = prefixOf(hash('sha256', text, 'buffer'));
    const id = this.#findOutput.get(prefix, text)?.id ?? Number(this.#insertOutput.run(prefix, text).lastInsertRowid);
    if (text.length <= OUTPUT_MEMO_CHARS) {
      if (this.#outputMemo.size >= OUTPUT_MEMO_ENTRIES) this.#outputMemo.clear();
      this.#outputMemo.set(text, id);
    }
    return id;
  }

  /**
   * Marks the start of an input: within one input no two rows share an identity (the ordinal
   * counts identical records), so the first input into a new cache is written without looking
   * each row up; from the second on, rows are checked against the cache.
   */
  beginInput(): void {
    this.#check();
    this.#inputs++;
    this.#unchecked = this.#store.building && this.#inputs === 1;
    if (this.#inputs === 2 && this.#store.building) writing(() => this.#db.exec(IDENTITY_INDEX));
  }

  /** Writes one batch; rows already present (same identity) are counted, not added. */
  writeBatch(calls: readonly CallRow[], tools: readonly ToolRow[]): WriteResult {
    this.#check();
    return writing(() => this.#write(calls, tools));
  }

  #write(calls: readonly CallRow[], tools: readonly ToolRow[]): WriteResult {
    let added = 0;
    for (const tool of tools) this.#upsertTool.run(tool);
    for (const call of calls) {
      const identity = identityOf(call.record, call.ordinal);
      const identityPrefix = prefixOf(identity);
      if (!this.#unchecked && this.#identityTaken.get(identityPrefix) !== undefined && this.#present(identityPrefix, call)) continue;
      const toolId = this.#toolIdOf(call.server, call.tool);
      this.#addedPerTool.set(toolId, (this.#addedPerTool.get(toolId) ?? 0) + 1);
      this.#insertCall.run(
        prefixOf(call.key),
        identityPrefix,
        toolId,
        this.#outputIdOf(call.output),
        call.isError ? 1 : 0,
        call.ordinal,
        call.key,
        call.record,
        call.arguments,
        call.trajectoryId,
        call.nodeId,
        call.recordedAt,
        call.source,
        call.metadata,
        call.transient ? 1 : 0,
      );
      addIdentity(this.#content, identity);
      added++;
    }
    return { added, present: calls.length - added };
  }

  /** Whether a row with this identity prefix is this very recording (a prefix match decides nothing). */
  #present(identityPrefix: number, call: CallRow): boolean {
    for (const row of this.#findIdentity.iterate(identityPrefix)) {
      if (row.ordinal === call.ordinal && row.record.equals(call.record)) return true;
    }
    return false;
  }

  /** Records how a tool's recorded answers fit its declared output schema (JSON text of an OutputCheck). */
  setOutputCheck(server: string, tool: string, check: string): void {
    this.#check();
    writing(() => this.#db.prepare('UPDATE tools SET output_check = ? WHERE server = ? AND tool = ?').run(check, server, tool));
  }

  /** Records a server's identity (kept in `meta`); a later record replaces it. */
  setServerInfo(server: string, info: ServerInfo): void {
    this.#check();
    writing(() => this.#putMeta.run(`server_info:${server}`, JSON.stringify(info)));
  }

  /**
   * Builds what readers need, counts the tools' new calls, names the new snapshot and commits it all.
   * `beforeCommit` runs once the rows and indexes are in, inside the transaction (reads through the
   * store see this ingest's rows): what it writes (`setOutputCheck`) commits with them.
   */
  finish(beforeCommit?: () => void): void {
    this.#check();
    writing(() => {
      createReadIndexes(this.#db);
      const count = this.#db.prepare('UPDATE tools SET calls = calls + ? WHERE id = ?');
      for (const [toolId, added] of this.#addedPerTool) count.run(added, toolId);
      beforeCommit?.();
      this.#putMeta.run('content', this.#content.toString('hex'));
      this.#putMeta.run('snapshot_id', snapshotIdOf(this.#content, this.#store.ignoredArguments));
      // Changes with every commit, whatever it changed: a serving store renews its read
      // transaction only while this is the value it pinned.
      this.#putMeta.run(COMMIT_ID, randomUUID());
      this.#db.exec('COMMIT');
    });
    this.#end();
  }

  /** Undoes everything this ingest wrote (SQLite may already have, after some errors). */
  abort(): void {
    if (this.#db.open && this.#db.inTransaction) this.#db.exec('ROLLBACK');
    this.#end();
  }

  #end(): void {
    this.#ended = true;
    this.#lock?.release();
  }

  #check(): void {
    if (this.#ended) throw new Error('this ingest has ended');
    // SQLite rolls back by itself after some failures (a full disk); nothing more may be written.
    if (!this.#db.inTransaction) throw new Error('the ingest transaction was rolled back after an earlier error');
  }
}
