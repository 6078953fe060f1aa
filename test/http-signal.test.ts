/**
 * The signal a tier receives aborts when the client leaves before its answer, and only then (Fastify's
 * request.signal on Node 20 aborts as soon as the body is read, which would cancel every LLM call).
 */
import { describe, expect, it } from 'vitest';
import { pass, type Outcome, type Tier } from '../src/tiers/tier.js';
import { appOf, cacheOf } from './helpers.js';

/** A second tier that waits, then notes whether the call's signal was aborted meanwhile. */
function watchingTier(seen: boolean[], waitMs: number, onStart?: () => void): Tier {
  return {
    name: 'fuzzy',
    async resolve(_resolution, signal): Promise<Outcome> {
      onStart?.();
      await new Promise((resolve) => setTimeout(resolve, waitMs));
      seen.push(signal?.aborted ?? false);
      return pass('fuzzy_disabled');
    },
  };
}

async function serving(seen: boolean[], waitMs: number, onStart?: () => void): Promise<string> {
  const cache = await cacheOf([{ server: 's', tool: 't', arguments: { q: 1 }, output: 'one' }]);
  const { app } = await appOf(cache.store, { fuzzy: () => watchingTier(seen, waitMs, onStart) });
  return app.listen({ host: '127.0.0.1', port: 0 });
}

const call = (url: string, path: string, body: unknown, signal?: AbortSignal): Promise<Response> =>
  fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...(signal ? { signal } : {}) });

describe('the signal passed to tiers', () => {
  it('stays quiet while the client waits, on every call route', async () => {
    const seen: boolean[] = [];
    const url = await serving(seen, 30);
    const single = await call(url, '/v1/call', { tool: 't', arguments: { q: 2 } });
    expect(((await single.json()) as { tier: string }).tier).toBe('miss');
    await (await call(url, '/v1/calls', { calls: [{ tool: 't', arguments: { q: 3 } }, { tool: 't', arguments: { q: 4 } }] })).text();
    await (await call(url, '/v1/servers/s/tools/t', { q: 5 })).text();
    expect(seen).toEqual([false, false, false, false]);
  });

  it('aborts when the client goes away before the answer', async () => {
    const seen: boolean[] = [];
    const client = new AbortController();
    // The client leaves once the tier is at work, however slow the machine.
    const url = await serving(seen, 300, () => client.abort());
    await expect(call(url, '/v1/call', { tool: 't', arguments: { q: 2 } }, client.signal)).rejects.toThrow();
    for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen).toEqual([true]);
  });
});
