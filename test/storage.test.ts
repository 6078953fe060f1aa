/**
 * A cache is never silently corrupted: ingests exclude each other (the second is told who holds
 * the cache), a failed ingest (disk full) writes nothing and says so, storage errors while serving
 * fail only the calls they touch and make the instance not ready, a read-only mount serves, and an
 * older layout is refused with a message to re-ingest.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { startServer } from '../src/server.js';
import { SqliteMemoTable as Memo, memoPathOf } from '../src/store/memo-sqlite.js';
import { Sqlite } from '../src/store/sqlite.js';
import { Store } from '../src/store/store.js';
import { cacheContents, cacheOf, onCleanup, tempDir, writeLog } from './helpers.js';
import { serveConfig } from './server-process.js';
import { runCliSync, spawnCli } from './support/cli.js';

function record(i: number): object {
  return {
    server: 's',
    tool: `t${i % 3}`,
    arguments: { i, q: `query ${i}` },
    output: { answer: i % 10, text: 'x'.repeat(200) },
    trajectory_id: `tr-${i >> 3}`,
  };
}

const records = (from: number, count: number): object[] => Array.from({ length: count }, (_, i) => record(from + i));

const toolsim = (args: string[]) => runCliSync(args);

async function post(url: string, path: string, body: unknown): Promise<{ status: number; headers: Headers; json: unknown }> {
  const res = await fetch(new URL(path, url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, json: await res.json() };
}

/** A tmpfs of `size` at a new folder (root only); undefined where mounting is not permitted. */
function tmpfs(size: string): string | undefined {
  const dir = join(tempDir(), 'mnt');
  mkdirSync(dir);
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]).status !== 0) return undefined;
  onCleanup(() => void spawnSync('umount', ['-l', dir]));
  return dir;
}

/** Mounting needs root (and a sandbox that allows it); the tests that need a mount say so when skipped. */
const canMount = ((): boolean => {
  if (process.getuid?.() !== 0) return false;
  const dir = mkdtempSync(join(tmpdir(), 'toolsim-mount-'));
  try {
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]).status !== 0) return false;
    spawnSync('umount', [dir]);
    return true;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
})();

describe('one ingest at a time', () => {
  it('refuses a second ingest naming the first, and ends with the snapshot of a sequential run', async () => {
    const dir = tempDir();
    const a = writeLog(dir, 'a.jsonl', records(0, 300));
    const b = writeLog(dir, 'b.jsonl', records(300, 300));
    const db = join(dir, 'cache.db');
    for (const existing of [false, true]) {
      // Into a new cache (built aside), then into an existing one (its transaction).
      if (existing) expect(toolsim(['ingest', a, '--db', db]).code).toBe(0);
      const first = spawnCli(['ingest', '-', '--db', db]);
      let firstErr = '';
      first.stderr.setEncoding('utf8').on('data', (chunk: string) => (firstErr += chunk));
      first.stdout.resume();
      const exited = new Promise<number | null>((resolve) => first.on('close', resolve));
      // Half its input, then it waits for the rest, holding the cache.
      first.stdin.write(`${JSON.stringify(record(900))}\n`);
      for (let i = 0; i < 500 && !existsSync(`${db}.lock`); i++) await new Promise((resolve) => setTimeout(resolve, 10));
      const second = toolsim(['ingest', b, '--db', db]);
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(new RegExp(`another ingest is writing .*cache\\.db: pid ${first.pid} on `));
      expect(second.stderr).toContain('nothing was added');
      first.stdin.end(`${JSON.stringify(record(901))}\n`);
      expect({ code: await exited, stderr: firstErr }).toEqual({ code: 0, stderr: '' });
      expect(toolsim(['ingest', b, '--db', db]).code).toBe(0);
      expect(existsSync(`${db}.lock`)).toBe(false);
    }
    // The same inputs one after the other, into a clean cache.
    const pipedLog = writeLog(dir, 'piped.jsonl', [record(900), record(901)]);
    const sequential = join(dir, 'sequential.db');
    for (const input of [pipedLog, b, a, pipedLog, b]) expect(toolsim(['ingest', input, '--db', sequential]).code).toBe(0);
    expect(cacheContents(db)).toEqual(cacheContents(sequential));
  }, 60_000);
});

