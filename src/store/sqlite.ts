/**
 * The SQLite binding for the running Node. better-sqlite3 12 (compiled at install) aborts on
 * Node 24 when a collected statement is finalized (`RemoveEnvironmentCleanupHook: (env) !=
 * nullptr`: Node 24's ObjectWrap registers a cleanup hook its destructor cannot remove after the
 * environment is gone); 13 is a Node-API build with prebuilt binaries for Node 22 and later, and
 * crashes on Node 20. So Node 20 loads 12 and Node 22 and later load 13 (the `better-sqlite3-napi`
 * alias). Their APIs are the same for what toolsim uses; the suite runs on both (.ci/run).
 */
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

const require = createRequire(import.meta.url);
const major = Number(process.versions.node.split('.')[0]);

export const SQLITE_BINDING = major >= 22 ? 'better-sqlite3-napi' : 'better-sqlite3';

/** The better-sqlite3 Database constructor (types from @types/better-sqlite3). */
export const Sqlite = require(SQLITE_BINDING) as typeof BetterSqlite3;
