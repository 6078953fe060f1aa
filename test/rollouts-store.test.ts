/**
 * The registry of rollouts, one suite run against both stores (this process's memory with a fake
 * clock, and PostgreSQL on a throwaway cluster): recorded vs diverged state per server, history
 * most recent first, the digest (one value for one history, whichever store computed it), caps,
 * TTL and ending; then what only one of them does (bytes cap, replicas sharing one database, the
 * database going away), and the per-rollout ordering of calls.
 */
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type Answered, type AnsweredCall, entryHash, historyDigest } from '../src/core/rollout.js';
import { InMemoryRolloutStore } from '../src/rollouts/memory-store.js';
import { PostgresRolloutStore } from '../src/rollouts/postgres-store.js';
import type { RolloutStore, RolloutStoreLimits } from '../src/rollouts/rollout-store.js';
import { Rollouts } from '../src/rollouts/rollouts.js';
import { onCleanup } from './helpers.js';
import { startPostgres } from './support/postgres.js';

const server = await startPostgres();
if (!server) console.warn('PostgreSQL rollout tests skipped: PostgreSQL binaries not found under /usr/lib/postgresql');
afterAll(async () => {
  await server?.close();
});

let databases = 0;
async function freshDatabase(): Promise<string> {
  const name = `rollouts_${++databases}`;
  const admin = new pg.Client({ connectionString: server!.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return server!.url.replace(/\/postgres$/, `/${name}`);
}

/** A store under test and a way to let time pass (a fake clock for memory, real waiting for PostgreSQL). */
interface Harness {
  store: RolloutStore;
  pass(ms: number): Promise<void>;
}

type Make = (limits?: Partial<RolloutStoreLimits>) => Promise<Harness>;

const memory: Make = async (limits = {}) => {
  let now = 1_000_000;
  const store = new InMemoryRolloutStore({ ...limits, now: () => now });
  return {
    store,
    pass: async (ms) => {
      now += ms;
    },
  };
};

const postgres: Make = async (limits = {}) => {
  const store = new PostgresRolloutStore({ url: await freshDatabase(), retryMs: 200, ...limits });
  onCleanup(() => store.close());
  await store.start();
  expect(store.status().state).toBe('ok');
  return { store, pass: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) };
};

const read = (tool: string, args: object, output: unknown, tier: 'exact' | 'fuzzy' = 'exact'): AnsweredCall => ({
  tool,
  arguments: JSON.stringify(args),
  outputJson: JSON.stringify(output),
  isError: false,
  tier,
  writes: false,
});
const write = (tool: string, args: object, output: unknown, tier: 'exact' | 'fuzzy'): AnsweredCall => ({
  ...read(tool, args, output, tier),
  writes: true,
});
const MISS: Answered = { tier: 'miss' };

/** The digest of a sequence of answered calls, folded in JavaScript. */
/** The digest of the kept entries, oldest first, computed in JavaScript. */
const digestOf = (entries: readonly Answered[]): string => historyDigest(entries.flatMap((e) => (e.tier === 'miss' ? [] : [entryHash(e)])));

const stores: [string, Make, boolean][] = [
  ['memory', memory, true],
  ['PostgreSQL', postgres, server !== undefined],
];

describe.each(stores)('the %s rollout store', (_name, make, enabled) => {
  it.runIf(enabled)('knows nothing of a rollout never seen', async () => {
    const { store } = await make();
    expect(await store.state('r0', 'shop')).toEqual({ state: 'recorded' });
    expect(await store.view('r0')).toBeUndefined();
    expect(await store.end('r0')).toBe(false);
  });

  it.runIf(enabled)(
    'stays recorded through recorded writes, improvised reads and missed writes; diverges on an improvised write',
    async () => {
      const { store } = await make();
      const calls: Answered[] = [
        read('get_order', { id: 1 }, { status: 'pending' }),
        write('cancel_order', { id: 1 }, { status: 'cancelled' }, 'exact'),
        read('get_order', { id: 9 }, { status: 'pending' }, 'fuzzy'),
        MISS,
      ];
      for (const [i, c] of calls.entries())
        expect(await store.record('r1', 'shop', c)).toEqual({ kind: 'ok', call: i + 1, diverged: false });
      expect(await store.state('r1', 'shop')).toEqual({ state: 'recorded' });
      const changed = write('cancel_order', { id: 2 }, { status: 'cancelled' }, 'fuzzy');
      expect(await store.record('r1', 'shop', changed)).toEqual({ kind: 'ok', call: 5, diverged: true });
      // Diverged once: a second improvised write reports no new divergence.
      const again = write('cancel_order', { id: 3 }, { status: 'cancelled' }, 'fuzzy');
      expect(await store.record('r1', 'shop', again)).toEqual({ kind: 'ok', call: 6, diverged: false });
      const state = await store.state('r1', 'shop');
      if (state.state !== 'diverged') throw new Error(`expected diverged, got ${state.state}`);
      expect(state.since).toBe(5);
      expect(state.answered).toBe(5);
      expect(state.history.map((h) => h.call)).toEqual([6, 5, 3, 2, 1]);
      expect(state.history[1]).toEqual({ call: 5, ...changed });
      expect(state.digest).toBe(digestOf(calls.concat(changed, again)));
      // Another server of the same rollout is untouched.
      expect(await store.state('r1', 'mail')).toEqual({ state: 'recorded' });
      const view = await store.view('r1');
      expect(view).toMatchObject({ id: 'r1', calls: 6, servers: [{ server: 'shop', state: 'diverged', divergedSince: 5, answered: 5 }] });
      expect(view?.servers[0]?.divergedBy).toEqual({ tool: 'cancel_order', arguments: '{"id":2}' });
      expect(Date.parse(view!.expiresAt) - Date.parse(view!.lastSeen)).toBe(store.limits.ttlMs);
    },
  );

  it.runIf(enabled)('gives two rollouts that made the same calls one digest, and another answer another', async () => {
    const { store } = await make();
    // Non-ASCII and astral characters, and quotes: both stores hash the same UTF-8 bytes.
    const same = [
      read('get_order', { id: 'é' }, 'a "𝄞" ü'),
      write('cancel_order', { id: 2 }, 'ok', 'fuzzy'),
      read('get_order', { id: 2 }, 'b', 'fuzzy'),
    ];
    for (const c of same) {
      await store.record('a', 'shop', c);
      await store.record('b', 'shop', c);
      await store.record('c', 'shop', c.tool === 'get_order' && c.outputJson === '"b"' ? { ...c, outputJson: '"B"' } : c);
    }
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((id) => store.state(id, 'shop')));
    expect(a?.state === 'diverged' && b?.state === 'diverged' && c?.state === 'diverged').toBe(true);
    if (a?.state !== 'diverged' || b?.state !== 'diverged' || c?.state !== 'diverged') return;
    expect(a.digest).toBe(b.digest);
    expect(a.digest).toBe(digestOf(same));
    expect(c.digest).not.toBe(a.digest);
  });

  it.runIf(enabled)('keeps the last entries of a long history and the write that diverged it; the digest covers what is kept', async () => {
    const { store } = await make({ maxHistory: 3 });
    const reads = Array.from({ length: 7 }, (_, n) => read('get', { n: n + 1 }, n + 1, 'fuzzy'));
    const calls = [read('get', { n: 0 }, 0), write('add', { n: 0 }, 0, 'fuzzy'), ...reads.slice(0, 6)];
    for (const c of calls) await store.record('long', 'shop', c);
    const state = await store.state('long', 'shop');
    if (state.state !== 'diverged') throw new Error('expected diverged');
    expect(state.answered).toBe(8);
    // The diverging write (call 2) stays however old: every later prompt must carry it.
    expect(state.history.map((h) => h.call)).toEqual([8, 7, 6, 2]);
    expect(state.digest).toBe(digestOf([calls[1]!, ...calls.slice(5)]));
    const more = reads[6]!;
    await store.record('long', 'shop', more);
    const after = await store.state('long', 'shop');
    expect(after.state === 'diverged' && after.history.map((h) => h.call)).toEqual([9, 8, 7, 2]);
    expect(after.state === 'diverged' && after.digest).toBe(digestOf([calls[1]!, ...calls.slice(6), more]));
  });

  it.runIf(enabled)('ends a rollout at once; its id then starts afresh', async () => {
    const { store } = await make();
    await store.record('e', 'shop', write('cancel', { id: 1 }, 'ok', 'fuzzy'));
    expect((await store.state('e', 'shop')).state).toBe('diverged');
    expect(await store.end('e')).toBe(true);
    expect(await store.end('e')).toBe(false);
    expect(await store.view('e')).toBeUndefined();
    expect(await store.state('e', 'shop')).toEqual({ state: 'recorded' });
    expect(await store.record('e', 'shop', read('get', {}, 1))).toEqual({ kind: 'ok', call: 1, diverged: false });
  });

  it.runIf(enabled)('forgets a rollout silent past the TTL, on its next call or at the sweep', async () => {
    const { store, pass } = await make({ ttlMs: 400 });
    await store.record('quiet', 'shop', write('cancel', { id: 1 }, 'ok', 'fuzzy'));
    await store.record('swept', 'shop', write('cancel', { id: 1 }, 'ok', 'fuzzy'));
    await pass(200);
    // A call within the TTL keeps it alive.
    await store.record('quiet', 'shop', read('get', {}, 1, 'fuzzy'));
    await pass(250);
    expect((await store.state('quiet', 'shop')).state).toBe('diverged');
    expect(await store.state('swept', 'shop')).toEqual({ state: 'recorded' });
    expect(await store.sweep()).toEqual({});
    await pass(450);
    expect(await store.view('quiet')).toBeUndefined();
    expect(await store.record('quiet', 'shop', read('get', {}, 1))).toEqual({ kind: 'ok', call: 1, diverged: false });
    expect(await store.state('quiet', 'shop')).toEqual({ state: 'recorded' });
  });

  it.runIf(enabled)('holds at most maxRollouts, ending the longest silent first', async () => {
    const { store, pass } = await make({ maxRollouts: 2 });
    for (const id of ['one', 'two', 'three']) {
      await store.record(id, 'shop', write('cancel', { id }, 'ok', 'fuzzy'));
      await pass(20);
    }
    await store.sweep();
    expect(await store.view('one')).toBeUndefined();
    expect((await store.view('two'))?.calls).toBe(1);
    expect((await store.view('three'))?.calls).toBe(1);
  });
});

