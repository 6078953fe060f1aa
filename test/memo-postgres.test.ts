/**
 * The PostgreSQL memo on a throwaway PostgreSQL: first answer wins, claims (expiry of a dead owner,
 * a failure shared with waiters, a waiter's deadline, NOTIFY), the schema created once when replicas
 * start together and refused when newer, and a database that stalls (a loopback proxy that stops
 * forwarding) counted as unavailable, then recovered from by itself; waiters on another replica
 * that wait as long as the owner may; pruning of spent claims and retired snapshots; a --memo-url
 * that cannot work refused at start, and no host or database name in what /readyz shows.
 */
import { spawnSync } from 'node:child_process';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { FUZZY_OPTIONS, resolveConfig } from '../src/config.js';
import { ConfigError } from '../src/core/errors.js';
import type { MemoId } from '../src/store/memo.js';
import { PostgresMemo, type PostgresMemoOptions } from '../src/store/memo-postgres.js';
import { createFuzzy } from '../src/tiers/fuzzy/fuzzy-tier.js';
import { appOf, cacheOf, freePort, onCleanup, ROOT } from './helpers.js';
import { startFakeAnthropic } from './support/fake-anthropic.js';
import { startPostgres } from './support/postgres.js';

const server = await startPostgres();
if (!server)
  console.warn('PostgreSQL memo tests skipped: PostgreSQL binaries not found under /usr/lib/postgresql (apt-get install postgresql)');
afterAll(async () => {
  await server?.close();
});

