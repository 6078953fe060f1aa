import { describe, expect, it } from 'vitest';
import { createMetrics } from '../src/core/metrics.js';
import { Simulator } from '../src/simulator/simulator.js';
import { cacheOf } from './helpers.js';

describe("the exact tier's LRU", () => {
  it('keeps answering every recorded call exactly when its byte bound forces evictions', async () => {
    const records = Array.from({ length: 200 }, (_, i) => ({ tool: 't', arguments: { i }, output: { i, text: 'x'.repeat(500) } }));
    const { store } = await cacheOf(records);
    const metrics = createMetrics({ cacheCalls: () => 0, processMetrics: false });
    // 4 KiB holds about three of these outputs: nearly every lookup goes back to SQLite.
    const simulator = new Simulator({ store, metrics, cacheBytes: 4096 });
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 200; i++) {
        const answer = await simulator.resolve({ tool: 't', arguments: { i } });
        expect([answer.tier, JSON.parse(answer.outputJson).i]).toEqual(['exact', i]);
      }
    }
  });
});