describe('the memory rollout store', () => {
  it('ends the longest silent rollouts when their history passes its bytes, and counts them', async () => {
    const ended: string[] = [];
    const store = new InMemoryRolloutStore({ maxBytes: 40_000, onEnded: (how) => ended.push(how) });
    const big = 'x'.repeat(5_000);
    for (let i = 0; i < 6; i++) store.record(`r${i}`, 'shop', read('get', { i }, big));
    expect(store.size.bytes).toBeLessThanOrEqual(40_000);
    expect(store.view('r0')).toBeUndefined();
    expect(store.view('r5')?.calls).toBe(1);
    expect(ended.length).toBeGreaterThan(0);
    expect(new Set(ended)).toEqual(new Set(['evicted']));
    // Bytes come back when rollouts end.
    for (let i = 0; i < 6; i++) store.end(`r${i}`);
    expect(store.size).toEqual({ rollouts: 0, bytes: 0 });
  });

  it('evicts rollouts whose state is recorded before one that diverged', () => {
    const ended: string[] = [];
    const store = new InMemoryRolloutStore({ maxRollouts: 2, onEnded: (how) => ended.push(how) });
    store.record('diverged', 'shop', write('cancel', { id: 1 }, 'ok', 'fuzzy'));
    for (let i = 0; i < 5; i++) store.record(`recorded-${i}`, 'shop', read('get', { i }, i));
    expect(store.view('diverged')?.servers[0]?.state).toBe('diverged');
    expect(store.view('recorded-4')?.calls).toBe(1);
    expect(store.size.rollouts).toBe(2);
    expect(ended).toEqual(['evicted', 'evicted', 'evicted', 'evicted']);
    // With nothing else to end, a diverged rollout goes too: the cap holds.
    const full = new InMemoryRolloutStore({ maxRollouts: 1 });
    full.record('a', 'shop', write('cancel', { id: 1 }, 'ok', 'fuzzy'));
    full.record('b', 'shop', write('cancel', { id: 2 }, 'ok', 'fuzzy'));
    expect(full.size.rollouts).toBe(1);
    expect(full.view('b')?.calls).toBe(1);
  });

  it('hashes nothing for a rollout that never diverges', async () => {
    const store = new InMemoryRolloutStore();
    const calls = Array.from({ length: 10 }, (_, n) => read('get', { n }, n));
    for (const c of calls) store.record('plain', 'shop', c);
    // A recorded server has no digest: nothing was hashed.
    expect(store.view('plain')?.servers[0]).toMatchObject({ state: 'recorded', answered: 10, digest: '' });
    // Once diverged, the digest covers the kept history.
    const write = { ...calls[0]!, tool: 'cancel', writes: true, tier: 'fuzzy' as const };
    store.record('plain', 'shop', write);
    expect(store.view('plain')?.servers[0]?.digest).toBe(digestOf([...calls, write]));
  });
});