let databases = 0;
/** A fresh database on the throwaway server; its URL. */
async function freshDatabase(): Promise<string> {
  const name = `memo_${++databases}`;
  const admin = new pg.Client({ connectionString: server!.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return server!.url.replace(/\/postgres$/, `/${name}`);
}

async function memoOn(url: string, options: Partial<PostgresMemoOptions> = {}): Promise<PostgresMemo> {
  const memo = new PostgresMemo({ url, claimTtlMs: 10_000, retryMs: 200, ...options });
  onCleanup(() => memo.close());
  await memo.start();
  return memo;
}

const id = (key: string): MemoId => ({ snapshotId: 's1', key: key.padStart(64, '0'), model: 'm', promptVersion: 'p1' });
const answer = (text: string): { outputJson: string; isError: boolean } => ({ outputJson: JSON.stringify(text), isError: false });
const long = (): AbortSignal => AbortSignal.timeout(10_000);

describe.skipIf(!server)('the PostgreSQL memo', () => {
  it('creates its schema once when five replicas start together, and keeps the first answer written', async () => {
    const url = await freshDatabase();
    const memos = await Promise.all(Array.from({ length: 5 }, () => memoOn(url)));
    expect(memos.map((m) => m.status().state)).toEqual(Array(5).fill('ok'));
    const stood = await Promise.all(memos.map((m, i) => m.put(id('a1'), answer(`answer ${i}`))));
    expect(new Set(stood.map((s) => s?.answer.outputJson)).size).toBe(1);
    expect(await memos[4]!.get(id('a1'))).toEqual({ kind: 'hit', answer: stood[0]?.answer });
    expect(await memos[0]!.get(id('a2'))).toEqual({ kind: 'none' });
  });

  it('refuses a database whose schema is newer than it knows, and says why', async () => {
    const url = await freshDatabase();
    await memoOn(url);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('UPDATE toolsim_memo_schema SET version = 99');
    await client.end();
    const newer = await memoOn(url);
    expect(newer.status()).toMatchObject({ state: 'unavailable', error: expect.stringMatching(/schema version 99/) });
    expect(await newer.get(id('b1'))).toEqual({ kind: 'unavailable' });
  });

  it('lets one replica improvise while another waits, woken with its answer by NOTIFY', async () => {
    const url = await freshDatabase();
    // The waiter polls only after a minute: within this test's time, only NOTIFY can wake it.
    const [a, b] = await Promise.all([memoOn(url), memoOn(url, { pollFirstMs: 60_000, pollMaxMs: 60_000 })]);
    const owner = await a.claim(id('c1'), long());
    expect(owner.kind).toBe('owner');
    const waiting = b.claim(id('c1'), long());
    await new Promise((resolve) => setTimeout(resolve, 200));
    await a.put(id('c1'), answer('from a'));
    if (owner.kind === 'owner') await owner.release();
    expect(await waiting).toEqual({ kind: 'answer', answer: answer('from a'), waited: true });
    // The answer is now known: a later claim gets it, not the right to ask again.
    expect(await b.claim(id('c1'), long())).toMatchObject({ kind: 'answer', answer: answer('from a') });
  });

  it("shares an owner's failure with its waiters; the next call claims anew", async () => {
    const url = await freshDatabase();
    const [a, b] = await Promise.all([memoOn(url), memoOn(url)]);
    const owner = await a.claim(id('d1'), long());
    const waiting = b.claim(id('d1'), long());
    await new Promise((resolve) => setTimeout(resolve, 200));
    if (owner.kind === 'owner') await owner.release('llm_invalid_output');
    expect(await waiting).toEqual({ kind: 'failed', reason: 'llm_invalid_output' });
    expect((await b.claim(id('d1'), long())).kind).toBe('owner');
  });

  it('takes over the claim of an owner that died once it expires; a waiter gives up at its deadline', async () => {
    const url = await freshDatabase();
    const [a, b] = await Promise.all([memoOn(url, { claimTtlMs: 600 }), memoOn(url, { claimTtlMs: 600 })]);
    expect((await a.claim(id('e1'), long())).kind).toBe('owner'); // never released: its owner "died"
    expect(await b.claim(id('e1'), AbortSignal.timeout(150))).toEqual({ kind: 'timeout' });
    const startedAt = performance.now();
    expect((await b.claim(id('e1'), long())).kind).toBe('owner');
    expect(performance.now() - startedAt).toBeGreaterThan(200);
  });

  it('makes a waiter on another replica wait as long as the owner may: its queue time plus its deadline', async () => {
    const url = await freshDatabase();
    const weather = (city: string, temp: number): object => ({
      server: 'w',
      tool: 'get_weather',
      arguments: { city },
      output: { city, temp },
    });
    const { store } = await cacheOf([weather('Paris', 18), weather('London', 14), weather('Berlin', 16)]);
    // Every answer takes 0.9 s; the owner's one slot is busy first, so its improvisation of the
    // shared call ends about 1.8 s in, past the 1.2 s LLM deadline (but within queue + deadline).
    const stand = await startFakeAnthropic({ kind: 'slow', delayMs: 900, after: { kind: 'answer', output: { city: 'x', temp: 1 } } });
    onCleanup(() => stand.close());
    const config = {
      ...resolveConfig(FUZZY_OPTIONS, {}, {}),
      apiKey: 'sk-test',
      baseUrl: stand.url,
      llmRetries: 0,
      llmConcurrency: 1,
      llmDeadlineMs: 1200,
      llmQueueMs: 3000,
      memoUrl: url,
    };
    const replicas = [createFuzzy(config), createFuzzy(config)];
    for (const fuzzy of replicas) {
      onCleanup(() => fuzzy.close());
      await fuzzy.start();
    }
    const [a, b] = await Promise.all(replicas.map((fuzzy) => appOf(store, { fuzzy: fuzzy.tier })));
    const call = (app: typeof a, city: string) =>
      app!.app
        .inject({ method: 'POST', url: '/v1/call', payload: { server: 'w', tool: 'get_weather', arguments: { city } } })
        .then((r) => r.json());
    const busy = call(a, 'Pariss');
    await new Promise((resolve) => setTimeout(resolve, 150));
    const owner = call(a, 'Londn');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const startedAt = performance.now();
    const waiter = await call(b, 'Londn');
    const waited = performance.now() - startedAt;
    expect(await busy).toMatchObject({ tier: 'fuzzy' });
    const owned = await owner;
    expect(owned).toMatchObject({ tier: 'fuzzy' });
    expect(waiter).toMatchObject({ tier: 'fuzzy', output: owned.output });
    expect(waited).toBeGreaterThan(config.llmDeadlineMs);
    // One request per distinct call: the waiter never asked.
    expect(stand.requests).toHaveLength(2);
  }, 30_000);

  it('prunes spent claims (failed, or expired with a dead owner) and the improvisations of snapshots no replica serves', async () => {
    const url = await freshDatabase();
    const options = { claimTtlMs: 300, retentionMs: 800, pruneEveryMs: 0 };
    const [a, b] = await Promise.all([memoOn(url, options), memoOn(url, options)]);
    const count = async (sql: string): Promise<number> => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return Number((await client.query<{ n: string }>(sql)).rows[0]!.n);
      } finally {
        await client.end();
      }
    };
    // A failed claim, a dead owner's claim, and a live one.
    const failed = await a.claim(id('g1'), long());
    if (failed.kind === 'owner') await failed.release('llm_busy');
    expect((await a.claim(id('g2'), long())).kind).toBe('owner');
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect((await a.claim(id('g3'), long())).kind).toBe('owner');
    expect(await count('SELECT count(*) AS n FROM toolsim_claims')).toBe(3);
    expect((await a.prune()).claims).toBe(2);
    expect(await count('SELECT count(*) AS n FROM toolsim_claims')).toBe(1);

    // Snapshot s1 is served by a, then a moves to s2; b still serves s1 for a while, then s3.
    const at = (snapshotId: string, key: string): MemoId => ({ ...id(key), snapshotId });
    a.serving('s1');
    b.serving('s1');
    await a.put(at('s1', 'h1'), answer('old'));
    a.serving('s2');
    await a.put(at('s2', 'h2'), answer('new'));
    await new Promise((resolve) => setTimeout(resolve, 500));
    await b.prune(); // b marks s1 served again
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await a.prune()).improvisations).toBe(0); // s1 was served 0.5 s ago: kept
    b.serving('s3');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // Whichever replica prunes first removes s1's improvisations; s2 (a's, marked served as a prunes) stays.
    const pruned = [await a.prune(), await b.prune()];
    expect(pruned.map((p) => p.improvisations)).toEqual([1, 0]);
    expect(await count("SELECT count(*) AS n FROM toolsim_improvisations WHERE snapshot_id = 's1'")).toBe(0);
    expect(await count("SELECT count(*) AS n FROM toolsim_improvisations WHERE snapshot_id = 's2'")).toBe(1);

    // Left alone, a replica prunes by itself.
    const c = await memoOn(url, { claimTtlMs: 200, pruneEveryMs: 100 });
    const spent = await c.claim(id('g4'), long());
    if (spent.kind === 'owner') await spent.release('llm_unavailable');
    await expect.poll(() => count(`SELECT count(*) AS n FROM toolsim_claims WHERE failure IS NOT NULL`), { timeout: 10_000 }).toBe(0);
  }, 30_000);

  it('refuses at start a --memo-url that cannot work; shows no host or database name while it is down', async () => {
    for (const bad of ['localhost:5432/toolsim', 'postgres://toolsim@127.0.0.1:99999/toolsim', 'mysql://u@h/db', 'postgres:///toolsim'])
      expect(() => new PostgresMemo({ url: bad, claimTtlMs: 1000 }), bad).toThrow(ConfigError);
    // A database that does not exist: no retry mends it.
    const missing = new PostgresMemo({ url: server!.url.replace(/\/postgres$/, '/no_such_database'), claimTtlMs: 1000 });
    await expect(missing.start()).rejects.toThrow(/--memo-url: the database does not exist/);
    // Nothing listens on the port (PostgreSQL down or not yet up): started, retried, and /readyz names nothing.
    const port = await freePort();
    const down = new PostgresMemo({ url: `postgres://secret_user@127.0.0.1:${port}/secret_db`, claimTtlMs: 1000, timeoutMs: 500 });
    onCleanup(() => down.close());
    await down.start();
    const status = down.status();
    expect(status.state).toBe('unavailable');
    expect(status.error).toMatch(/ECONNREFUSED/);
    expect(status.error).not.toMatch(/127\.0\.0\.1|secret_user|secret_db|${port}/);

    // The command exits at once, saying what is wrong.
    const cache = (await cacheOf([{ tool: 't', arguments: {}, output: 1 }])).path;
    for (const [memoUrl, said] of [
      ['postgres://toolsim@127.0.0.1:99999/toolsim', /--memo-url has port 99999/],
      ['not a url', /--memo-url is not a URL/],
      [server!.url.replace(/\/postgres$/, '/no_such_database'), /--memo-url: the database does not exist/],
    ] as const) {
      const run = spawnSync(
        process.execPath,
        [join(ROOT, 'dist/src/cli.js'), 'serve', '--db', cache, '--port', '0', '--fuzzy', 'on', '--memo-url', memoUrl],
        { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', ANTHROPIC_API_KEY: 'sk-test' }, timeout: 20_000 },
      );
      expect([run.status, run.stderr]).toEqual([2, expect.stringMatching(said)]);
    }
  }, 60_000);

  it('counts a stalled database as unavailable within its timeout, serves answers it has seen, and recovers by itself', async () => {
    const url = await freshDatabase();
    const proxy = await stallProxy(server!.port);
    onCleanup(() => proxy.close());
    const memo = await memoOn(url.replace(`:${server!.port}/`, `:${proxy.port}/`), { timeoutMs: 500 });
    await memo.put(id('f1'), answer('seen'));
    proxy.stall(true);
    const startedAt = performance.now();
    expect(await memo.get(id('f2'))).toEqual({ kind: 'unavailable' });
    // Wide guard: bounded by the 0.5 s timeout, never left hanging.
    expect(performance.now() - startedAt).toBeLessThan(3000);
    expect(memo.status().state).toBe('unavailable');
    expect(await memo.get(id('f1'))).toEqual({ kind: 'hit', answer: answer('seen') });
    expect(await memo.claim(id('f2'), long())).toEqual({ kind: 'unavailable' });
    proxy.stall(false);
    await expect.poll(() => memo.status().state, { timeout: 10_000, interval: 100 }).toBe('ok');
    expect(await memo.get(id('f2'))).toEqual({ kind: 'none' });
  });
});

/** A TCP proxy on loopback that, while stalled, forwards nothing (a database that stopped answering). */
async function stallProxy(target: number): Promise<{ port: number; stall(on: boolean): void; close(): Promise<void> }> {
  let stalled = false;
  const pairs = new Set<[Socket, Socket]>();
  const proxy: Server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    if (stalled) for (const s of pair) s.pause();
    const done = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    stall(on) {
      stalled = on;
      for (const pair of pairs) for (const s of pair) on ? s.pause() : s.resume();
    },
    close: () =>
      new Promise((resolve) => {
        for (const [a, b] of pairs) {
          a.destroy();
          b.destroy();
        }
        proxy.close(() => resolve());
      }),
  };
}
