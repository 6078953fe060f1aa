/**
 * toolsim runs on Node 20.19+, 22.13+ and 24 (package.json engines; .ci/run runs the suite on 20 and
 * 24). The SQLite binding is the one that works on the running Node: better-sqlite3 12 on Node 20,
 * 13 (Node-API) on 22 and later, where 12 aborts when a collected statement is finalized.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SQLITE_BINDING, Sqlite } from '../src/store/sqlite.js';
import { ROOT, tempDir } from './helpers.js';

const major = Number(process.versions.node.split('.')[0]);
const require = createRequire(import.meta.url);

describe(`Node ${process.versions.node}`, () => {
  it('is a version package.json claims', () => {
    const { engines } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    expect(engines.node).toBe('^20.19 || ^22.13 || ^24');
    expect([20, 22, 24]).toContain(major);
  });

  it('loads the SQLite binding made for it, and survives many collected statements', () => {
    const version = (require(`${SQLITE_BINDING}/package.json`) as { version: string }).version;
    expect(Number(version.split('.')[0])).toBe(major >= 22 ? 13 : 12);
    const db = new Sqlite(join(tempDir(), 'x.db'));
    // Statements left to the garbage collector: what aborts better-sqlite3 12 on Node 24.
    let sum = 0;
    for (let i = 0; i < 20_000; i++) sum += (db.prepare('select ? as v').get(i) as { v: number }).v;
    expect(sum).toBe((20_000 * 19_999) / 2);
    db.close();
  });
});
