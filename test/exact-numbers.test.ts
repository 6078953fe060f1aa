/**
 * Numbers reach the improviser, `match.neighbors` and explain exactly as the agent and the
 * recordings wrote them: 64-bit ids keep every digit, ids past 2^53 that share a double are told
 * apart by similarity, and a number past a double's range is never `Infinity` or `null`.
 */
import { describe, expect, it } from 'vitest';
import { FUZZY_OPTIONS, resolveConfig } from '../src/config.js';
import { createFuzzy } from '../src/tiers/fuzzy/fuzzy-tier.js';
import { appOf, cacheOf, onCleanup } from './helpers.js';
import { startFakeAnthropic } from './support/fake-anthropic.js';

// Written as text: a JavaScript number cannot hold these.
const RECORDS = [
  '{"server": "shop", "tool": "get_order", "arguments": {"order_id": 593322347340602809, "verbose": true}, "output": {"order_id": 593322347340602809, "status": "shipped"}}',
  '{"server": "shop", "tool": "get_order", "arguments": {"order_id": 593322347340602810, "verbose": true}, "output": {"order_id": 593322347340602810, "status": "pending"}}',
  '{"server": "shop", "tool": "scale", "arguments": {"factor": 1e400, "unit": "m"}, "output": "huge"}',
];

async function setup() {
  const { store } = await cacheOf(RECORDS);
  const stand = await startFakeAnthropic({ kind: 'answer', output: { order_id: 1, status: 'shipped' } });
  onCleanup(() => stand.close());
  const fuzzy = createFuzzy({ ...resolveConfig(FUZZY_OPTIONS, {}, {}), apiKey: 'sk-test', baseUrl: stand.url, llmRetries: 0 });
  onCleanup(() => fuzzy.close());
  const { app } = await appOf(store, { fuzzy: fuzzy.tier });
  const post = async (url: string, body: string) =>
    (await app.inject({ method: 'POST', url, payload: body, headers: { 'content-type': 'application/json' } })).body;
  return { stand, post };
}

describe('exact numbers past the improviser, neighbours and explain', () => {
  it('shows the call and its examples to the model with every digit', async () => {
    const { stand, post } = await setup();
    const body = await post(
      '/v1/call',
      '{"server": "shop", "tool": "get_order", "arguments": {"order_id": 593322347340602811, "verbose": true}}',
    );
    expect(JSON.parse(body)).toMatchObject({ tier: 'fuzzy' });
    const sent = stand.requests[0]!.body as { messages: { content: string }[] };
    const user = sent.messages[0]!.content;
    expect(user).toContain('"order_id":593322347340602811');
    expect(user).toContain('"order_id":593322347340602809');
    expect(user).toContain('"order_id":593322347340602810');
    expect(user).not.toMatch(/5933223473406028(00|16)\b/);
    // match.neighbors keeps them too.
    expect(body).toContain('"neighbors":[{"arguments":{"order_id":593322347340602809,"verbose":true}');
    expect(body).toContain('{"arguments":{"order_id":593322347340602810,"verbose":true}');
  });

  it('tells apart ids past 2^53 that share one double', async () => {
    const { post } = await setup();
    const text = await post(
      '/v1/explain',
      '{"server": "shop", "tool": "get_order", "arguments": {"order_id": 593322347340602809, "verbose": false}}',
    );
    expect(text).toContain('"arguments":{"order_id":593322347340602809,"verbose":false}');
    const explained = JSON.parse(text) as { neighbors: { similarity: number }[] };
    // Same id, the flag set the other way: 0.75; the other id (the same double): 0.25, not 0.75.
    expect(explained.neighbors.map((n) => n.similarity)).toEqual([0.75, 0.25]);
    expect(text.indexOf('593322347340602809,"verbose":true')).toBeLessThan(text.indexOf('593322347340602810'));
  });

  it('never writes Infinity or null where a number past a double was sent', async () => {
    const { stand, post } = await setup();
    const text = await post('/v1/explain', '{"server": "shop", "tool": "scale", "arguments": {"factor": 2e400, "unit": "m"}}');
    expect(text).toContain('"arguments":{"factor":2e400,"unit":"m"}');
    expect(text).toContain('{"arguments":{"factor":1e400,"unit":"m"}');
    expect(text).not.toMatch(/Infinity|"factor":null/);
    // 1e400 and 2e400 are different values: not a similarity of 1.
    expect((JSON.parse(text) as { neighbors: { similarity: number }[] }).neighbors[0]!.similarity).toBeLessThan(1);
    stand.setDefault({ kind: 'answer', output: 'huger' });
    const answer = await post('/v1/call', '{"server": "shop", "tool": "scale", "arguments": {"factor": 2e400, "unit": "m"}}');
    expect(JSON.parse(answer), answer).toMatchObject({ tier: 'fuzzy' });
    const user = (stand.requests[0]!.body as { messages: { content: string }[] }).messages[0]!.content;
    expect(user).toContain('"factor":2e400');
    expect(user).toContain('"factor":1e400');
    expect(user).not.toMatch(/Infinity|null/);
  });
});
