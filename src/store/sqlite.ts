/**
 * The SQLite binding for the running Node, chosen by what each binding needs
 * (docs/decisions/node-versions.md):
 * - better-sqlite3 13 (the `better-sqlite3-napi` alias) is a prebuilt Node-API binary that needs
 *   Node-API 10 (Node 22.14 and later, 24); loaded on a Node without it, it segfaults.
 * - better-sqlite3 12 is compiled at install for the installing Node's ABI (Node 20 here); it aborts
 *   on Node 24 when a collected statement is finalized (`RemoveEnvironmentCleanupHook: (env) !=
 *   nullptr`), so it is used only where Node-API 10 is missing.
 * A Node with neither (22.0 to 22.13: Node-API 9, and not the ABI 12 was compiled for) gets an
 * error naming the versions toolsim runs on instead of a crash. Their APIs are the same for what
 * toolsim uses; the suite runs on both (.ci/run).
 */
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

const require = createRequire(import.meta.url);

/** The Node-API version better-sqlite3 13 needs. */
export const NAPI_FOR_13 = 10;

/** The Node versions toolsim runs on (package.json `engines`, each major's oldest and newest patch run in CI). */
export const SUPPORTED_NODE = '^20.19 || ^22.14 || ^24';

/** The binding package for a Node offering this Node-API version. */
export function bindingFor(napi: number): 'better-sqlite3-napi' | 'better-sqlite3' {
  return napi >= NAPI_FOR_13 ? 'better-sqlite3-napi' : 'better-sqlite3';
}

const napi = Number(process.versions.napi ?? 0);
export const SQLITE_BINDING = bindingFor(napi);

function load(): typeof BetterSqlite3 {
  const Database = require(SQLITE_BINDING) as typeof BetterSqlite3;
  try {
    // The native addon loads with the first database: load it now, where a failure can be explained.
    new Database(':memory:').close();
    return Database;
  } catch (error) {
    const reason = error instanceof Error ? error.message.replace(/\s+/g, ' ') : String(error);
    const explained = new Error(
      `SQLite does not load on Node ${process.versions.node} (Node-API ${napi}); toolsim runs on Node ${SUPPORTED_NODE}: ` +
        `better-sqlite3 13 needs Node-API ${NAPI_FOR_13} (Node 22.14 and later), and 12 runs only on the Node that compiled it at install ` +
        `(npm rebuild better-sqlite3 under this Node recompiles it). ${reason}`,
      { cause: error },
    );
    // Thrown where a database is opened (each command reports it as its error), not at import.
    const fail = (): never => {
      throw explained;
    };
    return new Proxy(Database, { construct: fail, apply: fail });
  }
}

/** The better-sqlite3 Database constructor (types from @types/better-sqlite3). */
export const Sqlite = load();
