/**
 * The write side of one ingest: the mark that it is running, batches of calls and tool
 * descriptions with the content fingerprint kept beside them, server identities, and the end that
 * recounts the tools and names the new snapshot. Begun by `Store.beginIngest`.
 */
import type Database from 'better-sqlite3';
import { addToFingerprint, snapshotIdOf } from './snapshot-id.js';
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
}

export interface WriteResult {
  added: number;
  present: number;
}

export class IngestWriter {
  readonly #db: Database.Database;
  readonly #store: Store;
  /** The fingerprint of every recording, this ingest's included so far. */
  readonly #content: Buffer;
  readonly #insertCall: Database.Statement;
  readonly #upsertTool: Database.Statement;
  readonly #touchTool: Database.Statement;
  readonly #getMeta: Database.Statement<[string], { value: string }>;
  readonly #putMeta: Database.Statement<[string, string]>;

  private constructor(db: Database.Database, store: Store) {
    this.#db = db;
    this.#store = store;
    // Positional parameters: binding by name costs a lookup per column per row at ingest rates.
    this.#insertCall = db.prepare(`INSERT OR IGNORE INTO calls
      (key, server, tool, arguments, output, is_error, record, ordinal, trajectory_id, node_id, recorded_at, source, metadata, transient)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.#upsertTool = db.prepare(`INSERT INTO tools (server, tool, description, input_schema)
      VALUES (@server, @tool, @description, @inputSchema)
      ON CONFLICT (server, tool) DO UPDATE SET
        description = coalesce(excluded.description, description),
        input_schema = coalesce(excluded.input_schema, input_schema)`);
    this.#touchTool = db.prepare('INSERT OR IGNORE INTO tools (server, tool) VALUES (?, ?)');
    this.#getMeta = db.prepare('SELECT value FROM meta WHERE name = ?');
    this.#putMeta = db.prepare('INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)');
    this.#content = store.contentFingerprint();
  }

  /**
   * Holds the cache to `ignoredArguments`, then marks an ingest as started (committed at once, so
   * a crash leaves the mark). `db` is the store's own connection.
   */
  static begin(db: Database.Database, store: Store, ignoredArguments: readonly string[]): IngestWriter {
    const writer = new IngestWriter(db, store);
    writer.#claimIgnoredArguments(ignoredArguments);
    writer.#putMeta.run('ingest', 'running');
    return writer;
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

  /**
   * Writes one batch in one transaction; rows already present (same identity) are counted, not
   * added. Each added row is folded into the content fingerprint, saved with the rows.
   */
  writeBatch(calls: readonly CallRow[], tools: readonly ToolRow[]): WriteResult {
    return this.#db.transaction(() => {
      let added = 0;
      for (const tool of tools) this.#upsertTool.run(tool);
      const touched = new Set<string>();
      for (const call of calls) {
        const toolId = `${call.server}\0${call.tool}`;
        if (!touched.has(toolId)) {
          touched.add(toolId);
          this.#touchTool.run(call.server, call.tool);
        }
        const changes = this.#insertCall.run(
          call.key,
          call.server,
          call.tool,
          call.arguments,
          call.output,
          call.isError ? 1 : 0,
          call.record,
          call.ordinal,
          call.trajectoryId,
          call.nodeId,
          call.recordedAt,
          call.source,
          call.metadata,
          call.transient ? 1 : 0,
        ).changes;
        if (changes === 1) {
          added++;
          addToFingerprint(this.#content, call.record, call.ordinal);
        }
      }
      // Kept with the rows it describes: after a crash, the fingerprint still matches the table.
      this.#putMeta.run('content', this.#content.toString('hex'));
      return { added, present: calls.length - added };
    })();
  }

  /**
   * Opens a transaction that spans several `writeBatch` calls (each then a savepoint inside it).
   * Committing every few batches rather than every batch matters at ingest rates: each commit
   * writes every index page the batch touched to the WAL again, and keys land on random pages.
   */
  beginBulk(): void {
    if (!this.#db.inTransaction) this.#db.exec('BEGIN');
  }

  commitBulk(): void {
    if (this.#db.inTransaction) this.#db.exec('COMMIT');
  }

  /** Records a server's identity (kept in `meta`, so old caches need no migration); a later record replaces it. */
  setServerInfo(server: string, info: ServerInfo): void {
    this.#putMeta.run(`server_info:${server}`, JSON.stringify(info));
  }

  /** Recomputes per-tool counts and, when the recordings changed, the snapshot id. Ends the ingest. */
  finish(): void {
    this.#db.transaction(() => {
      this.#db.exec(`UPDATE tools SET
        calls = (SELECT count(*) FROM calls c WHERE c.server = tools.server AND c.tool = tools.tool),
        keys = (SELECT count(DISTINCT key) FROM calls c WHERE c.server = tools.server AND c.tool = tools.tool)`);
      this.#putMeta.run('content', this.#content.toString('hex'));
      this.#putMeta.run('snapshot_id', snapshotIdOf(this.#content, this.#store.ignoredArguments));
      this.#putMeta.run('ingest', 'done');
    })();
  }
}