describe.skipIf(!server)('the PostgreSQL rollout store', () => {
  it('is one rollout for two replicas on one database: a divergence recorded by one is seen by the other', async () => {
    const url = await freshDatabase();
    const replicas = [0, 1].map(() => new PostgresRolloutStore({ url }));
    for (const r of replicas) onCleanup(() => r.close());
    await Promise.all(replicas.map((r) => r.start()));
    const [a, b] = replicas as [PostgresRolloutStore, PostgresRolloutStore];
    await a.record('shared', 'shop', read('get_order', { id: 1 }, 'pending'));
    await b.record('shared', 'shop', write('cancel_order', { id: 1 }, 'cancelled', 'fuzzy'));
    const seen = await a.state('shared', 'shop');
    expect(seen).toMatchObject({ state: 'diverged', since: 2, answered: 2 });
    expect(seen.state === 'diverged' && seen.history.map((h) => h.tool)).toEqual(['cancel_order', 'get_order']);
    // Concurrent calls of one rollout from both replicas are numbered without gaps or repeats.
    const numbers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => replicas[i % 2]!.record('shared', 'shop', read('get_order', { i }, i, 'fuzzy'))),
    );
    expect(numbers.map((n) => (n.kind === 'ok' ? n.call : 0)).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 3));
  });

  it('says unavailable at once while the database is down, refuses no call for its data, and recovers by itself', async () => {
    const url = await freshDatabase();
    const store = new PostgresRolloutStore({ url, retryMs: 200, timeoutMs: 1000 });
    onCleanup(() => store.close());
    await store.start();
    // A name PostgreSQL cannot hold (a NUL) fails that call alone; the store stays up.
    expect(await store.record('odd', 'sh\u0000op', read('get', {}, 1))).toEqual({ kind: 'unavailable' });
    expect(store.status().state).toBe('ok');
    await store.record('r', 'shop', write('cancel', {}, 'ok', 'fuzzy'));
    await server!.stop();
    try {
      expect(await store.state('r', 'shop')).toEqual({ state: 'unavailable' });
      expect(store.status().state).toBe('unavailable');
      const startedAt = performance.now();
      expect(await store.record('r', 'shop', read('get', {}, 1))).toEqual({ kind: 'unavailable' });
      expect(performance.now() - startedAt).toBeLessThan(500);
    } finally {
      await server!.start();
    }
    await expect.poll(() => store.status().state, { timeout: 10_000, interval: 100 }).toBe('ok');
    expect((await store.state('r', 'shop')).state).toBe('diverged');
  });

  it('ends recorded rollouts before a diverged one at the sweep past the cap', async () => {
    const store = new PostgresRolloutStore({ url: await freshDatabase(), maxRollouts: 1 });
    onCleanup(() => store.close());
    await store.start();
    await store.record('diverged', 'shop', write('cancel', { id: 1 }, 'ok', 'fuzzy'));
    await store.record('recorded', 'shop', read('get', { id: 1 }, 1));
    expect(await store.sweep()).toEqual({ evicted: 1 });
    expect((await store.view('diverged'))?.calls).toBe(1);
    expect(await store.view('recorded')).toBeUndefined();
  });

  it('refuses a database whose schema is newer than it knows, and says why', async () => {
    const url = await freshDatabase();
    const first = new PostgresRolloutStore({ url });
    onCleanup(() => first.close());
    await first.start();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('UPDATE toolsim_rollouts_schema SET version = 99');
    await client.end();
    const newer = new PostgresRolloutStore({ url, retryMs: 60_000 });
    onCleanup(() => newer.close());
    await newer.start();
    expect(newer.status()).toMatchObject({ state: 'unavailable', error: expect.stringMatching(/schema version 99/) });
    expect(await newer.state('r', 'shop')).toEqual({ state: 'unavailable' });
  });
});

