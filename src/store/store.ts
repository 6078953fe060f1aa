/**
 * The recordings on disk: SQLite through better-sqlite3, opened once with its pragmas, every
 * statement prepared once. Knows nothing of tiers or HTTP. Reads live here; an ingest writes
 * through the `IngestWriter` that `beginIngest` returns.
 *
 * An observation is one recorded call. Its identity is (record, ordinal): `record` hashes the whole
 * log record, `ordinal` counts earlier identical records in the same input, so ingesting a file twice
 * adds nothing while a call recorded twice in one trajectory stays two observations.
 */
import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type Database from 'better-sqlite3';
import { KEY_VERSION } from '../core/canonical.js';
import { StorageError } from '../core/errors.js';
import type { JsonObject, Observation, OutputCheck, ToolAnnotations, ToolInfo } from '../core/types.js';
import { IngestLock } from './ingest-lock.js';
import { IngestWriter } from './ingest-writer.js';
import {
  COMMIT_ID,
  createSchema,
  hasToolRecordColumns,
  keyVersion,
  PAGE_SIZE,
  prefixOf,
  refuseRecordingWrites,
  restInRollbackMode,
  SCHEMA_VERSION,
  schemaVersion,
  UPGRADABLE_VERSIONS,
  upgradeSchema,
} from './schema.js';
import { emptyFingerprint } from './snapshot-id.js';
import { Sqlite } from './sqlite.js';
import { readStats, type StoreStats } from './stats.js';
import { checkpoint, checkpointOffThread, setWalLimits, WAL_SIZE_LIMIT, walBytes } from './wal.js';

/** A recorded server's identity (from its MCP `initialize` answer); every field optional. */
export interface ServerInfo {
  name?: string;
  version?: string;
  instructions?: string;
  protocol_version?: string;
}

/** One distinct recorded answer of a tool, and how many recorded calls it answered (`outputsOf`). */
export interface RecordedOutput {
  outputJson: string;
  isError: boolean;
  calls: number;
}

export interface RecordedArguments {
  key: string;
  arguments: string;
}

/** One recorded call, as `recordedCalls` reads it back. */
export interface RecordedCall {
  /** Hex call key (docs/canonical-key.md). */
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
   * Read one snapshot for the life of the store, so that every read sees the same recordings even
   * while an ingest commits into the same file (WAL). Implies `readonly`. The snapshot is held by a
   * read transaction that is renewed every `repinMs` on a second connection while no ingest has
   * committed (docs/decisions/bounded-wal.md), so that it never keeps the WAL from being
   * checkpointed for longer than that.
   */
  pinSnapshot?: boolean;
  /**
   * How often a pinned snapshot's read transaction is renewed, in ms (default `REPIN_MS`); 0 for a
   * store that lives a moment (one connection, never renewed).
   */
  repinMs?: number;
}

/** How often a serving store renews its read transaction (`OpenOptions.repinMs`). */
export const REPIN_MS = 2_000;

/** What a renewal of the pinned read transaction did (`Store.repin`). */
export type RepinResult = 'repinned' | 'changed' | 'busy' | 'unpinned';

/** The statements a store reads with, prepared once per connection. */
class Queries {
  readonly meta: Database.Statement<[string], { value: string }>;
  readonly observations: Database.Statement<
    [number],
    { key: Buffer; output: string; is_error: number; transient: number; trajectory_id: string | null }
  >;
  readonly argumentsOfTool: Database.Statement<[string, string], { key: Buffer; arguments: string }>;
  readonly catalog: Database.Statement<
    [],
    {
      server: string;
      tool: string;
      description: string | null;
      input_schema: string | null;
      output_schema: string | null;
      annotations: string | null;
      output_check: string | null;
      calls: number;
    }
  >;
  readonly outputsOfTool: Database.Statement<[string, string], { output: string; is_error: number; n: number }>;
  readonly callCount: Database.Statement<[], { n: number }>;
  readonly anyCall: Database.Statement<[], unknown>;
  readonly calls: Database.Statement<[], CallColumns>;