describe.skipIf(!canMount)('a full disk', () => {
  it('fails the ingest whole, says nothing was added, and a re-run equals a clean run', () => {
    const dir = tempDir();
    const small = writeLog(dir, 'small.jsonl', records(0, 50));
    const big = writeLog(dir, 'big.jsonl', records(0, 20_000));
    const clean = join(dir, 'clean.db');
    expect(toolsim(['ingest', small, '--db', clean]).code).toBe(0);
    expect(toolsim(['ingest', big, '--db', clean]).code).toBe(0);

    const disk = tmpfs('1m')!;
    const db = join(disk, 'cache.db');
    // A new cache that does not fit: no cache, nothing left behind.
    const fresh = toolsim(['ingest', big, '--db', db]);
    expect(fresh.code).toBe(1);
    expect(fresh.stderr).toMatch(/disk \(or the database\) is full \(SQLITE_FULL\)/);
    expect(fresh.stderr).toContain('nothing was added');
    expect(fresh.stdout).not.toContain('calls added');
    expect(readdirSync(disk)).toEqual([]);

    // An existing cache: a failed ingest leaves it exactly as it was.
    expect(toolsim(['ingest', small, '--db', db]).code).toBe(0);
    const before = cacheContents(db);
    const full = toolsim(['ingest', big, '--db', db]);
    expect(full.code).toBe(1);
    expect(full.stderr).toContain('nothing was added');
    expect(cacheContents(db)).toEqual(before);

    // Room again: the re-run ends exactly like a clean run.
    expect(spawnSync('mount', ['-o', 'remount,size=64m', disk]).status).toBe(0);
    expect(toolsim(['ingest', big, '--db', db]).code).toBe(0);
    expect(cacheContents(db)).toEqual(cacheContents(clean));
    expect(cacheContents(db).integrity).toBe('ok');
  }, 60_000);
});

describe('storage errors while serving', () => {
  it('fail only the calls they touch, make /readyz 503 with Retry-After, and are logged once', async () => {
    const dir = tempDir();
    const db = join(dir, 'cache.db');
    expect(toolsim(['ingest', writeLog(dir, 'log.jsonl', records(0, 6000)), '--db', db]).code).toBe(0);
    const logs: Record<string, unknown>[] = [];
    const logStream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const server = await startServer(serveConfig({ db, logLevel: 'error' }), { logStream });
    onCleanup(() => server.close());
    const call = (i: number): { tool: string; arguments: object } => ({ tool: `t${i % 3}`, arguments: { i, q: `query ${i}` } });
    expect(await post(server.url, '/v1/call', call(1))).toMatchObject({ status: 200, json: { tier: 'exact' } });

    // The file is cut short under the running server (a bad disk, an operator's mistake).
    truncateSync(db, Math.floor(statSync(db).size / 3));

    const broken = await post(server.url, '/v1/call', call(5999));
    expect(broken.status).toBe(503);
    expect(broken.headers.get('retry-after')).toBe('1');
    expect(broken.json).toMatchObject({ error: { code: 'storage_unavailable' } });
    // Clients are not told where the cache lives (the server's log is).
    expect(JSON.stringify(broken.json)).not.toContain(dirname(db));
    // A batch: the call answered before still is; the broken lookup fails alone, as JSON.
    const batch = await post(server.url, '/v1/calls', { calls: [call(1), call(5998), call(5997)] });
    expect(batch.status).toBe(200);
    const results = (batch.json as { results: Record<string, unknown>[] }).results;
    expect(results[0]).toMatchObject({ tier: 'exact' });
    expect(results[1]).toMatchObject({ error: { code: 'storage_unavailable' } });
    expect(results[2]).toMatchObject({ error: { code: 'storage_unavailable' } });
    expect(JSON.stringify(results)).not.toContain(dirname(db));

    const ready = await fetch(new URL('/readyz', server.url));
    expect(ready.status).toBe(503);
    expect(ready.headers.get('retry-after')).toBe('1');
    expect(await fetch(new URL('/healthz', server.url)).then((r) => r.status)).toBe(200);
    const logged = logs.filter((line) => String(line['msg']).includes('could not be read'));
    expect(logged).toHaveLength(1);
    expect(JSON.stringify(logged[0]!['err'])).toMatch(/SQLITE_/);
  });
});

