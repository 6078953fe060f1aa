/**
 * toolsim runs on Node 20.19, 22.14 and 24 (package.json engines; .ci/run runs `toolsim stats` on
 * the sample, and builds the HTTP app, under the oldest and newest patch of each, and the suite on
 * 20 and 24). Node 20 before 20.19 cannot require() the ES modules under Fastify's static files
 * (Swagger UI), so `toolsim serve` fails there. The SQLite binding is chosen by the Node-API
 * version it needs: better-sqlite3 13 (Node-API 10, from Node 22.14) where there is one, 12
 * (compiled at install) on Node 20, where 13 would crash. docs/decisions/node-versions.md says why.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeMatrix } from '../scripts/node-matrix.mjs';
import { bindingFor, NAPI_FOR_13, SQLITE_BINDING, Sqlite, SUPPORTED_NODE } from '../src/store/sqlite.js';
import { ROOT, tempDir } from './helpers.js';

const major = Number(process.versions.node.split('.')[0]);
const require = createRequire(import.meta.url);
const { engines } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };

describe(`Node ${process.versions.node}`, () => {
  it('is a version package.json claims', () => {
    expect(engines.node).toBe('^20.19 || ^22.14 || ^24');
    expect(engines.node).toBe(SUPPORTED_NODE);
    expect([20, 22, 24]).toContain(major);
  });

  it('loads the SQLite binding made for it, and survives many collected statements', () => {
    const version = (require(`${SQLITE_BINDING}/package.json`) as { version: string }).version;
    expect(Number(version.split('.')[0])).toBe(Number(process.versions.napi) >= 10 ? 13 : 12);
    expect(Number(version.split('.')[0])).toBe(major >= 22 ? 13 : 12);
    const db = new Sqlite(join(tempDir(), 'x.db'));
    // Statements left to the garbage collector: what aborts better-sqlite3 12 on Node 24.
    let sum = 0;
    for (let i = 0; i < 20_000; i++) sum += (db.prepare('select ? as v').get(i) as { v: number }).v;
    expect(sum).toBe((20_000 * 19_999) / 2);
    db.close();
  });
});

describe('the binding by Node-API version', () => {
  it('is 13 from Node-API 10 (Node 22.14, 24) and 12 before (Node 20; 22.0-22.13 are outside engines)', () => {
    expect(NAPI_FOR_13).toBe(10);
    expect(bindingFor(9)).toBe('better-sqlite3');
    expect(bindingFor(10)).toBe('better-sqlite3-napi');
    expect(bindingFor(11)).toBe('better-sqlite3-napi');
  });
});

describe('the CI matrix (scripts/node-matrix.mjs)', () => {
  const published = [
    '20.11.1',
    '20.12.0',
    '20.18.3',
    '20.19.0',
    '20.20.2',
    '22.0.0',
    '22.13.1',
    '22.14.0',
    '22.23.3',
    '23.6.0',
    '24.0.0',
    '24.21.0',
    '25.0.0',
  ];

  it('is the oldest and newest published patch of every range engines admits, and nothing else', () => {
    expect(nodeMatrix(engines.node, published)).toEqual(['20.19.0', '20.20.2', '22.14.0', '22.23.3', '24.0.0', '24.21.0']);
  });

  it('refuses a range it cannot read, so engines stays a list of majors CI can expand', () => {
    expect(() => nodeMatrix('>=20', published)).toThrow(/only \^major/);
    expect(() => nodeMatrix('^26', published)).toThrow(/no published Node/);
  });
});
