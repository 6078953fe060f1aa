/**
 * The recordings on disk: SQLite through better-sqlite3, opened once with its pragmas, every
 * statement prepared once. Knows nothing of tiers or HTTP.
 *
 * An observation is one recorded call. Its identity is (record, ordinal): `record` hashes the whole
 * log record, `ordinal` counts earlier identical records in the same input, so ingesting a file twice
 * adds nothing while a call recorded twice in one trajectory stays two observations.
 */
import { createHash, hash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { JsonObject, Observation, ToolInfo } from '../core/types.js';

export const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  name  TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS tools (
  server       TEXT NOT NULL,
  tool         TEXT NOT NULL,
  description  TEXT,
  input_schema TEXT,
  calls        INTEGER NOT NULL DEFAULT 0,
  keys         INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (server, tool)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS calls (
  id            INTEGER PRIMARY KEY,
  key           BLOB NOT NULL,
  server        TEXT NOT NULL,
  tool          TEXT NOT NULL,
  arguments     TEXT NOT NULL,
  output        TEXT NOT NULL,
  is_error      INTEGER NOT NULL,
  record        BLOB NOT NULL,
  ordinal       INTEGER NOT NULL,
  trajectory_id TEXT,
  node_id       TEXT,
  recorded_at   TEXT,
  source        TEXT,
  metadata      TEXT
);
CREATE INDEX IF NOT EXISTS calls_by_key ON calls (key);
CREATE INDEX IF NOT EXISTS calls_by_tool ON calls (server, tool);
CREATE UNIQUE INDEX IF NOT EXISTS calls_identity ON calls (record, ordinal);
`;

export interface CallRow {
  key: Buffer;
  server: string;
  tool: string;
  arguments: string;
  output: string;
  isError: boolean;
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

/** A recorded server's identity (from its MCP `initialize` answer); every field optional. */
export interface ServerInfo {
  name?: string;
  version?: string;
  instructions?: string;
  protocol_version?: string;
}

export interface WriteResult {
  added: number;
  present: number;
}

export interface RecordedArguments {
  key: string;
  arguments: string;
}

export interface StoreStats {
  calls: number;
  keys: number;
  servers: number;
  tools: number;
  repeatedKeys: number;
  disagreeingKeys: number;
  /** Keys recorded exactly once: the thinnest coverage. */
  singleKeys: number;
  perTool: {
    server: string;
    tool: string;
    calls: number;
    /** Distinct argument sets (after --ignore-arg). */
    keys: number;
    singleKeys: number;
    repeatedKeys: number;
    disagreeingKeys: number;
  }[];
}

export interface OpenOptions {
  /**
   * Open for serving: the recordings (calls, tools, meta) are never written, which this connection
   * enforces with triggers. Modules with their own tables beside them (the fuzzy memo) still write.
   */
  readonly?: boolean;
  /**
   * Hold one read transaction for the life of the connection, so that every read sees the same
   * snapshot even while an ingest commits into the same file (WAL). Implies `readonly`.
   */
  pinSnapshot?: boolean;
}

/** Tables a serving connection must never write; temporary triggers on this connection refuse it. */
const RECORDING_TABLES = ['calls', 'tools', 'meta'] as const;

export class Store {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #observations: Database.Statement<[Buffer], { output: string; is_error: number }>;
  readonly #serversOfTool: Database.Statement<[string], { server: string }>;
  readonly #insertCall: Database.Statement;
  readonly #upsertTool: Database.Statement;
  readonly #touchTool: Database.Statement;
  readonly #argumentsOfTool: Database.Statement<[string, string], { key: Buffer; arguments: string }>;

  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.#db = db;
    this.#observations = db.prepare('SELECT output, is_error FROM calls WHERE key = ? ORDER BY id');
    this.#serversOfTool = db.prepare('SELECT server FROM tools WHERE tool = ? ORDER BY server');
    // Positional parameters: binding by name costs a lookup per column per row at ingest rates.
    this.#insertCall = db.prepare(`INSERT OR IGNORE INTO calls
      (key, server, tool, arguments, output, is_error, record, ordinal, trajectory_id, node_id, recorded_at, source, metadata)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.#upsertTool = db.prepare(`INSERT INTO tools (server, tool, description, input_schema)
      VALUES (@server, @tool, @description, @inputSchema)
      ON CONFLICT (server, tool) DO UPDATE SET
        description = coalesce(excluded.description, description),
        input_schema = coalesce(excluded.input_schema, input_schema)`);
    this.#touchTool = db.prepare('INSERT OR IGNORE INTO tools (server, tool) VALUES (?, ?)');
    this.#argumentsOfTool = db.prepare(
      'SELECT key, min(arguments) AS arguments FROM calls WHERE server = ? AND tool = ? GROUP BY key ORDER BY min(id)',
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
    const version = Store.#schemaVersion(db);
    if (version === undefined) {
      if (readonly) {
        db.close();
        throw new Error(`${path} is not a toolsim cache (no schema); run \`toolsim ingest\` first`);
      }
      db.exec(SCHEMA);
      db.prepare('INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)').run('schema_version', String(SCHEMA_VERSION));
    } else if (version !== SCHEMA_VERSION) {
      db.close();
      throw new Error(`${path} has cache schema version ${version}; this toolsim reads version ${SCHEMA_VERSION}`);
    }
    if (readonly) {
      for (const table of RECORDING_TABLES) {
        for (const action of ['INSERT', 'UPDATE', 'DELETE']) {
          db.exec(`CREATE TEMP TRIGGER ${table}_${action.toLowerCase()}_refused BEFORE ${action} ON main.${table}
            BEGIN SELECT RAISE(ABORT, 'the recordings are read-only while serving'); END`);
        }
      }
    }
    if (options.pinSnapshot) {
      // A deferred transaction takes its snapshot at its first read; read at once to fix it here.
      // Nothing may be written on this connection (it would never commit): writers use another.
      db.exec('BEGIN');
      db.prepare('SELECT count(*) FROM meta').get();
    }
    return new Store(path, db);
  }

  static #schemaVersion(db: Database.Database): number | undefined {
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get();
    if (!table) return undefined;
    const row = db.prepare("SELECT value FROM meta WHERE name = 'schema_version'").get() as { value: string } | undefined;
    return row ? Number(row.value) : undefined;
  }

  /** The raw connection, for modules that keep their own tables beside the recordings. */
  get db(): Database.Database {
    return this.#db;
  }

  getMeta(name: string): string | undefined {
    const row = this.#db.prepare('SELECT value FROM meta WHERE name = ?').get(name) as { value: string } | undefined;
    return row?.value;
  }

  setMeta(name: string, value: string): void {
    this.#db.prepare('INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)').run(name, value);
  }

  /** The identity recorded for a server, if any (kept in `meta`, so old caches need no migration). */
  serverInfo(server: string): ServerInfo | undefined {
    const raw = this.getMeta(`server_info:${server}`);
    return raw === undefined ? undefined : (JSON.parse(raw) as ServerInfo);
  }

  /** Records a server's identity; a later record for the same server replaces it. */
  setServerInfo(server: string, info: ServerInfo): void {
    this.setMeta(`server_info:${server}`, JSON.stringify(info));
  }

  /** Changes whenever the recordings change; memoized improvisations are tied to it. */
  get snapshotId(): string {
    return this.getMeta('snapshot_id') ?? 'empty';
  }

  /**
   * True between the start and the end of an ingest, including one that was killed: the
   * recordings are then part-way between two snapshots and should not be served as a new one.
   */
  get ingestUnfinished(): boolean {
    return this.getMeta('ingest') === 'running';
  }

  /** Marks an ingest as started (committed at once, so a crash leaves the mark). */
  beginIngest(): void {
    this.setMeta('ingest', 'running');
  }

  /** Argument names dropped before hashing, fixed by the first ingest (docs/canonical-key.md). */
  get ignoredArguments(): string[] {
    const raw = this.getMeta('ignore_args');
    return raw ? (JSON.parse(raw) as string[]) : [];
  }

  /** Every recorded observation of a key, in ingest order. */
  observations(key: string): Observation[] {
    return this.#observations.all(Buffer.from(key, 'hex')).map((row) => ({
      outputJson: row.output,
      isError: row.is_error === 1,
    }));
  }

  /** The servers on which a tool name is recorded. */
  serversOf(tool: string): string[] {
    return this.#serversOfTool.all(tool).map((row) => row.server);
  }

  /** Every distinct key of one tool with its canonical arguments, for the neighbour index. */
  argumentsOf(server: string, tool: string): RecordedArguments[] {
    return this.#argumentsOfTool.all(server, tool).map((row) => ({ key: row.key.toString('hex'), arguments: row.arguments }));
  }

  catalog(): ToolInfo[] {
    const rows = this.#db
      .prepare('SELECT server, tool, description, input_schema, calls FROM tools ORDER BY server, tool')
      .all() as { server: string; tool: string; description: string | null; input_schema: string | null; calls: number }[];
    return rows.map((row) => {
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
    return (this.#db.prepare('SELECT total(calls) AS n FROM tools').get() as { n: number }).n;
  }

  /** Whether any call is recorded, even by an ingest that stopped before its end. */
  hasCalls(): boolean {
    return this.#db.prepare('SELECT 1 FROM calls LIMIT 1').get() !== undefined;
  }

  /**
   * Writes one batch in one transaction; rows already present (same identity) are counted, not
   * added. Each added row is folded into `content`, the XOR of the identities of all recordings.
   */
  writeBatch(calls: readonly CallRow[], tools: readonly ToolRow[], content: Buffer): WriteResult {
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
          call.key, call.server, call.tool, call.arguments, call.output, call.isError ? 1 : 0, call.record, call.ordinal,
          call.trajectoryId, call.nodeId, call.recordedAt, call.source, call.metadata,
        ).changes;
        if (changes === 1) {
          added++;
          xorInto(content, identityHash(call.record, call.ordinal));
        }
      }
      // Kept with the rows it describes: after a crash, the fingerprint still matches the table.
      this.setMeta('content', content.toString('hex'));
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

  /** XOR of the identities of every recording: equal contents give equal values, whatever the order. */
  contentFingerprint(): Buffer {
    const hex = this.getMeta('content');
    return hex ? Buffer.from(hex, 'hex') : Buffer.alloc(32);
  }

  /** Recomputes per-tool counts and, when the recordings changed, the snapshot id. Ends an ingest. */
  finishIngest(content: Buffer): void {
    this.#db.transaction(() => {
      this.#db.exec(`UPDATE tools SET
        calls = (SELECT count(*) FROM calls c WHERE c.server = tools.server AND c.tool = tools.tool),
        keys = (SELECT count(DISTINCT key) FROM calls c WHERE c.server = tools.server AND c.tool = tools.tool)`);
      this.setMeta('content', content.toString('hex'));
      this.setMeta('snapshot_id', snapshotIdOf(content, this.ignoredArguments));
      this.setMeta('ingest', 'done');
    })();
  }

  /** Fixes the ignored argument names on first use; afterwards they must match (keys depend on them). */
  claimIgnoredArguments(names: readonly string[]): void {
    const wanted = [...new Set(names)].sort();
    const current = this.getMeta('ignore_args');
    if (current === undefined) {
      if (this.hasCalls() && wanted.length > 0) {
        throw new Error('this cache already holds calls keyed without --ignore-arg; ingest into a new cache');
      }
      this.setMeta('ignore_args', JSON.stringify(wanted));
      return;
    }
    const have = JSON.parse(current) as string[];
    if (JSON.stringify(have) !== JSON.stringify(wanted)) {
      throw new Error(
        `this cache was built with --ignore-arg ${JSON.stringify(have)}; got ${JSON.stringify(wanted)}. Keys depend on them: use the same names or a new cache`,
      );
    }
  }

  stats(): StoreStats {
    const perKey = `SELECT server, tool, key, count(*) AS n, count(DISTINCT output || char(0) || is_error) AS distinct_outputs
      FROM calls GROUP BY key`;
    const perTool = this.#db
      .prepare(
        `SELECT server, tool, sum(n) AS calls, count(*) AS keys, sum(n = 1) AS singleKeys,
           sum(n > 1) AS repeatedKeys, sum(distinct_outputs > 1) AS disagreeingKeys
         FROM (${perKey}) GROUP BY server, tool ORDER BY server, tool`,
      )
      .all() as StoreStats['perTool'];
    // Tools described in the catalog but never called still count as tools.
    const catalogOnly = this.#db.prepare('SELECT server, tool FROM tools WHERE calls = 0').all() as { server: string; tool: string }[];
    for (const { server, tool } of catalogOnly) {
      if (!perTool.some((row) => row.server === server && row.tool === tool)) {
        perTool.push({ server, tool, calls: 0, keys: 0, singleKeys: 0, repeatedKeys: 0, disagreeingKeys: 0 });
      }
    }
    perTool.sort((a, b) => (a.server === b.server ? (a.tool < b.tool ? -1 : 1) : a.server < b.server ? -1 : 1));
    const sum = (pick: (row: StoreStats['perTool'][number]) => number): number => perTool.reduce((acc, row) => acc + pick(row), 0);
    return {
      calls: sum((row) => row.calls),
      keys: sum((row) => row.keys),
      servers: new Set(perTool.map((row) => row.server)).size,
      tools: perTool.length,
      singleKeys: sum((row) => row.singleKeys),
      repeatedKeys: sum((row) => row.repeatedKeys),
      disagreeingKeys: sum((row) => row.disagreeingKeys),
      perTool,
    };
  }

  close(): void {
    if (!this.#db.open) return;
    if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
    this.#db.close();
  }
}

function identityHash(record: Buffer, ordinal: number): Buffer {
  return hash('sha256', Buffer.concat([record, Buffer.from(String(ordinal))]), 'buffer');
}

function xorInto(target: Buffer, source: Buffer): void {
  for (let i = 0; i < target.length; i++) target[i]! ^= source[i]!;
}

/** The snapshot id names the recordings' contents (and the key rules they were hashed under). */
function snapshotIdOf(content: Buffer, ignored: readonly string[]): string {
  return createHash('sha256')
    .update(`toolsim-snapshot-v${SCHEMA_VERSION}\0${JSON.stringify(ignored)}\0`)
    .update(content)
    .digest('hex')
    .slice(0, 32);
}
