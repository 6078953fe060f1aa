/**
 * Neighbour lookups cost the same whatever the size of the arguments, and a served cache builds a
 * tool's index off the event loop (a worker thread reading the cache file), with the same answers
 * as an index built in place.
 */
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../src/core/types.js';
import { NeighborIndex } from '../src/neighbors/neighbor-index.js';
import { Store } from '../src/store/store.js';
import { cacheOf, onCleanup } from './helpers.js';

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'];
const record = (i: number, long = false): object => ({
  server: 's',
  tool: 't',
  arguments: { query: `${WORDS[i % 8]} ${WORDS[(i >> 3) % 8]} item ${i}${long ? 'z'.repeat(5_000) : ''}`, page: i % 7 },
  output: i,
});

describe('neighbour index off the event loop', () => {
  it('builds in a worker thread from the cache file, answering as an index built in place', async () => {
    const { path } = await cacheOf(Array.from({ length: 3_000 }, (_, i) => record(i)));
    const store = Store.open(path, { pinSnapshot: true });
    onCleanup(() => store.close());
    const worker = new NeighborIndex(store);
    const inPlace = new NeighborIndex(store, { worker: false });
    expect(worker.isReady('s', 't')).toBe(false);
    // The loop keeps turning while the worker builds: a timer fires before the build is done.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await worker.ready('s', 't');
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
    expect(worker.isReady('s', 't')).toBe(true);
    expect(worker.toolIndex('s', 't').indexed).toBe(true);
    for (const query of [{ query: 'alpha bravo item 9x', page: 2 }, { query: 'golf', page: 6 }, { query: 'hotel hotel item 63' }]) {
      expect(worker.nearest('s', 't', query, 5)).toEqual(inPlace.nearest('s', 't', query, 5));
    }
    // A deadline that passes first: false, and no partial index is ever used.
    const other = new NeighborIndex(store);
    expect(await other.ready('s', 't', AbortSignal.abort())).toBe(false);
    expect(other.isReady('s', 't')).toBe(false);
  });

  it('scores a 1 MB argument against long recordings in bounded time', async () => {
    const { path } = await cacheOf(Array.from({ length: 1_500 }, (_, i) => record(i, true)));
    const store = Store.open(path, { pinSnapshot: true });
    onCleanup(() => store.close());
    const index = new NeighborIndex(store); // 1,500 recordings: scanned in full
    await index.ready('s', 't');
    const huge: JsonObject = { query: `alpha bravo item 9${'q'.repeat(1_000_000)}`, page: 2 };
    const started = performance.now();
    const found = index.nearest('s', 't', huge, 5);
    // Trigrams of a 1 MB string rebuilt per candidate took ~15 s; a wide guard against that.
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(found).toHaveLength(5);
    expect(found[0]!.similarity).toBeLessThan(1);
    // Neighbours keep their recorded arguments whole (only the comparison is cut).
    expect(String(found[0]!.arguments['query']).length).toBeGreaterThan(5_000);
    // Two long strings that differ only past the cut do not score as equal.
    const recorded = found[0]!.arguments;
    const twin = { ...recorded, query: `${String(recorded['query']).slice(0, -1)}!` };
    expect(index.nearest('s', 't', twin, 1)[0]!.similarity).toBeLessThan(1);
  });
});
