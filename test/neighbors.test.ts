/** Similarity and the neighbour index: the rule reads as documented, and the index finds what a full scan finds. */
import { describe, expect, it } from 'vitest';
import { mutateArguments, seeded } from '../bench/mutate.js';
import { callKey, canonicalJson } from '../src/core/canonical.js';
import type { JsonObject } from '../src/core/types.js';
import { type ArgumentSource, NeighborIndex } from '../src/neighbors/neighbor-index.js';
import { argumentSimilarity, isOpaqueId, stringSimilarity, valueSimilarity } from '../src/neighbors/similarity.js';
import { cacheOf, TAU_BENCH } from './helpers.js';

describe('similarity', () => {
  it('scores equal arguments 1 and anything different below 1', () => {
    expect(argumentSimilarity({ a: 1, b: 'x' }, { b: 'x', a: 1 })).toBe(1);
    expect(argumentSimilarity({ a: 'Paris' }, { a: 'paris' })).toBeCloseTo(0.99);
    expect(argumentSimilarity({ a: 'x'.repeat(100) }, { a: `${'x'.repeat(100)}y` })).toBeLessThan(1);
  });

  it('weighs every key the same; a missing or extra key scores 0', () => {
    expect(argumentSimilarity({ a: 1, b: 2 }, { a: 1 })).toBe(0.5);
    expect(argumentSimilarity({ a: 1 }, { b: 1 })).toBe(0);
    expect(argumentSimilarity({ a: 10 }, { a: 11 })).toBeCloseTo(1 - 1 / 21);
    expect(argumentSimilarity({ a: 'x' }, { a: 1 })).toBe(0);
  });

  it('compares a number written as a string as that number, at a small cost', () => {
    expect(argumentSimilarity({ room_count: '102' }, { room_count: 102 })).toBeCloseTo(0.95);
    expect(argumentSimilarity({ room_count: 102 }, { room_count: '101' })).toBeGreaterThan(0.9);
    expect(argumentSimilarity({ a: '102' }, { a: 102 })).toBeLessThan(1);
  });

  it('scores a flag set the other way above 0', () => {
    expect(argumentSimilarity({ on: true }, { on: false })).toBe(0.5);
    expect(argumentSimilarity({ on: true }, { on: null })).toBe(0);
  });

  it('holds opaque ids equal or not, never close by edit distance', () => {
    for (const [a, b] of [
      ['#W2378156', '#W2378157'],
      ['credit_card_9513926', 'credit_card_9513925'],
      ['9f1c2e4a-0b7d-4c3e-9a51-2f6d8e7b1c00', '9f1c2e4a-0b7d-4c3e-9a51-2f6d8e7b1c01'],
      ['3f786850e387550fdab836ed7e6dc881de23001b', '3f786850e387550fdab836ed7e6dc881de23001c'],
      ['o8i7u6y5t4r3e2w1q0', 'o8i7u6y5t4r3e2w1q1'],
    ]) {
      expect(isOpaqueId(a!)).toBe(true);
      expect(valueSimilarity(a!, b!)).toBe(0);
      expect(valueSimilarity(a!, a!)).toBe(1);
    }
    expect(valueSimilarity(4_000_000_001, 4_000_000_002)).toBe(0);
    expect(valueSimilarity('4000000001', 4_000_000_002)).toBe(0);
    expect(valueSimilarity(4_000_000_001, 4_000_000_001)).toBe(1);
    // Words, dates, codes and small numbers keep their closeness.
    for (const words of ['Paris', 'sara_doe_496', '2024-05-01', 'HAT001', 'Shortness of breath 123456'])
      expect(isOpaqueId(words)).toBe(false);
    expect(valueSimilarity('2024-05-01', '2024-05-02')).toBeGreaterThan(0.8);
    expect(valueSimilarity(10, 11)).toBeGreaterThan(0.9);
  });

  it('ranks a one-letter typo above a different word', () => {
    expect(stringSimilarity('Pariss', 'Paris')).toBeGreaterThan(stringSimilarity('Pariss', 'Berlin'));
  });
});

describe('neighbour index', () => {
  const rows = (argsList: JsonObject[]): ArgumentSource => ({
    argumentsOf: () => argsList.map((a) => ({ key: callKey('s', 't', canonicalJson(a)), arguments: canonicalJson(a) })),
  });

  it('finds the same best neighbour through the index as through a full scan, on every tau-bench tool', async () => {
    const { store } = await cacheOf([TAU_BENCH]);
    const scan = new NeighborIndex(store, { linearBelow: Infinity });
    const index = new NeighborIndex(store, { linearBelow: 0 });
    let queries = 0;
    for (const { server, tool } of store.catalog()) {
      const recorded = store.argumentsOf(server, tool);
      expect(index.toolIndex(server, tool).indexed).toBe(true);
      recorded.slice(0, 10).forEach((row, i) => {
        const changed = mutateArguments(JSON.parse(row.arguments) as JsonObject, seeded(i));
        if (!changed) return;
        queries++;
        const [a] = scan.nearest(server, tool, changed.arguments, 1);
        const [b] = index.nearest(server, tool, changed.arguments, 1);
        expect(b?.similarity, `${tool} ${JSON.stringify(changed.arguments)}`).toBe(a?.similarity);
      });
    }
    expect(queries).toBeGreaterThan(150);
  });

  it('keeps k best, most similar first, ties in recording order', () => {
    const index = new NeighborIndex(rows([{ q: 'abc' }, { q: 'abd' }, { q: 'abe' }, { q: 'zzz' }]), { linearBelow: 0 });
    const found = index.nearest('s', 't', { q: 'abx' }, 3);
    expect(found.map((n) => n.arguments['q'])).toEqual(['abc', 'abd', 'abe']);
    expect(index.nearest('s', 't', { q: 'abx' }, 0)).toEqual([]);
  });

  it('still offers candidates when every token is too common to scan', () => {
    const many = Array.from({ length: 300 }, (_, i) => ({ kind: 'same', n: i }));
    const index = new NeighborIndex(rows(many), { linearBelow: 0, scanBudget: 10, candidates: 16 });
    const [top] = index.nearest('s', 't', { kind: 'same' }, 1);
    expect(top?.similarity).toBe(0.5);
  });
});
