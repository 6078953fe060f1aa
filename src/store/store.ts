/**
 * The recordings on disk: SQLite through better-sqlite3, opened once with its pragmas, every
 * statement prepared once. Knows nothing of tiers or HTTP. Reads live here; an ingest writes
 * through the `IngestWriter` that `beginIngest` returns.
 *
 * An observation is one recorded call. Its identity is (record, ordinal): `record` hashes the whole
 * log record, `ordinal` counts earlier identical records in the same input, so ingesting a file twice
 * adds nothing while a call recorded twice in one trajectory stays two observations.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { KEY_VERSION } from '../core/canonical.js';
import type { JsonObject, Observation, ToolInfo } from '../core/types.js';
import { IngestWriter } from './ingest-writer.js';
import { createSchema, keyVersion, refuseRecordingWrites, SCHEMA_VERSION, schemaVersion } from './schema.js';
import { emptyFingerprint } from './snapshot-id.js';
import { readStats, type StoreStats } from './stats.js';

/** A recorded server's identity (from its MCP `initialize` answer); every field optional. */
export interface ServerInfo {
  name?: string;
  version?: string;
  instructions?: string;
  protocol_version?: string;
}

export interface RecordedArguments {
  key: string;
  arguments: string;
}

/** One recorded call, as `recordedCalls` reads it back. */
export interface RecordedCall {
  /** Hex call key (CONTRACTS §2). */
  key: string;
  server: string;
  tool: string;
  /** Canonical JSON of the arguments, without the ignored ones. */
  arguments: string;
  /** The output as recorded, JSON text. */
  outputJson: string;
  isError: boolean;
  /** An infrastructure failure recorded in place of the tool's answer. */
  transient: boolean;
  trajectoryId: string | null;
  nodeId: string | null;
  recordedAt: string | null;
  source: string | null;
  /** The record's extra keys, a JSON object as text. */
  metadata: string | null;
}

interface CallColumns {
  key: Buffer;
  server: string;
  tool: string;
  arguments: string;
  output: string;
  is_error: number;
  transient: number;
  trajectory_id: string | null;
  node_id: string | null;
  recorded_at: string | null;
  source: string | null;
  metadata: string | null;
}

export interface OpenOptions {
  /**
   * Open for serving: the recordings (calls, tools, meta) are never written, which this connection
   * enforces with triggers. Modules with their own tables beside them (the fuzzy memo) still write,
   * through connections of their own.
   */
  readonly?: boolean;
  /**
   * Hold one read transaction for the life of the connection, so that every read sees the same
   * snapshot even while an ingest commits into the same file (WAL). Implies `readonly`.
   */
  pinSnapshot?: boolean;
}

