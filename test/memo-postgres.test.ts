/**
 * The PostgreSQL memo on a throwaway PostgreSQL: first answer wins, claims (expiry of a dead owner,
 * a failure shared with waiters, a waiter's deadline, NOTIFY), the schema created once when replicas
 * start together and refused when newer, and a database that stalls (a loopback proxy that stops
 * forwarding) counted as unavailable, then recovered from by itself.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { MemoId } from '../src/store/memo.js';
import { PostgresMemo, type PostgresMemoOptions } from '../src/store/memo-postgres.js';
import { onCleanup } from './helpers.js';
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