  constructor(readonly db: Database.Database) {
    this.meta = db.prepare('SELECT value FROM meta WHERE name = ?');
    this.observations = db.prepare(
      `SELECT c.key, o.text AS output, c.is_error, c.transient, c.trajectory_id
        FROM calls c JOIN outputs o ON o.id = c.output_id WHERE c.key_prefix = ? ORDER BY c.id`,
    );
    this.argumentsOfTool = db.prepare(
      `SELECT key, min(arguments) AS arguments FROM calls
        WHERE tool_id = (SELECT id FROM tools WHERE server = ? AND tool = ?) GROUP BY key ORDER BY min(id)`,
    );
    // A version 2 cache read in place has no output schemas or annotations (schema.ts).
    const recordColumns = hasToolRecordColumns(db)
      ? 'output_schema, annotations, output_check'
      : 'NULL AS output_schema, NULL AS annotations, NULL AS output_check';
    this.catalog = db.prepare(`SELECT server, tool, description, input_schema, ${recordColumns}, calls FROM tools ORDER BY server, tool`);
    // Grouped before the join: each distinct output text is read once, however many calls it answered.
    this.outputsOfTool = db.prepare(
      `SELECT o.text AS output, g.is_error, g.n FROM (
         SELECT output_id, is_error, count(*) AS n, min(id) AS first FROM calls
          WHERE tool_id = (SELECT id FROM tools WHERE server = ? AND tool = ?) AND transient = 0
          GROUP BY output_id, is_error
       ) g JOIN outputs o ON o.id = g.output_id ORDER BY g.first`,
    );
    this.callCount = db.prepare('SELECT total(calls) AS n FROM tools');
    this.anyCall = db.prepare('SELECT 1 FROM calls LIMIT 1');
    this.calls = db.prepare(
      `SELECT c.key, t.server, t.tool, c.arguments, o.text AS output, c.is_error, c.transient, c.trajectory_id, c.node_id, c.recorded_at, c.source, c.metadata
        FROM calls c JOIN tools t ON t.id = c.tool_id JOIN outputs o ON o.id = c.output_id ORDER BY c.id`,
    );
  }

  /** What names the committed state of the recordings: changed by every ingest that commits. */
  version(): string {
    return `${this.meta.get('snapshot_id')?.value ?? ''}/${this.meta.get(COMMIT_ID)?.value ?? ''}`;
  }
}

/** Where an ingest into a new cache writes before the cache exists. */
export function buildPathOf(path: string): string {
  return `${path}.building`;
}

export class Store {
  readonly path: string;
  /** The cache is on a read-only mount (or file): it serves, but nothing can be written beside it. */
  readonly readOnlyMedia: boolean;
  /** Set for a store made by `build`: the path it is renamed to by `publish`. */
  readonly #target: string | undefined;
  /** A store made by `build` holds the ingest lock of its target until published or discarded. */
  #buildLock: IngestLock | undefined;
  /** Opened for ingest (not for serving or reading). */
  readonly #writable: boolean;
  #fault: StorageError | undefined;
  #onFault: ((error: StorageError, cause: unknown) => void) | undefined;
  /** The connection (and its statements) every read goes through; for a pinned store, in its read transaction. */
  #q: Queries;
  /** A pinned store's second connection, which takes the next read transaction before the current one ends. */
  #spare: Queries | undefined;
  /** The pinned snapshot's `Queries.version`. */
  #pinned: string | undefined;
  #repinTimer: NodeJS.Timeout | undefined;
  /** Iterations over `recordedCalls` under way: the connection cannot end its transaction meanwhile. */
  #iterating = 0;
  /** The checkpoint of a large WAL in a worker thread: none, under way, or done (the next renewal truncates). */
  #offThread: 'none' | 'running' | 'done' = 'none';

  private constructor(path: string, db: Database.Database, writable: boolean, readOnlyMedia: boolean, target?: string) {
    this.path = path;
    this.#writable = writable;
    this.#q = new Queries(db);
    this.readOnlyMedia = readOnlyMedia;
    this.#target = target;
  }

