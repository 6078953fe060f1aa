/**
 * Creating or migrating a PostgreSQL schema of ours on start (the memo's, src/store/memo-postgres.ts,
 * and the rollouts', src/rollouts/postgres-store.ts). In one transaction under an advisory lock, so
 * replicas that start together do it once: the version table is created if missing, a newer version
 * than this toolsim knows is refused, and the migrations still missing are run in order.
 *
 * In core/ because both parts use it and neither may import the other; it imports nothing of ours.
 */
import type pg from 'pg';

export interface PgSchema {
  /** The table holding the schema's version (one row). */
  table: string;
  /** The advisory lock's name (`pg_advisory_xact_lock(hashtext(lock))`). */
  lock: string;
  /** The version this toolsim knows; each entry of `migrations` takes the schema one version up. */
  version: number;
  migrations: readonly string[];
  /** What the database holds, for the refusal of a newer schema ("the memo database"). */
  what: string;
}

/** Brings the schema up to `schema.version`; throws (after a rollback) when it cannot. */
export async function migrateSchema(pool: pg.Pool, schema: PgSchema): Promise<void> {
  const { table, lock, version: known, migrations, what } = schema;
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [lock]);
    await client.query(`CREATE TABLE IF NOT EXISTS ${table} (version integer NOT NULL)`);
    const found = await client.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${table}`);
    const version = found.rows[0]?.version ?? 0;
    if (version > known) throw new Error(`${what} has schema version ${version}; this toolsim knows up to ${known}`);
    for (let v = version; v < known; v++) await client.query(migrations[v]!);
    if (version < known) {
      await client.query(`DELETE FROM ${table}`);
      await client.query(`INSERT INTO ${table} (version) VALUES ($1)`, [known]);
    }
    await client.query('COMMIT');
    client.release();
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    client.release(true);
    throw error;
  }
}