describe.skipIf(!canMount)('a read-only mount', () => {
  it('serves the cache, with a memo that writes nothing', async () => {
    const dir = tempDir();
    const built = join(dir, 'cache.db');
    expect(toolsim(['ingest', writeLog(dir, 'log.jsonl', records(0, 100)), '--db', built]).code).toBe(0);
    // A cache that has been appended to and served (memo included) rests the same way.
    expect(toolsim(['ingest', writeLog(dir, 'more.jsonl', records(100, 10)), '--db', built]).code).toBe(0);
    const before = await startServer(serveConfig({ db: built }));
    expect((await post(before.url, '/v1/call', { tool: 't1', arguments: { i: 1, q: 'query 1' } })).status).toBe(200);
    // An improvisation memoized before, in the memo file copied beside the cache.
    const kept = { snapshotId: 's', key: '01', model: 'm', promptVersion: 'p' };
    const writer = new Memo(built);
    writer.put(kept, { outputJson: '"kept"', isError: false });
    writer.close();
    await before.close();
    const mount = tmpfs('4m')!;
    copyFileSync(built, join(mount, 'cache.db'));
    copyFileSync(memoPathOf(built), memoPathOf(join(mount, 'cache.db')));
    expect(spawnSync('mount', ['-o', 'remount,ro', mount]).status).toBe(0);
    const db = join(mount, 'cache.db');

    const server = await startServer(serveConfig({ db }));
    onCleanup(() => server.close());
    expect(await post(server.url, '/v1/call', { tool: 't1', arguments: { i: 106, q: 'query 106' } })).toMatchObject({
      status: 200,
      json: { tier: 'exact', output: { answer: 6 } },
    });
    expect((await fetch(new URL('/readyz', server.url))).status).toBe(200);
    const memo = new Memo(db);
    onCleanup(() => memo.close());
    expect(memo.writable).toBe(false);
    const id = { snapshotId: 's', key: '00', model: 'm', promptVersion: 'p' };
    expect(() => memo.put(id, { outputJson: '1', isError: false })).not.toThrow();
    expect(memo.get(kept)).toEqual({ outputJson: '"kept"', isError: false });
    const reopened = new Memo(db);
    onCleanup(() => reopened.close());
    expect(reopened.get(id)).toBeUndefined();
    expect(reopened.get(kept)).toEqual({ outputJson: '"kept"', isError: false });
  });
});

describe('layout', () => {
  it('refuses a cache of an older layout with a message to re-ingest', () => {
    const db = join(tempDir(), 'old.db');
    const old = new Sqlite(db);
    old.exec("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO meta VALUES ('schema_version', '1')");
    old.close();
    expect(() => Store.open(db, { readonly: true })).toThrow(/schema version 1; this toolsim reads version 3: ingest its logs again/);
    expect(toolsim(['ingest', writeLog(tempDir(), 'log.jsonl', records(0, 1)), '--db', db]).stderr).toMatch(/ingest its logs again/);
  });

  it('adds nothing for an input given twice to a new cache, and keeps a record repeated within one input twice', () => {
    const dir = tempDir();
    const log = writeLog(dir, 'log.jsonl', [...records(0, 30), record(5)]);
    const db = join(dir, 'cache.db');
    const twice = toolsim(['ingest', log, log, '--db', db]);
    expect(twice.code).toBe(0);
    expect(twice.stdout).toMatch(/calls added +31\n/);
    expect(twice.stdout).toMatch(/calls already present +31\n/);
    // The same as two ingests, the second into the existing cache.
    const appended = join(dir, 'appended.db');
    expect(toolsim(['ingest', log, '--db', appended]).code).toBe(0);
    expect(toolsim(['ingest', log, '--db', appended]).stdout).toMatch(/calls added +0\n/);
    expect(cacheContents(db)).toEqual(cacheContents(appended));
  });

  it('stores each output text once and reads back every call as recorded', async () => {
    const cache = await cacheOf(records(0, 40));
    expect(cache.store.callCount()).toBe(40);
    expect(cache.store.outputCount()).toBe(10);
    const calls = [...cache.store.recordedCalls()];
    expect(calls.map((c) => JSON.parse(c.outputJson).answer)).toEqual(records(0, 40).map((_, i) => i % 10));
    expect(cache.store.argumentsOf('s', 't1').map((a) => JSON.parse(a.arguments).i)).toEqual([
      1, 4, 7, 10, 13, 16, 19, 22, 25, 28, 31, 34, 37,
    ]);
  });
});