  get #db(): Database.Database {
    return this.#q.db;
  }

  /** Opens (and, unless read-only, creates) the cache at `path`. */
  static open(path: string, options: OpenOptions = {}): Store {
    const readonly = Boolean(options.readonly || options.pinSnapshot);
    if (path !== ':memory:' && !readonly) mkdirSync(dirname(path), { recursive: true });
    // SQLite's own words for a missing file ("unable to open database file") say nothing of what to do.
    if (readonly && path !== ':memory:' && !existsSync(path))
      throw new Error(`no cache at ${path}: run \`npm run sample\` or \`toolsim ingest FILE --db ${path}\` first`);
    if (path !== ':memory:' && existsSync(path) && statSync(path).isDirectory())
      throw new Error(`${path} is a directory; --db names the cache file (e.g. ${join(path, 'toolsim.db')})`);
    const { db, readOnlyMedia } = Store.#connect(path, readonly, options.pinSnapshot);
    const store = new Store(path, db, !readonly, readOnlyMedia);
    if (options.pinSnapshot) {
      try {
        // A read-only mount has no WAL and nothing writes it: one read transaction holds nothing up there.
        const renewed = (options.repinMs ?? REPIN_MS) > 0;
        if (renewed && !readOnlyMedia && path !== ':memory:') store.#spare = new Queries(Store.#connect(path, true, true).db);
        store.#pin(store.#q);
        store.#pinned = store.#q.version();
      } catch (error) {
        store.close();
        throw error;
      }
      if (store.#spare) {
        store.#repinTimer = setInterval(() => {
          try {
            store.repin();
          } catch {
            // a renewal that failed leaves the snapshot as it was; the next one tries again
          }
        }, options.repinMs ?? REPIN_MS);
        store.#repinTimer.unref();
      }
    }
    return store;
  }

  /** One connection to the cache at `path`, checked and set up. */
  static #connect(path: string, readonly: boolean, pinned = false): { db: Database.Database; readOnlyMedia: boolean } {
    const db = new Sqlite(path, { fileMustExist: readonly });
    let readOnlyMedia = false;
    try {
      db.pragma('busy_timeout = 5000');
      try {
        db.pragma('journal_mode = WAL');
      } catch (error) {
        // A read-only mount: SQLite opened the file read-only; it is read in place, as it rests.
        if (!readonly || (error as { code?: string }).code !== 'SQLITE_READONLY') throw error;
        readOnlyMedia = true;
      }
      db.pragma('synchronous = NORMAL');
      setWalLimits(db);
      // Serving reads keys at random across the file, which the OS page cache holds anyway; a large
      // private cache there would count the same pages twice in the server's RSS. A pinned store's
      // two connections take turns: 8 MB each.
      db.pragma(readonly ? `cache_size = ${pinned ? -8192 : -16384}` : 'cache_size = -65536');
      const version = schemaVersion(db);
      if (version === undefined) {
        if (readonly) throw new Error(`${path} is not a toolsim cache (no schema); run \`toolsim ingest\` first`);
        createSchema(db);
      } else if (version !== SCHEMA_VERSION && !UPGRADABLE_VERSIONS.includes(version)) {
        throw new Error(
          `${path} has cache schema version ${version}; this toolsim reads version ${SCHEMA_VERSION}: ingest its logs again into a new cache (toolsim ingest FILE... --db NEW)`,
        );
      } else if (keyVersion(db) !== KEY_VERSION) {
        // Keys of another version never match a call's key: every lookup would miss.
        throw new Error(
          `${path} holds call keys of version ${keyVersion(db)}; this toolsim computes ${KEY_VERSION}. Re-ingest the logs into a new cache (toolsim ingest FILE... --db NEW_PATH)`,
        );
      }
      if (version !== undefined && version !== SCHEMA_VERSION && !readonly) upgradeSchema(db);
      if (readonly) refuseRecordingWrites(db);
    } catch (error) {
      db.close();
      throw error;
    }
    return { db, readOnlyMedia };
  }

  /**
   * Begins a read transaction on `q` and fixes its snapshot (a deferred transaction takes it at
   * its first read). Nothing may be written on a pinned connection: writers use another.
   */
  #pin(q: Queries): void {
    q.db.exec('BEGIN');
    q.meta.get('snapshot_id');
  }

  /**
   * Renews a pinned store's read transaction without letting go of its snapshot: the spare
   * connection checkpoints what it can of the WAL, begins a read transaction and, if the
   * recordings are still the ones pinned (no ingest committed since), becomes the connection
   * reads go through while the other ends its transaction. When an ingest has committed, the old
   * transaction stays until the store is replaced (a reload) or closed. Runs by itself every
   * `repinMs`; exposed for tests.
   */
  repin(): RepinResult {
    const spare = this.#spare;
    if (!spare || !this.#db.open) return 'unpinned';
    // An iteration under way reads through the current connection: its transaction must stay.
    if (this.#iterating > 0) return 'busy';
    // Copies into the file what no reader still needs (never waits). A fully checkpointed WAL lets
    // the next read transaction read from the file alone, which lets a writer start the WAL over.
    // A large WAL (an ingest's) takes seconds to copy: a worker thread does it, and a renewal
    // after it reads from the file alone.
    const large = walBytes(this.path) > WAL_SIZE_LIMIT;
    if (large && this.#offThread === 'none') {
      this.#offThread = 'running';
      void checkpointOffThread(this.path).then(() => {
        this.#offThread = 'done';
      });
    }
    const copying = this.#offThread === 'running';
    try {
      if (!copying) checkpoint(spare.db, 'PASSIVE');
      this.#pin(spare);
      if (spare.version() !== this.#pinned) {
        spare.db.exec('ROLLBACK');
        return 'changed';
      }
    } catch {
      if (spare.db.inTransaction) spare.db.exec('ROLLBACK');
      return 'busy';
    }
    const old = this.#q;
    try {
      old.db.exec('COMMIT');
    } catch {
      // Reads go on through the old transaction (whatever ended it): the new one is let go.
      spare.db.exec('ROLLBACK');
      return 'busy';
    }
    this.#q = spare;
    this.#spare = old;
    // A WAL left large by an ingest is cut to nothing once the worker has copied it and every
    // reader reads the file alone.
    if (large && this.#offThread === 'done') {
      checkpoint(old.db, 'TRUNCATE');
      this.#offThread = 'none';
    }
    return 'repinned';
  }

  /**
   * A new, empty cache for `target` (which must not exist yet), written in a temporary file beside
   * it: no journal on disk, no syncs, the readers' indexes built after the rows. `publish` moves it into
   * place; `discard` (or a killed process) leaves `target` untouched. It holds the ingest lock of
   * `target` until then, so a temporary file found here is a dead ingest's and is replaced.
   */
  static build(target: string): Store {
    const path = buildPathOf(target);
    mkdirSync(dirname(target), { recursive: true });
    const lock = IngestLock.acquire(target);
    let db: Database.Database | undefined;
    try {
      for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
      db = new Sqlite(path);
      db.pragma(`page_size = ${PAGE_SIZE}`);
      // No journal on disk (better-sqlite3's defensive mode refuses OFF): pages past the file's
      // original end, which is every page here, are never journaled anyway.
      db.pragma('journal_mode = MEMORY');
      db.pragma('synchronous = OFF');
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('cache_size = -65536');
      createSchema(db, true);
    } catch (error) {
      db?.close();
      lock.release();
      throw error;
    }
    const store = new Store(path, db, true, false, target);
    store.#buildLock = lock;
    return store;
  }

  /** Moves a cache made by `build` into place, whole, and closes this store. */
  publish(): void {
    try {
      this.#publish();
    } finally {
      this.#buildLock?.release();
    }
  }

  #publish(): void {
    const target = this.#target;
    if (target === undefined) throw new Error('publish: this store was not made by Store.build');
    if (this.#db.inTransaction) throw new Error('publish: an ingest into this store has not finished');
    // At rest in rollback-journal mode, so that a read-only mount can open it.
    this.#db.pragma('journal_mode = DELETE');
    this.#db.close();
    const fd = openSync(this.path, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const appeared = (): Error => new Error(`${target} appeared while it was being built; the new cache stays in ${this.path}`);
    if (existsSync(target)) throw appeared();
    // A journal left by a cache once at this path would be applied to the new one: none may stay.
    for (const suffix of ['-journal', '-wal', '-shm']) rmSync(`${target}${suffix}`, { force: true });
    // Linked, not renamed: a cache that appeared at `target` meanwhile is never replaced.
    try {
      linkSync(this.path, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      throw appeared();
    }
    // Published: what follows must not report a failure.
    try {
      rmSync(this.path, { force: true });
    } catch {
      // a second name of the published file; the next ingest into a new cache replaces it
    }
    try {
      const dir = openSync(dirname(target), 'r');
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
    } catch {
      // not every platform or file system syncs a directory; the link itself is atomic
    }
  }

  /** Closes and removes a cache made by `build` that will not be published. */
  discard(): void {
    if (this.#target === undefined) throw new Error('discard: this store was not made by Store.build');
    this.close();
    rmSync(this.path, { force: true });
    this.#buildLock?.release();
  }

  /**
   * Starts an ingest: holds the cache to the ignored argument names (fixed by the first ingest,
   * docs/canonical-key.md) and returns what writes it, in one transaction until `finish` or `abort`.
   */
  beginIngest(ignoredArguments: readonly string[] = []): IngestWriter {
    if (!this.#writable) throw new Error('the recordings are read-only while serving: ingest through a store opened for writing');
    const lockPath = this.path === ':memory:' ? undefined : (this.#target ?? this.path);
    return IngestWriter.begin(this.#db, this, lockPath, ignoredArguments);
  }

  /** Whether this store writes a new cache that `publish` will move into place. */
  get building(): boolean {
    return this.#target !== undefined;
  }

  /**
   * The first storage error a read met, if any: the file is damaged or unreadable, and this
   * store should no longer be counted on (the instance is not ready).
   */
  get fault(): StorageError | undefined {
    return this.#fault;
  }

  /** Called once, with the error and its cause, when the first storage error is met. */
  onFault(listener: (error: StorageError, cause: unknown) => void): void {
    this.#onFault = listener;
  }

  /** Runs a read; an error from SQLite becomes a `StorageError` (the first one is reported). */
  #read<T>(what: string, read: () => T): T {
    try {
      return read();
    } catch (error) {
      if (!(error instanceof Sqlite.SqliteError)) throw error;
      // Clients see this message: no path (the server log names the file).
      const fault = new StorageError(`the cache could not be read (${what}): ${error.code}: ${error.message}`);
      if (this.#fault === undefined) {
        this.#fault = fault;
        this.#onFault?.(fault, error);
      }
      throw fault;
    }
  }

  /** The identity recorded for a server, if any. */
  serverInfo(server: string): ServerInfo | undefined {
    const raw = this.#read('server info', () => this.#q.meta.get(`server_info:${server}`)?.value);
    return raw === undefined ? undefined : (JSON.parse(raw) as ServerInfo);
  }

  /** Changes whenever the recordings change; memoized improvisations are tied to it. */
  get snapshotId(): string {
    return this.#q.meta.get('snapshot_id')?.value ?? 'empty';
  }

  /** Argument names dropped before hashing, fixed by the first ingest (docs/canonical-key.md). */
  get ignoredArguments(): string[] {
    const raw = this.#q.meta.get('ignore_args')?.value;
    return raw ? (JSON.parse(raw) as string[]) : [];
  }

  /**
   * XOR of the identities of every recording, as committed: equal contents give equal values,
   * whatever the order.
   */
  contentFingerprint(): Buffer {
    const hex = this.#q.meta.get('content')?.value;
    return hex ? Buffer.from(hex, 'hex') : emptyFingerprint();
  }

  /** Every recorded observation of a key, in ingest order. */
  observations(key: string): Observation[] {
    const wanted = Buffer.from(key, 'hex');
    const rows = this.#read('observations', () => this.#q.observations.all(prefixOf(wanted)));
    const found: Observation[] = [];
    // Rows share the key's prefix; the full key decides.
    for (const row of rows) {
      if (!row.key.equals(wanted)) continue;
      found.push({ outputJson: row.output, isError: row.is_error === 1, transient: row.transient === 1, trajectoryId: row.trajectory_id });
    }
    return found;
  }

  /**
   * Every distinct key of one tool with its canonical arguments, in first-recorded order, for the
   * neighbour index. Reads the calls' small rows only, never the outputs.
   */
  argumentsOf(server: string, tool: string): RecordedArguments[] {
    return this.#read('arguments', () =>
      this.#q.argumentsOfTool.all(server, tool).map((row) => ({ key: row.key.toString('hex'), arguments: row.arguments })),
    );
  }

  /**
   * The distinct recorded answers of one tool (recorded infrastructure failures left out), each with
   * the number of calls it answered, in first-recorded order, read as the loop goes (for learning
   * the tool's output shape: src/shapes/). Until it ends, this connection can run nothing else.
   */
  *outputsOf(server: string, tool: string): Generator<RecordedOutput, void, undefined> {
    // An iteration under way reads through the current connection: a renewal waits for it.
    this.#iterating++;
    try {
      const rows = this.#read('outputs', () => this.#q.outputsOfTool.iterate(server, tool));
      for (const row of rows) yield { outputJson: row.output, isError: row.is_error === 1, calls: row.n };
    } finally {
      this.#iterating--;
    }
  }

  /**
   * Every recorded call in ingest order, read as the loop goes: until it ends, this connection
   * can run nothing else.
   */
  *recordedCalls(): Generator<RecordedCall, void, undefined> {
    this.#iterating++;
    try {
      yield* this.#recordedCalls();
    } finally {
      this.#iterating--;
    }
  }

  *#recordedCalls(): Generator<RecordedCall, void, undefined> {
    for (const row of this.#q.calls.iterate()) {
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
    return this.#read('catalog', () => this.#q.catalog.all()).map((row) => {
      const info: ToolInfo = { server: row.server, tool: row.tool, calls: row.calls };
      if (row.description !== null) info.description = row.description;
      if (row.input_schema !== null) info.input_schema = JSON.parse(row.input_schema) as JsonObject;
      if (row.output_schema !== null) info.output_schema = JSON.parse(row.output_schema) as JsonObject;
      if (row.annotations !== null) info.annotations = JSON.parse(row.annotations) as ToolAnnotations;
      if (row.output_check !== null && row.output_schema !== null) info.output_check = JSON.parse(row.output_check) as OutputCheck;
      return info;
    });
  }

  /**
   * Recorded calls, from the per-tool counts every ingest ends by writing: O(tools), where
   * count(*) would scan an index of every call at each start of the server.
   */
  callCount(): number {
    return this.#read('call count', () => this.#q.callCount.get()!.n);
  }

  /** Whether any call is recorded. */
  hasCalls(): boolean {
    return this.#q.anyCall.get() !== undefined;
  }

  /** Distinct output texts stored (each stored once, however many calls answer it). */
  outputCount(): number {
    return (this.#db.prepare('SELECT count(*) AS n FROM outputs').get() as { n: number }).n;
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
    clearInterval(this.#repinTimer);
    this.#repinTimer = undefined;
    if (!this.#db.open) return;
    const spare = this.#spare?.db;
    this.#spare = undefined;
    if (spare?.open) {
      if (spare.inTransaction) spare.exec('ROLLBACK');
      spare.close();
    }
    if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
    if (!this.readOnlyMedia && this.#target === undefined && this.path !== ':memory:') restInRollbackMode(this.#db);
    this.#db.close();
  }
}
