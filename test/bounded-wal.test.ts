/**
 * A long run stays small (docs/decisions/bounded-wal.md): a serving store renews its read
 * transaction instead of holding one for the life of the process, and never moves past an ingest
 * while doing so; the WAL of every file written while serving stays bounded (the memo's over many
 * improvisations, the cache's after an ingest into it once the server has reloaded); the memo has
 * a file of its own, read after a restart, and copies the memo an older cache kept inside it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FUZZY_OPTIONS, resolveConfig } from '../src/config.js';
import { ingest } from '../src/ingest/ingest.js';
import { startServer } from '../src/server.js';
import { SqliteMemoTable as Memo, memoPathOf } from '../src/store/memo-sqlite.js';
import { Sqlite } from '../src/store/sqlite.js';
import { REPIN_MS, Store } from '../src/store/store.js';
import { WAL_SIZE_LIMIT, walBytes } from '../src/store/wal.js';
import { createFuzzy } from '../src/tiers/fuzzy/fuzzy-tier.js';
import { appOf, cacheOf, metricValue, onCleanup, ROOT, tempDir, writeLog } from './helpers.js';
import { serveConfig } from './server-process.js';
import { startFakeAnthropic } from './support/fake-anthropic.js';

const MB = 1024 * 1024;
const TOKEN = 'bounded-wal-test-token-0123456789';
const record = (i: number, output: unknown = `out-${i}`): object => ({ server: 'kv', tool: 'get', arguments: { key: `k${i}` }, output });
const keyOf = (store: Store, i: number): string => {
  for (const call of store.recordedCalls()) if (call.arguments === `{"key":"k${i}"}`) return call.key;
  throw new Error(`k${i} is not recorded`);
};

async function cache(records: readonly object[]): Promise<{ dir: string; db: string }> {
  const dir = tempDir();
  const db = join(dir, 'cache.db');
  const writer = Store.open(db);
  try {
    await ingest({ store: writer, inputs: [writeLog(dir, 'first.jsonl', records)] });
  } finally {
    writer.close();
  }
  return { dir, db };
}

function pinned(db: string): Store {
  // Renewed only when the test says so.
  const store = Store.open(db, { pinSnapshot: true, repinMs: 3_600_000 });
  onCleanup(() => store.close());
  return store;
}

describe('a serving store', () => {
  it('renews its read transaction while nothing commits, and never moves past an ingest', async () => {
    const { dir, db } = await cache(Array.from({ length: 50 }, (_, i) => record(i)));
    const serving = pinned(db);
    const snapshot = serving.snapshotId;
    const probe = Store.open(db, { readonly: true });
    onCleanup(() => probe.close());
    expect(serving.repin()).toBe('repinned');

    // An ingest writing in batches: renewals meanwhile keep the snapshot, and see none of it.
    const writer = Store.open(db);
    onCleanup(() => writer.close());
    let renewed = 0;
    const done = ingest({
      store: writer,
      inputs: [
        writeLog(
          dir,
          'more.jsonl',
          Array.from({ length: 3_000 }, (_, i) => record(1_000 + i)),
        ),
      ],
      batchSize: 100,
      onProgress: () => {
        if (serving.repin() === 'repinned') renewed++;
        expect(serving.callCount()).toBe(50);
      },
      progressEveryMs: 0,
    });
    await done;
    expect(renewed).toBeGreaterThan(0);
    // Committed: a renewal would see it, so the store keeps its transaction and its snapshot.
    expect(serving.repin()).toBe('changed');
    expect(serving.repin()).toBe('changed');
    expect(serving.snapshotId).toBe(snapshot);
    expect(serving.callCount()).toBe(50);
    expect(serving.catalog()).toMatchObject([{ tool: 'get', calls: 50 }]);
    const added = keyOf(probe, 1_000);
    expect(serving.observations(added)).toEqual([]);
    expect([...serving.recordedCalls()]).toHaveLength(50);

    // A store opened now (a reload) sees it all, and renews again.
    const next = pinned(db);
    expect(next.callCount()).toBe(3_050);
    expect(next.observations(added)).toHaveLength(1);
    expect(next.repin()).toBe('repinned');
    expect(next.callCount()).toBe(3_050);
  });

  it('does not renew past an ingest that changed only a description (the snapshot id stays)', async () => {
    const { dir, db } = await cache([record(1), { kind: 'tool', server: 'kv', tool: 'get', description: 'old' }]);
    const serving = pinned(db);
    const writer = Store.open(db);
    onCleanup(() => writer.close());
    await ingest({
      store: writer,
      inputs: [writeLog(dir, 'tools.jsonl', [{ kind: 'tool', server: 'kv', tool: 'get', description: 'new' }])],
    });
    expect(writer.snapshotId).toBe(serving.snapshotId);
    expect(serving.repin()).toBe('changed');
    expect(serving.catalog()[0]).toMatchObject({ description: 'old' });
  });

  it('waits for an iteration over the recordings to end before it renews', async () => {
    const { db } = await cache(Array.from({ length: 10 }, (_, i) => record(i)));
    const serving = pinned(db);
    const calls = serving.recordedCalls();
    calls.next();
    expect(serving.repin()).toBe('busy');
    expect([...calls]).toHaveLength(9);
    expect(serving.repin()).toBe('repinned');
  });

  it('serves no part of an ingest committing in another process while it serves, and all of it after a reload', async () => {
    // The server renews its read transaction by itself every REPIN_MS: the calls go on for
    // several renewals, during the ingest and after its commit.
    const { dir, db } = await cache(Array.from({ length: 100 }, (_, i) => record(i)));
    const server = await startServer(serveConfig({ db, adminToken: TOKEN }));
    onCleanup(() => server.close());
    const log = writeLog(
      dir,
      'more.jsonl',
      Array.from({ length: 40_000 }, (_, i) => record(100 + i)),
    );
    const child = spawn(process.execPath, [join(ROOT, 'dist/src/cli.js'), 'ingest', log, '--db', db], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    let running = true;
    void exited.then(() => {
      running = false;
    });
    const seen: Record<string, number> = {};
    const until = Date.now() + 3 * REPIN_MS;
    const ask = async (i: number): Promise<void> => {
      const res = await fetch(new URL('/v1/call', server.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ tool: 'get', arguments: { key: `k${i}` } }),
      });
      const answer = (await res.json()) as { tier: string };
      seen[`${i < 100 ? 'old' : 'new'}:${answer.tier}`] = (seen[`${i < 100 ? 'old' : 'new'}:${answer.tier}`] ?? 0) + 1;
    };
    let n = 0;
    while (running || Date.now() < until) {
      await Promise.all([ask(n % 100), ask(100 + ((n * 7919) % 40_000)), ask(100 + 39_999)]);
      n++;
    }
    expect(await exited).toBe(0);
    // After the commit, still the old snapshot.
    for (let i = 0; i < 20; i++) await Promise.all([ask(i), ask(100 + i)]);
    expect(seen).toEqual({ 'old:exact': n + 20, 'new:miss': 2 * n + 20 });

    const reload = await fetch(new URL('/admin/reload', server.url), { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await reload.json()).toMatchObject({ reloaded: true, calls: 40_100 });
    for (let i = 0; i < 20; i++) await ask(100 + i * 1_000);
    expect(seen['new:exact']).toBe(20);
  });
});

describe('the WAL', () => {
  it('of the cache: an ingest into a served cache leaves no large WAL once the server has moved to it', async () => {
    const { dir, db } = await cache([record(0)]);
    const old = pinned(db);
    const writer = Store.open(db);
    onCleanup(() => writer.close());
    // About 30 MB of distinct outputs.
    const big = Array.from({ length: 20_000 }, (_, i) => record(1 + i, `${i}:${'x'.repeat(1_500)}`));
    await ingest({ store: writer, inputs: [writeLog(dir, 'big.jsonl', big)] });
    // The served snapshot needs none of the ingest's pages, but holds them in the WAL.
    expect(walBytes(db)).toBeGreaterThan(WAL_SIZE_LIMIT);
    expect(old.repin()).toBe('changed');
    // The reload: a new store, the old one closed once its calls are done.
    const next = pinned(db);
    old.close();
    const before = statSync(db).size;
    expect(next.repin()).toBe('repinned');
    // Not copied on the serving thread (seconds for an ingest of hundreds of MB): the file has not
    // grown yet when the renewal returns; a worker thread copies it.
    expect(statSync(db).size).toBe(before);
    // A renewal after that truncates the WAL.
    await expect
      .poll(
        () => {
          expect(next.repin()).toBe('repinned');
          return walBytes(db);
        },
        { timeout: 20_000, interval: 100 },
      )
      .toBeLessThanOrEqual(WAL_SIZE_LIMIT);
    expect(next.callCount()).toBe(20_001);
    // And the next ingest starts the WAL over rather than growing it.
    await ingest({ store: writer, inputs: [writeLog(dir, 'small.jsonl', [record(50_000)])] });
    expect(walBytes(db)).toBeLessThanOrEqual(WAL_SIZE_LIMIT);
    expect(next.integrityCheck()).toBe('ok');
  });

  it('of the memo: stays a few MB over 20,000 improvisations while a snapshot is served', async () => {
    const { db } = await cache([record(0)]);
    const serving = pinned(db);
    const memo = new Memo(db);
    onCleanup(() => memo.close());
    let largest = 0;
    const output = JSON.stringify({ text: 'y'.repeat(800) });
    for (let i = 0; i < 20_000; i++) {
      const key = i.toString(16).padStart(64, '0');
      expect(
        memo.put({ snapshotId: serving.snapshotId, key, model: 'm', promptVersion: 'p' }, { outputJson: output, isError: false }),
      ).toBe(true);
      if (i % 250 === 0) largest = Math.max(largest, walBytes(memo.path), walBytes(db));
    }
    // About 20 MB of answers went through; the WAL is checkpointed every ~4 MB and starts over.
    expect(statSync(memo.path).size + walBytes(memo.path)).toBeGreaterThan(15 * MB);
    expect(largest).toBeLessThan(WAL_SIZE_LIMIT);
    expect(walBytes(db)).toBe(0);
  });
});

describe('the memo file', () => {
  const id = (key: string): { snapshotId: string; key: string; model: string; promptVersion: string } => ({
    snapshotId: 's',
    key: key.padStart(64, '0'),
    model: 'm',
    promptVersion: 'p',
  });

  it('is written beside the cache and read after a restart, and serves a hit from memory after the first', async () => {
    const { db } = await cache([record(0)]);
    const before = new Memo(db);
    expect(before.put(id('a'), { outputJson: '"improvised"', isError: false })).toBe(true);
    before.close();
    expect(existsSync(memoPathOf(db))).toBe(true);
    // `toolsim stats` counts it, with the files' sizes.
    const stats = spawnSync(process.execPath, [join(ROOT, 'dist/src/cli.js'), 'stats', '--db', db, '--json'], { encoding: 'utf8' });
    expect(JSON.parse(stats.stdout).files).toMatchObject({
      cacheBytes: statSync(db).size,
      memo: { path: memoPathOf(db), improvisations: 1, bytes: statSync(memoPathOf(db)).size },
    });

    const after = new Memo(db);
    onCleanup(() => after.close());
    expect(after.inMemory.entries).toBe(0);
    expect(after.get(id('a'))).toEqual({ outputJson: '"improvised"', isError: false });
    expect(after.inMemory.entries).toBe(1);
    // Gone from the file (another process's doing): the hit is still served, from memory.
    const other = new Sqlite(memoPathOf(db));
    onCleanup(() => {
      other.close();
    });
    other.exec('DELETE FROM improvisations');
    expect(after.get(id('a'))).toEqual({ outputJson: '"improvised"', isError: false });
    expect(after.get(id('b'))).toBeUndefined();
  });

  it('keeps the answer of another process that wrote first', async () => {
    const { db } = await cache([record(0)]);
    const one = new Memo(db);
    const two = new Memo(db);
    onCleanup(() => one.close());
    onCleanup(() => two.close());
    expect(one.put(id('a'), { outputJson: '1', isError: false })).toBe(true);
    expect(two.put(id('a'), { outputJson: '2', isError: false })).toBe(true);
    expect(two.get(id('a'))).toEqual({ outputJson: '1', isError: false });
  });

  it('starts with the memo an older cache kept in its own file', async () => {
    const { db } = await cache([record(0)]);
    const older = new Sqlite(db);
    older.exec(`CREATE TABLE improvisations (snapshot_id TEXT NOT NULL, key BLOB NOT NULL, model TEXT NOT NULL,
      prompt_version TEXT NOT NULL, output TEXT NOT NULL, is_error INTEGER NOT NULL, created_at TEXT NOT NULL,
      PRIMARY KEY (snapshot_id, key, model, prompt_version)) WITHOUT ROWID`);
    older
      .prepare('INSERT INTO improvisations VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run('s', Buffer.from(id('a').key, 'hex'), 'm', 'p', '"from an older toolsim"', 0, '2026-01-01T00:00:00Z');
    older.close();
    const memo = new Memo(db);
    onCleanup(() => memo.close());
    expect(memo.get(id('a'))).toEqual({ outputJson: '"from an older toolsim"', isError: false });
    memo.close();
    // Copied once: the memo file holds it on its own.
    const file = new Sqlite(memoPathOf(db), { readonly: true });
    onCleanup(() => {
      file.close();
    });
    expect(file.prepare('SELECT count(*) AS n FROM improvisations').get()).toEqual({ n: 1 });
  });
});

describe('memo hits', () => {
  it('are served from memory as exact answers are: the same answer, counted, with no request and no file read', async () => {
    const weather = (city: string, temp: number): object => ({
      server: 'weather',
      tool: 'get_weather',
      arguments: { city, unit: 'C' },
      output: { city, temp, unit: 'C' },
    });
    const { store, path } = await cacheOf([weather('Paris', 18), weather('London', 14), weather('Berlin', 16)]);
    const stand = await startFakeAnthropic({ kind: 'answer', output: { city: 'Pariss', temp: 19, unit: 'C' } });
    onCleanup(() => stand.close());
    const config = { ...resolveConfig(FUZZY_OPTIONS, {}, {}), apiKey: 'sk-test', baseUrl: stand.url, llmRetries: 0 };
    const fuzzy = createFuzzy(config);
    onCleanup(() => fuzzy.close());
    const app = await appOf(store, { fuzzy: fuzzy.tier });
    const call = async (): Promise<Record<string, unknown>> => {
      const response = await app.app.inject({
        method: 'POST',
        url: '/v1/call',
        payload: { server: 'weather', tool: 'get_weather', arguments: { city: 'Pariss', unit: 'C' } },
      });
      return response.json();
    };
    const first = await call();
    expect(first).toMatchObject({ tier: 'fuzzy', match: { memoized: false } });
    // Gone from the memo file: what follows is served from memory.
    const other = new Sqlite(memoPathOf(path));
    other.exec('DELETE FROM improvisations');
    other.close();
    for (let i = 0; i < 3; i++) {
      expect(await call()).toEqual({ ...first, match: { ...(first['match'] as object), memoized: true } });
    }
    expect(stand.requests).toHaveLength(1);
    // Remembered by request text: the repeats skipped parsing, hashing and the neighbour search.
    expect(app.simulator.remembered.entries).toBe(1);
    const metrics = await app.metrics.registry.metrics();
    expect(metricValue(metrics, 'toolsim_fuzzy_memo_hits_total')).toBe(3);
    expect(metricValue(metrics, 'toolsim_calls_total{tier="fuzzy",server="weather",tool="get_weather"}')).toBe(4);
  });
});