export class Store {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #meta: Database.Statement<[string], { value: string }>;
  readonly #observations: Database.Statement<
    [Buffer],
    { output: string; is_error: number; transient: number; trajectory_id: string | null }
  >;
  readonly #argumentsOfTool: Database.Statement<[string, string], { key: Buffer; arguments: string }>;
  readonly #catalog: Database.Statement<
    [],
    { server: string; tool: string; description: string | null; input_schema: string | null; calls: number }
  >;
  readonly #callCount: Database.Statement<[], { n: number }>;
  readonly #anyCall: Database.Statement<[], unknown>;
  readonly #calls: Database.Statement<[], CallColumns>;

  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.#db = db;
    this.#meta = db.prepare('SELECT value FROM meta WHERE name = ?');
    this.#observations = db.prepare('SELECT output, is_error, transient, trajectory_id FROM calls WHERE key = ? ORDER BY id');
    this.#argumentsOfTool = db.prepare(
      'SELECT key, min(arguments) AS arguments FROM calls WHERE server = ? AND tool = ? GROUP BY key ORDER BY min(id)',
    );
    this.#catalog = db.prepare('SELECT server, tool, description, input_schema, calls FROM tools ORDER BY server, tool');
    this.#callCount = db.prepare('SELECT total(calls) AS n FROM tools');
    this.#anyCall = db.prepare('SELECT 1 FROM calls LIMIT 1');
    this.#calls = db.prepare(
      'SELECT key, server, tool, arguments, output, is_error, transient, trajectory_id, node_id, recorded_at, source, metadata FROM calls ORDER BY id',
    );
  }

  /** Opens (and, unless read-only, creates or migrates) the cache at `path`. */
  static open(path: string, options: OpenOptions = {}): Store {
    if (path !== ':memory:' && !options.readonly) mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path, { fileMustExist: Boolean(options.readonly || options.pinSnapshot) });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    const readonly = Boolean(options.readonly || options.pinSnapshot);
    // Serving reads keys at random across the file, which the OS page cache holds anyway; a large
    // private cache there would count the same pages twice in the server's RSS. Ingest writes
    // index pages at random and gains from keeping them.
    db.pragma(readonly ? 'cache_size = -16384' : 'cache_size = -65536');
    const version = schemaVersion(db);
    if (version === undefined) {
      if (readonly) {
        db.close();
        throw new Error(`${path} is not a toolsim cache (no schema); run \`toolsim ingest\` first`);
      }
      createSchema(db);
    } else if (keyVersion(db) !== KEY_VERSION) {
      // Keys of another version never match a call's key: every lookup would miss.
      const found = keyVersion(db);
      db.close();
      throw new Error(
        `${path} holds call keys of version ${found}; this toolsim computes ${KEY_VERSION}. Re-ingest the logs into a new cache (toolsim ingest FILE... --db NEW_PATH)`,
      );
    } else if (version !== SCHEMA_VERSION) {
      db.close();
      throw new Error(`${path} has cache schema version ${version}; this toolsim reads version ${SCHEMA_VERSION}`);
    }
    if (readonly) refuseRecordingWrites(db);
    if (options.pinSnapshot) {
      // A deferred transaction takes its snapshot at its first read; read at once to fix it here.
      // Nothing may be written on this connection (it would never commit): writers use another.
      db.exec('BEGIN');
      db.prepare('SELECT count(*) FROM meta').get();
    }
    return new Store(path, db);
  }

  /**
   * Starts an ingest: holds the cache to the ignored argument names (fixed by the first ingest,
   * CONTRACTS §2.6), marks the ingest as running, and returns what writes it.
   */
  beginIngest(ignoredArguments: readonly string[] = []): IngestWriter {
    return IngestWriter.begin(this.#db, this, ignoredArguments);
  }

  /** The identity recorded for a server, if any. */
  serverInfo(server: string): ServerInfo | undefined {
    const raw = this.#meta.get(`server_info:${server}`)?.value;
    return raw === undefined ? undefined : (JSON.parse(raw) as ServerInfo);
  }

  /** Changes whenever the recordings change; memoized improvisations are tied to it. */
  get snapshotId(): string {
    return this.#meta.get('snapshot_id')?.value ?? 'empty';
  }

  /**
   * True between the start and the end of an ingest, including one that was killed: the
   * recordings are then part-way between two snapshots and should not be served as a new one.
   */
  get ingestUnfinished(): boolean {
    return this.#meta.get('ingest')?.value === 'running';
  }

  /** Argument names dropped before hashing, fixed by the first ingest (docs/canonical-key.md). */
  get ignoredArguments(): string[] {
    const raw = this.#meta.get('ignore_args')?.value;
    return raw ? (JSON.parse(raw) as string[]) : [];
  }

  /**
   * XOR of the identities of every recording, as committed: equal contents give equal values,
   * whatever the order. Unlike the snapshot id, it follows an ingest batch by batch.
   */
  contentFingerprint(): Buffer {
    const hex = this.#meta.get('content')?.value;
    return hex ? Buffer.from(hex, 'hex') : emptyFingerprint();
  }

  /** Every recorded observation of a key, in ingest order. */
  observations(key: string): Observation[] {
    return this.#observations.all(Buffer.from(key, 'hex')).map((row) => ({
      outputJson: row.output,
      isError: row.is_error === 1,
      transient: row.transient === 1,
      trajectoryId: row.trajectory_id,
    }));
  }

  /** Every distinct key of one tool with its canonical arguments, for the neighbour index. */
  argumentsOf(server: string, tool: string): RecordedArguments[] {
    return this.#argumentsOfTool.all(server, tool).map((row) => ({ key: row.key.toString('hex'), arguments: row.arguments }));
  }

  /**
   * Every recorded call in ingest order, read as the loop goes: until it ends, this connection
   * can run nothing else.
   */
  *recordedCalls(): Generator<RecordedCall, void, undefined> {
    for (const row of this.#calls.iterate()) {
      yield {
        key: row.key.toString('hex'),
        server: row.server,
        tool: row.tool,
        arguments: row.arguments,
        outputJson: row.output,
        isError: row.is_error === 1,
        transient: row.transient === 1,
        trajectoryId: row.trajectory_id,
        nodeId: row.node_id,
        recordedAt: row.recorded_at,
        source: row.source,
        metadata: row.metadata,
      };
    }
  }

  catalog(): ToolInfo[] {
    return this.#catalog.all().map((row) => {
      const info: ToolInfo = { server: row.server, tool: row.tool, calls: row.calls };
      if (row.description !== null) info.description = row.description;
      if (row.input_schema !== null) info.input_schema = JSON.parse(row.input_schema) as JsonObject;
      return info;
    });
  }

  /**
   * Recorded calls, from the per-tool counts every ingest ends by writing: O(tools), where
   * count(*) would scan an index of every call at each start of the server.
   */
  callCount(): number {
    return this.#callCount.get()!.n;
  }

  /** Whether any call is recorded, even by an ingest that stopped before its end. */
  hasCalls(): boolean {
    return this.#anyCall.get() !== undefined;
  }

  stats(): StoreStats {
    return readStats(this.#db);
  }

  /** SQLite's integrity check of the whole file: `ok`, or the problems found, one a line. */
  integrityCheck(): string {
    return (this.#db.pragma('integrity_check') as { integrity_check: string }[]).map((row) => row.integrity_check).join('\n');
  }

  /** True once `close` has run. */
  get closed(): boolean {
    return !this.#db.open;
  }

  close(): void {
    if (!this.#db.open) return;
    if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
    this.#db.close();
  }
}