describe('the registry', () => {
  it('takes the calls of one rollout in order, synchronously while none is in flight', async () => {
    const rollouts = new Rollouts({ store: new InMemoryRolloutStore(), sweepMs: 0 });
    onCleanup(() => rollouts.close());
    expect(rollouts.run('r', () => 1)).toBe(1);
    const order: string[] = [];
    let release = (): void => {};
    const slow = rollouts.run('r', async () => {
      const v = await new Promise<string>((resolve) => {
        release = () => resolve('slow');
      });
      order.push(v);
      return v;
    });
    const next = rollouts.run('r', () => {
      order.push('next');
      return 'next';
    });
    // Another rollout is not held up.
    expect(rollouts.run('other', () => 'free')).toBe('free');
    expect(next).toBeInstanceOf(Promise);
    release();
    expect(await Promise.all([slow, next])).toEqual(['slow', 'next']);
    expect(order).toEqual(['slow', 'next']);
    // A failed call does not stop the next one.
    const failed = rollouts.run('r', () => Promise.reject(new Error('boom')));
    const after = rollouts.run('r', () => 'after');
    await expect(failed).rejects.toThrow('boom');
    expect(await after).toBe('after');
    await new Promise((resolve) => setImmediate(resolve));
    expect(rollouts.run('r', () => 'sync again')).toBe('sync again');
  });

  it('says which call diverged each server, once, and counts the rollouts that end by themselves', async () => {
    const ended: string[] = [];
    let now = 0;
    const store = new InMemoryRolloutStore({ ttlMs: 1000, now: () => now });
    const rollouts = new Rollouts({ store, sweepMs: 0, onEnded: (how, n) => ended.push(`${how}:${n}`) });
    const diverged = [
      rollouts.record('a', 'shop', write('cancel', { id: 1 }, 'ok', 'fuzzy')),
      rollouts.record('a', 'shop', write('cancel', { id: 2 }, 'ok', 'fuzzy')),
      rollouts.record('a', 'mail', write('send', { id: 1 }, 'ok', 'fuzzy')),
      rollouts.record('b', 'shop', write('cancel', { id: 1 }, 'ok', 'exact')),
    ].map((r) => !(r instanceof Promise) && r.kind === 'ok' && r.diverged);
    expect(diverged).toEqual([true, false, true, false]);
    expect(await rollouts.end('a')).toBe(true);
    expect(await rollouts.end('a')).toBe(false);
    now += 2000;
    await rollouts.sweep();
    expect(ended).toEqual(['expired:1']);
    await rollouts.close();
  });
});
