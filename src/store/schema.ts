/**
 * The cache's tables, the schema version they carry, and the triggers that keep a serving
 * connection from writing them.
 *
 * Version 2 is laid out for bulk loading and for lookups by integer:
 * - `calls` holds one small row per recorded call, in ingest order. Its hashes are looked up by a
 *   48-bit integer prefix (`key_prefix`, `identity`); the full hash sits in the row and is compared
 *   on a prefix match, so a prefix collision costs a second row read, never a wrong answer.
 * - `outputs` holds each distinct output text once (tools answer the same text to many calls);
 *   a call points at it by `output_id`. Reading the arguments of a tool (the neighbour index)
 *   therefore never reads outputs.
 * - `tools` numbers each (server, tool); a call carries the number.
 * A column added later (a flag per call, say) goes at the end of `calls` with a default.
 */
import type Database from 'better-sqlite3';
import { KEY_VERSION } from '../core/canonical.js';

export const SCHEMA_VERSION = 3;

/** Older versions this toolsim still reads, and upgrades when it opens them to write. */
export const UPGRADABLE_VERSIONS: readonly number[] = [2];

/** Pages of a new cache: large pages make the bulk load and the sequential scans cheaper. */
export const PAGE_SIZE = 16_384;

const TABLES = `
CREATE TABLE IF NOT EXISTS meta (
  name  TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS tools (
  id           INTEGER PRIMARY KEY,
  server       TEXT NOT NULL,
  tool         TEXT NOT NULL,
  description  TEXT,
  input_schema TEXT,
  calls        INTEGER NOT NULL DEFAULT 0,
  output_schema TEXT,
  annotations  TEXT,
  output_check TEXT,
  UNIQUE (server, tool)
);

CREATE TABLE IF NOT EXISTS outputs (
  id     INTEGER PRIMARY KEY,
  prefix INTEGER NOT NULL,
  text   TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS calls (
  id            INTEGER PRIMARY KEY,
  key_prefix    INTEGER NOT NULL,
  identity      INTEGER NOT NULL,
  tool_id       INTEGER NOT NULL,
  output_id     INTEGER NOT NULL,
  is_error      INTEGER NOT NULL,
  ordinal       INTEGER NOT NULL,
  key           BLOB NOT NULL,
  record        BLOB NOT NULL,
  arguments     TEXT NOT NULL,
  trajectory_id TEXT,
  node_id       TEXT,
  recorded_at   TEXT,
  source        TEXT,
  metadata      TEXT,
  transient     INTEGER NOT NULL DEFAULT 0
);

-- Needed while loading: an ingest looks up every output before writing it.
CREATE INDEX IF NOT EXISTS outputs_by_prefix ON outputs (prefix);
`;

/**
 * An ingest looks up every row's identity before writing it ("already present"), except while a
 * new cache loads its first input, whose identities cannot repeat (the ordinal counts repeats):
 * a new cache builds this index when its second input starts, or at its end.
 */
export const IDENTITY_INDEX = 'CREATE INDEX IF NOT EXISTS calls_identity ON calls (identity)';

/** Indexes only readers need: a fresh cache builds them once, after its rows are in. */
export const READ_INDEXES = `
CREATE INDEX IF NOT EXISTS calls_by_key ON calls (key_prefix);
-- Integer columns only: an append inserts into it at random, and a small index stays in the page
-- cache. Reading a tool's distinct keys sorts them (argumentsOf), once per neighbour index.
CREATE INDEX IF NOT EXISTS calls_by_tool ON calls (tool_id, key_prefix);
`;

/** The `meta` row every committed ingest changes (the snapshot id alone stays when only descriptions change). */
export const COMMIT_ID = 'commit_id';

/** Tables a serving connection must never write. */
const RECORDING_TABLES = ['calls', 'outputs', 'tools', 'meta'] as const;

/** The schema version of the cache open on `db`, or undefined when it holds no toolsim schema. */
export function schemaVersion(db: Database.Database): number | undefined {
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get();
  if (!table) return undefined;
  const row = db.prepare("SELECT value FROM meta WHERE name = 'schema_version'").get() as { value: string } | undefined;
  return row ? Number(row.value) : undefined;
}

/**
 * The key version the cache's keys were computed with (docs/canonical-key.md). Caches from before
 * it was recorded hold `toolsim-key-v1` keys.
 */
export function keyVersion(db: Database.Database): string {
  const row = db.prepare("SELECT value FROM meta WHERE name = 'key_version'").get() as { value: string } | undefined;
  return row?.value ?? 'toolsim-key-v1';
}

/**
 * Creates the tables in an empty database and records their version and the key version; with `deferReadIndexes`,
 * the readers' indexes are left for `createReadIndexes` once the rows are in.
 */
export function createSchema(db: Database.Database, deferReadIndexes = false): void {
  db.exec(TABLES);
  if (!deferReadIndexes) {
    db.exec(IDENTITY_INDEX);
    db.exec(READ_INDEXES);
  }
  db.prepare('INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)').run('schema_version', String(SCHEMA_VERSION));
  db.prepare('INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)').run('key_version', KEY_VERSION);
}

/**
 * Takes a cache of an UPGRADABLE_VERSIONS version to SCHEMA_VERSION, in one transaction that reads
 * the version again (two processes opening the same old cache upgrade it once).
 */
export function upgradeSchema(db: Database.Database): void {
  db.transaction(() => {
    const from = schemaVersion(db);
    if (from === SCHEMA_VERSION) return;
    if (from === 2) {
      db.exec('ALTER TABLE tools ADD COLUMN output_schema TEXT');
      db.exec('ALTER TABLE tools ADD COLUMN annotations TEXT');
      db.exec('ALTER TABLE tools ADD COLUMN output_check TEXT');
    }
    db.prepare('INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)').run('schema_version', String(SCHEMA_VERSION));
  }).immediate();
}

/** Whether the `tools` table has the columns of version 3 (a version 2 cache read in place has not). */
export function hasToolRecordColumns(db: Database.Database): boolean {
  return (db.prepare("SELECT 1 FROM pragma_table_info('tools') WHERE name = 'annotations'").get() as unknown) !== undefined;
}

export function createReadIndexes(db: Database.Database): void {
  db.exec(IDENTITY_INDEX);
  db.exec(READ_INDEXES);
}

/** Makes this connection refuse every write to the recordings, by temporary triggers (its own). */
export function refuseRecordingWrites(db: Database.Database): void {
  for (const table of RECORDING_TABLES) {
    for (const action of ['INSERT', 'UPDATE', 'DELETE']) {
      db.exec(`CREATE TEMP TRIGGER ${table}_${action.toLowerCase()}_refused BEFORE ${action} ON main.${table}
            BEGIN SELECT RAISE(ABORT, 'the recordings are read-only while serving'); END`);
    }
  }
}

/** The 48-bit prefix of a hash, as the integer the tables index (exact in a JS number). */
export function prefixOf(hash: Buffer): number {
  return hash.readIntBE(0, 6);
}

/**
 * Puts a cache back to rest (rollback-journal mode, which a read-only mount can open) when the
 * connection closing is the last one; with any other still open, SQLite refuses at once and the
 * file stays in WAL mode for them.
 */
export function restInRollbackMode(db: Database.Database): void {
  try {
    db.pragma('busy_timeout = 0');
    db.pragma('journal_mode = DELETE');
  } catch {
    // still in use by another connection
  }
}
