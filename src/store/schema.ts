/**
 * The cache's tables, the schema version they carry, and the triggers that keep a serving
 * connection from writing them.
 */
import type Database from 'better-sqlite3';
import { KEY_VERSION } from '../core/canonical.js';

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
  metadata      TEXT,
  transient     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS calls_by_key ON calls (key);
CREATE INDEX IF NOT EXISTS calls_by_tool ON calls (server, tool);
CREATE UNIQUE INDEX IF NOT EXISTS calls_identity ON calls (record, ordinal);
`;

/** Tables a serving connection must never write. */
const RECORDING_TABLES = ['calls', 'tools', 'meta'] as const;

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

/** Creates the tables in an empty database and records their version and the key version. */
export function createSchema(db: Database.Database): void {
  db.exec(SCHEMA);
  db.prepare('INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)').run('schema_version', String(SCHEMA_VERSION));
  db.prepare('INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)').run('key_version', KEY_VERSION);
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
